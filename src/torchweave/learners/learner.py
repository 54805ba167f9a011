"""The Learner base class (mlr3's Learner).

``Learner.train`` and ``Learner.predict`` do the bookkeeping (checks of task type,
feature types, missing values, required parameters, internal validation, timing and
state); a subclass implements only ``_train(task) -> model`` and
``_predict(task) -> dict`` (``{"response": ..., "prob": ...}``).
"""

from __future__ import annotations

import abc
import copy
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.prediction import Prediction, PredictionClassif, PredictionRegr
from torchweave.data.task import Task, TaskClassif
from torchweave.errors import InvalidParameterError, InvalidTypeError, NotTrainedError, TaskError
from torchweave.params.param_set import ParamSet
from torchweave.utils.text import quote_list

__all__ = ["VALIDATE_HELP", "Learner", "LearnerState", "set_validate", "split_validation"]

#: Feature types every learner could in principle support.
ALL_FEATURE_TYPES = ("numeric", "integer", "factor", "ordered", "logical", "character")

VALIDATE_HELP = "None, a ratio in (0, 1), 'test' or 'predefined'"


@dataclass
class LearnerState:
    """Everything a learner learned in ``train``.

    Attributes
    ----------
    model : Any
        The fitted model (learner specific).
    train_time : float
        Seconds spent in ``_train``.
    feature_names : list of str
        The features the model was trained on.
    feature_types : dict of str to str
        Their types.
    class_names : list or None
        The classes (classification only), in level order.
    positive : Any
        The positive class of a binary task.
    train_task : Task
        A zero-row copy of the training task, the prototype for ``predict_newdata``.
    param_vals : dict
        The parameter values used.
    internal_valid_scores : dict
        Final scores on the internal validation task, if any.
    internal_tuned_values : dict
        Values the learner tuned itself (such as early-stopped epochs).
    """

    model: Any
    train_time: float
    feature_names: list[str]
    feature_types: dict[str, str]
    class_names: list[Any] | None
    positive: Any
    train_task: Task
    param_vals: dict[str, Any]
    internal_valid_scores: dict[str, float] = field(default_factory=dict)
    internal_tuned_values: dict[str, Any] = field(default_factory=dict)
    predict_time: float | None = None


def _check_validate(value: Any, owner: str) -> None:
    if value is None or value in ("test", "predefined"):
        return
    if isinstance(value, float | int) and not isinstance(value, bool) and 0 < value < 1:
        return
    raise InvalidParameterError(
        f"The 'validate' field of {owner} must be {VALIDATE_HELP}. Got {value!r} instead."
    )


