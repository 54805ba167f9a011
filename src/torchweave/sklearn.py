"""The scikit-learn face: torchweave learners and graphs as scikit-learn estimators.

:class:`TorchClassifier` and :class:`TorchRegressor` wrap a learner (or a graph ending
in a learner operator) so that scikit-learn's tools (``Pipeline``, ``GridSearchCV``,
``cross_val_score``, ``permutation_importance``, ...) can use it. ``fit(X, y)`` builds a
task from ``X`` and ``y`` and trains a copy of the learner on it; the user's learner is
never changed. The learner's parameters are the estimator's parameters, with
scikit-learn's ``__`` in place of the ``.`` of the learner's parameter ids
(``torch_optimizer__lr`` for ``torch_optimizer.lr``).

This module imports neither torch nor the torch layers until a model is trained.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
    validate_data,
)

from torchweave.errors import (
    Error,
    InvalidParameterError,
    InvalidTypeError,
    NotTrainedError,
    TaskError,
)
from torchweave.learners.convert import as_learner
from torchweave.learners.learner import Learner

__all__ = ["EstimatorNotFittedError", "TorchClassifier", "TorchRegressor", "to_sklearn"]


class EstimatorNotFittedError(NotTrainedError, NotFittedError):
    """An estimator predicts before ``fit``: both torchweave's and scikit-learn's error."""


def _flat_names(learner: Learner) -> dict[str, str]:
    """scikit-learn parameter name (``a__b``) to the learner's parameter id (``a.b``)."""
    return {pid.replace(".", "__"): pid for pid in learner.param_set.ids()}


