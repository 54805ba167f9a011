"""Lazy tensors (mlr3torch): task columns that reference a dataset plus preprocessing.

A lazy tensor column holds row ids into a torch Dataset and a DataDescriptor (the
dataset and the preprocessing graph of its elements). Nothing is loaded until a batch
is needed: :func:`materialize` or a torch learner runs the dataset and the
preprocessing once per batch. Preprocessing operators (``trafo_*``, ``augment_*``)
append steps to the graph; augmentations act only at training time.

Importing this package imports no torch: each public name (listed, torch-free, in
:mod:`torchweave.lazy._names`) loads its module on first use. The ``"lazy_tensor"``
feature type registers with :mod:`~torchweave.lazy.lazy_tensor`; the preprocessing
operators and ``torch_ingress_ltnsr`` (:mod:`torchweave.lazy.ops`) and the lazy tasks
register when ``tw.registry`` first needs them.
"""

from torchweave._lazy import lazy_exports
from torchweave.lazy._names import NAMES

__all__ = sorted(NAMES)
__getattr__, __dir__ = lazy_exports(__name__, NAMES)
