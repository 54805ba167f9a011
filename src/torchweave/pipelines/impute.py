"""PipeOpImpute: the template of the imputation operators.

Imputers learn one value per affected column at train time (kept in
``state["values"]``) and fill missing values with it at train and predict.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.feature_types import feature_type_of
from torchweave.data.task import Task
from torchweave.pipelines.preproc import PipeOpTaskPreproc

__all__ = ["PipeOpImpute", "PipeOpImputeStatistic", "fill_missing"]


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


class PipeOpImputeStatistic(PipeOpImpute):
    """Template of imputers by a summary statistic of each numeric column (mean, median).

    Column dtypes are kept: for an integer column the statistic is rounded (half to
    even, as R's ``round``); a column entirely missing in training gets 0 (as mlr3).
    """

    feature_types = ("numeric", "integer")

    @abc.abstractmethod
    def _statistic(self, column: pd.Series) -> Any:
        """The value to impute for one training column (NaN when it has no values)."""

    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        values: dict[str, Any] = {}
        for col, column in df.items():
            stat = self._statistic(column)
            stat = 0.0 if pd.isna(stat) else float(stat)
            integer = feature_type_of(column.dtype) == "integer"
            values[str(col)] = int(np.round(stat)) if integer else stat
        self.state["values"] = values
        return self._predict_df(df, task)
