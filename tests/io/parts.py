"""Importable user-defined parts for the save / load tests (saved by qualified name)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.network.ingress_token import TorchIngressToken, batchgetter_num
from torchweave.training.learner_torch import LearnerTorch


class ScaledTanh(nn.Module):
    """A user module for ``nn("module")``: ``tanh(x) * factor``."""

    def __init__(self, factor: float = 1.0) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x) * self.factor


def double(x: torch.Tensor) -> torch.Tensor:
    """A user function for ``nn("fn")``."""
    return x * 2


class LearnerTinyMLP(LearnerTorch):
    """A torch learner subclass (like the prebuilt ones): one hidden layer."""

    def __init__(self, task_type: str = "classif") -> None:
        super().__init__(f"{task_type}.tiny_mlp", task_type, label="Tiny MLP")

    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        n_in = len(task.feature_names)
        n_out = len(task.class_names) if self.task_type == "classif" else 1
        return nn.Sequential(nn.Linear(n_in, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, n_out))

    def _ingress_tokens(
        self, task: Task, param_vals: dict[str, Any]
    ) -> dict[str, TorchIngressToken]:
        features = list(task.feature_names)
        return {"x": TorchIngressToken(features, batchgetter_num, (None, len(features)))}
