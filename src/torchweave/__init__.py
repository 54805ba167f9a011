"""torchweave: deep learning as pipeline graphs, after R's mlr3torch.

``import torchweave as tw`` gives the public API: tasks, learners, measures,
resampling, parameters, pipelines, and the sugar functions ``tsk``, ``lrn``, ``msr``,
``rsmp`` and ``po``.
"""

from typing import Any

from torchweave import registry
from torchweave.data import *  # noqa: F403
from torchweave.data import __all__ as _data_all
from torchweave.errors import *  # noqa: F403
from torchweave.errors import __all__ as _errors_all
from torchweave.learners import *  # noqa: F403
from torchweave.learners import __all__ as _learners_all
from torchweave.measures import *  # noqa: F403
from torchweave.measures import __all__ as _measures_all
from torchweave.params import *  # noqa: F403
from torchweave.params import __all__ as _params_all
from torchweave.pipelines import *  # noqa: F403
from torchweave.pipelines import __all__ as _pipelines_all
from torchweave.resampling import *  # noqa: F403
from torchweave.resampling import __all__ as _resampling_all
from torchweave.sugar import lrn, lrns, msr, msrs, rsmp, tsk, tsks
from torchweave.tasks import *  # noqa: F403
from torchweave.tasks import __all__ as _tasks_all

__version__ = "0.1.0"

# The torch layers load on first use, so that `import torchweave` (and the core
# layers) never import torch. Keep these lists equal to the subpackages' __all__
# (a test checks it).
_LAZY_MODULES: dict[str, list[str]] = {
    "torchweave.network": [
        "Attention",
        "CLS",
        "EncoderLayer",
        "FTTransformerBlock",
        "FnModule",
        "GeGLU",
        "MergeCat",
        "MergeProd",
        "MergeSum",
        "ModelDescriptor",
        "ModuleGraph",
        "NetworkSummary",
        "PipeOpModule",
        "PipeOpTorch",
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
        "Shape",
        "Squeeze",
        "TokenizerCateg",
        "TokenizerNum",
        "TorchIngressToken",
        "Unsqueeze",
        "batchgetter_categ",
        "batchgetter_lazy_tensor",
        "batchgetter_num",
        "broadcast_shapes",
        "cat_shapes",
        "categ_cardinalities",
        "infer_shapes",
        "ingress_ltnsr",
        "model_descriptor_to_module",
        "model_descriptor_union",
        "nn",
        "output_dim_for",
        "reshape_output_shape",
        "shape_to_str",
        "summary",
    ],
    "torchweave.training": [
        "CallbackSet",
        "CallbackSetEarlyStopping",
        "ContextTorch",
        "LearnerTorch",
        "LearnerTorchModel",
        "PipeOpTorchCallbacks",
        "PipeOpTorchLoss",
        "PipeOpTorchModel",
        "PipeOpTorchModelClassif",
        "PipeOpTorchModelRegr",
        "PipeOpTorchOptimizer",
        "STAGES",
        "SliceLoader",
        "TaskDataset",
        "TensorDataset",
        "TorchCallback",
        "TorchDescriptor",
        "TorchLoss",
        "TorchModel",
        "TorchOptimizer",
        "TrainLoop",
        "as_torch_callback",
        "as_torch_callbacks",
        "as_torch_loss",
        "as_torch_optimizer",
        "encode_prediction",
        "model_descriptor_to_learner",
        "paramset_torchlearner",
        "resolve_device",
        "t_clbk",
        "t_clbks",
        "t_loss",
        "t_losses",
        "t_opt",
        "t_opts",
        "target_tensor",
        "torch_callback",
    ],
    "torchweave.callbacks": [
        "CallbackSetCSV",
        "CallbackSetCheckpoint",
        "CallbackSetHistory",
        "CallbackSetLRScheduler",
        "CallbackSetLRSchedulerOneCycle",
        "CallbackSetLRSchedulerReduceOnPlateau",
        "CallbackSetProgress",
        "CallbackSetTB",
        "CallbackSetUnfreeze",
        "Select",
        "TorchCallbackLRScheduler",
        "as_lr_scheduler",
        "plot_history",
        "select_all",
        "select_grep",
        "select_invert",
        "select_name",
        "select_none",
    ],
    "torchweave.lazy": [
        "DataDescriptor",
        "DownloadError",
        "ImageFileDataset",
        "LazyTensorArray",
        "LazyTensorDtype",
        "LazyTensorElement",
        "PipeOpTaskPreprocTorch",
        "TensorRowsDataset",
        "as_lazy_tensor",
        "is_lazy_tensor",
        "lazy_shape",
        "lazy_tensor_from_images",
        "materialize",
        "pipeop_preproc_torch",
        "task_from_image_folder",
        "transform_lazy_tensor",
    ],
}
_LAZY_NAMES: dict[str, str] = {
    name: module for module, names in _LAZY_MODULES.items() for name in names
}


def __getattr__(name: str) -> Any:
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'torchweave' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))


__all__ = [
    *_data_all,
    *_errors_all,
    *_learners_all,
    *_measures_all,
    *_params_all,
    *_pipelines_all,
    *_resampling_all,
    *_tasks_all,
    *_LAZY_NAMES,
    "__version__",
    "lrn",
    "lrns",
    "msr",
    "msrs",
    "registry",
    "rsmp",
    "tsk",
    "tsks",
]
