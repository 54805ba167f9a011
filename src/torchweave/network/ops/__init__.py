"""The torch operators: ingress and layers. Importing this package registers them."""

from torchweave.network.ops.activations import (
    PipeOpTorchCELU,
    PipeOpTorchELU,
    PipeOpTorchGELU,
    PipeOpTorchHardShrink,
    PipeOpTorchHardSigmoid,
    PipeOpTorchHardTanh,
    PipeOpTorchLeakyReLU,
    PipeOpTorchLogSigmoid,
    PipeOpTorchPReLU,
    PipeOpTorchReLU,
    PipeOpTorchReLU6,
    PipeOpTorchRReLU,
    PipeOpTorchSELU,
    PipeOpTorchSigmoid,
    PipeOpTorchSoftPlus,
    PipeOpTorchSoftShrink,
    PipeOpTorchSoftSign,
    PipeOpTorchTanh,
    PipeOpTorchTanhShrink,
    PipeOpTorchThreshold,
)
from torchweave.network.ops.adaptive_avg_pool import (
    PipeOpTorchAdaptiveAvgPool,
    PipeOpTorchAdaptiveAvgPool1d,
    PipeOpTorchAdaptiveAvgPool2d,
    PipeOpTorchAdaptiveAvgPool3d,
)
from torchweave.network.ops.avg_pool import (
    PipeOpTorchAvgPool,
    PipeOpTorchAvgPool1d,
    PipeOpTorchAvgPool2d,
    PipeOpTorchAvgPool3d,
)
from torchweave.network.ops.batch_norm import (
    PipeOpTorchBatchNorm1D,
    PipeOpTorchBatchNorm2D,
    PipeOpTorchBatchNorm3D,
)
from torchweave.network.ops.conv import (
    PipeOpTorchConv,
    PipeOpTorchConv1d,
    PipeOpTorchConv2d,
    PipeOpTorchConv3d,
)
from torchweave.network.ops.conv_transpose import (
    PipeOpTorchConvTranspose,
    PipeOpTorchConvTranspose1d,
    PipeOpTorchConvTranspose2d,
    PipeOpTorchConvTranspose3d,
)
from torchweave.network.ops.glu import (
    GeGLU,
    PipeOpTorchGeGLU,
    PipeOpTorchGLU,
    PipeOpTorchReGLU,
    ReGLU,
)
from torchweave.network.ops.max_pool import (
    PipeOpTorchMaxPool,
    PipeOpTorchMaxPool1d,
    PipeOpTorchMaxPool2d,
    PipeOpTorchMaxPool3d,
)
from torchweave.network.ops.merge import (
    MergeCat,
    MergeProd,
    MergeSum,
    PipeOpTorchMerge,
    PipeOpTorchMergeCat,
    PipeOpTorchMergeProd,
    PipeOpTorchMergeSum,
    broadcast_shapes,
    cat_shapes,
)
from torchweave.network.ops.nn_block import (
    PipeOpTorchBlock,
)
from torchweave.network.ops.nn_dropout import (
    PipeOpTorchDropout,
)
from torchweave.network.ops.nn_fn import (
    FnModule,
    PipeOpTorchFn,
)
from torchweave.network.ops.nn_ft_cls import (
    CLS,
    PipeOpTorchFTCLS,
)
from torchweave.network.ops.nn_ft_transformer_block import (
    FTTransformerBlock,
    PipeOpTorchFTTransformerBlock,
)
from torchweave.network.ops.nn_head import (
    PipeOpTorchHead,
    output_dim_for,
)
from torchweave.network.ops.nn_identity import (
    PipeOpTorchIdentity,
)
from torchweave.network.ops.nn_layer_norm import (
    PipeOpTorchLayerNorm,
)
from torchweave.network.ops.nn_linear import (
    PipeOpTorchLinear,
)
from torchweave.network.ops.nn_module import (
    PipeOpTorchModule,
)
from torchweave.network.ops.nn_multihead_attention import (
    Attention,
    PipeOpTorchMultiheadAttention,
)
from torchweave.network.ops.nn_softmax import (
    PipeOpTorchSoftmax,
)
from torchweave.network.ops.nn_transformer_encoder_layer import (
    EncoderLayer,
    PipeOpTorchTransformerEncoderLayer,
)
from torchweave.network.ops.reshape import (
    PipeOpTorchFlatten,
    PipeOpTorchReshape,
    PipeOpTorchSqueeze,
    PipeOpTorchUnsqueeze,
    Reshape,
    Squeeze,
    Unsqueeze,
    reshape_output_shape,
)
from torchweave.network.ops.tokenizer import (
    PipeOpTorchTokenizerCateg,
    PipeOpTorchTokenizerNum,
    TokenizerCateg,
    TokenizerNum,
    categ_cardinalities,
)
from torchweave.network.ops.torch_ingress import (
    PipeOpTorchIngress,
)
from torchweave.network.ops.torch_ingress_categ import (
    PipeOpTorchIngressCategorical,
)
from torchweave.network.ops.torch_ingress_ltnsr import (
    PipeOpTorchIngressLazyTensor,
    batchgetter_lazy_tensor,
    ingress_ltnsr,
)
from torchweave.network.ops.torch_ingress_num import (
    PipeOpTorchIngressNumeric,
)