def _counts_text(counts: Mapping[str, int], limit: int = 8) -> str:
    """``'a' (3 rows), 'b' (1 row)``, at most ``limit`` columns."""
    items = list(counts.items())
    shown = ", ".join(f"'{c}' ({n} row{'s' if n != 1 else ''})" for c, n in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def split_validation(task: Task, ratio: float, seed: int | None) -> np.ndarray:
    """Row ids to move into the internal validation task (stratified for classification).

    Parameters
    ----------
    task : Task
        The training task.
    ratio : float
        Share of the rows for validation.
    seed : int or None
        Seed for a reproducible split (``None``: drawn from numpy's global RNG).
    """
    from sklearn.model_selection import train_test_split

    ids = task.row_ids
    if seed is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    stratify = None
    if isinstance(task, TaskClassif):
        counts = task.truth().value_counts()
        if (counts[counts > 0] >= 2).all():
            stratify = task.truth().to_numpy()
    n_valid = max(1, round(len(ids) * ratio))
    if stratify is not None and n_valid < len(counts[counts > 0]):
        stratify = None
    if len(ids) - n_valid < 1:
        raise TaskError(
            f"validate={ratio} leaves no training rows of the {len(ids)} rows in task '{task.id}'."
        )
    _, valid = train_test_split(ids, test_size=n_valid, random_state=seed, stratify=stratify)
    return np.sort(np.asarray(valid, dtype=np.int64))


class Learner(abc.ABC):
    """Abstract base of every learner.

    Parameters
    ----------
    id : str
        The learner id (e.g. ``"classif.featureless"``).
    task_type : {"classif", "regr"}
        The kind of task the learner handles.
    param_set : ParamSet, optional
        The learner's hyperparameters.
    predict_types : sequence of str
        Supported predict types; the first is the initial ``predict_type``.
    feature_types : sequence of str
        Supported feature types.
    properties : iterable of str
        Capabilities: ``missings``, ``weights``, ``validation``, ``internal_tuning``,
        ``twoclass``, ``multiclass``, ...
    label : str
        A human-readable name.
    """

    def __init__(
        self,
        id: str,
        task_type: str,
        param_set: ParamSet | None = None,
        predict_types: Iterable[str] = ("response",),
        feature_types: Iterable[str] = ALL_FEATURE_TYPES,
        properties: Iterable[str] = (),
        label: str = "",
    ) -> None:
        self._param_set = param_set if param_set is not None else ParamSet()
        self.id = id
        self.task_type = task_type
        self.predict_types = list(predict_types)
        self._predict_type = self.predict_types[0]
        self.feature_types = list(feature_types)
        self.properties = set(properties)
        self.label = label
        self.state: LearnerState | None = None
        self._validate: Any = None

    # --- fields -------------------------------------------------------------------------
    @property
    def param_set(self) -> ParamSet:
        """The learner's hyperparameters."""
        return self._param_set

    @param_set.setter
    def param_set(self, value: ParamSet) -> None:
        self._param_set = value

    @property
    def id(self) -> str:
        """The learner id (also used in parameter error messages)."""
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise InvalidParameterError(f"A learner id must be a non-empty string. Got {value!r}.")
        self._id = value
        self.param_set.owner = f"learner '{value}'"

    @property
    def predict_type(self) -> str:
        """What ``predict`` returns: ``"response"`` or ``"prob"``."""
        return self._predict_type

    @predict_type.setter
    def predict_type(self, value: str) -> None:
        if value not in self.predict_types:
            raise InvalidParameterError(
                f"The 'predict_type' of learner '{self.id}' must be one of "
                f"{{{quote_list(self.predict_types)}}}. Got {value!r} instead."
            )
        self._predict_type = value

    @property
    def validate(self) -> Any:
        """How to get validation data: None, a ratio, ``"test"`` or ``"predefined"``."""
        return self._validate

    @validate.setter
    def validate(self, value: Any) -> None:
        if value is not None and "validation" not in self.properties:
            raise InvalidParameterError(
                f"Learner '{self.id}' does not support internal validation (it lacks the "
                f"'validation' property), so 'validate' must be None. Got {value!r} instead."
            )
        _check_validate(value, f"learner '{self.id}'")
        self._validate = value

    def set_validate(self, validate: Any) -> Learner:
        """Set ``validate`` (overridden by learners that hold other learners)."""
        self.validate = validate
        return self

    @property
    def is_trained(self) -> bool:
        """Whether the learner holds a trained model."""
        return self.state is not None

    @property
    def model(self) -> Any:
        """The trained model, or ``None`` before training."""
        return None if self.state is None else self.state.model

    @property
    def internal_valid_scores(self) -> dict[str, float]:
        """Scores on the internal validation task from the last training (or ``{}``)."""
        return {} if self.state is None else dict(self.state.internal_valid_scores)

    @property
    def internal_tuned_values(self) -> dict[str, Any]:
        """Values the learner tuned during the last training (or ``{}``)."""
        return {} if self.state is None else dict(self.state.internal_tuned_values)

    # --- hooks ----------------------------------------------------------------------------
    @abc.abstractmethod
    def _train(self, task: Task) -> Any:
        """Fit on ``task`` (already checked) and return the model."""

    @abc.abstractmethod
    def _predict(self, task: Task) -> Mapping[str, Any]:
        """Predict ``task`` with ``self.model``; return ``{"response": ..., "prob": ...}``."""

    def _extract_internal_valid_scores(self) -> dict[str, float]:
        """Scores on the validation task, read from the fresh state (default: none)."""
        return {}

    def _extract_internal_tuned_values(self) -> dict[str, Any]:
        """Values tuned during training, read from the fresh state (default: none)."""
        return {}

    def _validation_seed(self) -> int | None:
        seed = self.param_set.values.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    # --- checks -----------------------------------------------------------------------------
    def _check_task(self, task: Task, phase: str) -> None:
        if not isinstance(task, Task):
            kind = "TaskClassif" if self.task_type == "classif" else "TaskRegr"
            hint = ""
            if isinstance(task, pd.DataFrame):
                hint = f" Wrap the DataFrame first: tw.{kind}(df, target=...)."
                if phase == "predict":
                    hint += " For new data without a task, use learner.predict_newdata(df)."
            raise InvalidTypeError(
                f"Learner '{self.id}' needs a Task to {phase}. Got {type(task).__name__} "
                f"instead.{hint}"
            )
        if task.task_type != self.task_type:
            raise TaskError(
                f"Learner '{self.id}' is for {self.task_type} tasks, but task '{task.id}' is a "
                f"{task.task_type} task."
            )
        if isinstance(task, TaskClassif):
            kind = "twoclass" if len(task.class_names) == 2 else "multiclass"
            if kind not in self.properties and {"twoclass", "multiclass"} & self.properties:
                raise TaskError(
                    f"Learner '{self.id}' does not support {kind} tasks; task '{task.id}' has "
                    f"{len(task.class_names)} classes."
                )

    def _check_features(self, task: Task) -> None:
        unsupported: dict[str, list[str]] = {}
        for col, ftype in task.feature_types.items():
            if ftype not in self.feature_types:
                unsupported.setdefault(ftype, []).append(col)
        if unsupported:
            parts = "; ".join(
                f"'{t}' ({quote_list(cols, limit=5)})" for t, cols in unsupported.items()
            )
            hint = ""
            if {"factor", "ordered", "character", "logical"} & set(unsupported):
                hint = ' Encode them first, e.g. with po("encode") in front of the learner.'
            raise TaskError(
                f"Learner '{self.id}' does not support the feature type(s) {parts} of task "
                f"'{task.id}'. It supports {quote_list(self.feature_types)}.{hint}"
            )
        if task.weights is not None and "weights" not in self.properties:
            raise TaskError(
                f"Task '{task.id}' has a weight column ({task.col_roles['weight'][0]!r}), but "
                f"learner '{self.id}' cannot use weights. Remove the role with "
                "task.set_col_roles(col, []) to train without them."
            )
        self._check_values(task, "train")

    def _check_values(self, task: Task, phase: str) -> None:
        """Refuse infinite feature values, and missing ones unless the learner has ``missings``.

        One vectorised pass over the float block (and ``isna`` over the other columns
        that can hold missing values); the rows in use only.
        """
        missing, infinite = task._nonfinite_counts(task.feature_names)
        if infinite:
            shown = _counts_text(infinite)
            raise TaskError(
                f"Task '{task.id}' has infinite values in feature(s) {shown} "
                f"at {phase}, which learner '{self.id}' cannot use. Replace them first, "
                "e.g. with NaN and an imputer in front of the learner."
            )
        if missing and "missings" not in self.properties:
            shown = _counts_text(missing)
            raise TaskError(
                f"Task '{task.id}' has missing values in feature(s) {shown} at "
                f"{phase}, and learner '{self.id}' cannot handle missing values. Impute them "
                'first, e.g. with po("imputemean") / po("imputemode") in front of the learner.'
            )

    def _prepare_validation(self, task: Task) -> Task:
        validate = self._validate
        if validate is None:
            task.internal_valid_task = None
        elif validate == "predefined":
            if task.internal_valid_task is None:
                raise TaskError(
                    f"Learner '{self.id}' has validate='predefined', but task '{task.id}' has no "
                    "internal_valid_task. Set task.internal_valid_task first."
                )
        elif validate == "test":
            if task.internal_valid_task is None:
                raise TaskError(
                    f"Learner '{self.id}' has validate='test': its validation task is the test set "
                    "that resample() provides. Use resample()/benchmark(), or set validate to a "
                    "ratio or 'predefined'."
                )
        else:
            if task.internal_valid_task is not None:
                raise TaskError(
                    f"Learner '{self.id}' has validate={validate}, but task '{task.id}' "
                    "already has "
                    "an internal_valid_task. Use validate='predefined' to use it."
                )
            task.internal_valid_task = split_validation(task, validate, self._validation_seed())
        return task

    # --- train and predict --------------------------------------------------------------------
    def train(self, task: Task, row_ids: Iterable[int] | np.ndarray | None = None) -> Learner:
        """Train on a task (optionally on some of its rows).

        The task is checked first (type, feature types, missing and infinite values,
        required parameters) and never modified. If training is refused or fails, the
        learner keeps the state it had before the call (a trained learner stays
        trained and predicts as before), and the error notes which learner failed.

        Parameters
        ----------
        task : Task
            The training task.
        row_ids : iterable of int, optional
            Train on these rows only.

        Returns
        -------
        Learner
            ``self``.
        """
        self._check_task(task, "train")
        self.param_set.check_required()
        work = task.clone()
        if row_ids is not None:
            work.filter(
                np.asarray(list(row_ids) if not isinstance(row_ids, np.ndarray) else row_ids)
            )
        self._check_features(work)
        if work.nrow == 0:
            raise TaskError(f"Learner '{self.id}' cannot train on task '{task.id}' with 0 rows.")
        work = self._prepare_validation(work)
        if work.internal_valid_task is not None:
            self._check_values(work.internal_valid_task, "train (internal validation task)")
        previous = self.state
        self.state = None  # the hooks see no stale state while training
        start = time.perf_counter()
        try:
            model = self._train(work)
            prototype = work._prototype()
            self.state = LearnerState(
                model=model,
                train_time=time.perf_counter() - start,
                feature_names=work.feature_names,
                feature_types=work.feature_types,
                class_names=work.class_names if isinstance(work, TaskClassif) else None,
                positive=work.positive if isinstance(work, TaskClassif) else None,
                train_task=prototype,
                param_vals=self.param_set.values,
            )
            self.state.internal_valid_scores = self._extract_internal_valid_scores()
            self.state.internal_tuned_values = self._extract_internal_tuned_values()
        except BaseException as exc:
            self.state = previous  # a failed retrain must not lose the model trained before
            exc.add_note(f"(raised while training learner '{self.id}' on task '{task.id}')")
            raise
        return self

    def predict(self, task: Task, row_ids: Iterable[int] | np.ndarray | None = None) -> Prediction:
        """Predict the rows of a task.

        Parameters
        ----------
        task : Task
            A task with (at least) the features the learner was trained on.
        row_ids : iterable of int, optional
            Predict only these rows.

        Returns
        -------
        Prediction
            A :class:`PredictionClassif` or :class:`PredictionRegr`.
        """
        state = self._require_state("predict")
        self._check_task(task, "predict")
        missing = [c for c in state.feature_names if c not in task.feature_names]
        if missing:
            raise TaskError(
                f"Learner '{self.id}' was trained with feature(s) {quote_list(missing)}, which "
                f"task '{task.id}' lacks."
            )
        work = task.clone()
        work.internal_valid_task = None
        if row_ids is not None:
            work.filter(
                np.asarray(list(row_ids) if not isinstance(row_ids, np.ndarray) else row_ids)
            )
        if work.feature_names != state.feature_names:
            work.select(state.feature_names)
            work._col_roles["feature"] = list(state.feature_names)
        self._check_values(work, "predict")
        start = time.perf_counter()
        try:
            out = self._predict(work)
        except BaseException as exc:
            exc.add_note(f"(raised while predicting with learner '{self.id}' on task '{task.id}')")
            raise
        prediction = self._as_prediction(work, out)
        state.predict_time = time.perf_counter() - start
        return prediction

    def predict_newdata(self, data: pd.DataFrame | np.ndarray) -> Prediction:
        """Predict new data given as a DataFrame with the training features.

        The target column may be absent (the truth is then NA). Numeric columns may
        come with another numeric dtype if the values are the same (an integer
        feature given as float, e.g. because a NaN made pandas convert it, or as
        nullable ``Int64``); see ``docs/learners.md``.

        Parameters
        ----------
        data : pandas.DataFrame or numpy.ndarray
            The new rows. A 2-D array is taken as the feature columns in training
            order (``learner.state.feature_names``); its width must match.

        Returns
        -------
        Prediction
            A :class:`PredictionClassif` or :class:`PredictionRegr`.
        """
        state = self._require_state("predict")
        if isinstance(data, np.ndarray):
            data = self._frame_from_array(data, state.feature_names)
        elif not isinstance(data, pd.DataFrame):
            raise InvalidTypeError(
                f"predict_newdata of learner '{self.id}' needs a pandas DataFrame or a 2-D "
                f"numpy array. Got {type(data).__name__} instead."
            )
        task = state.train_task._empty_like(data)
        return self.predict(task)

    def _frame_from_array(self, data: np.ndarray, features: list[str]) -> pd.DataFrame:
        width = len(features)
        if data.ndim != 2 or data.shape[1] != width:
            raise TaskError(
                f"predict_newdata of learner '{self.id}' needs a 2-D array with {width} "
                f"column(s), the training features in order ({quote_list(features, limit=5)}). "
                f"Got an array of shape {data.shape} instead."
                + (" Use arr.reshape(1, -1) for a single row." if data.ndim == 1 else "")
            )
        return pd.DataFrame(data, columns=features)

    def _require_state(self, what: str) -> LearnerState:
        if self.state is None:
            raise NotTrainedError(
                f"Learner '{self.id}' has not been trained yet, so it cannot {what}. "
                "Call learner.train(task) first."
            )
        return self.state

    def _as_prediction(self, task: Task, out: Mapping[str, Any] | Prediction) -> Prediction:
        if isinstance(out, Prediction):
            return out
        if self.task_type == "regr":
            return PredictionRegr(task.row_ids, task.truth(), out["response"])
        state = self._require_state("predict")
        prob = out.get("prob") if self.predict_type == "prob" else None
        response = None if prob is not None else out.get("response")
        if prob is None and response is None:
            raise TaskError(f"Learner '{self.id}' returned neither a response nor prob.")
        return PredictionClassif(
            task.row_ids,
            task.truth(),
            response=response,
            prob=prob,
            class_names=state.class_names,
            positive=state.positive,
        )

    # --- copying and configuration ----------------------------------------------------------
    def clone(self) -> Learner:
        """A deep, independent copy (state included)."""
        return copy.deepcopy(self)

    def reset(self) -> Learner:
        """Forget the trained state."""
        self.state = None
        return self

    def configure(self, **params: Any) -> Learner:
        """Set fields (``predict_type``, ``validate``, ``id``) and parameters in one call.

        All or nothing: if any value is refused, the error propagates and the learner
        is left exactly as it was.
        """
        fields = {k: params.pop(k) for k in list(params) if k in ("predict_type", "validate", "id")}
        before = {key: getattr(self, key) for key in fields}
        try:
            self._set_fields(fields)
            if params:
                self.param_set.set_values(params)  # validates all values, sets none on error
        except BaseException:
            self._set_fields(before)  # the old values were valid: restoring cannot fail
            raise
        return self

    def _set_fields(self, fields: Mapping[str, Any]) -> None:
        for key, value in fields.items():
            if key == "validate":
                self.set_validate(value)
            else:
                setattr(self, key, value)

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v!r}" for k, v in self.param_set.values.items()) or "-"
        types = [f"[{t}]" if t == self.predict_type else t for t in self.predict_types]
        lines = [
            f"<{type(self).__name__}:{self.id}>{': ' + self.label if self.label else ''}",
            f"* Model: {'-' if self.state is None else type(self.state.model).__name__}",
            f"* Parameters: {values}",
            f"* Validate: {self._validate!r}",
            f"* Predict Types: {', '.join(types)}",
            f"* Feature Types: {', '.join(self.feature_types)}",
            f"* Properties: {', '.join(sorted(self.properties)) or '-'}",
        ]
        return "\n".join(lines)


def set_validate(learner: Learner, validate: Any) -> Learner:
    """Set how a learner validates; on a GraphLearner also configures the learner inside.

    Parameters
    ----------
    learner : Learner
        Any learner with the ``validation`` property.
    validate : None, float, "test" or "predefined"
        The validation setting.
    """
    return learner.set_validate(validate)
