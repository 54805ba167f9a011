"""``po("fixfactors")``: gives factor features at predict time exactly their training levels."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from torchweave.data.task import Task
from torchweave.params.param import p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.registry import pipeops
from torchweave.utils.text import quote_list

__all__ = ["PipeOpFixFactors"]


class PipeOpFixFactors(PipeOpTaskPreproc):
    """Records the levels of factor and ordered features and enforces them at predict time.

    At train time the levels are recorded (without the levels that do not occur when
    ``droplevels`` is True, and those are dropped from the output). At predict time
    each column gets exactly the training levels: values of unseen levels become
    missing values, with a ``UserWarning`` naming the column and the levels.

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``levels``: dict from column to the list of its training levels; ``ordered``: dict
    from column to whether it is an ordered factor.

    Parameters
    ----------
    droplevels : bool, init True
        Drop levels that do not occur in the training data.
    affect_columns : selector
        Which features to fix (default: all factor and ordered ones).

    Examples
    --------
    >>> import pandas as pd
    >>> import torchweave as tw
    >>> f = pd.Categorical(["a", "b"], categories=["a", "b", "c"])
    >>> df = pd.DataFrame({"f": f, "y": [1.0, 2.0]})
    >>> op = tw.po("fixfactors")
    >>> list(op.train([tw.TaskRegr(df, "y")])[0].data(cols="f")["f"].cat.categories)
    ['a', 'b']
    """

    feature_types = ("factor", "ordered")

    def __init__(self, id: str = "fixfactors", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(droplevels=p_lgl(init=True, tags="train"))
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        drop = self.param_set.values["droplevels"]
        self.state["levels"], self.state["ordered"] = {}, {}
        for col in df.columns:
            used = set(df[col].dropna().unique())
            levels = [lvl for lvl in df[col].cat.categories if not drop or lvl in used]
            self.state["levels"][col] = levels
            self.state["ordered"][col] = bool(df[col].cat.ordered)
        return self._predict_df(df, task)

    def _train_stats(self, task: Task, cols: list[str]) -> bool:
        drop = self.param_set.values["droplevels"]
        levels = task.distinct_values(cols) if drop else task.levels(cols)
        types = task.feature_types
        self.state["levels"] = {col: list(levels[col]) for col in cols}
        self.state["ordered"] = {col: types[col] == "ordered" for col in cols}
        return True

    def _predict_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        out = {}
        for col in df.columns:
            levels, values = self.state["levels"][col], df[col].astype(object)
            unseen = values.notna() & ~values.isin(levels)
            if unseen.any():
                warnings.warn(
                    f"PipeOp '{self.id}': column '{col}' of task '{task.id}' has level(s) "
                    f"{quote_list(pd.unique(values[unseen]).tolist())} not seen in training; "
                    "they become missing values.",
                    UserWarning,
                    stacklevel=2,
                )
            dtype = pd.CategoricalDtype(levels, ordered=self.state["ordered"][col])
            out[col] = values.where(~unseen).astype(dtype)
        return pd.DataFrame(out).reset_index(drop=True)


pipeops.register("fixfactors", PipeOpFixFactors)
