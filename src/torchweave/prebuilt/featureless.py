"""``classif.torch_featureless`` / ``regr.torch_featureless``: a torch learner that
ignores the features (mlr3torch's ``LearnerTorchFeatureless``).

Its network is one parameter vector, expanded to the batch: it learns a constant (the
majority class under cross entropy, the mean under MSE, the median under L1). It is a
baseline, and a test bed for the torch machinery (callbacks, losses, optimizers).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.learners.learner import ALL_FEATURE_TYPES
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.network.ops.nn_head import output_dim_for
from torchweave.prebuilt.base import LearnerTorchPrebuilt
from torchweave.registry import learners
from torchweave.training.dataset import TaskDataset, target_tensor

__all__ = ["FeaturelessModule", "LearnerTorchFeatureless"]


def _no_columns(data: Any) -> torch.Tensor:
    """A ``(rows, 0)`` float tensor: the featureless network only needs the batch size."""
    return torch.zeros((len(data), 0))


class FeaturelessModule(nn.Module):
    """``x -> weights.expand(len(x), n_out)``: one learned output row for every input row.

    Parameters
    ----------
    n_out : int
        Outputs per row.
    """

    def __init__(self, n_out: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.randn(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The weights, once per row of ``x``."""
        return self.weights.expand(x.shape[0], -1)


class _FeaturelessDataset(TaskDataset):
    """The rows of a task as empty inputs (``(n, 0)``) and the target."""

    def __init__(self, task: Task, token: TorchIngressToken, target: bool = True) -> None:
        self.task_id = task.id
        self.tokens = {"input": token}
        self.frames = {}
        self.cached = {"input": torch.zeros((task.nrow, 0))}
        self.cache_takers = set()
        self.row_getters = {}
        self.y = target_tensor(task) if target else None
        self.n = task.nrow


class LearnerTorchFeatureless(LearnerTorchPrebuilt):
    """Featureless torch learner: learns one constant output (a baseline).

    Accepts every feature type and missing values (the features are never read).

    Parameters
    ----------
    task_type : {"classif", "regr"}
        Task type.
    optimizer, loss, callbacks
        As for :class:`~torchweave.training.learner_torch.LearnerTorch`.

    Examples
    --------
    >>> import torchweave as tw
    >>> learner = tw.lrn("regr.torch_featureless", epochs=50, batch_size=32, **{"opt.lr": 0.5})
    >>> task = tw.tsk("mtcars")
    >>> prediction = learner.train(task).predict(task)
    >>> bool(abs(prediction.response[0] - task.truth().mean()) < 2)
    True
    """

    def __init__(
        self,
        task_type: str = "classif",
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
    ) -> None:
        super().__init__(
            f"{task_type}.torch_featureless",
            task_type,
            optimizer=optimizer,
            loss=loss,
            callbacks=callbacks,
            feature_types=(*ALL_FEATURE_TYPES, "lazy_tensor"),
            properties=("missings", "featureless"),
            label="Featureless Torch Learner",
        )

    def _ingress_tokens(
        self, task: Task, param_vals: dict[str, Any]
    ) -> dict[str, TorchIngressToken]:
        return {"input": TorchIngressToken(task.feature_names, _no_columns, (None, 0), True)}

    def _dataset(self, task: Task, param_vals: dict[str, Any], target: bool = True) -> TaskDataset:
        return _FeaturelessDataset(task, self._ingress_tokens(task, param_vals)["input"], target)

    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        return FeaturelessModule(output_dim_for(task))


def _classif_torch_featureless() -> LearnerTorchFeatureless:
    """Featureless torch learner (classification)."""
    return LearnerTorchFeatureless("classif")


def _regr_torch_featureless() -> LearnerTorchFeatureless:
    """Featureless torch learner (regression)."""
    return LearnerTorchFeatureless("regr")


learners.register("classif.torch_featureless", _classif_torch_featureless)
learners.register("regr.torch_featureless", _regr_torch_featureless)
