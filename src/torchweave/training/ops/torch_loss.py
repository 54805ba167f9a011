"""``po("torch_loss", loss=...)``: sets the loss of the network being built."""

from __future__ import annotations

import dataclasses
from typing import Any

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.network.model_descriptor import ModelDescriptor
from torchweave.pipelines.pipeop import Channel, PipeOp
from torchweave.registry import pipeops
from torchweave.training.descriptors import TorchLoss
from torchweave.training.sugar import as_torch_loss

__all__ = ["PipeOpTorchLoss"]


class PipeOpTorchLoss(PipeOp):
    """Configures the loss of a ModelDescriptor; its parameters are the loss's parameters.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise. Train sets the
    descriptor's loss; predict passes the task on.

    State
    -----
    An empty dict.

    Parameters
    ----------
    The loss's own (``reduction``, ...): ``param_set`` is the loss's ParamSet, so a graph
    shows them as ``torch_loss.<name>``.

    Examples
    --------
    >>> import torchweave as tw
    >>> from torchweave.training.ops.torch_loss import PipeOpTorchLoss
    >>> md = tw.po("torch_ingress_num").train([tw.tsk("iris")])[0]
    >>> PipeOpTorchLoss("cross_entropy").train([md])[0].loss.id
    'cross_entropy'
    """

    def __init__(
        self,
        loss: Any = "cross_entropy",
        id: str = "torch_loss",
        param_vals: dict[str, Any] | None = None,
    ) -> None:
        self._loss = as_torch_loss(loss, clone=True)
        super().__init__(
            id,
            param_set=self._loss.param_set,
            param_vals=param_vals,
            input=[Channel("input", ModelDescriptor, Task)],
            output=[Channel("output", ModelDescriptor, Task)],
            tags=("torch", "loss"),
        )

    @property
    def loss(self) -> TorchLoss:
        """The loss descriptor (its ParamSet is this operator's)."""
        return self._loss

    def _train(self, inputs: list[Any]) -> list[Any]:
        md: ModelDescriptor = inputs[0]
        if md.loss is not None:
            raise InvalidParameterError("The loss of the model descriptor is already configured.")
        self._loss.check_task(md.task)
        self.state = {}
        return [dataclasses.replace(md, loss=self._loss.clone())]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return inputs


pipeops.register("torch_loss", PipeOpTorchLoss)
