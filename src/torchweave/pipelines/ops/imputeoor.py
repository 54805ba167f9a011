"""``po("imputeoor")``: impute out of range (a far-off number, a new level ".MISSING")."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from torchweave.data.feature_types import feature_type_of
from torchweave.data.task import Task
from torchweave.params.param import p_dbl, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.impute import fill_missing
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.registry import pipeops

__all__ = ["PipeOpImputeOOR"]


class PipeOpImputeOOR(PipeOpTaskPreproc):
    """Imputes missing values by an out-of-range constant or a new level ``".MISSING"``.

    Numbers get ``min - offset - multiplier * (max - min)`` (or, with ``min=False``,
    ``max + offset + multiplier * (max - min)``) over the training values; for integer
    columns this is rounded away from the range (mlr3 rounds to the nearest integer).
    A number column that is entirely missing in training is imputed with 0 (as in mlr3).
    Factor and ordered features get the new last category ``".MISSING"``, added whether
    or not a value is missing, so train and predict output share their categories
    (ordered-ness is kept); character features get the string ``".MISSING"``.

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``values``: dict from column to the value imputed.

    Parameters
    ----------
    min : bool, init True
        Impute below the minimum (else above the maximum).
    offset : float >= 0, init 1
        Distance added beyond the range.
    multiplier : float >= 0, init 1
        Multiple of the range's width added beyond the range.
    affect_columns : selector
        Which features to impute (default: all numeric, integer, factor, ordered and
        character ones).

    Examples
    --------
    >>> import torchweave as tw
    >>> op = tw.po("imputeoor")
    >>> out = op.train([tw.tsk("penguins")])[0]
    >>> round(op.state["values"]["bill_depth_mm"], 2), op.state["values"]["sex"]
    (3.7, '.MISSING')
    >>> out.missings()["sex"], list(out.data(cols="sex")["sex"].cat.categories)
    (0, ['female', 'male', '.MISSING'])
    """

    feature_types = ("numeric", "integer", "factor", "ordered", "character")

    def __init__(self, id: str = "imputeoor", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            min=p_lgl(init=True, tags="train"),
            offset=p_dbl(0, init=1.0, tags="train"),
            multiplier=p_dbl(0, init=1.0, tags="train"),
        )
        super().__init__(
            id, param_set=param_set, param_vals=param_vals, tags=("data transform", "missings")
        )

    def _value(self, column: pd.Series) -> Any:
        ftype = feature_type_of(column.dtype)
        if ftype not in ("numeric", "integer"):
            return ".MISSING"
        if column.isna().all():
            return 0 if ftype == "integer" else 0.0
        pv = self.param_set.values
        low, high = float(column.min()), float(column.max())
        shift = pv["offset"] + pv["multiplier"] * (high - low)
        value = low - shift if pv["min"] else high + shift
        if ftype == "integer":
            return int(math.floor(value) if pv["min"] else math.ceil(value))
        return value

    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        self.state["values"] = {str(col): self._value(column) for col, column in df.items()}
        return self._predict_df(df, task)

    def _predict_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        return fill_missing(df, self.state["values"])


pipeops.register("imputeoor", PipeOpImputeOOR)
