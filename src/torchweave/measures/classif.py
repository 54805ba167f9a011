"""Classification measures: thin wrappers over :mod:`sklearn.metrics`.

Truth and response are passed to scikit-learn as integer class codes (the position of
each class in ``prediction.class_names``) and probabilities as a matrix with one column
per class in the same order, so scikit-learn's sorting of labels never reorders
columns. The positive class of binary measures is ``prediction.positive``.

Precision, recall and F1 use ``zero_division=0.0``: a class that is never predicted
(precision) or never true (recall) contributes 0 instead of a warning.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from torchweave import registry
from torchweave.data.prediction import PredictionClassif
from torchweave.errors import TaskError
from torchweave.measures.measure import Measure, sklearn_metrics
from torchweave.params import ParamSet, p_fct

__all__ = [
    "MeasureClassifAUC",
    "MeasureClassifAcc",
    "MeasureClassifBAcc",
    "MeasureClassifBBrier",
    "MeasureClassifCE",
    "MeasureClassifF1",
    "MeasureClassifLogloss",
    "MeasureClassifMBrier",
    "MeasureClassifPrecision",
    "MeasureClassifRecall",
]


#: Rows of ``prob`` summing to 1 within this tolerance count as normalized. It is the
#: tolerance of sklearn's ``roc_auc_score``; sklearn's log loss and Brier score warn at
#: about 1.5e-8, which float32 probabilities (a torch softmax) miss by rounding alone.
_PROB_ATOL = 1e-5


def _truth(prediction: PredictionClassif) -> np.ndarray:
    return np.asarray(prediction.truth.codes, dtype=np.int64)


def _response(prediction: PredictionClassif) -> np.ndarray:
    return np.asarray(prediction.response.codes, dtype=np.int64)


def _prob(prediction: PredictionClassif) -> np.ndarray:
    assert prediction.prob is not None  # Measure.score checked it
    return prediction.prob.to_numpy(dtype=np.float64)


def _positive_index(prediction: PredictionClassif, measure_id: str) -> int:
    if prediction.positive not in prediction.class_names:
        raise TaskError(
            f"Measure '{measure_id}' needs the positive class of the prediction, one of "
            f"{prediction.class_names}. Got {prediction.positive!r} instead."
        )
    return prediction.class_names.index(prediction.positive)


@contextlib.contextmanager
def _tolerate_rounding(prob: np.ndarray) -> Iterator[None]:
    """Silence sklearn's "do not sum to one" warning for rows that do within rounding."""
    with warnings.catch_warnings():
        if np.allclose(prob.sum(axis=1), 1.0, rtol=0.0, atol=_PROB_ATOL):
            warnings.filterwarnings(
                "ignore", message="The y_prob values do not sum to one", category=UserWarning
            )
        yield


class MeasureClassifAcc(Measure):
    """Classification accuracy: the share of correctly classified observations.

    Wraps :func:`sklearn.metrics.accuracy_score`. Range [0, 1], maximize.
    """

    id = "classif.acc"
    task_type: ClassVar[str] = "classif"
    minimize: ClassVar[bool] = False
    range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    label = "Classification Accuracy"

    def _score(self, prediction: Any) -> float:
        return float(sklearn_metrics().accuracy_score(_truth(prediction), _response(prediction)))


class MeasureClassifCE(Measure):
    """Classification error: the share of misclassified observations (1 - accuracy).

    Wraps :func:`sklearn.metrics.zero_one_loss`. Range [0, 1], minimize.
    """

    id = "classif.ce"
    task_type: ClassVar[str] = "classif"
    minimize: ClassVar[bool] = True
    range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    label = "Classification Error"

    def _score(self, prediction: Any) -> float:
        return float(sklearn_metrics().zero_one_loss(_truth(prediction), _response(prediction)))


class MeasureClassifBAcc(Measure):
    """Balanced accuracy: the mean recall over the classes present in the truth.

    Equals :func:`sklearn.metrics.balanced_accuracy_score`; computed as
    :func:`sklearn.metrics.recall_score` macro-averaged over the true classes, which
    (unlike the former) does not warn when a fold holds a single class or a class is
    predicted that is absent from the truth. Range [0, 1], maximize.
    """

    id = "classif.bacc"
    task_type: ClassVar[str] = "classif"
    minimize: ClassVar[bool] = False
    range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    label = "Balanced Accuracy"

    def _score(self, prediction: Any) -> float:
        truth = _truth(prediction)
        return float(
            sklearn_metrics().recall_score(
                truth,
                _response(prediction),
                labels=np.unique(truth),
                average="macro",
                zero_division=0.0,
            )
        )


