"""Activation layers (``nn("relu")``, ...): shape-preserving one-liners."""

from __future__ import annotations

from typing import Any

from torch import nn

from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.params.param import p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchReLU"]


class PipeOpTorchReLU(PipeOpTorch):
    """``torch.nn.ReLU``: ``max(0, x)`` elementwise.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape.

    Parameters
    ----------
    inplace : bool, default False
        Operate in place.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("relu").shapes_out([(None, 3)])
    [(None, 3)]
    """

    module_class = nn.ReLU

    def __init__(self, id: str = "nn_relu", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(inplace=p_lgl(default=False, tags="train"))
        super().__init__(id, param_set=param_set, param_vals=param_vals, tags=("activation",))


pipeops.register("nn_relu", PipeOpTorchReLU)
