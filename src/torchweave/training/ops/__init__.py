"""The configuration operators: ``torch_loss``, ``torch_optimizer``, ``torch_callbacks``.

Importing this package registers them.
"""

from torchweave.training.ops.torch_callbacks import PipeOpTorchCallbacks
from torchweave.training.ops.torch_loss import PipeOpTorchLoss
from torchweave.training.ops.torch_optimizer import PipeOpTorchOptimizer

__all__ = ["PipeOpTorchCallbacks", "PipeOpTorchLoss", "PipeOpTorchOptimizer"]
