"""``classif.tab_resnet`` / ``regr.tab_resnet``: the tabular ResNet (mlr3torch's
``LearnerTorchTabResNet``; Gorishniy et al. 2021, "Revisiting Deep Learning Models for
Tabular Data").
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.network.ops.nn_head import output_dim_for
from torchweave.params.param import p_dbl, p_int, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.prebuilt._checks import check_shape
from torchweave.prebuilt.base import LearnerTorchPrebuilt, tabular_token
from torchweave.registry import learners

__all__ = ["LearnerTorchTabResNet", "TabResNet", "TabResNetBlock"]


def block_d_hidden(d_block: int, d_hidden: int | None, multiplier: float | None) -> int:
    """The hidden width of a block: ``d_hidden`` or ``int(d_block * multiplier)``.

    Raises
    ------
    InvalidParameterError
        Unless exactly one of the two is given, or for a width below 1.
    """
    if (d_hidden is None) == (multiplier is None):
        raise InvalidParameterError(
            "Set exactly one of the parameters 'd_hidden' and 'd_hidden_multiplier'. Got "
            f"d_hidden = {d_hidden} and d_hidden_multiplier = {multiplier}."
        )
    width = d_hidden if d_hidden is not None else int(d_block * multiplier)  # type: ignore[operator]
    if width < 1:
        raise InvalidParameterError(
            f"The hidden width int(d_block * d_hidden_multiplier) = {width} must be >= 1 "
            f"(d_block = {d_block}, d_hidden_multiplier = {multiplier})."
        )
    return width


class TabResNetBlock(nn.Module):
    """``x + dropout2(linear2(dropout1(relu(linear1(batchnorm(x))))))``.

    Parameters
    ----------
    d_block : int
        Input and output width.
    d_hidden : int
        Hidden width.
    dropout1, dropout2 : float
        Hidden and residual dropout.
    """

    def __init__(self, d_block: int, d_hidden: int, dropout1: float, dropout2: float) -> None:
        super().__init__()
        self.normalization = nn.BatchNorm1d(d_block)
        self.linear1 = nn.Linear(d_block, d_hidden)
        self.activation = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout1)
        self.linear2 = nn.Linear(d_hidden, d_block)
        self.dropout2 = nn.Dropout(dropout2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The residual block."""
        z = self.dropout1(self.activation(self.linear1(self.normalization(x))))
        return x + self.dropout2(self.linear2(z))


class TabResNet(nn.Module):
    """``linear(d_in, d_block) -> n_blocks * TabResNetBlock -> linear(d_block, d_out)``.

    As mlr3torch's ``tab_resnet``, the head is a plain linear layer: rtdl's ResNet
    puts ``BatchNorm1d -> ReLU`` before it (see docs/prebuilt_learners.md).
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        n_blocks: int,
        d_block: int,
        d_hidden: int,
        dropout1: float,
        dropout2: float,
    ) -> None:
        super().__init__()
        self.input_projection = nn.Linear(d_in, d_block)
        self.blocks = nn.Sequential(
            *[TabResNetBlock(d_block, d_hidden, dropout1, dropout2) for _ in range(n_blocks)]
        )
        self.head = nn.Linear(d_block, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project, run the blocks, and map to the outputs."""
        return self.head(self.blocks(self.input_projection(x)))


class LearnerTorchTabResNet(LearnerTorchPrebuilt):
    """Tabular ResNet: a linear projection, residual blocks, a linear head.

    Takes numeric and integer features, or exactly one lazy tensor of shape
    ``(batch, d)``.

    Parameters
    ----------
    task_type : {"classif", "regr"}
        Task type.
    optimizer, loss, callbacks
        As for :class:`~torchweave.training.learner_torch.LearnerTorch`.

    Notes
    -----
    Own parameters (tagged ``train``): ``n_blocks`` (int >= 0, required), ``d_block``
    (int >= 1, required), ``d_hidden`` (int >= 1) or ``d_hidden_multiplier`` (float >= 0;
    exactly one of them: ``d_hidden = int(d_block * d_hidden_multiplier)``),
    ``dropout1`` and ``dropout2`` (in [0, 1], required), ``shape`` (for a lazy tensor).

    Examples
    --------
    >>> import torchweave as tw
    >>> learner = tw.lrn(
    ...     "regr.tab_resnet", n_blocks=1, d_block=8, d_hidden_multiplier=2.0,
    ...     dropout1=0.1, dropout2=0.1, epochs=1, batch_size=16,
    ... )
    >>> learner.train(tw.tsk("mtcars")).is_trained
    True
    """

    def __init__(
        self,
        task_type: str = "classif",
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
    ) -> None:
        ps = ParamSet(
            n_blocks=p_int(0, tags={"train", "required"}),
            d_block=p_int(1, tags={"train", "required"}),
            d_hidden=p_int(1, default=None, special_vals=(None,), tags="train"),
            d_hidden_multiplier=p_dbl(0, default=None, special_vals=(None,), tags="train"),
            dropout1=p_dbl(0, 1, tags={"train", "required"}),
            dropout2=p_dbl(0, 1, tags={"train", "required"}),
            shape=p_uty(custom_check=check_shape, expected="a shape", tags="train"),
        )
        super().__init__(
            f"{task_type}.tab_resnet",
            task_type,
            param_set=ps,
            optimizer=optimizer,
            loss=loss,
            callbacks=callbacks,
            feature_types=("numeric", "integer", "lazy_tensor"),
            label="Tabular ResNet",
        )

    def _ingress_tokens(
        self, task: Task, param_vals: dict[str, Any]
    ) -> dict[str, TorchIngressToken]:
        return {"input": tabular_token(task, param_vals.get("shape"), self.id)}

    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        batch_size = param_vals.get("batch_size")
        if (
            batch_size
            and task.nrow % batch_size == 1
            and param_vals.get("n_blocks")
            and not param_vals.get("drop_last")
            and param_vals.get("batch_sampler") is None
        ):
            raise InvalidParameterError(
                f"Learner '{self.id}': the last training batch would hold one row "
                f"({task.nrow} rows, batch_size {batch_size}), on which BatchNorm cannot "
                "train. Set drop_last=True or another batch_size."
            )
        token = self._ingress_tokens(task, param_vals)["input"]
        assert token.shape is not None and isinstance(token.shape[1], int)
        d_block = param_vals["d_block"]
        d_hidden = block_d_hidden(
            d_block, param_vals.get("d_hidden"), param_vals.get("d_hidden_multiplier")
        )
        return TabResNet(
            token.shape[1],
            output_dim_for(task),
            param_vals["n_blocks"],
            d_block,
            d_hidden,
            param_vals["dropout1"],
            param_vals["dropout2"],
        )


def _classif_tab_resnet() -> LearnerTorchTabResNet:
    """Tabular ResNet (classification)."""
    return LearnerTorchTabResNet("classif")


def _regr_tab_resnet() -> LearnerTorchTabResNet:
    """Tabular ResNet (regression)."""
    return LearnerTorchTabResNet("regr")


learners.register("classif.tab_resnet", _classif_tab_resnet)
learners.register("regr.tab_resnet", _regr_tab_resnet)
