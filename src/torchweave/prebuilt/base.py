"""The base of the prebuilt torch learners: ingress helpers and ``summary()``.

A prebuilt learner is a :class:`~torchweave.training.learner_torch.LearnerTorch`
whose network comes from its own parameters (mlr3torch's ``LearnerTorchMLP`` and
friends). This module holds what they share: the tokens for numeric, categorical
and lazy tensor features, and a layer table of the network.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import NotTrainedError, ShapeError, TaskError
from torchweave.network.ingress_token import (
    TorchIngressToken,
    batchgetter_categ,
    batchgetter_num,
)
from torchweave.network.module_graph import ModuleGraph, NetworkSummary
from torchweave.network.shapes import shape_to_str
from torchweave.training.learner_torch import LearnerTorch

__all__ = [
    "CATEG_TYPES",
    "NUMERIC_TYPES",
    "LearnerTorchPrebuilt",
    "categ_features",
    "categ_token",
    "network_summary",
    "num_token",
    "numeric_features",
    "tabular_token",
]

#: Feature types fed to networks as float columns.
NUMERIC_TYPES = ("numeric", "integer")
#: Feature types fed to networks as category codes.
CATEG_TYPES = ("factor", "ordered", "logical")


def numeric_features(task: Task) -> list[str]:
    """The numeric and integer features of ``task``, in task order."""
    types = task.feature_types
    return [n for n in task.feature_names if types[n] in NUMERIC_TYPES]


def categ_features(task: Task) -> list[str]:
    """The factor, ordered and logical features of ``task``, in task order."""
    types = task.feature_types
    return [n for n in task.feature_names if types[n] in CATEG_TYPES]


def _lazy_features(task: Task) -> list[str]:
    return [n for n, t in task.feature_types.items() if t == "lazy_tensor"]


def tabular_token(task: Task, shape: Any, learner_id: str) -> TorchIngressToken:
    """The one input of a tabular learner: all numeric features, or one lazy tensor.

    Parameters
    ----------
    task : Task
        The task: only numeric / integer features, or exactly one lazy tensor.
    shape : tuple or None
        The learner's ``shape`` parameter, for a lazy tensor of unknown shape.
    learner_id : str
        For messages.

    Raises
    ------
    TaskError
        For lazy tensors beside other features, or several lazy tensors.
    ShapeError
        For a lazy tensor whose shape is unknown (without ``shape``) or not 2-d.
    """
    lazy = _lazy_features(task)
    if not lazy:
        return num_token(task)
    if len(lazy) != 1 or len(task.feature_names) != 1:
        raise TaskError(
            f"Learner '{learner_id}' takes either only numeric features or exactly one "
            f"'lazy_tensor' feature; task '{task.id}' has the features "
            f"{task.feature_types}."
        )
    from torchweave.lazy.ops.torch_ingress_ltnsr import ingress_ltnsr

    try:
        token = ingress_ltnsr(task, lazy[0], shape, op_id=learner_id)
    except ShapeError as exc:
        raise ShapeError(
            f"Learner '{learner_id}': the lazy tensor '{lazy[0]}' has an unknown shape. "
            "Please specify the learner's `shape` parameter, e.g. shape=(None, 4)."
        ) from exc
    if token.shape is None or len(token.shape) != 2:
        raise ShapeError(
            f"Learner '{learner_id}' expects an input shape of length 2 (batch, features). "
            f"Got {shape_to_str(token.shape)} for the lazy tensor '{lazy[0]}'; flatten it "
            'first, e.g. with po("trafo_reshape", shape=(None, -1)).'
        )
    return token


def num_token(task: Task) -> TorchIngressToken:
    """All numeric and integer features as a float32 matrix (``(None, n)``)."""
    names = numeric_features(task)
    return TorchIngressToken(names, batchgetter_num, (None, len(names)))


def categ_token(task: Task) -> TorchIngressToken:
    """All factor, ordered and logical features as int64 codes (``(None, n)``)."""
    names = categ_features(task)
    return TorchIngressToken(names, batchgetter_categ, (None, len(names)))


class LearnerTorchPrebuilt(LearnerTorch):
    """A torch learner whose network is built from its own parameters.

    Subclasses implement ``_network`` and ``_ingress_tokens``; this base adds
    :meth:`summary`.
    """

    def summary(self, task: Task | None = None) -> NetworkSummary:
        """The network's layers (top-level children) with their parameter counts.

        Parameters
        ----------
        task : Task, optional
            Build the (untrained) network for this task. Without it, the trained
            network is summarised.

        Raises
        ------
        NotTrainedError
            Without a task on an untrained learner.
        """
        if task is None:
            if self.model is None:
                raise NotTrainedError(
                    f"Learner '{self.id}' is not trained: pass a task to summary() to see the "
                    "network it would build for it."
                )
            network = self.model.network
        else:
            network = self._network(task, self._torch_ps.values)
        return network_summary(network)


def network_summary(network: nn.Module) -> NetworkSummary:
    """A layer table of ``network``: each top-level child, its class and parameters."""
    if isinstance(network, ModuleGraph):
        return network.summary()
    rows = [
        {
            "layer": name,
            "class": type(child).__name__,
            "output shape": "-",
            "params": sum(p.numel() for p in child.parameters()),
        }
        for name, child in network.named_children()
    ]
    own = sum(p.numel() for p in network.parameters(recurse=False))
    if own:
        rows.append(
            {"layer": "(own)", "class": type(network).__name__, "output shape": "-", "params": own}
        )
    table = pd.DataFrame(rows, columns=["layer", "class", "output shape", "params"])
    total = sum(p.numel() for p in network.parameters())
    trainable = sum(p.numel() for p in network.parameters() if p.requires_grad)
    return NetworkSummary(table, total, trainable)