class MeasureClassifLogloss(Measure):
    """Log loss: the mean negative log-probability of the true class.

    Wraps :func:`sklearn.metrics.log_loss` with all classes of the prediction as
    labels (classes absent from the truth still count). Range [0, inf), minimize.
    Needs ``predict_type = "prob"``.
    """

    id = "classif.logloss"
    task_type: ClassVar[str] = "classif"
    minimize: ClassVar[bool] = True
    predict_type: ClassVar[str] = "prob"
    range: ClassVar[tuple[float, float]] = (0.0, math.inf)
    label = "Log Loss"

    def _score(self, prediction: Any) -> float:
        prob = _prob(prediction)
        with _tolerate_rounding(prob):
            return float(
                sklearn_metrics().log_loss(
                    _truth(prediction), prob, labels=list(range(len(prediction.class_names)))
                )
            )


class MeasureClassifMBrier(Measure):
    """Multiclass Brier score: mean over rows of sum over classes of (p_k - 1[y = k])^2.

    Wraps :func:`sklearn.metrics.brier_score_loss` on the full probability matrix with
    ``scale_by_half=False`` (so also for two classes the range is [0, 2]). Minimize.
    Needs ``predict_type = "prob"``.
    """

    id = "classif.mbrier"
    task_type: ClassVar[str] = "classif"
    minimize: ClassVar[bool] = True
    predict_type: ClassVar[str] = "prob"
    range: ClassVar[tuple[float, float]] = (0.0, 2.0)
    label = "Multiclass Brier Score"

    def _score(self, prediction: Any) -> float:
        prob = _prob(prediction)
        with _tolerate_rounding(prob):
            return float(
                sklearn_metrics().brier_score_loss(
                    _truth(prediction),
                    prob,
                    labels=list(range(len(prediction.class_names))),
                    scale_by_half=False,
                )
            )


class MeasureClassifBBrier(Measure):
    """Binary Brier score: the mean of (p_pos - 1[y = pos])^2.

    ``pos`` is the prediction's positive class. Wraps
    :func:`sklearn.metrics.brier_score_loss`. Range [0, 1], minimize. Binary
    predictions only; needs ``predict_type = "prob"``.
    """

    id = "classif.bbrier"
    task_type: ClassVar[str] = "classif"
    minimize: ClassVar[bool] = True
    predict_type: ClassVar[str] = "prob"
    range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    label = "Binary Brier Score"
    _properties: ClassVar[frozenset[str]] = frozenset({"twoclass"})

    def _score(self, prediction: Any) -> float:
        pos = _positive_index(prediction, self.id)
        is_pos = (_truth(prediction) == pos).astype(np.int64)
        return float(
            sklearn_metrics().brier_score_loss(is_pos, _prob(prediction)[:, pos], pos_label=1)
        )


class MeasureClassifAUC(Measure):
    """Area under the ROC curve.

    For a binary prediction, the AUC of the probability of the positive class
    (:func:`sklearn.metrics.roc_auc_score`). With ``average="macro"`` or
    ``"weighted"``, multiclass predictions are scored one-vs-rest
    (``multi_class="ovr"``); a binary prediction still gets the binary AUC, which
    equals both. NaN when the truth holds only one class (the AUC is undefined).
    Range [0, 1], maximize. Needs ``predict_type = "prob"``.

    Parameters
    ----------
    average : {"binary", "macro", "weighted"}, default "binary"
        ``"binary"`` scores binary predictions only.
    aggregation : {"macro", "micro"}, default "macro"
        See :class:`~torchweave.measures.Measure`.
    """

    id = "classif.auc"
    task_type: ClassVar[str] = "classif"
    minimize: ClassVar[bool] = False
    predict_type: ClassVar[str] = "prob"
    range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    label = "Area Under the ROC Curve"

    def __init__(self, average: str = "binary", aggregation: str = "macro") -> None:
        super().__init__(
            ParamSet(average=p_fct(("binary", "macro", "weighted"), default="binary")),
            aggregation=aggregation,
        )
        self.param_set.set_values(average=average)

    @property
    def average(self) -> str:
        """How a multiclass AUC is averaged (``"binary"``: binary predictions only)."""
        return str(self.param_set.values.get("average", "binary"))

    @property
    def properties(self) -> frozenset[str]:  # noqa: D102
        return frozenset({"twoclass"}) if self.average == "binary" else frozenset()

    def _score(self, prediction: Any) -> float:
        truth, prob = _truth(prediction), _prob(prediction)
        if len(prediction.class_names) == 2:
            pos = _positive_index(prediction, self.id)
            return float(
                sklearn_metrics().roc_auc_score((truth == pos).astype(np.int64), prob[:, pos])
            )
        return float(
            sklearn_metrics().roc_auc_score(
                truth,
                prob,
                multi_class="ovr",
                average=self.average,
                labels=list(range(len(prediction.class_names))),
            )
        )


