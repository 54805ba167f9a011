"""``po("torch_optimizer", optimizer=...)``: sets the optimizer of the network being built."""

from __future__ import annotations

import dataclasses
from typing import Any

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.network.model_descriptor import ModelDescriptor
from torchweave.pipelines.pipeop import Channel, PipeOp
from torchweave.registry import pipeops
from torchweave.training.descriptors import TorchOptimizer
from torchweave.training.sugar import as_torch_optimizer

__all__ = ["PipeOpTorchOptimizer"]


class PipeOpTorchOptimizer(PipeOp):
    """Configures the optimizer of a ModelDescriptor; its parameters are the optimizer's.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise. Train sets the
    descriptor's optimizer; predict passes the task on.

    State
    -----
    An empty dict.

    Parameters
    ----------
    The optimizer's own (``lr``, ``param_groups``, ...): ``param_set`` is the
    optimizer's ParamSet, so a graph shows them as ``torch_optimizer.<name>``.

    Examples
    --------
    >>> import torchweave as tw
    >>> from torchweave.training.ops.torch_optimizer import PipeOpTorchOptimizer
    >>> from torchweave.training.sugar import t_opt
    >>> graph = tw.po("torch_ingress_num") >> PipeOpTorchOptimizer(t_opt("adam", lr=0.1))
    >>> graph.param_set.values["torch_optimizer.lr"]
    0.1
    """

    def __init__(
        self,
        optimizer: Any = "adam",
        id: str = "torch_optimizer",
        param_vals: dict[str, Any] | None = None,
    ) -> None:
        self._optimizer = as_torch_optimizer(optimizer, clone=True)
        super().__init__(
            id,
            param_set=self._optimizer.param_set,
            param_vals=param_vals,
            input=[Channel("input", ModelDescriptor, Task)],
            output=[Channel("output", ModelDescriptor, Task)],
            tags=("torch", "optimizer"),
        )

    @property
    def optimizer(self) -> TorchOptimizer:
        """The optimizer descriptor (its ParamSet is this operator's)."""
        return self._optimizer

    def _train(self, inputs: list[Any]) -> list[Any]:
        md: ModelDescriptor = inputs[0]
        if md.optimizer is not None:
            raise InvalidParameterError(
                "The optimizer of the model descriptor is already configured."
            )
        self.state = {}
        return [dataclasses.replace(md, optimizer=self._optimizer.clone())]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return inputs


pipeops.register("torch_optimizer", PipeOpTorchOptimizer)
