"""Prebuilt torch learners: mlp, tab_resnet, ft_transformer, tabm, torch_featureless,
module and the image learners (mlr3torch's ``LearnerTorchMLP`` and friends).

Importing the package imports no torch: each name (listed in
:mod:`torchweave.prebuilt._names`) loads its module on first use, and the learners
register their keys (``classif.<name>``, ``regr.<name>``) when ``tw.registry.learners``
first needs them (:mod:`torchweave.prebuilt.registered`).
"""

from torchweave._lazy import lazy_exports
from torchweave.prebuilt._names import NAMES

__all__ = sorted(NAMES)
__getattr__, __dir__ = lazy_exports(__name__, NAMES)
