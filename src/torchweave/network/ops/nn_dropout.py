"""``nn("dropout")``: zero entries at random while training."""

from __future__ import annotations

from typing import Any

from torch import nn

from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.params.param import p_dbl, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchDropout"]


class PipeOpTorchDropout(PipeOpTorch):
    """``torch.nn.Dropout``: in training, zero each entry with probability ``p``.

    The kept entries are scaled by ``1 / (1 - p)``; in evaluation mode the layer is the
    identity.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape.

    Parameters
    ----------
    p : float in [0, 1], default 0.5
        Probability of zeroing an entry.
    inplace : bool, default False
        Operate in place.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("dropout", p=0.2).shapes_out([(None, None, 3)])
    [(None, None, 3)]
    """

    module_class = nn.Dropout
    preserves_shape = True

    def __init__(self, id: str = "nn_dropout", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            p=p_dbl(0, 1, default=0.5, tags="train"),
            inplace=p_lgl(default=False, tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)


pipeops.register("nn_dropout", PipeOpTorchDropout)
