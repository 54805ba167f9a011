"""The Measure base class: a scoring rule for predictions (mlr3's ``Measure``).

A measure declares its metadata as data (``id``, ``task_type``, ``minimize``,
``predict_type``, ``range``, ``properties``, ``aggregation``, ``label``) and
implements one private hook, :meth:`Measure._score`, usually one call to a function
of :mod:`sklearn.metrics`. The public :meth:`Measure.score` does the bookkeeping:
it checks the kind of prediction, that probabilities are present when needed and
that a binary-only measure gets a binary prediction, and it returns NaN for
predictions it cannot score (missing values, no rows, undefined cases).
"""

from __future__ import annotations

import abc
import math
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from torchweave.data.prediction import Prediction, PredictionClassif, concat_predictions
from torchweave.errors import InvalidParameterError, InvalidTypeError, TaskError
from torchweave.params import ParamSet

__all__ = ["AGGREGATIONS", "Measure"]

#: How scores of several resampling iterations combine (mlr3's ``average``).
AGGREGATIONS = ("macro", "micro")


def _fmt_bound(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if float(x).is_integer() else str(x)


def sklearn_metrics() -> Any:
    """sklearn.metrics, imported on first use (keeps ``import torchweave`` light)."""
    import sklearn.metrics

    return sklearn.metrics


class Measure(abc.ABC):
    """Abstract base of every measure.

    Subclasses declare the metadata below as class attributes and implement
    :meth:`_score`. Instances may override ``id``, ``label`` and ``aggregation``.

    Parameters
    ----------
    param_set : ParamSet, optional
        The measure's parameters (e.g. ``average``); an empty set when omitted.
        Its ``owner`` is set to ``"measure '<id>'"`` for error messages.
    aggregation : {"macro", "micro"}, default "macro"
        How :meth:`aggregate` (and so a resampling's ``aggregate``) combines
        several predictions: ``"macro"`` is the mean of the per-iteration scores,
        ``"micro"`` scores the combined prediction once.

    Attributes
    ----------
    id : str
        The measure's id; equals its key in ``tw.registry.measures``.
    task_type : {"classif", "regr"}
        The kind of prediction it scores.
    minimize : bool
        Whether smaller scores are better.
    predict_type : {"response", "prob"}
        What it needs from the prediction.
    range : tuple of float
        ``(lower, upper)``, the smallest and largest possible score
        (``math.inf`` when unbounded).
    properties : frozenset of str
        Capabilities and requirements; ``"twoclass"`` marks a measure that only
        scores binary classification.
    label : str
        A short human-readable name.
    param_set : ParamSet
        The measure's parameters.
    """

    id: str = ""
    task_type: ClassVar[str] = ""
    minimize: ClassVar[bool] = True
    predict_type: ClassVar[str] = "response"
    range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    label: str = ""
    _properties: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, param_set: ParamSet | None = None, aggregation: str = "macro") -> None:
        self.param_set = param_set if param_set is not None else ParamSet()
        self.param_set.owner = f"measure '{self.id}'"
        self.aggregation = aggregation

    # --- metadata ---------------------------------------------------------------------
    @property
    def aggregation(self) -> str:
        """``"macro"`` (mean of per-iteration scores) or ``"micro"`` (pooled)."""
        return self._aggregation

    @aggregation.setter
    def aggregation(self, value: str) -> None:
        if not isinstance(value, str) or value not in AGGREGATIONS:
            raise InvalidParameterError(
                f"The 'aggregation' parameter of measure '{self.id}' must be one of "
                f"{{'macro', 'micro'}}. Got {value!r} instead."
            )
        self._aggregation = value

    @property
    def properties(self) -> frozenset[str]:
        """Capabilities and requirements, e.g. ``{"twoclass"}``."""
        return self._properties

    @property
    def best(self) -> float:
        """The best possible score: ``range[0]`` when minimizing, else ``range[1]``."""
        return self.range[0] if self.minimize else self.range[1]

    @property
    def worst(self) -> float:
        """The worst possible score: ``range[1]`` when minimizing, else ``range[0]``."""
        return self.range[1] if self.minimize else self.range[0]

    # --- scoring ----------------------------------------------------------------------
    def score(self, prediction: Any) -> float:
        """Score one prediction.

        Parameters
        ----------
        prediction : Prediction
            A :class:`~torchweave.data.PredictionClassif` or
            :class:`~torchweave.data.PredictionRegr` matching ``task_type``.

        Returns
        -------
        float
            The score; NaN when the prediction has no rows, when the truth or what
            the measure uses (``response`` or ``prob``) has missing values, or when
            the measure is undefined for it (e.g. AUC with one class present).

        Raises
        ------
        InvalidTypeError
            If ``prediction`` is not a Prediction.
        TaskError
            If it is a prediction of another task type, or a multiclass prediction
            given to a binary-only measure.
        PredictTypeError
            If the measure needs probabilities and the prediction has none.
        """
        if not isinstance(prediction, Prediction):
            raise InvalidTypeError(
                f"Measure '{self.id}' scores a Prediction. Got {type(prediction).__name__} instead."
            )
        if prediction.task_type != self.task_type:
            raise TaskError(
                f"Measure '{self.id}' scores {self.task_type} predictions. "
                f"Got a {prediction.task_type} prediction ({type(prediction).__name__}) instead."
            )
        if isinstance(prediction, PredictionClassif):
            if self.predict_type == "prob":
                prediction.require_prob(f"measure '{self.id}'")
            if "twoclass" in self.properties and len(prediction.class_names) != 2:
                raise TaskError(self._twoclass_message(prediction.class_names))
        if len(prediction) == 0 or self._has_missing(prediction):
            return math.nan
        # An undefined score is NaN (mlr3's na_value); sklearn already returns NaN
        # there, so its warning would only repeat that.
        with warnings.catch_warnings():
            from sklearn.exceptions import UndefinedMetricWarning

            warnings.simplefilter("ignore", UndefinedMetricWarning)
            return float(self._score(prediction))

    def _twoclass_message(self, class_names: Sequence[Any]) -> str:
        msg = (
            f"Measure '{self.id}' needs a binary classification prediction (2 classes). "
            f"Got {len(class_names)} classes {list(class_names)} instead."
        )
        if "average" in self.param_set:
            levels = self.param_set.params["average"].levels or ()
            multi = [lv for lv in levels if lv != "binary"]
            msg += " Set average to one of " + ", ".join(f"'{lv}'" for lv in multi)
            msg += " to score multiclass predictions."
        return msg

    def _has_missing(self, prediction: Any) -> bool:
        if isinstance(prediction, PredictionClassif):
            if (prediction.truth.codes < 0).any():
                return True
            if self.predict_type == "prob":
                assert prediction.prob is not None
                return bool(np.isnan(prediction.prob.to_numpy()).any())
            return bool((prediction.response.codes < 0).any())
        truth = np.asarray(prediction.truth, dtype=np.float64)
        response = np.asarray(prediction.response, dtype=np.float64)
        return bool(np.isnan(truth).any() or np.isnan(response).any())

    @abc.abstractmethod
    def _score(self, prediction: Any) -> float:
        """Compute the score of a checked, non-empty prediction without missing values."""

    def aggregate(self, predictions: Sequence[Any]) -> float:
        """Combine the predictions of several resampling iterations into one score.

        Parameters
        ----------
        predictions : sequence of Prediction
            One prediction per iteration.

        Returns
        -------
        float
            With ``aggregation == "macro"`` the mean of the per-iteration scores
            (NaN if any is NaN); with ``"micro"`` the score of the combined
            prediction. NaN for an empty sequence.
        """
        if len(predictions) == 0:
            return math.nan
        if self.aggregation == "micro":
            return self.score(concat_predictions(list(predictions)))
        return float(np.mean([self.score(p) for p in predictions]))

    # --- misc -------------------------------------------------------------------------
    def __repr__(self) -> str:
        lo, hi = self.range
        parts = [
            "minimize" if self.minimize else "maximize",
            f"range {'(' if math.isinf(lo) else '['}{_fmt_bound(lo)}, "
            f"{_fmt_bound(hi)}{')' if math.isinf(hi) else ']'}",
            f"predict_type='{self.predict_type}'",
        ]
        parts += [f"{k}={v!r}" for k, v in self.param_set.values.items()]
        if self.properties:
            parts.append("properties=" + "{" + ", ".join(sorted(self.properties)) + "}")
        return f"<{type(self).__name__} '{self.id}': {self.label}; {', '.join(parts)}>"
