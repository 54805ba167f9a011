"""Image learners: ``LearnerTorchImage`` (the base for one lazy image column) and
``classif.resnet_small``, a small residual CNN that needs no extra package.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import ShapeError, TaskError
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.network.ops.nn_head import output_dim_for
from torchweave.network.shapes import shape_to_str
from torchweave.params.param import p_dbl, p_int
from torchweave.params.param_set import ParamSet
from torchweave.prebuilt.base import LearnerTorchPrebuilt
from torchweave.registry import learners

__all__ = ["LearnerTorchImage", "LearnerTorchResNetSmall", "ResNetSmall", "image_token"]


def image_token(task: Task, learner_id: str) -> TorchIngressToken:
    """The token of the one lazy tensor feature of ``task`` (its shape, or inferred).

    Raises
    ------
    TaskError
        Unless the task has exactly one feature, a lazy tensor.
    """
    if len(task.feature_names) != 1 or task.feature_types[task.feature_names[0]] != "lazy_tensor":
        raise TaskError(
            f"Learner '{learner_id}' expects exactly one feature, a 'lazy_tensor' (an image "
            f"column). Task '{task.id}' has {task.feature_types}."
        )
    from torchweave.lazy.ops.torch_ingress_ltnsr import ingress_ltnsr

    try:
        return ingress_ltnsr(task, task.feature_names[0], None, op_id=learner_id)
    except ShapeError:
        return ingress_ltnsr(task, task.feature_names[0], "infer", op_id=learner_id)


class LearnerTorchImage(LearnerTorchPrebuilt):
    """Base of the image learners: one lazy tensor feature, ``(batch, C, H, W)`` batches.

    Subclasses implement ``_network(task, param_vals)``; the ingress token is the
    image column (its declared shape, or the shape of its first element).

    Parameters
    ----------
    id : str
        Learner id.
    task_type : {"classif", "regr"}
        Task type.
    param_set : ParamSet, optional
        The learner's own parameters.
    optimizer, loss, callbacks
        As for :class:`~torchweave.training.learner_torch.LearnerTorch`.
    label : str
        Human-readable name.
    """

    def __init__(
        self,
        id: str,
        task_type: str = "classif",
        param_set: ParamSet | None = None,
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
        label: str = "",
    ) -> None:
        super().__init__(
            id,
            task_type,
            param_set=param_set,
            optimizer=optimizer,
            loss=loss,
            callbacks=callbacks,
            feature_types=("lazy_tensor",),
            label=label,
        )

    def _ingress_tokens(
        self, task: Task, param_vals: dict[str, Any]
    ) -> dict[str, TorchIngressToken]:
        return {"image": image_token(task, self.id)}

    def _image_channels(self, task: Task, param_vals: dict[str, Any]) -> int:
        shape = self._ingress_tokens(task, param_vals)["image"].shape
        if shape is None or len(shape) != 4 or not isinstance(shape[1], int):
            raise ShapeError(
                f"Learner '{self.id}' needs images of shape (batch, channels, height, width) "
                f"with known channels. Got {shape_to_str(shape)}."
            )
        return shape[1]

    @abc.abstractmethod
    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        """The network for images of this task."""

    def _conformance_tasks(self) -> list[Task]:
        """A tiny image task for the conformance suite (it cannot generate images)."""
        from torchweave.data.task import TaskClassif, TaskRegr
        from torchweave.lazy.lazy_tensor import as_lazy_tensor

        rng = np.random.default_rng(0)
        y = np.repeat([0, 1], 16)
        images = (rng.normal(size=(32, 1, 8, 8)) + y[:, None, None, None]).astype(np.float32)
        frame = pd.DataFrame({"image": as_lazy_tensor(torch.from_numpy(images))})
        if self.task_type == "classif":
            frame["y"] = pd.Categorical(np.where(y == 1, "a", "b"))
            return [TaskClassif(frame, target="y", id="tiny_images")]
        frame["y"] = y.astype(float)
        return [TaskRegr(frame, target="y", id="tiny_images")]


class _ResidualBlock(nn.Module):
    """``relu(bn(conv(relu(bn(conv(x))))) + skip(x))``; a 1x1 projection when shapes change."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.skip: nn.Module = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The residual block."""
        z = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(z)) + self.skip(x))


class ResNetSmall(nn.Module):
    """A small residual CNN: stem, ``n_blocks`` residual blocks, global pooling, linear.

    Block ``i`` has ``channels * 2**i`` channels and (for ``i > 0``) stride 2.

    Parameters
    ----------
    in_channels : int
        Image channels.
    d_out : int
        Outputs.
    channels : int, default 32
        Channels of the stem and the first block.
    n_blocks : int, default 3
        Residual blocks.
    dropout : float, default 0.0
        Dropout before the linear head.
    """

    def __init__(
        self,
        in_channels: int,
        d_out: int,
        channels: int = 32,
        n_blocks: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        widths = [channels * 2**i for i in range(n_blocks)]
        self.blocks = nn.Sequential(
            *[
                _ResidualBlock(widths[i - 1] if i else channels, widths[i], 2 if i else 1)
                for i in range(n_blocks)
            ]
        )
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout))
        self.head = nn.Linear(widths[-1], d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` to outputs ``(B, d_out)``."""
        return self.head(self.pool(self.blocks(self.stem(x))))


class LearnerTorchResNetSmall(LearnerTorchImage):
    """A small residual CNN for images (no pretrained weights, no extra package).

    Parameters
    ----------
    task_type : {"classif", "regr"}
        Task type (registered: ``classif.resnet_small``).
    optimizer, loss, callbacks
        As for :class:`~torchweave.training.learner_torch.LearnerTorch`.

    Notes
    -----
    Own parameters (tagged ``train``): ``channels`` (int >= 1, init 32),
    ``n_blocks`` (int >= 1, init 3), ``dropout`` (in [0, 1], init 0).

    Examples
    --------
    >>> import numpy as np, pandas as pd, torch
    >>> import torchweave as tw
    >>> from torchweave.lazy import as_lazy_tensor
    >>> frame = pd.DataFrame({"image": as_lazy_tensor(torch.randn(20, 1, 8, 8))})
    >>> frame["y"] = pd.Categorical(np.repeat(["a", "b"], 10))
    >>> task = tw.TaskClassif(frame, target="y")
    >>> learner = tw.lrn("classif.resnet_small", channels=4, n_blocks=1, epochs=1, batch_size=8)
    >>> learner.train(task).predict(task).response.shape
    (20,)
    """

    def __init__(
        self,
        task_type: str = "classif",
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
    ) -> None:
        ps = ParamSet(
            channels=p_int(1, init=32, tags="train"),
            n_blocks=p_int(1, init=3, tags="train"),
            dropout=p_dbl(0, 1, init=0.0, tags="train"),
        )
        super().__init__(
            f"{task_type}.resnet_small",
            task_type,
            param_set=ps,
            optimizer=optimizer,
            loss=loss,
            callbacks=callbacks,
            label="Small residual CNN",
        )

    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        return ResNetSmall(
            self._image_channels(task, param_vals),
            output_dim_for(task),
            channels=param_vals.get("channels", 32),
            n_blocks=param_vals.get("n_blocks", 3),
            dropout=param_vals.get("dropout", 0.0),
        )


def _classif_resnet_small() -> LearnerTorchResNetSmall:
    """Small residual CNN for images (classification)."""
    return LearnerTorchResNetSmall("classif")


learners.register("classif.resnet_small", _classif_resnet_small)
