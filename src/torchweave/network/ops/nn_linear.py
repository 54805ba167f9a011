"""``nn("linear")``: a fully connected layer whose ``in_features`` is inferred."""

from __future__ import annotations

from typing import Any

from torch import nn

from torchweave.data.task import Task
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, assert_ndim
from torchweave.params.param import p_int, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchLinear"]


class PipeOpTorchLinear(PipeOpTorch):
    """``torch.nn.Linear`` on the last dimension; ``in_features`` comes from the input.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the output shape, the last dimension being ``out_features``.

    Parameters
    ----------
    out_features : int
        Size of the output (required).
    bias : bool, default True
        Learn an additive bias.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("linear", out_features=10).shapes_out([(None, None, 3)])
    [(None, None, 10)]
    """

    module_class = nn.Linear
    inferred = ("in_features",)

    def __init__(self, id: str = "nn_linear", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            out_features=p_int(1, tags={"train", "required"}),
            bias=p_lgl(default=True, tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        shape = shapes_in[0]
        assert_ndim(shape, self.id, min=2)
        assert_known_dims(shape, [len(shape) - 1], self.id, "the last dimension")
        return {"in_features": shape[-1], **param_vals}


pipeops.register("nn_linear", PipeOpTorchLinear)
