"""``po("torch_ingress_categ")``: factor, ordered and logical features as int64 codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

from torchweave.network.ingress_token import batchgetter_categ
from torchweave.network.ops.torch_ingress import PipeOpTorchIngress
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchIngressCategorical"]


class PipeOpTorchIngressCategorical(PipeOpTorchIngress):
    """Feeds categorical features as int64 codes from 0, shape ``(None, n)``.

    Factor and ordered codes follow the category order; logicals are 0 (False) and
    1 (True). Embedding sizes downstream (``nn_tokenizer_categ``) come from the task.

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
    >>> task = tw.tsk("penguins").select(["island", "sex"])
    >>> md = (tw.po("imputemode") >> tw.po("torch_ingress_categ")).train(task)
    >>> md["torch_ingress_categ.output"].pointer_shape
    (None, 2)
    """

    feature_types = ("factor", "ordered", "logical")

    def __init__(self, id: str = "torch_ingress_categ", param_vals: dict[str, Any] | None = None):
        super().__init__(id, param_vals=param_vals)

    def _batchgetter(self) -> Callable[[pd.DataFrame], torch.Tensor]:
        return batchgetter_categ


pipeops.register("torch_ingress_categ", PipeOpTorchIngressCategorical)
