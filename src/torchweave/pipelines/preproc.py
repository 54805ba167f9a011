"""PipeOpTaskPreproc: the template of every Task-to-Task preprocessing operator.

The template clones the task (the input is never modified), finds the columns to
work on (``affect_columns`` among the feature types the operator handles), and calls
the subclass's hooks. A subclass overrides either the DataFrame hooks
``_train_df`` / ``_predict_df`` (which see the affected columns only) or, when it
needs the whole task, ``_train_task`` / ``_predict_task``.

During training the task's ``internal_valid_task`` is transformed with the state
just learned, so validation data are preprocessed like test data would be.

A task over a database (``task.in_memory`` False) is not loaded: an operator that
implements ``_train_stats`` learns its state from statistics the database computes
(``task.col_stats``, ``task.distinct_values``, ``task.levels``), and the trained
``_predict_df`` is recorded on the task (``task.transform_features``) and applied to
each chunk of rows as it is read. Other operators read the affected columns.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pandas as pd

from torchweave.data.feature_types import FEATURE_TYPES
from torchweave.data.task import Task
from torchweave.errors import TaskError
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.pipeop import Channel, PipeOp
from torchweave.pipelines.selectors import Selector, selector_all
from torchweave.utils.text import quote_list

__all__ = ["PipeOpTaskPreproc", "RowTransform"]


def _is_selector(x: Any) -> str | None:
    return None if isinstance(x, Selector) else "a selector (tw.selector_type(...), ...)"


class PipeOpTaskPreproc(PipeOp):
    """Template of Task-to-Task preprocessing operators.

    Parameters
    ----------
    id : str
        Operator id.
    param_set : ParamSet, optional
        The operator's own parameters; ``affect_columns`` is added.
    param_vals : mapping, optional
        Initial parameter values.
    can_subset_cols : bool, default True
        Whether the operator takes ``affect_columns``.
    tags : sequence of str
        Operator tags.
    """

    #: Feature types the operator works on; other columns pass through untouched.
    feature_types: ClassVar[Sequence[str]] = tuple(FEATURE_TYPES)

    def __init__(
        self,
        id: str,
        param_set: ParamSet | None = None,
        param_vals: Mapping[str, Any] | None = None,
        can_subset_cols: bool = True,
        tags: Sequence[str] = ("data transform",),
    ) -> None:
        param_set = param_set if param_set is not None else ParamSet()
        if can_subset_cols:
            param_set.add(
                "affect_columns",
                p_uty(
                    custom_check=_is_selector,
                    default=selector_all(),
                    tags="train",
                    description="Which features to work on (a selector).",
                ),
            )
        super().__init__(
            id,
            param_set=param_set,
            param_vals=param_vals,
            input=[Channel("input", Task, Task)],
            output=[Channel("output", Task, Task)],
            tags=tags,
        )

    # --- template ---------------------------------------------------------------------
    def _affected_columns(self, task: Task) -> list[str]:
        selector = self.param_set.values.get("affect_columns", selector_all())
        chosen = (
            set(selector(task)) if "affect_columns" in self.param_set else set(task.feature_names)
        )
        types = task.feature_types
        return [f for f in task.feature_names if f in chosen and types[f] in self.feature_types]

    def _train(self, inputs: list[Any]) -> list[Any]:
        task: Task = inputs[0]
        valid = task.internal_valid_task
        work = task.clone()
        work.internal_valid_task = None
        self.state = {"affected_cols": self._affected_columns(work)}
        out = self._train_task(work)
        if valid is not None:
            out.internal_valid_task = self._predict_task(valid.clone())
        return [out]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        task: Task = inputs[0]
        work = task.clone()
        work.internal_valid_task = None
        return [self._predict_task(work)]

    # --- hooks (override one pair) -----------------------------------------------------
    def _train_task(self, task: Task) -> Task:
        """Train on a (cloned) task and return the transformed task."""
        cols = self.state["affected_cols"]
        if not cols:  # the selector matched nothing: the task passes unchanged
            return task
        if not task.in_memory and self._train_stats(task, cols):
            return task.transform_features(RowTransform(self, task), cols)
        new = self._train_df(task.data(cols=cols), task)
        return task.replace_features(new.set_axis(range(len(new))), remove=cols)

    def _predict_task(self, task: Task) -> Task:
        """Transform a (cloned) task with the trained state."""
        cols = self.state["affected_cols"]
        missing = [c for c in cols if c not in task.feature_names]
        if missing:
            raise TaskError(
                f"PipeOp '{self.id}' was trained with feature(s) {quote_list(missing)}, which "
                f"task '{task.id}' lacks."
            )
        if not cols:
            return task
        if not task.in_memory:
            return task.transform_features(RowTransform(self, task), cols)
        new = self._predict_df(task.data(cols=cols), task)
        return task.replace_features(new.set_axis(range(len(new))), remove=cols)

    def _train_stats(self, task: Task, cols: list[str]) -> bool:
        """Learn the state from column statistics of a database-backed task.

        Set ``self.state`` from ``task.col_stats`` / ``task.distinct_values`` /
        ``task.levels`` (SQL aggregates; no rows are loaded) and return True, or
        return False (the default) to learn from the affected columns read into memory
        by ``_train_df``.
        """
        return False

    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        """Learn from the affected columns (store what you learn in ``self.state``)."""
        return self._predict_df(df, task)

    def _predict_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        """Transform the affected columns with ``self.state``."""
        return df


class RowTransform:
    """A trained operator's ``_predict_df`` as a picklable ``frame -> frame`` function.

    The operator is copied (later training does not change it) and sees a zero-row
    prototype of the task; the output keeps the input's row order.
    """

    def __init__(self, op: PipeOpTaskPreproc, task: Task) -> None:
        self.op = copy.deepcopy(op)
        self.task = task._prototype()

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The transformed columns of the rows of ``frame``."""
        return self.op._predict_df(frame, self.task)
