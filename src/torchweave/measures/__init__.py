"""Measures: scoring rules for predictions, wrapping :mod:`sklearn.metrics`.

Look a measure up with ``msr("classif.acc")`` (``tw.registry.measures`` lists the
keys), or convert with :func:`as_measure` and :func:`as_measures`.
"""

from __future__ import annotations

from collections.abc import Iterable

from torchweave import registry
from torchweave.data.prediction import PredictionClassif, PredictionRegr
from torchweave.errors import InvalidParameterError, InvalidTypeError, TaskError
from torchweave.measures.classif import (
    MeasureClassifAcc,
    MeasureClassifAUC,
    MeasureClassifBAcc,
    MeasureClassifBBrier,
    MeasureClassifCE,
    MeasureClassifF1,
    MeasureClassifLogloss,
    MeasureClassifMBrier,
    MeasureClassifPrecision,
    MeasureClassifRecall,
)
from torchweave.measures.measure import Measure
from torchweave.measures.regr import (
    MeasureRegrMAE,
    MeasureRegrMAPE,
    MeasureRegrMedAE,
    MeasureRegrMSE,
    MeasureRegrRMSE,
    MeasureRegrRSQ,
)

__all__ = [
    "Measure",
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
    "MeasureRegrMAE",
    "MeasureRegrMAPE",
    "MeasureRegrMSE",
    "MeasureRegrMedAE",
    "MeasureRegrRMSE",
    "MeasureRegrRSQ",
    "as_measure",
    "as_measures",
]

#: The measure used when none is given, by task type (as in mlr3).
DEFAULT_MEASURES = {
    cls.task_type: cls.default_measure for cls in (PredictionClassif, PredictionRegr)
}


def as_measure(x: Measure | str, task_type: str | None = None) -> Measure:
    """Convert to a :class:`Measure`.

    Parameters
    ----------
    x : Measure or str
        A measure (returned as is) or its key in ``tw.registry.measures``.
    task_type : {"classif", "regr"}, optional
        When given, the measure must score predictions of this task type.

    Returns
    -------
    Measure

    Raises
    ------
    UnknownKeyError
        For an unknown key (a ``KeyError``), with the closest key suggested.
    InvalidTypeError
        If ``x`` is neither a Measure nor a string.
    TaskError
        If the measure's task type differs from ``task_type``.
    """
    if isinstance(x, str):
        measure = registry.measures.get(x)
    elif isinstance(x, Measure):
        measure = x
    else:
        raise InvalidTypeError(
            f"A measure must be a Measure or a key of tw.registry.measures. "
            f"Got {type(x).__name__} instead."
        )
    if task_type is not None and measure.task_type != task_type:
        raise TaskError(
            f"Measure '{measure.id}' scores {measure.task_type} predictions, "
            f"but a measure for {task_type} was needed."
        )
    return measure


def as_measures(
    x: Measure | str | Iterable[Measure | str] | None = None,
    task_type: str | None = None,
) -> list[Measure]:
    """Convert to a list of :class:`Measure`.

    Parameters
    ----------
    x : Measure, str, iterable of them, or None
        ``None`` gives the default measure of ``task_type`` (``classif.ce`` or
        ``regr.mse``, as in mlr3); a single measure or key gives a list of one.
    task_type : {"classif", "regr"}, optional
        When given, every measure must score predictions of this task type.
        Required when ``x`` is None.

    Returns
    -------
    list of Measure

    Raises
    ------
    InvalidParameterError
        If ``x`` is None and ``task_type`` is not a known task type.
    """
    if x is None:
        if task_type not in DEFAULT_MEASURES:
            raise InvalidParameterError(
                f"as_measures needs task_type, one of {{'classif', 'regr'}}, to choose a "
                f"default measure. Got {task_type!r} instead."
            )
        return [as_measure(DEFAULT_MEASURES[task_type])]
    if isinstance(x, str | Measure):
        return [as_measure(x, task_type)]
    if not isinstance(x, Iterable):
        raise InvalidTypeError(
            f"Measures must be a Measure, a key, or an iterable of them. "
            f"Got {type(x).__name__} instead."
        )
    return [as_measure(m, task_type) for m in x]
