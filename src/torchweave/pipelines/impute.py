"""PipeOpImpute: the template of the imputation operators.

Imputers learn one value per affected column at train time (kept in
``state["values"]``) and fill missing values with it at train and predict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.feature_types import feature_type_of
from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.utils.text import quote_list

__all__ = [
    "STATISTICS",
    "PipeOpImpute",
    "PipeOpImputeStatistic",
    "fill_missing",
    "statistic_imputer",
]


def fill_missing(df: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
    """Fill each column's missing values with its value from ``values`` (a new frame).

    A value that is not yet a category of a factor column is added as a category, whether
    or not the column has missing values, so train and predict output have the same
    categories (as mlr3's imputers). A value of ``None`` leaves the column as it is.
    """
    out = df.copy()
    for col, value in values.items():
        column = out[col]
        if value is None:
            continue
        if isinstance(column.dtype, pd.CategoricalDtype) and value not in column.cat.categories:
            column = column.cat.add_categories([value])
        out[col] = column.fillna(value) if column.isna().any() else column
    return out


class PipeOpImpute(PipeOpTaskPreproc):
    """Template of imputers: fill missing values with ``state["values"]``."""

    def __init__(self, id: str, param_vals: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(id, param_vals=param_vals, tags=("data transform", "missings"), **kwargs)

    def _predict_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        return fill_missing(df, self.state["values"])


#: The statistics of :class:`PipeOpImputeStatistic`, by name.
STATISTICS: dict[str, Callable[[pd.Series], Any]] = {
    "mean": pd.Series.mean,
    "median": pd.Series.median,
}


class PipeOpImputeStatistic(PipeOpImpute):
    """Imputes missing values of numeric and integer features by a statistic in training.

    ``po("imputemean")`` and ``po("imputemedian")`` are this operator with the
    statistic ``"mean"`` and ``"median"`` (default ids ``imputemean`` and
    ``imputemedian``). Column dtypes are kept: a float column stays float; for an
    integer column (such as a nullable ``Int64`` one) the statistic is rounded (half to
    even, as R's ``round``), as mlr3 does. A feature that is entirely missing in
    training is imputed with 0 (as in mlr3), without a warning.

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``values``: dict from column to the value imputed (float, or int for integer columns).

    Parameters
    ----------
    affect_columns : selector
        Which features to impute (default: all numeric and integer ones).

    Notes
    -----
    Constructor arguments: ``statistic`` (a key of :data:`STATISTICS`), ``id`` (default
    ``"impute<statistic>"``) and ``param_vals``.

    Examples
    --------
    >>> import torchweave as tw
    >>> op = tw.po("imputemedian")
    >>> out = op.train([tw.tsk("penguins")])[0]
    >>> round(op.state["values"]["bill_length_mm"], 3), out.missings()["bill_length_mm"]
    (44.45, 0)
    >>> PipeOpImputeStatistic("mean").id
    'imputemean'
    """

    feature_types = ("numeric", "integer")

    def __init__(
        self,
        statistic: str,
        id: str | None = None,
        param_vals: dict[str, Any] | None = None,
    ) -> None:
        if statistic not in STATISTICS:
            raise InvalidParameterError(
                f"The 'statistic' argument of PipeOpImputeStatistic must be one of "
                f"{quote_list(STATISTICS)}. Got {statistic!r} instead."
            )
        self.statistic = statistic
        super().__init__(f"impute{statistic}" if id is None else id, param_vals=param_vals)

    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        values: dict[str, Any] = {}
        for col, column in df.items():
            stat = STATISTICS[self.statistic](column)
            stat = 0.0 if pd.isna(stat) else float(stat)
            integer = feature_type_of(column.dtype) == "integer"
            values[str(col)] = int(np.round(stat)) if integer else stat
        self.state["values"] = values
        return self._predict_df(df, task)

    def _train_stats(self, task: Task, cols: list[str]) -> bool:
        stats = task.col_stats(cols, self.statistic)
        types = task.feature_types
        self.state["values"] = {
            col: int(np.round(stat or 0.0)) if types[col] == "integer" else float(stat or 0.0)
            for col, stat in stats.items()
        }
        return True


def statistic_imputer(
    statistic: str, name: str, module: str
) -> Callable[..., PipeOpImputeStatistic]:
    """The registry constructor of ``po("impute<statistic>")``: a function named ``name``.

    It builds a :class:`PipeOpImputeStatistic` with ``statistic`` and takes ``id``
    (default ``"impute<statistic>"``) and ``param_vals``. ``name`` and ``module`` make
    it importable (and picklable) from the operator's module under its public name.
    """
    default_id = f"impute{statistic}"

    def constructor(
        id: str = default_id, param_vals: dict[str, Any] | None = None
    ) -> PipeOpImputeStatistic:
        return PipeOpImputeStatistic(statistic, id=id, param_vals=param_vals)

    constructor.__name__ = constructor.__qualname__ = name
    constructor.__module__ = module
    constructor.__doc__ = (
        f"Imputes missing values of numeric and integer features by their {statistic} in "
        f"training.\n\n:class:`~torchweave.pipelines.impute.PipeOpImputeStatistic` with the "
        f'statistic ``"{statistic}"`` and the default id ``"{default_id}"``; it documents '
        "channels, state and parameters."
    )
    return constructor