__all__ = [
    "CLS",
    "Attention",
    "EncoderLayer",
    "FTTransformerBlock",
    "FnModule",
    "GeGLU",
    "MergeCat",
    "MergeProd",
    "MergeSum",
    "PipeOpTorchAdaptiveAvgPool",
    "PipeOpTorchAdaptiveAvgPool1d",
    "PipeOpTorchAdaptiveAvgPool2d",
    "PipeOpTorchAdaptiveAvgPool3d",
    "PipeOpTorchAvgPool",
    "PipeOpTorchAvgPool1d",
    "PipeOpTorchAvgPool2d",
    "PipeOpTorchAvgPool3d",
    "PipeOpTorchBatchNorm1D",
    "PipeOpTorchBatchNorm2D",
    "PipeOpTorchBatchNorm3D",
    "PipeOpTorchBlock",
    "PipeOpTorchCELU",
    "PipeOpTorchConv",
    "PipeOpTorchConv1d",
    "PipeOpTorchConv2d",
    "PipeOpTorchConv3d",
    "PipeOpTorchConvTranspose",
    "PipeOpTorchConvTranspose1d",
    "PipeOpTorchConvTranspose2d",
    "PipeOpTorchConvTranspose3d",
    "PipeOpTorchDropout",
    "PipeOpTorchELU",
    "PipeOpTorchFTCLS",
    "PipeOpTorchFTTransformerBlock",
    "PipeOpTorchFlatten",
    "PipeOpTorchFn",
    "PipeOpTorchGELU",
    "PipeOpTorchGLU",
    "PipeOpTorchGeGLU",
    "PipeOpTorchHardShrink",
    "PipeOpTorchHardSigmoid",
    "PipeOpTorchHardTanh",
    "PipeOpTorchHead",
    "PipeOpTorchIdentity",
    "PipeOpTorchIngress",
    "PipeOpTorchIngressCategorical",
    "PipeOpTorchIngressLazyTensor",
    "PipeOpTorchIngressNumeric",
    "PipeOpTorchLayerNorm",
    "PipeOpTorchLeakyReLU",
    "PipeOpTorchLinear",
    "PipeOpTorchLogSigmoid",
    "PipeOpTorchMaxPool",
    "PipeOpTorchMaxPool1d",
    "PipeOpTorchMaxPool2d",
    "PipeOpTorchMaxPool3d",
    "PipeOpTorchMerge",
    "PipeOpTorchMergeCat",
    "PipeOpTorchMergeProd",
    "PipeOpTorchMergeSum",
    "PipeOpTorchModule",
    "PipeOpTorchMultiheadAttention",
    "PipeOpTorchPReLU",
    "PipeOpTorchRReLU",
    "PipeOpTorchReGLU",
    "PipeOpTorchReLU",
    "PipeOpTorchReLU6",
    "PipeOpTorchReshape",
    "PipeOpTorchSELU",
    "PipeOpTorchSigmoid",
    "PipeOpTorchSoftPlus",
    "PipeOpTorchSoftShrink",
    "PipeOpTorchSoftSign",
    "PipeOpTorchSoftmax",
    "PipeOpTorchSqueeze",
    "PipeOpTorchTanh",
    "PipeOpTorchTanhShrink",
    "PipeOpTorchThreshold",
    "PipeOpTorchTokenizerCateg",
    "PipeOpTorchTokenizerNum",
    "PipeOpTorchTransformerEncoderLayer",
    "PipeOpTorchUnsqueeze",
    "ReGLU",
    "Reshape",
    "Squeeze",
    "TokenizerCateg",
    "TokenizerNum",
    "Unsqueeze",
    "batchgetter_lazy_tensor",
    "broadcast_shapes",
    "cat_shapes",
    "categ_cardinalities",
    "ingress_ltnsr",
    "output_dim_for",
    "reshape_output_shape",
]