class _AveragedMeasure(Measure):
    """Template of precision, recall and F1: an ``average`` parameter as in sklearn.

    ``"binary"`` (the default) scores the positive class of a binary prediction;
    ``"macro"``, ``"micro"`` and ``"weighted"`` also score multiclass predictions,
    averaging over the classes present in truth or response.
    """

    task_type: ClassVar[str] = "classif"
    minimize: ClassVar[bool] = False
    range: ClassVar[tuple[float, float]] = (0.0, 1.0)

    def __init__(self, average: str = "binary", aggregation: str = "macro") -> None:
        super().__init__(
            ParamSet(average=p_fct(("binary", "macro", "micro", "weighted"), default="binary")),
            aggregation=aggregation,
        )
        self.param_set.set_values(average=average)

    @property
    def average(self) -> str:
        """``"binary"``, ``"macro"``, ``"micro"`` or ``"weighted"``."""
        return str(self.param_set.values.get("average", "binary"))

    @property
    def properties(self) -> frozenset[str]:
        return frozenset({"twoclass"}) if self.average == "binary" else frozenset()

    #: Name of the sklearn.metrics function (``f1_score``, ...).
    metric: ClassVar[str]

    def _score(self, prediction: Any) -> float:
        kwargs: dict[str, Any] = {"average": self.average, "zero_division": 0.0}
        if self.average == "binary":
            kwargs["pos_label"] = _positive_index(prediction, self.id)
        score = getattr(sklearn_metrics(), self.metric)
        return float(score(_truth(prediction), _response(prediction), **kwargs))


class MeasureClassifF1(_AveragedMeasure):
    """F1 score: the harmonic mean of precision and recall.

    Wraps :func:`sklearn.metrics.f1_score` with ``zero_division=0.0``. Range [0, 1],
    maximize.

    Parameters
    ----------
    average : {"binary", "macro", "micro", "weighted"}, default "binary"
        ``"binary"`` scores the positive class of binary predictions only.
    aggregation : {"macro", "micro"}, default "macro"
        See :class:`~torchweave.measures.Measure`.
    """

    id = "classif.f1"
    label = "F1 Score"

    metric = "f1_score"


class MeasureClassifPrecision(_AveragedMeasure):
    """Precision (positive predictive value): TP / (TP + FP).

    Wraps :func:`sklearn.metrics.precision_score` with ``zero_division=0.0``.
    Range [0, 1], maximize.

    Parameters
    ----------
    average : {"binary", "macro", "micro", "weighted"}, default "binary"
        ``"binary"`` scores the positive class of binary predictions only.
    aggregation : {"macro", "micro"}, default "macro"
        See :class:`~torchweave.measures.Measure`.
    """

    id = "classif.precision"
    label = "Precision"

    metric = "precision_score"


class MeasureClassifRecall(_AveragedMeasure):
    """Recall (sensitivity, true positive rate): TP / (TP + FN).

    Wraps :func:`sklearn.metrics.recall_score` with ``zero_division=0.0``.
    Range [0, 1], maximize.

    Parameters
    ----------
    average : {"binary", "macro", "micro", "weighted"}, default "binary"
        ``"binary"`` scores the positive class of binary predictions only.
    aggregation : {"macro", "micro"}, default "macro"
        See :class:`~torchweave.measures.Measure`.
    """

    id = "classif.recall"
    label = "Recall"

    metric = "recall_score"


registry.measures.register("classif.acc", MeasureClassifAcc)
registry.measures.register("classif.ce", MeasureClassifCE)
registry.measures.register("classif.bacc", MeasureClassifBAcc)
registry.measures.register("classif.logloss", MeasureClassifLogloss)
registry.measures.register("classif.auc", MeasureClassifAUC)
registry.measures.register("classif.mbrier", MeasureClassifMBrier)
registry.measures.register("classif.bbrier", MeasureClassifBBrier)
registry.measures.register("classif.f1", MeasureClassifF1)
registry.measures.register("classif.precision", MeasureClassifPrecision)
registry.measures.register("classif.recall", MeasureClassifRecall)
