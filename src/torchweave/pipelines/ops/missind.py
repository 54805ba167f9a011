"""``po("missind")``: add missing-value indicator columns ``missing_<col>``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.task import Task
from torchweave.errors import TaskError
from torchweave.params.param import p_fct
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.pipelines.selectors import selector_invert, selector_type
from torchweave.registry import pipeops
from torchweave.utils.text import quote_list

__all__ = ["PipeOpMissInd"]

_FACTOR = pd.CategoricalDtype(["missing", "present"])
_TYPES = {"integer": np.int64, "logical": np.bool_, "numeric": np.float64}


class PipeOpMissInd(PipeOpTaskPreproc):
    """Adds an indicator column ``missing_<col>`` for features with missing values.

    Unlike mlr3's ``missind``, which outputs only the indicators (to be joined back with
    ``featureunion``), this operator KEEPS the original features and adds the indicators,
    so ``po("missind") >> po("imputemedian")`` works in a linear pipeline. As in mlr3,
    ``affect_columns`` starts as every type but factor, ordered and character (their
    missing values are better imputed by a new level, ``po("imputeoor")``).

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``indicand_cols``: the features that get an indicator (those with missing values in
    training, or all affected ones with ``which="all"``). ``type``: the indicator type
    used in training (prediction uses it too).

    Parameters
    ----------
    which : {"missing_train", "all"}, init "missing_train"
        Indicate only features with missing values in training, or all affected ones.
    type : {"factor", "integer", "logical", "numeric"}, init "factor"
        Type of the indicators: a factor with categories ``["missing", "present"]``,
        or 1 / ``True`` / 1.0 for missing and 0 / ``False`` / 0.0 for present.
    affect_columns : selector, init ``selector_invert(selector_type(["factor", "ordered",
        "character"]))``
        Which features may get an indicator.

    Examples
    --------
    >>> import torchweave as tw
    >>> op = tw.po("missind", type="integer")
    >>> out = op.train([tw.tsk("penguins")])[0]
    >>> op.state["indicand_cols"]
    ['bill_length_mm', 'bill_depth_mm', 'flipper_length_mm', 'body_mass_g']
    >>> int(out.data(cols="missing_body_mass_g").sum().iloc[0])
    2
    """

    feature_types = ("numeric", "integer", "factor", "ordered", "logical", "character")

    def __init__(self, id: str = "missind", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            which=p_fct(["missing_train", "all"], init="missing_train", tags="train"),
            type=p_fct(["factor", "integer", "logical", "numeric"], init="factor", tags="train"),
        )
        super().__init__(id, param_set=param_set, tags=("data transform", "missings"))
        self.param_set.set_values(
            affect_columns=selector_invert(selector_type(["factor", "ordered", "character"]))
        )
        if param_vals:
            self.param_set.set_values(dict(param_vals))

    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        pv = self.param_set.values
        cols = [str(c) for c in df.columns if pv["which"] == "all" or df[c].isna().any()]
        clash = [f"missing_{c}" for c in cols if f"missing_{c}" in task.feature_names]
        if clash:
            raise TaskError(
                f"PipeOp '{self.id}' would add the indicator column(s) {quote_list(clash)}, "
                f"which task '{task.id}' already has as feature(s). Rename them first."
            )
        self.state["indicand_cols"] = cols
        self.state["type"] = pv["type"]
        return self._predict_df(df, task)

    def _indicator(self, missing: np.ndarray) -> Any:
        if self.state["type"] == "factor":
            return pd.Categorical.from_codes((~missing).astype(np.int8), dtype=_FACTOR)
        return missing.astype(_TYPES[self.state["type"]])

    def _predict_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        missing = df[self.state["indicand_cols"]].isna()
        new = {f"missing_{c}": self._indicator(m.to_numpy()) for c, m in missing.items()}
        return pd.concat([df, pd.DataFrame(new, index=df.index)], axis=1)


pipeops.register("missind", PipeOpMissInd)
