"""``nn("identity")``: pass the tensor on unchanged."""

from __future__ import annotations

from typing import Any

from torch import nn

from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchIdentity"]


class PipeOpTorchIdentity(PipeOpTorch):
    """``torch.nn.Identity``: returns its input.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape.

    Parameters
    ----------
    None.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("identity").shapes_out([(None, 2, None)])
    [(None, 2, None)]
    """

    module_class = nn.Identity
    preserves_shape = True

    def __init__(self, id: str = "nn_identity", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_set=ParamSet(), param_vals=param_vals)


pipeops.register("nn_identity", PipeOpTorchIdentity)
