"""The lazy tensor operators: ``trafo_*``, ``augment_*`` (mlr3torch §7.4) and ingress.

Importing this package registers them in ``tw.registry.pipeops``;
``torch_ingress_ltnsr`` (:mod:`torchweave.lazy.ops.torch_ingress_ltnsr`) feeds a lazy
column to a network. Each is made by
:func:`~torchweave.lazy.preproc.pipeop_preproc_torch` from a batch-wise function of
:mod:`torchweave.lazy.transforms` and its shape rule; the classes live in
:mod:`torchweave.lazy.ops.trafo` and :mod:`torchweave.lazy.ops.augment`.
"""

from torchweave.lazy.ops import augment, torch_ingress_ltnsr, trafo

__all__ = ["augment", "torch_ingress_ltnsr", "trafo"]
