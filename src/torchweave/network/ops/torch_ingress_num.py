"""``po("torch_ingress_num")``: numeric and integer features as a float32 matrix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

from torchweave.network.ingress_token import batchgetter_num
from torchweave.network.ops.torch_ingress import PipeOpTorchIngress
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchIngressNumeric"]


class PipeOpTorchIngressNumeric(PipeOpTorchIngress):
    """Feeds the numeric and integer features to the network as float32, shape ``(None, n)``.

    Input and output channels
    -------------------------
    input : Task. output : ModelDescriptor at train, the Task at predict.

    State
    -----
    ``shape``: the shape of the network input.

    Parameters
    ----------
    None.

    Examples
    --------
    >>> import torchweave as tw
    >>> md = tw.po("torch_ingress_num").train([tw.tsk("iris")])[0]
    >>> md.pointer_shape
    (None, 4)
    """

    feature_types = ("numeric", "integer")

    def __init__(self, id: str = "torch_ingress_num", param_vals: dict[str, Any] | None = None):
        super().__init__(id, param_vals=param_vals)

    def _batchgetter(self) -> Callable[[pd.DataFrame], torch.Tensor]:
        return batchgetter_num


pipeops.register("torch_ingress_num", PipeOpTorchIngressNumeric)
