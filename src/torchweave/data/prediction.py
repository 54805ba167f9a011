"""Predictions: what a learner returns for the rows of a task.

A prediction keeps the row ids, the truth (NA when unknown) and what the learner
predicted: ``response`` and, for classification, ``prob`` (one column per class in
level order). ``response`` is always consistent with ``prob`` (its argmax) when the
learner predicted probabilities.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from torchweave import registry
from torchweave.errors import InvalidTypeError, PredictTypeError, TaskError

__all__ = ["Prediction", "PredictionClassif", "PredictionRegr", "concat_predictions"]


class Scorer(Protocol):
    """What :meth:`Prediction.score` needs of a measure: an ``id`` and a ``score``."""

    @property
    def id(self) -> str:
        """The measure id (the key of the result)."""
        ...

    def score(self, prediction: Any) -> float:
        """The score of ``prediction``."""
        ...


class Prediction(abc.ABC):
    """Abstract base of :class:`PredictionClassif` and :class:`PredictionRegr`."""

    task_type: ClassVar[str] = ""
    #: The key of the measure :meth:`score` uses by default (as in mlr3).
    default_measure: ClassVar[str] = ""

    row_ids: np.ndarray

    @property
    @abc.abstractmethod
    def predict_types(self) -> list[str]:
        """What this prediction holds: ``["response"]`` or ``["response", "prob"]``."""

    @abc.abstractmethod
    def as_data_frame(self) -> pd.DataFrame:
        """The prediction as a DataFrame with ``row_ids``, ``truth``, ``response``, ..."""

    @abc.abstractmethod
    def _take(self, idx: np.ndarray) -> Prediction:
        """The sub-prediction at positions ``idx``."""

    def __len__(self) -> int:
        return len(self.row_ids)

    def filter(self, row_ids: Sequence[int] | np.ndarray) -> Prediction:
        """The sub-prediction for some row ids (in the given order)."""
        position = {int(r): i for i, r in enumerate(self.row_ids)}
        try:
            idx = np.array([position[int(r)] for r in row_ids], dtype=np.int64)
        except KeyError as exc:
            raise TaskError(f"The prediction has no row id {exc.args[0]}.") from None
        return self._take(idx)

    def score(
        self,
        measures: Scorer | str | Iterable[Scorer | str] | None = None,
    ) -> dict[str, float]:
        """Score with one or more measures (default: ``classif.ce`` / ``regr.mse``).

        Parameters
        ----------
        measures : Measure, str, or iterable of them, optional
            Measures or their keys in ``tw.registry.measures``.

        Returns
        -------
        dict of str to float
            Scores by measure id.

        Raises
        ------
        UnknownKeyError
            For an unknown key.
        InvalidTypeError
            For something that is neither a measure nor a key.
        TaskError
            For a measure of another task type.
        """
        if measures is None:
            measures = self.default_measure
        single = isinstance(measures, str) or callable(getattr(measures, "score", None))
        if not single and not isinstance(measures, Iterable):
            raise InvalidTypeError(
                "Measures must be a Measure, a key, or an iterable of them. "
                f"Got {type(measures).__name__} instead."
            )
        items = [measures] if single else list(measures)  # type: ignore[arg-type]
        scores: dict[str, float] = {}
        for item in items:
            measure: Any = registry.measures.get(item) if isinstance(item, str) else item
            if not callable(getattr(measure, "score", None)):
                raise InvalidTypeError(
                    "A measure must be a Measure or a key of tw.registry.measures. "
                    f"Got {type(item).__name__} instead."
                )
            scores[measure.id] = measure.score(self)
        return scores

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__}> for {len(self)} observations:\n"
            f"{self.as_data_frame().head(6).to_string(index=False)}"
            + ("\n[...]" if len(self) > 6 else "")
        )


def _as_row_ids(row_ids: Any, n: int) -> np.ndarray:
    ids = np.asarray(row_ids, dtype=np.int64).reshape(-1)
    if len(ids) != n:
        raise TaskError(f"A prediction needs one row id per observation: {n}. Got {len(ids)}.")
    return ids


class PredictionClassif(Prediction):
    """Predictions of a classifier.

    Parameters
    ----------
    row_ids : array-like of int
        Row ids of the task that was predicted.
    truth : array-like
        True classes (NA when unknown).
    response : array-like, optional
        Predicted classes. Derived from ``prob`` (argmax) when omitted.
    prob : DataFrame or 2-d array, optional
        Class probabilities, one column per class in level order.
    class_names : sequence, optional
        The classes, in level order (default: the categories of ``truth``).
    positive : optional
        The positive class of a binary problem (default: the first class).
    """

    task_type: ClassVar[str] = "classif"
    default_measure: ClassVar[str] = "classif.ce"

    def __init__(
        self,
        row_ids: Any,
        truth: Any,
        response: Any = None,
        prob: pd.DataFrame | np.ndarray | None = None,
        class_names: Sequence[Any] | None = None,
        positive: Any = None,
    ) -> None:
        if class_names is None:
            if not isinstance(getattr(truth, "dtype", None), pd.CategoricalDtype):
                raise TaskError(
                    "PredictionClassif needs class_names when truth is not categorical."
                )
            class_names = list(truth.dtype.categories)
        self.class_names = list(class_names)
        dtype = pd.CategoricalDtype(self.class_names)
        self.truth = self._as_classes(truth, dtype, "truth")
        n = len(self.truth)
        self.row_ids = _as_row_ids(row_ids, n)
        self.prob: pd.DataFrame | None = None
        if prob is not None:
            values = np.asarray(prob, dtype=np.float64)
            if values.shape != (n, len(self.class_names)):
                raise TaskError(
                    f"prob must have shape ({n}, {len(self.class_names)}) (rows x classes). "
                    f"Got {values.shape} instead."
                )
            if isinstance(prob, pd.DataFrame) and list(prob.columns) != self.class_names:
                missing = [c for c in self.class_names if c not in prob.columns]
                if missing:
                    raise TaskError(f"prob lacks columns for the classes {missing}.")
                values = prob[self.class_names].to_numpy(dtype=np.float64)
            self.prob = pd.DataFrame(values, columns=pd.Index(self.class_names))
        if response is None:
            if self.prob is None:
                raise TaskError("A PredictionClassif needs a response, prob, or both.")
            response = self._argmax(self.prob.to_numpy())
        self.response = self._as_classes(response, dtype, "response")
        if len(self.response) != n:
            raise TaskError(f"response must have {n} entries. Got {len(self.response)}.")
        if positive is None and len(self.class_names) == 2:
            positive = self.class_names[0]
        self.positive = positive

    def _argmax(self, prob: np.ndarray) -> Any:
        codes = np.where(np.isnan(prob).any(axis=1), -1, np.argmax(np.nan_to_num(prob), axis=1))
        return pd.Categorical.from_codes(
            codes.astype(np.int64), dtype=pd.CategoricalDtype(self.class_names)
        )

    @staticmethod
    def _as_classes(values: Any, dtype: pd.CategoricalDtype, what: str) -> Any:
        if isinstance(values, pd.Series):
            values = values.to_numpy()
        if isinstance(values, pd.Categorical) and list(values.categories) == list(dtype.categories):
            return values
        raw = pd.Series(np.asarray(values, dtype=object))
        unknown = [v for v in pd.unique(raw.dropna()) if v not in dtype.categories]
        if unknown:
            raise TaskError(
                f"The {what} of a prediction has unknown class(es) {unknown}; "
                f"the classes are {list(dtype.categories)}."
            )
        return pd.Categorical(raw, dtype=dtype)

    @property
    def predict_types(self) -> list[str]:  # noqa: D102
        return ["response"] if self.prob is None else ["response", "prob"]

    def require_prob(self, who: str) -> pd.DataFrame:
        """Return ``prob`` or raise :class:`PredictTypeError` naming ``who`` needs it."""
        if self.prob is None:
            raise PredictTypeError(
                f"{who} needs predicted probabilities, but this prediction holds only a "
                "response. Set learner.predict_type = 'prob' before predicting."
            )
        return self.prob

    @property
    def confusion(self) -> pd.DataFrame:
        """Confusion matrix: predicted classes in rows, true classes in columns."""
        table = pd.crosstab(
            pd.Series(self.response, name="response"),
            pd.Series(self.truth, name="truth"),
            dropna=False,
        )
        return table.reindex(index=self.class_names, columns=self.class_names, fill_value=0).astype(
            np.int64
        )

    def as_data_frame(self) -> pd.DataFrame:  # noqa: D102
        frame = pd.DataFrame(
            {"row_ids": self.row_ids, "truth": self.truth, "response": self.response}
        )
        if self.prob is not None:
            for cls in self.class_names:
                frame[f"prob.{cls}"] = self.prob[cls].to_numpy()
        return frame

    def _take(self, idx: np.ndarray) -> PredictionClassif:
        return PredictionClassif(
            self.row_ids[idx],
            self.truth[idx],
            self.response[idx],
            None if self.prob is None else self.prob.to_numpy()[idx],
            class_names=self.class_names,
            positive=self.positive,
        )


class PredictionRegr(Prediction):
    """Predictions of a regressor.

    Parameters
    ----------
    row_ids : array-like of int
        Row ids of the task that was predicted.
    truth : array-like of float
        True values (NaN when unknown).
    response : array-like of float
        Predicted values.
    """

    task_type: ClassVar[str] = "regr"
    default_measure: ClassVar[str] = "regr.mse"

    def __init__(self, row_ids: Any, truth: Any, response: Any) -> None:
        self.truth = np.asarray(truth, dtype=np.float64).reshape(-1)
        self.response = np.asarray(response, dtype=np.float64).reshape(-1)
        n = len(self.truth)
        if len(self.response) != n:
            raise TaskError(f"response must have {n} entries. Got {len(self.response)}.")
        self.row_ids = _as_row_ids(row_ids, n)

    @property
    def predict_types(self) -> list[str]:  # noqa: D102
        return ["response"]

    def as_data_frame(self) -> pd.DataFrame:  # noqa: D102
        return pd.DataFrame(
            {"row_ids": self.row_ids, "truth": self.truth, "response": self.response}
        )

    def _take(self, idx: np.ndarray) -> PredictionRegr:
        return PredictionRegr(self.row_ids[idx], self.truth[idx], self.response[idx])


def concat_predictions(predictions: Sequence[Prediction]) -> Prediction:
    """Stack predictions of the same kind (e.g. the folds of a resampling).

    Raises
    ------
    TaskError
        If the predictions are of different kinds or classes, or none are given.
    """
    if not predictions:
        raise TaskError("concat_predictions needs at least one prediction.")
    first = predictions[0]
    if any(type(p) is not type(first) for p in predictions):
        raise TaskError("Cannot combine predictions of different kinds.")
    if isinstance(first, PredictionRegr):
        regr = [p for p in predictions if isinstance(p, PredictionRegr)]
        return PredictionRegr(
            np.concatenate([p.row_ids for p in regr]),
            np.concatenate([p.truth for p in regr]),
            np.concatenate([p.response for p in regr]),
        )
    classif = [p for p in predictions if isinstance(p, PredictionClassif)]
    assert isinstance(first, PredictionClassif)
    if any(p.class_names != first.class_names for p in classif):
        raise TaskError("Cannot combine classification predictions with different classes.")
    has_prob = all(p.prob is not None for p in classif)
    return PredictionClassif(
        np.concatenate([p.row_ids for p in classif]),
        pd.Categorical(
            np.concatenate([np.asarray(p.truth, dtype=object) for p in classif]),
            categories=first.class_names,
        ),
        pd.Categorical(
            np.concatenate([np.asarray(p.response, dtype=object) for p in classif]),
            categories=first.class_names,
        ),
        np.concatenate([p.require_prob("concat") for p in classif]) if has_prob else None,
        class_names=first.class_names,
        positive=first.positive,
    )
