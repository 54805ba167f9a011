"""Network graphs (mlr3torch): ModelDescriptor, ingress, PipeOpTorch and the layers.

This is the first layer of torchweave that imports torch, on first use of one of its
names (listed, torch-free, in :mod:`torchweave.network._names`) or of a torch operator
key: importing the package itself imports no torch.
"""

from torchweave._lazy import lazy_exports
from torchweave.network._names import NAMES

__all__ = sorted(NAMES)
__getattr__, __dir__ = lazy_exports(__name__, NAMES)
