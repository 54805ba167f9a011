"""Regression measures: thin wrappers over :mod:`sklearn.metrics`."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from torchweave import registry
from torchweave.measures.measure import Measure, sklearn_metrics

__all__ = [
    "MeasureRegrMAE",
    "MeasureRegrMAPE",
    "MeasureRegrMSE",
    "MeasureRegrMedAE",
    "MeasureRegrRMSE",
    "MeasureRegrRSQ",
]


class MeasureRegrMSE(Measure):
    """Mean squared error.

    Wraps :func:`sklearn.metrics.mean_squared_error`. Range [0, inf), minimize.
    """

    id = "regr.mse"
    task_type: ClassVar[str] = "regr"
    minimize: ClassVar[bool] = True
    range: ClassVar[tuple[float, float]] = (0.0, math.inf)
    label = "Mean Squared Error"

    def _score(self, prediction: Any) -> float:
        return float(sklearn_metrics().mean_squared_error(prediction.truth, prediction.response))


class MeasureRegrRMSE(Measure):
    """Root mean squared error.

    Wraps :func:`sklearn.metrics.root_mean_squared_error`. Range [0, inf), minimize.
    """

    id = "regr.rmse"
    task_type: ClassVar[str] = "regr"
    minimize: ClassVar[bool] = True
    range: ClassVar[tuple[float, float]] = (0.0, math.inf)
    label = "Root Mean Squared Error"

    def _score(self, prediction: Any) -> float:
        return float(
            sklearn_metrics().root_mean_squared_error(prediction.truth, prediction.response)
        )


class MeasureRegrMAE(Measure):
    """Mean absolute error.

    Wraps :func:`sklearn.metrics.mean_absolute_error`. Range [0, inf), minimize.
    """

    id = "regr.mae"
    task_type: ClassVar[str] = "regr"
    minimize: ClassVar[bool] = True
    range: ClassVar[tuple[float, float]] = (0.0, math.inf)
    label = "Mean Absolute Error"

    def _score(self, prediction: Any) -> float:
        return float(sklearn_metrics().mean_absolute_error(prediction.truth, prediction.response))


class MeasureRegrMedAE(Measure):
    """Median absolute error.

    Wraps :func:`sklearn.metrics.median_absolute_error`. Range [0, inf), minimize.
    """

    id = "regr.medae"
    task_type: ClassVar[str] = "regr"
    minimize: ClassVar[bool] = True
    range: ClassVar[tuple[float, float]] = (0.0, math.inf)
    label = "Median Absolute Error"

    def _score(self, prediction: Any) -> float:
        return float(sklearn_metrics().median_absolute_error(prediction.truth, prediction.response))


class MeasureRegrRSQ(Measure):
    """R squared (coefficient of determination): 1 - SSE / SST.

    Wraps :func:`sklearn.metrics.r2_score` (with its ``force_finite=True``: a constant
    truth scores 1 when predicted exactly, else 0). NaN for fewer than two
    observations. Range (-inf, 1], maximize.
    """

    id = "regr.rsq"
    task_type: ClassVar[str] = "regr"
    minimize: ClassVar[bool] = False
    range: ClassVar[tuple[float, float]] = (-math.inf, 1.0)
    label = "R Squared"

    def _score(self, prediction: Any) -> float:
        return float(sklearn_metrics().r2_score(prediction.truth, prediction.response))


class MeasureRegrMAPE(Measure):
    """Mean absolute percentage error: the mean of |truth - response| / |truth|.

    Wraps :func:`sklearn.metrics.mean_absolute_percentage_error`, as a fraction (not
    times 100). NaN when the truth contains 0, where the error is undefined (as in
    mlr3; sklearn would divide by machine epsilon instead). Range [0, inf), minimize.
    """

    id = "regr.mape"
    task_type: ClassVar[str] = "regr"
    minimize: ClassVar[bool] = True
    range: ClassVar[tuple[float, float]] = (0.0, math.inf)
    label = "Mean Absolute Percentage Error"

    def _score(self, prediction: Any) -> float:
        if np.any(np.asarray(prediction.truth) == 0):
            return math.nan
        return float(
            sklearn_metrics().mean_absolute_percentage_error(prediction.truth, prediction.response)
        )


registry.measures.register("regr.mse", MeasureRegrMSE)
registry.measures.register("regr.rmse", MeasureRegrRMSE)
registry.measures.register("regr.mae", MeasureRegrMAE)
registry.measures.register("regr.medae", MeasureRegrMedAE)
registry.measures.register("regr.rsq", MeasureRegrRSQ)
registry.measures.register("regr.mape", MeasureRegrMAPE)
