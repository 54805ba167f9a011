"""ModelDescriptor: what flows along the edges of a network graph at train time.

It holds the module graph built so far (shared by reference between descriptors of
one network), the ingress tokens that say how batches are built from the task, the
task, the optional loss, optimizer and callbacks, and a pointer to the output channel
where the next layer attaches, with that tensor's shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torchweave.data.task import Task
from torchweave.errors import GraphError, InvalidParameterError, TaskError
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.network.shapes import Shape, as_shape, shape_to_str
from torchweave.pipelines.graph import Graph
from torchweave.utils.text import quote_list

__all__ = ["ModelDescriptor", "model_descriptor_union"]


@dataclass
class ModelDescriptor:
    """The network under construction, passed between torch operators at train time.

    Parameters
    ----------
    graph : Graph
        The module graph (PipeOpModules and NOPs), shared by reference.
    ingress : dict of str to TorchIngressToken
        Tokens by graph input channel name (``"torch_ingress_num.input"``).
    task : Task
        The training task the network is built for.
    optimizer, loss : optional
        TorchOptimizer / TorchLoss descriptors.
    callbacks : dict, optional
        TorchCallback descriptors by id.
    pointer : tuple of (op id, channel), optional
        Where the next operator attaches.
    pointer_shape : Shape, optional
        Shape of the tensor at ``pointer`` (required with ``pointer``).
    """

    graph: Graph
    ingress: dict[str, TorchIngressToken]
    task: Task
    optimizer: Any = None
    loss: Any = None
    callbacks: dict[str, Any] = field(default_factory=dict)
    pointer: tuple[str, str] | None = None
    pointer_shape: Shape | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.graph, Graph):
            raise InvalidParameterError(
                f"ModelDescriptor.graph must be a Graph. Got {type(self.graph).__name__}."
            )
        if not isinstance(self.task, Task):
            raise InvalidParameterError(
                f"ModelDescriptor.task must be a Task. Got {type(self.task).__name__}."
            )
        if not isinstance(self.ingress, Mapping) or not self.ingress:
            raise InvalidParameterError("ModelDescriptor.ingress must hold at least one token.")
        self.ingress = dict(self.ingress)
        bad = [k for k, v in self.ingress.items() if not isinstance(v, TorchIngressToken)]
        if bad:
            raise InvalidParameterError(
                f"Ingress entries {quote_list(bad)} are not TorchIngressTokens."
            )
        if isinstance(self.callbacks, list | tuple):
            self.callbacks = {getattr(cb, "id", str(i)): cb for i, cb in enumerate(self.callbacks)}
        if self.pointer is not None:
            op_id, channel = self.pointer
            if op_id not in self.graph.pipeops:
                raise GraphError(f"The pointer names PipeOp '{op_id}', which is not in the graph.")
            if channel not in [ch.name for ch in self.graph.pipeops[op_id].output]:
                raise GraphError(f"PipeOp '{op_id}' has no output channel '{channel}'.")
            if self.pointer_shape is None:
                raise InvalidParameterError(
                    "A ModelDescriptor with a pointer needs a pointer_shape."
                )
            self.pointer = (op_id, channel)
            self.pointer_shape = as_shape(self.pointer_shape, "pointer_shape")
        if self.loss is not None:
            task_types = getattr(self.loss, "task_types", None)
            if task_types is not None and self.task.task_type not in task_types:
                raise TaskError(
                    f"The loss '{getattr(self.loss, 'id', self.loss)}' is for "
                    f"{quote_list(task_types)} tasks, not {self.task.task_type} tasks."
                )

    def with_pointer(self, pointer: tuple[str, str], shape: Shape) -> ModelDescriptor:
        """A shallow copy (same graph object) pointing at another output."""
        return dataclasses.replace(self, pointer=pointer, pointer_shape=shape)

    def __repr__(self) -> str:
        def label(x: Any) -> str:
            return "N/A" if x is None else str(getattr(x, "label", None) or getattr(x, "id", x))

        ingress = ", ".join(f"{k}: [{shape_to_str(t.shape)}]" for k, t in self.ingress.items())
        callbacks = ", ".join(label(cb) for cb in self.callbacks.values()) or "N/A"
        pointer = (
            "N/A"
            if self.pointer is None
            else f"{self.pointer[0]}.{self.pointer[1]} [{shape_to_str(self.pointer_shape)}]"
        )
        return (
            f"<ModelDescriptor: {len(self.graph.pipeops)} ops>\n"
            f"* Ingress:  {ingress}\n"
            f"* Task:  {self.task.id} [{self.task.task_type}]\n"
            f"* Callbacks:  {callbacks}\n"
            f"* Optimizer:  {label(self.optimizer)}\n"
            f"* Loss:  {label(self.loss)}\n"
            f"* pointer:  {pointer}"
        )


def _union_tasks(t1: Task, t2: Task) -> Task:
    if t1 is t2:
        return t1
    from torchweave.pipelines.ops.featureunion import PipeOpFeatureUnion

    v1, v2 = t1.internal_valid_task, t2.internal_valid_task
    if (v1 is None) != (v2 is None):
        raise TaskError(
            "Cannot merge two ModelDescriptors whose tasks disagree on having an "
            "internal_valid_task."
        )
    return PipeOpFeatureUnion(id="model_descriptor_union").train([t1, t2])[0]


def _merge_named(a: Mapping[str, Any], b: Mapping[str, Any], what: str) -> dict[str, Any]:
    clash = [k for k in a.keys() & b.keys() if a[k] is not b[k] and a[k] != b[k]]
    if clash:
        raise GraphError(
            f"The {what} with ID(s) {quote_list(sorted(clash))} of the two ModelDescriptors being "
            "merged are not identical."
        )
    return {**a, **b}


def _coalesce(a: Any, b: Any, what: str) -> Any:
    if a is not None and b is not None and a is not b:
        raise GraphError(f"The {what} of two ModelDescriptors being merged disagree.")
    return a if a is not None else b


def model_descriptor_union(md1: ModelDescriptor, md2: ModelDescriptor) -> ModelDescriptor:
    """Merge two descriptors of (branches of) one network.

    The module graph of ``md1`` is extended in place with the operators and edges of
    ``md2``. Tasks are feature-unioned, ingress tokens and callbacks merged (same id
    must mean the same object), optimizer and loss coalesced. The pointer is dropped.

    Raises
    ------
    GraphError
        For operators with the same id that are not the same object, operators whose
        incoming edges differ, clashing ingress tokens or callbacks, or disagreeing
        optimizers or losses.
    """
    graph = md1.graph
    if md2.graph is not graph:
        graph.add_graph(md2.graph, clone=False, share=True)
    return ModelDescriptor(
        graph=graph,
        ingress=_merge_named(md1.ingress, md2.ingress, "ingress tokens"),
        task=_union_tasks(md1.task, md2.task),
        optimizer=_coalesce(md1.optimizer, md2.optimizer, "optimizer"),
        loss=_coalesce(md1.loss, md2.loss, "loss"),
        callbacks=_merge_named(md1.callbacks, md2.callbacks, "callbacks"),
    )
