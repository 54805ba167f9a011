"""``po("removeconstants")``: drops features that are (nearly) constant."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from torchweave.data.task import Task
from torchweave.errors import TaskError
from torchweave.params.param import p_dbl, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.registry import pipeops
from torchweave.utils.text import quote_list

__all__ = ["PipeOpRemoveConstants"]


def _mode_count(values: pd.Series, rel_tol: float, abs_tol: float) -> int:
    """How many values equal the most frequent one (numbers: within the tolerance)."""
    if ptypes.is_numeric_dtype(values.dtype) and not ptypes.is_bool_dtype(values.dtype):
        x = np.sort(values.to_numpy(dtype=np.float64))
        tol = np.maximum(abs_tol, rel_tol * np.abs(x))
        within = np.searchsorted(x, x + tol, side="right") - np.searchsorted(x, x - tol, "left")
        return int(within.max())
    return int(values.value_counts().max())


class PipeOpRemoveConstants(PipeOpTaskPreproc):
    """Removes features whose share of values differing from the mode is at most ``ratio``.

    Numbers count as equal to the mode ``m`` when they lie within
    ``max(abs_tol, rel_tol * |m|)`` of it. A feature with no (non-missing) values is
    removed too. Predict removes the same features.

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``removed_cols``: the names of the removed features.

    Parameters
    ----------
    ratio : float in [0, 1], init 0
        Largest share of values differing from the mode for a feature to count as
        constant (0: only exactly constant features are removed).
    rel_tol : float >= 0, init 1e-8
        Relative tolerance of numeric comparisons.
    abs_tol : float >= 0, init 1e-8
        Absolute tolerance of numeric comparisons.
    na_ignore : bool, init True
        Ignore missing values; with False a missing value is one more distinct value.
    affect_columns : selector
        Which features to check (default: all).

    Examples
    --------
    >>> import pandas as pd
    >>> import torchweave as tw
    >>> task = tw.TaskRegr(pd.DataFrame({"c": [1.0] * 4, "x": [1.0, 2, 3, 4], "y": [0.0] * 4}), "y")
    >>> tw.po("removeconstants").train([task])[0].feature_names
    ['x']
    """

    def __init__(
        self, id: str = "removeconstants", param_vals: dict[str, Any] | None = None
    ) -> None:
        param_set = ParamSet(
            ratio=p_dbl(0, 1, init=0.0, tags="train"),
            rel_tol=p_dbl(0, init=1e-8, tags="train"),
            abs_tol=p_dbl(0, init=1e-8, tags="train"),
            na_ignore=p_lgl(init=True, tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _is_constant(self, column: pd.Series) -> bool:
        pv = self.param_set.values
        missing = column.isna()
        present = column[~missing]
        n = len(present) if pv["na_ignore"] else len(column)
        if n == 0:
            return True
        count = _mode_count(present, pv["rel_tol"], pv["abs_tol"]) if len(present) else 0
        if not pv["na_ignore"]:
            count = max(count, int(missing.sum()))
        return (n - count) / n <= pv["ratio"]

    # Only removes columns: selecting keeps the others' dtypes and data untouched.
    def _train_task(self, task: Task) -> Task:
        data = task.data(cols=self.state["affected_cols"])
        self.state["removed_cols"] = [c for c in data.columns if self._is_constant(data[c])]
        return self._predict_task(task)

    def _predict_task(self, task: Task) -> Task:
        missing = [c for c in self.state["affected_cols"] if c not in task.feature_names]
        if missing:
            raise TaskError(
                f"PipeOp '{self.id}' was trained with feature(s) {quote_list(missing)}, which "
                f"task '{task.id}' lacks."
            )
        removed = set(self.state["removed_cols"])
        return task.select([f for f in task.feature_names if f not in removed])


pipeops.register("removeconstants", PipeOpRemoveConstants)