class _TorchEstimator(BaseEstimator):
    """Shared machinery of :class:`TorchClassifier` and :class:`TorchRegressor`."""

    _task_type: ClassVar[str]

    def __init__(self, learner: Any, **params: Any) -> None:
        self.learner = learner
        self._params = params

    # --- parameters ------------------------------------------------------------------------
    def _template(self) -> Learner | None:
        """The wrapped learner (converted, not copied), or None if it cannot be."""
        if isinstance(self.learner, Learner):
            return self.learner
        try:
            return as_learner(self.learner)
        except (Error, TypeError, ValueError):
            return None

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters: ``learner`` and the learner's parameter values.

        Parameters
        ----------
        deep : bool, default True
            Ignored (the learner is not a scikit-learn estimator); kept for
            scikit-learn's API.

        Returns
        -------
        dict
            ``learner``, ``validate`` (the learner's internal validation: None, a
            ratio, ``"test"`` or ``"predefined"``), each parameter the learner has a
            value for, under its scikit-learn name (``.`` replaced by ``__``), and each
            parameter given to the constructor or ``set_params``.
        """
        out: dict[str, Any] = {"learner": self.learner}
        template = self._template()
        if template is not None:
            out["validate"] = template.validate
            values = template.param_set.values
            out.update(
                {name: values[pid] for name, pid in _flat_names(template).items() if pid in values}
            )
        out.update(self._params)
        return out

    def set_params(self, **params: Any) -> _TorchEstimator:
        """Set parameters; they are checked when the estimator is fitted.

        Parameters
        ----------
        **params
            ``learner`` and learner parameters under their scikit-learn names
            (``torch_model_classif__epochs``, ``torch_optimizer__lr``).

        Returns
        -------
        self
        """
        if "learner" in params:
            self.learner = params.pop("learner")
        self._params.update(params)
        return self

    def _build_learner(self) -> Learner:
        """A fresh copy of the wrapped learner with the estimator's parameters set."""
        if not isinstance(self.learner, Learner):
            learner = as_learner(copy.deepcopy(self.learner))
        else:
            learner = self.learner.clone()
        learner.reset()
        if learner.task_type != self._task_type:
            raise InvalidParameterError(
                f"{type(self).__name__} needs a {self._task_type} learner; learner "
                f"'{learner.id}' is for task type '{learner.task_type}'. Use "
                f"{_CLASSES[learner.task_type].__name__} or tw.to_sklearn(learner)."
            )
        params = dict(self._params)
        if "validate" in params:
            learner.set_validate(params.pop("validate"))
        names = _flat_names(learner)
        unknown = sorted(k for k in params if k not in names)
        if unknown:
            raise InvalidParameterError(
                f"{type(self).__name__}: unknown parameter(s) {', '.join(map(repr, unknown))} "
                f"for learner '{learner.id}'. Its parameters are: validate, "
                f"{', '.join(sorted(names))}."
            )
        learner.param_set.set_values({names[k]: v for k, v in params.items()})
        if self._task_type == "classif" and "prob" in learner.predict_types:
            learner.predict_type = "prob"
        return learner

    # --- data --------------------------------------------------------------------------------
    def _features(
        self, X: Any, y: Any = None, *, reset: bool, training: bool
    ) -> tuple[pd.DataFrame, Any]:
        """The feature frame of ``X`` and, when ``training``, the checked ``y``.

        ``reset`` records the features (``n_features_in_``, ``feature_names_in_``);
        otherwise ``X`` is checked against them.
        """
        if training and y is None:
            raise InvalidParameterError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if training:
                y = column_or_1d(y, warn=True)
                if self._task_type == "regr":
                    y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
                check_consistent_length(X, y)
            return X.reset_index(drop=True), y
        dtype = [np.float64, np.float32]
        if training:
            regr = self._task_type == "regr"
            X, y = validate_data(self, X, y, reset=reset, dtype=dtype, y_numeric=regr)
        else:
            X = validate_data(self, X, reset=False, dtype=dtype)
        columns = list(getattr(self, "feature_names_in_", [f"x{i}" for i in range(X.shape[1])]))
        return pd.DataFrame(X, columns=columns), y

    def _task(self, frame: pd.DataFrame, y: Any) -> Any:
        """The task of ``frame`` with target ``y`` (already encoded)."""
        from torchweave.data.task import TaskClassif, TaskRegr

        target = "target"
        while target in frame.columns:
            target = f"{target}_"
        data = frame.assign(**{target: y})
        if self._task_type == "classif":
            return TaskClassif(data, target, id="sklearn")
        return TaskRegr(data, target, id="sklearn")

    def _encode_y(self, y: Any) -> Any:
        """The target column of the task (overridden for classification)."""
        return np.asarray(y, dtype=np.float64)

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> _TorchEstimator:
        """Train a fresh copy of the learner on ``X`` and ``y``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            The features. A DataFrame with string column names keeps its columns and
            dtypes (factor columns, for graphs that encode them); anything else becomes
            a float array, with columns ``x0``, ``x1``, ...
        y : array-like of shape (n_samples,)
            The target.

        Returns
        -------
        self
            Fitted: ``learner_`` is the trained learner.
        """
        return self._fit(X, y, classes=None)

    def _fit(self, X: Any, y: Any, classes: Any) -> _TorchEstimator:
        frame, y = self._features(X, y, reset=True, training=True)
        self._set_targets(y, classes=classes)
        learner = self._build_learner()
        learner.train(self._task(frame, self._encode_y(y)))
        self.learner_ = learner
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> _TorchEstimator:
        """Train ``epochs`` more epochs, starting from the current weights.

        As in skorch, the network and the optimizer state of the last fit are kept
        and training continues on ``X`` and ``y``. Operators of a graph before the
        network (e.g. ``po("scale")``) are trained again on ``X``. An unfitted
        estimator is fitted.

        Parameters
        ----------
        X, y
            As for :meth:`fit`.
        classes : array-like, optional
            Classification: all classes, on the first call (``y`` of one call need not
            hold all of them). Later calls must not bring new classes.

        Returns
        -------
        self
        """
        if not hasattr(self, "learner_"):
            return self._fit(X, y, classes=classes)
        frame, y = self._features(X, y, reset=False, training=True)
        self._check_targets(y, classes)
        learner = self._build_learner()
        with _warm_start(learner, self.learner_):
            learner.train(self._task(frame, self._encode_y(y)))
        self.learner_ = learner
        return self

    def _set_targets(self, y: Any, classes: Any) -> None:
        """Record what the target looks like (``classes_`` for classifiers)."""

    def _check_targets(self, y: Any, classes: Any) -> None:
        """Check a later ``partial_fit``'s target against the fitted one."""

    # --- prediction ------------------------------------------------------------------------------
    def _prediction(self, X: Any) -> Any:
        if not hasattr(self, "learner_"):
            raise EstimatorNotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        frame, _ = self._features(X, reset=False, training=False)
        return self.learner_.predict_newdata(frame)

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        learner = getattr(self.learner, "id", None) or type(self.learner).__name__
        params = "".join(f", {k}={v!r}" for k, v in self._params.items())
        text = f"{type(self).__name__}(learner=<{learner}>{params})"
        return text if len(text) <= N_CHAR_MAX else text[: N_CHAR_MAX - 4] + "...)"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Refits give the same model only when every torch model has a fixed seed.
        seeds = [v for k, v in self.get_params().items() if k == "seed" or k.endswith("__seed")]
        tags.non_deterministic = not seeds or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in seeds
        )
        return tags


