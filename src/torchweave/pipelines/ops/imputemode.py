"""``po("imputemode")``: impute missing values by each feature's most frequent value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.feature_types import feature_type_of
from torchweave.data.task import Task
from torchweave.pipelines.impute import PipeOpImpute
from torchweave.registry import pipeops

__all__ = ["PipeOpImputeMode"]

# What a feature that is entirely missing in training is imputed with (mlr3's null model,
# made deterministic: mlr3 samples factor levels and logicals at random).
_NULL_VALUES: dict[str, Any] = {"numeric": 0.0, "integer": 0, "logical": False, "character": ""}


def _mode(column: pd.Series) -> Any:
    if isinstance(column.dtype, pd.CategoricalDtype):
        if len(column.cat.categories) == 0:
            return None
        codes = column.cat.codes.to_numpy()
        tally = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories))
        return column.cat.categories[int(np.argmax(tally))]
    counts = column.value_counts(dropna=True)
    if counts.empty:
        return _NULL_VALUES[str(feature_type_of(column.dtype))]
    tied = counts.index[counts == counts.max()].tolist()
    try:
        return min(tied)
    except TypeError:  # a character column mixing types
        return min(tied, key=str)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class PipeOpImputeMode(PipeOpImpute):
    """Imputes missing values by each feature's mode (most frequent value) in training.

    Ties go to the first level in category order (factors) or to the smallest value
    (other types; by string for a character column mixing types), so the result is
    deterministic (mlr3 samples among ties). A feature entirely missing in training is
    imputed with its first category (factors), ``False``, ``0`` or ``""``; a factor
    without any category stays missing (as in mlr3).

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``values``: dict from column to the value imputed (a factor's value is one of its
    categories; ``None`` for a factor without categories).

    Parameters
    ----------
    affect_columns : selector
        Which features to impute (default: all factor, ordered, logical, integer, numeric
        and character ones).

    Examples
    --------
    >>> import torchweave as tw
    >>> task = tw.tsk("penguins")
    >>> op = tw.po("imputemode")
    >>> out = op.train([task])[0]
    >>> op.state["values"]["sex"], out.missings()["sex"]
    ('male', 0)
    """

    feature_types = ("factor", "ordered", "logical", "integer", "numeric", "character")

    def __init__(self, id: str = "imputemode", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals=param_vals)

    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        self.state["values"] = {col: _plain(_mode(column)) for col, column in df.items()}
        return self._predict_df(df, task)

    def _train_stats(self, task: Task, cols: list[str]) -> bool:
        modes, types, levels = task.col_stats(cols, "mode"), task.feature_types, task.levels(cols)
        values = {}
        for col in cols:
            value = modes[col]
            if value is None:
                if col in levels:
                    value = levels[col][0] if levels[col] else None
                else:
                    value = _NULL_VALUES[types[col]]
            values[col] = _plain(value)
        self.state["values"] = values
        return True


pipeops.register("imputemode", PipeOpImputeMode)
