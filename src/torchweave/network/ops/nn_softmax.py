"""``nn("softmax")``: normalise a dimension into probabilities."""

from __future__ import annotations

from typing import Any

from torch import nn

from torchweave.data.task import Task
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, resolve_dim
from torchweave.params.param import p_int
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchSoftmax"]


class PipeOpTorchSoftmax(PipeOpTorch):
    """``torch.nn.Softmax``: ``exp(x) / sum(exp(x))`` along dimension ``dim``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape.

    Parameters
    ----------
    dim : int
        The dimension to normalise (required; 0-based, negative counts from the end,
        so R's ``dim = 2`` is ``dim = 1`` here). Must be in range for the input. Torch's
        default ``None`` (an implicit, deprecated choice of dimension) is not offered.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("softmax", dim=-1).shapes_out([(None, 3)])
    [(None, 3)]
    """

    module_class = nn.Softmax
    preserves_shape = True

    def __init__(self, id: str = "nn_softmax", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(dim=p_int(tags={"train", "required"}))
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        resolve_dim(param_vals["dim"], len(shapes_in[0]), self.id)
        return super()._shapes_out(shapes_in, param_vals, task)


pipeops.register("nn_softmax", PipeOpTorchSoftmax)
