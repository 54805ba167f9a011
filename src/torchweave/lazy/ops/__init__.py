"""The lazy tensor preprocessing operators ``trafo_*`` and ``augment_*`` (mlr3torch §7.4).

Importing this package registers them in ``tw.registry.pipeops``. Each is made by
:func:`~torchweave.lazy.preproc.pipeop_preproc_torch` from a batch-wise function of
:mod:`torchweave.lazy.transforms` and its shape rule; the classes live in
:mod:`torchweave.lazy.ops.trafo` and :mod:`torchweave.lazy.ops.augment`.
"""

from torchweave.lazy.ops import augment, trafo

__all__ = ["augment", "trafo"]
