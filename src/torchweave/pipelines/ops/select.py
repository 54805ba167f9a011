"""``po("select", selector=...)``: keeps only some features."""

from __future__ import annotations

from typing import Any

from torchweave.data.task import Task
from torchweave.errors import TaskError
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.pipelines.selectors import Selector, selector_all
from torchweave.registry import pipeops
from torchweave.utils.text import quote_list

__all__ = ["PipeOpSelect"]


def _is_selector(x: Any) -> str | None:
    return None if isinstance(x, Selector) else "a selector (tw.selector_name(...), ...)"


class PipeOpSelect(PipeOpTaskPreproc):
    """Keeps the features that ``selector`` picks and drops all others.

    The selection is made at train time; predict keeps the same features.

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``selection``: the names of the features kept.

    Parameters
    ----------
    selector : Selector, init ``selector_all()``
        Which features to keep (``tw.selector_type(...)``, ``tw.selector_name(...)``,
        ``tw.selector_grep(...)``, ...).

    Examples
    --------
    >>> import torchweave as tw
    >>> op = tw.po("select", selector=tw.selector_grep("^petal"))
    >>> op.train([tw.tsk("iris")])[0].feature_names
    ['petal_length', 'petal_width']
    """

    def __init__(self, id: str = "select", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            selector=p_uty(
                custom_check=_is_selector,
                init=selector_all(),
                tags="train",
                description="Which features to keep (a selector).",
            )
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals, can_subset_cols=False)

    def _train_task(self, task: Task) -> Task:
        self.state["selection"] = self.param_set.values["selector"](task)
        return task.select(self.state["selection"])

    def _predict_task(self, task: Task) -> Task:
        missing = [c for c in self.state["selection"] if c not in task.feature_names]
        if missing:
            raise TaskError(
                f"PipeOp '{self.id}' selected feature(s) {quote_list(missing)} in training, "
                f"which task '{task.id}' lacks."
            )
        return task.select(self.state["selection"])


pipeops.register("select", PipeOpSelect)