class TorchClassifier(ClassifierMixin, _TorchEstimator):
    """A torchweave classification learner or graph as a scikit-learn classifier.

    Parameters
    ----------
    learner : Learner, Graph or PipeOp
        The learner (e.g. ``tw.LearnerTorchModel``) or a graph ending in a learner
        operator (``... >> po("torch_model_classif")``). It is copied when fitting,
        never changed.
    **params
        The learner's parameters, with ``__`` for ``.`` (``torch_model_classif__epochs``).
        ``validate`` sets the learner's internal validation (e.g. ``0.2``, for
        ``measures_valid`` and ``patience``).

    Attributes
    ----------
    learner_ : Learner
        The trained learner.
    classes_ : numpy.ndarray
        The classes, sorted.
    n_features_in_ : int
        The number of features seen in ``fit``.
    feature_names_in_ : numpy.ndarray
        The feature names seen in ``fit`` (only for a DataFrame with string column
        names).

    Examples
    --------
    >>> import numpy as np
    >>> import torchweave as tw
    >>> from torchweave.sklearn import TorchClassifier
    >>> graph = (
    ...     tw.po("torch_ingress_num") >> tw.nn("head")
    ...     >> tw.po("torch_loss", loss="cross_entropy")
    ...     >> tw.po("torch_optimizer", optimizer="adam", lr=0.1)
    ...     >> tw.po("torch_model_classif", epochs=20, batch_size=16, seed=1)
    ... )
    >>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2))]
    >>> y = np.repeat(["no", "yes"], 20)
    >>> clf = TorchClassifier(graph, torch_model_classif__epochs=30).fit(X, y)
    >>> clf.predict(X[[0, -1]]).tolist()
    ['no', 'yes']
    """

    _task_type = "classif"

    def _set_targets(self, y: Any, classes: Any) -> None:
        check_classification_targets(y)
        labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
        if classes is not None:
            self._check_known(y, labels)
        if len(labels) < 2:
            raise TaskError(
                f"TorchClassifier needs at least 2 classes in y; got 1 class ({labels[0]!r})."
            )
        self.classes_ = labels

    def _check_known(self, y: Any, labels: np.ndarray) -> None:
        unknown = np.setdiff1d(np.unique(y), labels)
        if len(unknown):
            raise TaskError(
                f"y has class(es) {unknown.tolist()} that are not among the classes "
                f"{labels.tolist()}."
            )

    def _check_targets(self, y: Any, classes: Any) -> None:
        check_classification_targets(y)
        if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise InvalidParameterError(
                f"classes={np.unique(classes).tolist()} differs from the classes of the "
                f"first fit, {self.classes_.tolist()}."
            )
        self._check_known(y, self.classes_)

    def _encode_y(self, y: Any) -> Any:
        codes = np.searchsorted(self.classes_, y)
        levels = [str(i) for i in range(len(self.classes_))]
        return pd.Categorical.from_codes(codes, categories=pd.Index(levels))

    def predict(self, X: Any) -> np.ndarray:
        """The predicted class of each row of ``X``."""
        response = self._prediction(X).response
        return self.classes_[np.asarray(response).astype(np.int64)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per class of ``classes_``."""
        prediction = self._prediction(X)
        if prediction.prob is None:
            raise InvalidTypeError(f"Learner '{self.learner_.id}' does not predict probabilities.")
        return prediction.prob.to_numpy(dtype=np.float64)


class TorchRegressor(RegressorMixin, _TorchEstimator):
    """A torchweave regression learner or graph as a scikit-learn regressor.

    Parameters
    ----------
    learner : Learner, Graph or PipeOp
        The learner (e.g. ``tw.LearnerTorchModel``) or a graph ending in a learner
        operator (``... >> po("torch_model_regr")``). It is copied when fitting, never
        changed.
    **params
        The learner's parameters, with ``__`` for ``.`` (``torch_model_regr__epochs``).
        ``validate`` sets the learner's internal validation (e.g. ``0.2``, for
        ``measures_valid`` and ``patience``).

    Attributes
    ----------
    learner_ : Learner
        The trained learner.
    n_features_in_ : int
        The number of features seen in ``fit``.
    feature_names_in_ : numpy.ndarray
        The feature names seen in ``fit`` (only for a DataFrame with string column
        names).

    Examples
    --------
    >>> import numpy as np
    >>> import torchweave as tw
    >>> from torchweave.sklearn import TorchRegressor
    >>> graph = (
    ...     tw.po("torch_ingress_num") >> tw.nn("head")
    ...     >> tw.po("torch_loss", loss="mse")
    ...     >> tw.po("torch_optimizer", optimizer="adam", lr=0.1)
    ...     >> tw.po("torch_model_regr", epochs=50, batch_size=10, seed=1)
    ... )
    >>> X = np.linspace(0, 1, 40).reshape(-1, 1)
    >>> reg = TorchRegressor(graph).fit(X, 2 * X[:, 0])
    >>> round(float(reg.score(X, 2 * X[:, 0])), 1)
    1.0
    """

    _task_type = "regr"

    def predict(self, X: Any) -> np.ndarray:
        """The predicted value of each row of ``X``."""
        return np.asarray(self._prediction(X).response, dtype=np.float64)


_CLASSES: dict[str, type[_TorchEstimator]] = {"classif": TorchClassifier, "regr": TorchRegressor}


def to_sklearn(learner: Any, **params: Any) -> TorchClassifier | TorchRegressor:
    """A scikit-learn estimator for ``learner``: a classifier or a regressor by its task type.

    Parameters
    ----------
    learner : Learner, Graph or PipeOp
        What to wrap (see :class:`TorchClassifier`).
    **params
        The learner's parameters, with ``__`` for ``.``.

    Returns
    -------
    TorchClassifier or TorchRegressor

    Raises
    ------
    InvalidTypeError
        If ``learner`` is not a learner, nor convertible to one.
    """
    converted = learner if isinstance(learner, Learner) else as_learner(learner)
    cls = _CLASSES.get(converted.task_type)
    if cls is None:
        raise InvalidTypeError(
            f"to_sklearn takes a classification or regression learner; learner "
            f"'{converted.id}' is for task type '{converted.task_type}'."
        )
    estimator = cls(learner, **params)
    assert isinstance(estimator, TorchClassifier | TorchRegressor)
    return estimator


@contextlib.contextmanager
def _warm_start(learner: Learner, fitted: Learner) -> Iterator[None]:
    """Within the block, each torch model of ``learner`` starts from ``fitted``'s weights.

    The torch learners that ``learner.train`` trains (the learner itself, or the
    learners of a graph's torch model operators) get a loop class that first loads the
    fitted network's weights and optimizer state. Afterwards, the loop classes are as
    before (on the trained learners too), so the estimator pickles.
    """
    new, old = _torch_parts(learner), _torch_parts(fitted)
    starts = {k: trained.model for k, (_, trained) in old.items() if k in new and trained}
    if not starts:
        raise InvalidTypeError(
            f"partial_fit needs a trained torch learner; learner '{fitted.id}' holds none."
        )
    saved = {k: new[k][0].__dict__.get("loop_class") for k in starts}
    for k, model in starts.items():
        template = new[k][0]
        template.loop_class = _warm_loop(template.loop_class, model)
    try:
        yield
    finally:
        parts = _torch_parts(learner)
        for k, loop in saved.items():
            for obj in {id(o): o for o in parts[k] if o is not None}.values():
                if loop is None:
                    obj.__dict__.pop("loop_class", None)
                else:
                    obj.loop_class = loop


def _torch_parts(learner: Learner) -> dict[str, tuple[Any, Any]]:
    """Each torch model of ``learner``: (the learner ``train`` trains, the trained one or None).

    Keyed by the operator id in a graph, ``""`` for a torch learner itself.
    """
    from torchweave.training.learner_torch import LearnerTorch

    if isinstance(learner, LearnerTorch):
        return {"": (learner, learner if learner.is_trained else None)}
    graph = getattr(learner, "graph", None)
    if graph is None:
        return {}
    states = learner.model if learner.is_trained and isinstance(learner.model, dict) else {}
    parts = {}
    for op_id, op in graph.pipeops.items():
        template = getattr(op, "learner", None)
        if isinstance(template, LearnerTorch):
            trained = states.get(op_id)
            parts[op_id] = (template, trained if isinstance(trained, LearnerTorch) else None)
    return parts


def _warm_loop(base: type[Any], model: Any) -> type[Any]:
    """A subclass of the loop ``base`` that starts from ``model``'s weights and optimizer state."""

    class WarmStartLoop(base):
        def __init__(self, ctx: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(ctx, *args, **kwargs)
            try:
                ctx.network.load_state_dict(model.network.state_dict())
            except RuntimeError as exc:
                raise InvalidParameterError(
                    "partial_fit cannot continue from the fitted network: the network "
                    f"changed since the last fit (call fit to start afresh). {exc}"
                ) from exc
            state = ctx.optimizer.state_dict()
            state["state"] = copy.deepcopy(model.optimizer["state"])
            ctx.optimizer.load_state_dict(state)

    return WarmStartLoop
