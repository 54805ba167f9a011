"""The torch operators: ingress and layers. Importing this package registers them."""

from torchweave.network.ops.activations import PipeOpTorchReLU
from torchweave.network.ops.nn_head import PipeOpTorchHead, output_dim_for
from torchweave.network.ops.nn_linear import PipeOpTorchLinear
from torchweave.network.ops.torch_ingress import PipeOpTorchIngress
from torchweave.network.ops.torch_ingress_categ import PipeOpTorchIngressCategorical
from torchweave.network.ops.torch_ingress_num import PipeOpTorchIngressNumeric

__all__ = [
    "PipeOpTorchHead",
    "PipeOpTorchIngress",
    "PipeOpTorchIngressCategorical",
    "PipeOpTorchIngressNumeric",
    "PipeOpTorchLinear",
    "PipeOpTorchReLU",
    "output_dim_for",
]
