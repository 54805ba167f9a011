"""``po("torch_callbacks", callbacks=...)``: adds callbacks to the network being built."""

from __future__ import annotations

import dataclasses
from typing import Any

from torchweave.callbacks.descriptor import TorchCallback
from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.network.model_descriptor import ModelDescriptor
from torchweave.params.param_set import ParamSetCollection
from torchweave.pipelines.pipeop import Channel, PipeOp
from torchweave.registry import pipeops
from torchweave.training.sugar import as_torch_callbacks
from torchweave.utils.text import quote_list

__all__ = ["PipeOpTorchCallbacks"]


class PipeOpTorchCallbacks(PipeOp):
    """Adds callbacks to a ModelDescriptor; its parameters are theirs, as ``<id>.<name>``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise. Train adds
    copies of the callbacks (before those already configured); predict passes the task
    on.

    State
    -----
    An empty dict.

    Parameters
    ----------
    The callbacks' own, prefixed with the callback id (``checkpoint.freq``).

    Examples
    --------
    >>> import torchweave as tw
    >>> from torchweave.training.ops.torch_callbacks import PipeOpTorchCallbacks
    >>> md = tw.po("torch_ingress_num").train([tw.tsk("iris")])[0]
    >>> list(PipeOpTorchCallbacks("history").train([md])[0].callbacks)
    ['history']
    """

    def __init__(
        self,
        callbacks: Any = (),
        id: str = "torch_callbacks",
        param_vals: dict[str, Any] | None = None,
    ) -> None:
        self._callbacks = as_torch_callbacks(callbacks, clone=True)
        param_set = ParamSetCollection({cb.id: cb.param_set for cb in self._callbacks})
        super().__init__(
            id,
            param_set=param_set,
            param_vals=param_vals,
            input=[Channel("input", ModelDescriptor, Task)],
            output=[Channel("output", ModelDescriptor, Task)],
            tags=("torch", "callbacks"),
        )

    @property
    def callbacks(self) -> dict[str, TorchCallback]:
        """The callback descriptors by id (their ParamSets make up this operator's)."""
        return {cb.id: cb for cb in self._callbacks}

    def _train(self, inputs: list[Any]) -> list[Any]:
        md: ModelDescriptor = inputs[0]
        present = [cb.id for cb in self._callbacks if cb.id in md.callbacks]
        if present:
            raise InvalidParameterError(
                f"Callbacks with IDs {quote_list(present)} are already present."
            )
        own = {cb.id: cb.clone() for cb in self._callbacks}
        self.state = {}
        return [dataclasses.replace(md, callbacks={**own, **md.callbacks})]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return inputs


pipeops.register("torch_callbacks", PipeOpTorchCallbacks)
