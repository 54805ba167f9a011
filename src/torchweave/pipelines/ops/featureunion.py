"""``po("featureunion")``: combines the features of several tasks into one task."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.task import Task
from torchweave.errors import ChannelTypeError, InvalidParameterError, TaskError
from torchweave.pipelines.pipeop import VARARG, Channel, PipeOp
from torchweave.registry import pipeops
from torchweave.utils.text import quote_list

__all__ = ["PipeOpFeatureUnion"]


class PipeOpFeatureUnion(PipeOp):
    """Joins the features of all input tasks column-wise into (a clone of) the first task.

    All inputs must have the same task type, target (name and values) and row ids (in
    the same order). A feature name that occurs in several inputs is an error, unless
    the columns are identical (same dtype and values): then it is kept once. The
    output keeps the first task's id and column roles (weights, strata, ...). At
    train time the inputs' internal validation tasks are combined the same way; they
    must be set on all inputs or on none.

    Input and output channels
    -------------------------
    ``...`` (vararg; or ``input1``, ..., ``input<innum>``) : Tasks. output : Task.

    State
    -----
    An empty dict.

    Parameters
    ----------
    None. ``innum`` (constructor argument, default 0) gives the number of input
    channels; 0 means one vararg channel ``"..."`` taking any number of tasks.

    Examples
    --------
    >>> import torchweave as tw
    >>> iris = tw.tsk("iris")
    >>> a, b = iris.clone().select(["sepal_length"]), iris.clone().select(["petal_width"])
    >>> tw.po("featureunion").train([a, b])[0].feature_names
    ['sepal_length', 'petal_width']
    """

    def __init__(
        self, innum: int = 0, id: str = "featureunion", param_vals: dict[str, Any] | None = None
    ) -> None:
        if isinstance(innum, bool) or not isinstance(innum, int) or innum < 0:
            raise InvalidParameterError(
                f"The 'innum' argument of PipeOp '{id}' must be an integer >= 0. "
                f"Got {innum!r} instead."
            )
        names = [VARARG] if innum == 0 else [f"input{i}" for i in range(1, innum + 1)]
        super().__init__(
            id,
            param_vals=param_vals,
            input=[Channel(name, Task, Task) for name in names],
            output=[Channel("output", Task, Task)],
        )

    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {}
        out = self._union(inputs)
        valid = [t.internal_valid_task for t in inputs]
        if any(v is not None for v in valid):
            lacking = [i + 1 for i, v in enumerate(valid) if v is None]
            if lacking:
                raise TaskError(
                    f"PipeOp '{self.id}': input task(s) number {quote_list(lacking)} have no "
                    "internal_valid_task while others have one; set it on all inputs or none."
                )
            out.internal_valid_task = self._union(valid)
        return [out]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return [self._union(inputs)]

    def _union(self, tasks: list[Task]) -> Task:
        if not tasks:
            raise ChannelTypeError(f"PipeOp '{self.id}' needs at least one input task. Got none.")
        out = tasks[0].clone()
        out.internal_valid_task = None
        own = set(out.feature_names)
        new: dict[str, pd.Series] = {}
        for task in tasks[1:]:
            self._check_compatible(out, task)
            clash = []
            for f in task.feature_names:
                column = task.data(cols=f)[f].reset_index(drop=True)
                known = out.data(cols=f)[f].reset_index(drop=True) if f in own else new.get(f)
                if known is None:
                    new[f] = column
                elif not (known.dtype == column.dtype and known.equals(column)):
                    clash.append(f)
            if clash:
                raise TaskError(
                    f"PipeOp '{self.id}': input tasks '{out.id}' and '{task.id}' both have "
                    f"feature(s) {quote_list(clash)} with different values; rename them first."
                )
        return out.replace_features(pd.DataFrame(new)) if new else out

    def _check_compatible(self, first: Task, task: Task) -> None:
        problem = None
        if type(task) is not type(first) or task.target_names != first.target_names:
            problem = f"the task type and target of task '{task.id}' differ from"
        elif not np.array_equal(first.row_ids, task.row_ids):
            problem = f"the row ids (or their order) of task '{task.id}' differ from those of"
        elif not first.truth().reset_index(drop=True).equals(task.truth().reset_index(drop=True)):
            problem = f"the target values of task '{task.id}' differ from those of"
        if problem:
            raise TaskError(
                f"PipeOp '{self.id}' needs input tasks with the same task type, target and row "
                f"ids, but {problem} task '{first.id}'."
            )


pipeops.register("featureunion", PipeOpFeatureUnion)
