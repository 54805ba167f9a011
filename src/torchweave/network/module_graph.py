"""The module graph and the ``torch.nn.Module`` that runs it.

While a network graph trains, each torch operator adds a :class:`PipeOpModule` (its
instantiated layer) to the ModelDescriptor's module graph. :class:`ModuleGraph` turns
that graph into one ``torch.nn.Module``: the layers are registered (so parameters,
``state_dict``, ``.to(device)`` and optimizers see them) and ``forward`` runs a
precomputed plan in topological order, so no graph machinery runs per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
from torch import nn

from torchweave.errors import GraphError, ShapeError
from torchweave.network.shapes import Shape, shape_to_str
from torchweave.pipelines.graph import Graph
from torchweave.pipelines.ops.nop import PipeOpNOP
from torchweave.pipelines.pipeop import Channel, PipeOp
from torchweave.registry import pipeops
from torchweave.utils.text import quote_list

if TYPE_CHECKING:
    from torchweave.network.model_descriptor import ModelDescriptor

__all__ = [
    "ModuleGraph",
    "NetworkSummary",
    "PipeOpModule",
    "model_descriptor_to_module",
    "summary",
]


class PipeOpModule(PipeOp):
    """A layer (``torch.nn.Module`` or tensor function) as a node of a module graph.

    Input and output channels
    -------------------------
    One tensor per input channel at train (passed by position); nothing at predict.
    Several output channels take a tuple returned by the module.

    State
    -----
    An empty dict.

    Parameters
    ----------
    None: the module is already built.

    Examples
    --------
    >>> import torch
    >>> from torchweave.network import PipeOpModule
    >>> op = PipeOpModule("double", lambda x: 2 * x)
    >>> op.train([torch.ones(2)])[0].tolist()
    [2.0, 2.0]
    """

    def __init__(
        self,
        id: str = "module",
        module: nn.Module | Callable[..., Any] | None = None,
        inname: Sequence[str] = ("input",),
        outname: Sequence[str] = ("output",),
        param_vals: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            id,
            param_vals=param_vals,
            input=[Channel(n, torch.Tensor, None) for n in inname],
            output=[Channel(n, torch.Tensor, None) for n in outname],
        )
        self.module = module if module is not None else nn.Identity()
        #: Output shapes recorded by the torch operator that built this node.
        self.shapes_out: list[Shape] | None = None

    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {}
        out = self.module(*inputs)
        return [out] if len(self.output) == 1 else list(out)

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return [None] * len(self.output)


pipeops.register("module", PipeOpModule)


@dataclass(frozen=True)
class _Step:
    op_id: str
    key: str | None  # ModuleDict key; None for pass-through (NOP) nodes
    args: tuple[tuple[str, Any], ...]  # ("in", index) or ("val", (op_id, channel))
    outs: tuple[str, ...]


def _layer_key(op_id: str, taken: set[str]) -> str:
    key = op_id.replace(".", "_") or "layer"
    candidate, i = key, 1
    # ModuleDict keys become attributes: avoid names of nn.Module members ("train", ...).
    while candidate in taken or hasattr(nn.ModuleDict, candidate):
        candidate, i = f"{key}_{i}", i + 1
    taken.add(candidate)
    return candidate


class ModuleGraph(nn.Module):
    """A ``torch.nn.Module`` that runs a module graph.

    Parameters
    ----------
    graph : Graph
        A graph of :class:`PipeOpModule` and ``PipeOpNOP`` nodes.
    input_names : sequence of str
        The graph input channels (``"<op id>.<channel>"``), in argument order.
    output_pointers : sequence of (op id, channel)
        The values to return.
    shapes_in : dict, optional
        Input shapes by input name (for :meth:`summary`).

    Notes
    -----
    ``forward`` takes the inputs by position (in ``input_names`` order), by name as
    keywords, or as one dict; it returns one tensor, or a tuple for several outputs.
    """

    def __init__(
        self,
        graph: Graph,
        input_names: Sequence[str],
        output_pointers: Sequence[tuple[str, str]],
        shapes_in: dict[str, Shape] | None = None,
    ) -> None:
        super().__init__()
        self.input_names = list(input_names)
        self.output_pointers = [tuple(p) for p in output_pointers]
        self.shapes_in = dict(shapes_in or {})
        self.layers = nn.ModuleDict()
        self._functions: dict[str, Callable[..., Any]] = {}
        self._shapes: dict[str, list[Shape] | None] = {}
        ports = {p.name: (p.op_id, p.channel.name) for p in graph.input_ports()}
        unknown = [n for n in self.input_names if n not in ports]
        if unknown:
            raise GraphError(
                f"Inputs {quote_list(unknown)} are not input channels of the module graph "
                f"({quote_list(ports)})."
            )
        fed = {ports[n]: i for i, n in enumerate(self.input_names)}
        unfed = [name for name, port in ports.items() if port not in fed]
        if unfed:
            raise GraphError(f"The module graph inputs {quote_list(unfed)} receive no data.")
        incoming: dict[str, list[Any]] = {op_id: [] for op_id in graph.pipeops}
        for e in graph.edge_records():
            incoming[e.dst_id].append(e)
        taken: set[str] = set()
        steps = []
        for op_id in graph.ids():
            op = graph.pipeops[op_id]
            args: list[tuple[str, Any]] = []
            for ch in op.input:
                edges = [e for e in incoming[op_id] if e.dst_channel == ch.name]
                if edges:
                    args.extend(("val", (e.src_id, e.src_channel)) for e in edges)
                elif (op_id, ch.name) in fed:
                    args.append(("in", fed[(op_id, ch.name)]))
            key: str | None = None
            if isinstance(op, PipeOpModule):
                key = _layer_key(op_id, taken)
                if isinstance(op.module, nn.Module):
                    self.layers[key] = op.module
                else:
                    self._functions[key] = op.module
                self._shapes[op_id] = op.shapes_out
            elif not isinstance(op, PipeOpNOP):
                raise GraphError(
                    f"PipeOp '{op_id}' ({type(op).__name__}) cannot be part of a module graph."
                )
            steps.append(_Step(op_id, key, tuple(args), tuple(ch.name for ch in op.output)))
        self._steps = steps
        produced = {(s.op_id, o) for s in steps for o in s.outs}
        missing = [p for p in self.output_pointers if p not in produced]
        if missing:
            raise GraphError(f"The module graph has no outputs {missing}.")
        self._chain = self._as_chain()

    def _as_chain(self) -> list[str] | None:
        """The layer keys when the graph is a plain chain (one input, one output each).

        A chain runs as ``x = layer(x)`` per layer, without the bookkeeping of the
        general plan; most networks are chains.
        """
        if len(self.input_names) != 1 or len(self.output_pointers) != 1:
            return None
        previous: tuple[str, Any] = ("in", 0)
        for step in self._steps:
            if len(step.args) != 1 or len(step.outs) != 1 or step.args[0] != previous:
                return None
            previous = ("val", (step.op_id, step.outs[0]))
        if previous != ("val", self.output_pointers[0]):
            return None
        return [step.key for step in self._steps if step.key is not None]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the network: inputs by position, by ingress name, or as one dict."""
        chain = self._chain
        if chain is not None and len(args) == 1 and not kwargs and not isinstance(args[0], dict):
            # The plain dicts, looked up once: self.layers[key] costs two Python calls.
            x, modules, functions = args[0], self.layers._modules, self._functions
            for key in chain:
                x = functions[key](x) if key in functions else modules[key](x)
            return x
        if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
            kwargs, args = args[0], ()
        if kwargs:
            try:
                inputs = list(args) + [kwargs[n] for n in self.input_names[len(args) :]]
            except KeyError as exc:
                raise GraphError(
                    f"The network needs the inputs {quote_list(self.input_names)}; "
                    f"{exc.args[0]!r} is missing."
                ) from None
        else:
            inputs = list(args)
        if len(inputs) != len(self.input_names):
            raise GraphError(
                f"The network takes {len(self.input_names)} input(s) "
                f"({quote_list(self.input_names)}). Got {len(inputs)}."
            )
        values: dict[tuple[str, str], Any] = {}
        for step in self._steps:
            call = [inputs[ref] if kind == "in" else values[ref] for kind, ref in step.args]
            if step.key is None:
                out = call[0] if len(call) == 1 else tuple(call)
            elif step.key in self._functions:
                out = self._functions[step.key](*call)
            else:
                out = self.layers[step.key](*call)
            if len(step.outs) == 1:
                values[(step.op_id, step.outs[0])] = out
            else:
                for name, value in zip(step.outs, out, strict=True):
                    values[(step.op_id, name)] = value
        results = [values[p] for p in self.output_pointers]  # type: ignore[index]
        return results[0] if len(results) == 1 else tuple(results)

    def reset_parameters(self) -> None:
        """Re-initialise every layer that has ``reset_parameters`` (recursively)."""

        def visit(module: nn.Module) -> None:
            for child in module.children():
                reset = getattr(child, "reset_parameters", None)
                if callable(reset):
                    reset()
                else:
                    visit(child)

        visit(self)

    def summary(self) -> NetworkSummary:
        """A table of layers with output shapes and parameter counts, like Keras'."""
        rows = []
        for name in self.input_names:
            rows.append(
                {
                    "layer": name,
                    "class": "input",
                    "output shape": shape_to_str(self.shapes_in.get(name)),
                    "params": 0,
                }
            )
        for step in self._steps:
            if step.key is None:
                continue
            layer = self.layers[step.key] if step.key in self.layers else None  # noqa: SIM401
            shapes = self._shapes.get(step.op_id)
            rows.append(
                {
                    "layer": step.op_id,
                    "class": type(layer).__name__ if layer is not None else "function",
                    "output shape": "-"
                    if shapes is None
                    else shape_to_str(shapes if len(shapes) > 1 else shapes[0]),
                    "params": 0 if layer is None else sum(p.numel() for p in layer.parameters()),
                }
            )
        table = pd.DataFrame(rows, columns=["layer", "class", "output shape", "params"])
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return NetworkSummary(table, total, trainable)


