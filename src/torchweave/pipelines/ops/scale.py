"""``po("scale")``: centre and scale numeric features."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.task import Task
from torchweave.params.param import p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.registry import pipeops

__all__ = ["PipeOpScale"]


class PipeOpScale(PipeOpTaskPreproc):
    """Centres and scales numeric and integer features (to float columns).

    With ``robust=True`` the centre is the median and the scale the median absolute
    deviation (times 1.4826, as R's ``mad``); otherwise the mean and the standard
    deviation (ddof=1). A column with zero spread is only centred.

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``center`` and ``scale``: dicts from column to the value used.

    Parameters
    ----------
    center : bool, init True
        Subtract the centre.
    scale : bool, init True
        Divide by the spread.
    robust : bool, init False
        Use median and MAD instead of mean and standard deviation.
    affect_columns : selector
        Which features to scale (default: all numeric and integer ones).

    Examples
    --------
    >>> import torchweave as tw
    >>> out = tw.po("scale").train([tw.tsk("iris")])[0]
    >>> abs(float(out.data(cols="sepal_length").mean().iloc[0])) < 1e-12
    True
    """

    feature_types = ("numeric", "integer")

    def __init__(self, id: str = "scale", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            center=p_lgl(init=True, tags="train"),
            scale=p_lgl(init=True, tags="train"),
            robust=p_lgl(init=False, tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        pv = self.param_set.values
        values = df.astype(np.float64)
        if pv["robust"]:
            center = values.median() if pv["center"] else values.iloc[:0].sum() * 0.0
            spread = (values - values.median()).abs().median() * 1.4826
        else:
            center = values.mean() if pv["center"] else values.iloc[:0].sum() * 0.0
            spread = values.std(ddof=1)
        if not pv["scale"]:
            spread = spread * 0.0 + 1.0
        spread = spread.where((spread > 0) & spread.notna(), 1.0)
        self.state["center"] = {c: float(v) for c, v in center.fillna(0.0).items()}
        self.state["scale"] = {c: float(v) for c, v in spread.items()}
        return self._predict_df(df, task)

    def _train_stats(self, task: Task, cols: list[str]) -> bool:
        pv = self.param_set.values
        if pv["robust"]:
            center = task.col_stats(cols, "median")
            spread = {
                c: None if v is None else v * 1.4826 for c, v in task.col_stats(cols, "mad").items()
            }
        else:
            center, spread = task.col_stats(cols, "mean"), task.col_stats(cols, "std")
        self.state["center"] = {
            c: float(center[c]) if pv["center"] and center[c] is not None else 0.0 for c in cols
        }
        self.state["scale"] = {
            c: float(v) if pv["scale"] and (v := spread[c]) is not None and v > 0 else 1.0
            for c in cols
        }
        return True

    def _predict_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        center = pd.Series(self.state["center"], dtype=np.float64)
        scale = pd.Series(self.state["scale"], dtype=np.float64)
        return (df.astype(np.float64) - center[df.columns]) / scale[df.columns]


pipeops.register("scale", PipeOpScale)
