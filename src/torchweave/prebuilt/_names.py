"""The public names of :mod:`torchweave.prebuilt` and the prebuilt learner keys.

Torch-free: ``torchweave.prebuilt`` and the conformance suite read these without
importing torch. Importing :mod:`torchweave.prebuilt.registered` imports (and so
registers) every learner module listed here.
"""

__all__ = ["CONFORMANCE_KEYS", "NAMES"]

NAMES: dict[str, str] = {
    "LearnerTorchPrebuilt": "torchweave.prebuilt.base",
    "network_summary": "torchweave.prebuilt.base",
    "LearnerTorchMLP": "torchweave.prebuilt.mlp",
    "LearnerTorchTabResNet": "torchweave.prebuilt.tab_resnet",
    "TabResNet": "torchweave.prebuilt.tab_resnet",
    "LearnerTorchFeatureless": "torchweave.prebuilt.featureless",
    "LearnerTorchModule": "torchweave.prebuilt.module",
    "FTTransformer": "torchweave.prebuilt.ft_transformer",
    "LearnerTorchFTTransformer": "torchweave.prebuilt.ft_transformer",
    "LearnerTorchTabM": "torchweave.prebuilt.tabm",
    "TabM": "torchweave.prebuilt.tabm",
    "TabMLoop": "torchweave.prebuilt.tabm",
    "LinearReLUEmbeddings": "torchweave.prebuilt.embeddings",
    "PeriodicEmbeddings": "torchweave.prebuilt.embeddings",
    "PiecewiseLinearEmbeddings": "torchweave.prebuilt.embeddings",
    "compute_bins": "torchweave.prebuilt.embeddings",
    "LearnerTorchImage": "torchweave.prebuilt.image",
    "LearnerTorchResNetSmall": "torchweave.prebuilt.image",
    "ResNetSmall": "torchweave.prebuilt.image",
    "LearnerTorchVision": "torchweave.prebuilt.vision",
    "replace_head": "torchweave.prebuilt.vision",
    "ppl_prebuilt": "torchweave.prebuilt.preprocessing",
}

#: Keys always registered (the torchvision learners are not among them), each built
#: for the conformance suite by :func:`torchweave.prebuilt.conformance.conformance_learner`.
_TABULAR = ("mlp", "tab_resnet", "ft_transformer", "tabm", "torch_featureless", "module")
CONFORMANCE_KEYS: tuple[str, ...] = (
    *(f"{task_type}.{name}" for name in _TABULAR for task_type in ("classif", "regr")),
    "classif.resnet_small",
)