@dataclass
class NetworkSummary:
    """The layers of a network with output shapes and parameter counts."""

    table: pd.DataFrame
    total_params: int
    trainable_params: int

    def __repr__(self) -> str:
        return (
            f"{self.table.to_string(index=False)}\n"
            f"Total params: {self.total_params:,}\n"
            f"Trainable params: {self.trainable_params:,}\n"
            f"Non-trainable params: {self.total_params - self.trainable_params:,}"
        )


def model_descriptor_to_module(
    md: ModelDescriptor, output_pointers: Sequence[tuple[str, str]] | None = None
) -> ModuleGraph:
    """Build the ``torch.nn.Module`` of a ModelDescriptor.

    Parameters
    ----------
    md : ModelDescriptor
        A descriptor whose ingress tokens all have shapes.
    output_pointers : sequence of (op id, channel), optional
        What the module returns (default: ``[md.pointer]``).

    Returns
    -------
    ModuleGraph
        The network; its inputs are named after the ingress tokens.
    """
    if output_pointers is None:
        if md.pointer is None:
            raise GraphError("The ModelDescriptor has no pointer; pass output_pointers.")
        output_pointers = [md.pointer]
    shapes_in = {}
    for name, token in md.ingress.items():
        if token.shape is None:
            raise ShapeError(
                f"The ingress token '{name}' has no shape; the network cannot be built."
            )
        shapes_in[name] = token.shape
    return ModuleGraph(md.graph, list(md.ingress), list(output_pointers), shapes_in)


def summary(x: ModelDescriptor | ModuleGraph) -> NetworkSummary:
    """The layer table of a network, or of the network a ModelDescriptor describes."""
    module = x if isinstance(x, ModuleGraph) else model_descriptor_to_module(x)
    return module.summary()
