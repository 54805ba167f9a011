"""Network graphs (mlr3torch): ModelDescriptor, ingress, PipeOpTorch and the layers.

This is the first layer of torchweave that imports torch. ``import torchweave`` loads
it lazily, on first use of one of its names or of a torch operator key.
"""

from torchweave.network.ingress_token import TorchIngressToken, batchgetter_categ, batchgetter_num
from torchweave.network.model_descriptor import ModelDescriptor, model_descriptor_union
from torchweave.network.module_graph import (
    ModuleGraph,
    NetworkSummary,
    PipeOpModule,
    model_descriptor_to_module,
    summary,
)
from torchweave.network.ops import *  # noqa: F403
from torchweave.network.ops import __all__ as _ops_all
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, infer_shapes, shape_to_str
from torchweave.network.sugar import nn

__all__ = [
    *_ops_all,
    "ModelDescriptor",
    "ModuleGraph",
    "NetworkSummary",
    "PipeOpModule",
    "PipeOpTorch",
    "Shape",
    "TorchIngressToken",
    "batchgetter_categ",
    "batchgetter_num",
    "infer_shapes",
    "model_descriptor_to_module",
    "model_descriptor_union",
    "nn",
    "shape_to_str",
    "summary",
]
