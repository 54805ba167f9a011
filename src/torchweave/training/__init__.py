"""Torch learners (mlr3torch): descriptors, the training loop and PipeOpTorchModel.

Importing the package imports no torch: each name (listed in
:mod:`torchweave.training._names`) loads its module on first use, and the losses,
optimizers, operators and callbacks register when ``tw.registry`` first needs them.
The callback machinery (``CallbackSet``, ``torch_callback``, early stopping) lives in
:mod:`torchweave.callbacks` and is reachable from here too.
"""

from torchweave._lazy import lazy_exports
from torchweave.training._names import NAMES

__all__ = sorted(NAMES)
__getattr__, __dir__ = lazy_exports(__name__, NAMES)
