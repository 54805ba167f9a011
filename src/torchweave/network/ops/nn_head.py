"""``nn("head")``: the output layer, sized from the task."""

from __future__ import annotations

from typing import Any

from torch import nn

from torchweave.data.task import Task, TaskClassif
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, assert_ndim
from torchweave.params.param import p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchHead", "output_dim_for"]


def output_dim_for(task: Task) -> int:
    """Network outputs a task needs: 1 for regression and binary (one logit), else k."""
    if isinstance(task, TaskClassif):
        k = len(task.class_names)
        return 1 if k == 2 else k
    return 1


class PipeOpTorchHead(PipeOpTorch):
    """A ``torch.nn.Linear`` output layer with as many outputs as the task needs.

    1 for regression, 1 (a single logit) for a binary task, k for k classes.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(None, d)``.

    Parameters
    ----------
    bias : bool, default True
        Learn an additive bias.

    Examples
    --------
    >>> import torchweave as tw
    >>> graph = tw.po("torch_ingress_num") >> tw.nn("head")
    >>> graph.train(tw.tsk("iris"))["head.output"].pointer_shape
    (None, 3)
    """

    module_class = nn.Linear
    inferred = ("in_features", "out_features")
    inferred_from = {"out_features": "the task"}

    def __init__(self, id: str = "nn_head", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(bias=p_lgl(default=True, tags="train"))
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        shape = shapes_in[0]
        assert_ndim(shape, self.id, ndim=2)
        assert_known_dims(shape, [1], self.id, "the feature dimension")
        return [(shape[0], None if task is None else output_dim_for(task))]

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        if task is None:
            raise ValueError(f"PipeOp '{self.id}' needs a task to size its output.")
        return {"in_features": shapes_in[0][1], "out_features": output_dim_for(task), **param_vals}


pipeops.register("nn_head", PipeOpTorchHead)
