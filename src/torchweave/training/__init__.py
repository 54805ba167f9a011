"""Torch learners (mlr3torch): descriptors, the training loop and PipeOpTorchModel.

Loaded lazily by ``import torchweave`` on first use of one of its names or keys.
"""

import torchweave.callbacks  # noqa: F401  (registers the built-in callbacks)
from torchweave.training.callback_set import STAGES, CallbackSet, ContextTorch, torch_callback
from torchweave.training.dataset import SliceLoader, TaskDataset, TensorDataset, target_tensor
from torchweave.training.descriptors import (
    TorchCallback,
    TorchDescriptor,
    TorchLoss,
    TorchOptimizer,
)
from torchweave.training.early_stopping import CallbackSetEarlyStopping
from torchweave.training.learner_torch import (
    LearnerTorch,
    TorchModel,
    encode_prediction,
    resolve_device,
)
from torchweave.training.learner_torch_model import LearnerTorchModel
from torchweave.training.loop import TrainLoop
from torchweave.training.ops import *  # noqa: F403
from torchweave.training.ops import __all__ as _ops_all
from torchweave.training.paramset import paramset_torchlearner
from torchweave.training.pipeop_torch_model import (
    PipeOpTorchModel,
    PipeOpTorchModelClassif,
    PipeOpTorchModelRegr,
    model_descriptor_to_learner,
)
from torchweave.training.sugar import (
    as_torch_callback,
    as_torch_callbacks,
    as_torch_loss,
    as_torch_optimizer,
    t_clbk,
    t_clbks,
    t_loss,
    t_losses,
    t_opt,
    t_opts,
)

__all__ = [
    *_ops_all,
    "STAGES",
    "CallbackSet",
    "CallbackSetEarlyStopping",
    "ContextTorch",
    "LearnerTorch",
    "LearnerTorchModel",
    "PipeOpTorchModel",
    "PipeOpTorchModelClassif",
    "PipeOpTorchModelRegr",
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
]
