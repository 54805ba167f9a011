"""``nn("block", graph, n_blocks=5)``: a sub-graph of layers repeated several times."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torchweave.data.task import Task
from torchweave.errors import GraphError, InvalidParameterError, ShapeError
from torchweave.network.model_descriptor import ModelDescriptor
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape
from torchweave.params.param import p_int, p_uty
from torchweave.params.param_set import ParamSet, ParamSetCollection
from torchweave.pipelines.graph import Graph, as_graph
from torchweave.pipelines.ops.nop import PipeOpNOP
from torchweave.pipelines.pipeop import PipeOp
from torchweave.registry import pipeops
from torchweave.utils.text import format_value, quote_list

__all__ = ["PipeOpTorchBlock"]

#: ``trafo(i, param_vals, param_set) -> param_vals`` for repetition ``i`` (1-based).
Trafo = Callable[[int, dict[str, Any], ParamSet], Mapping[str, Any]]


def _check_trafo(x: Any) -> str | None:
    return None if callable(x) else "a function (i, param_vals, param_set) -> param_vals"


def _flat_sets(prefix: str, ps: ParamSet) -> dict[str, ParamSet]:
    """The plain ParamSets behind ``ps`` (expanding nested collections) by full prefix."""
    if not isinstance(ps, ParamSetCollection):
        return {prefix: ps}
    out: dict[str, ParamSet] = {}
    for sub, member in ps.sets.items():
        out.update(_flat_sets(f"{prefix}.{sub}" if sub else prefix, member))
    return out


class PipeOpTorchBlock(PipeOpTorch):
    """Repeats a sub-graph of layers ``n_blocks`` times, one copy after the other.

    The ``block`` (a Graph or PipeOp of torch operators; NOPs are allowed, e.g. for the
    skip path of a residual block) is deep-copied ``n_blocks`` times, the copies are
    chained with ``>>``, and the chain is trained on the incoming ModelDescriptor, so
    each copy adds its own layers to the network. The layers of repetition ``i``
    (numbered from 1, as in mlr3torch) are named ``<block id>.<op id>__<i>``, e.g.
    ``block.linear__1``, ``block.linear__2``.

    Input and output channels
    -------------------------
    When the block graph has one output, the operator has one input ``input`` that
    feeds every input of the block graph (so a residual block with a ``nop`` and a
    ``linear`` branch attaches to a single previous layer) and one output ``output``.
    A block with as many outputs as inputs (several parallel streams) has the block
    graph's input and output names as channels, paired in order between repetitions.
    ModelDescriptor at train, Task at predict (passed through).

    State
    -----
    ``shapes_out``: the output shapes of the last repetition.

    Parameters
    ----------
    n_blocks : int
        Number of repetitions, >= 0 (required); 0 passes the input through.
    trafo : callable, optional
        ``trafo(i, param_vals, param_set) -> param_vals`` gives the block parameter
        values of repetition ``i`` (1-based) from the block's values ``param_vals``
        (ids ``"<op id>.<param>"``); ``param_set`` is this operator's ParamSet.
        Required block parameters must still be set on the block itself.
    <op id>.<param>
        Every parameter of the block graph, e.g. ``linear.out_features``; reads and
        writes go to the block graph.

    Examples
    --------
    >>> import torchweave as tw
    >>> layer = tw.nn("linear", out_features=8) >> tw.nn("relu")
    >>> graph = tw.po("torch_ingress_num") >> tw.nn("block", layer, n_blocks=3)
    >>> md = graph.train(tw.tsk("iris"))["block.output"]
    >>> [i for i in md.graph.ids() if i.startswith("block.")]  # doctest: +NORMALIZE_WHITESPACE
    ['block.linear__1', 'block.relu__1', 'block.linear__2', 'block.relu__2',
     'block.linear__3', 'block.relu__3']
    >>> tw.nn("block", layer, n_blocks=2).shapes_out([(None, 4)], task=tw.tsk("iris"))
    [(None, 8)]
    """

    def __init__(
        self,
        block: Graph | PipeOp,
        id: str = "nn_block",
        param_vals: dict[str, Any] | None = None,
    ) -> None:
        self.block = as_graph(block, clone=True)
        ins, outs = self.block.input_ports(), self.block.output_ports()
        if not ins or not outs:
            raise GraphError(
                f"The block of PipeOp '{id}' needs an unconnected input and output channel. "
                f"Got {len(ins)} input(s) and {len(outs)} output(s)."
            )
        if len(outs) != 1 and len(outs) != len(ins):
            raise GraphError(
                f"The block of PipeOp '{id}' cannot be repeated: its {len(outs)} outputs "
                f"({quote_list(p.name for p in outs)}) cannot feed its {len(ins)} inputs "
                f"({quote_list(p.name for p in ins)}); a block needs one output, or as many "
                "outputs as inputs."
            )
        # The block graph's unconnected ports (op id, channel), in order: repetition 1's
        # inputs take the operator's inputs, the last repetition's outputs are its outputs.
        self._ports_in = [(p.op_id, p.channel.name) for p in ins]
        self._ports_out = [(p.op_id, p.channel.name) for p in outs]
        self._own_params = ParamSet(
            n_blocks=p_int(0, tags={"train", "required"}),
            trafo=p_uty(custom_check=_check_trafo, expected="a function", tags="train"),
        )
        single = len(outs) == 1
        super().__init__(
            id,
            param_set=ParamSetCollection(self._member_sets),
            param_vals=param_vals,
            inname="input" if single else [p.name for p in ins],
            outname="output" if single else [p.name for p in outs],
        )

    @property
    def id(self) -> str:
        """The operator id (also the prefix of the layer ids it creates)."""
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        vars(PipeOp)["id"].fset(self, value)
        self._own_params.owner = self.param_set.owner

    def _member_sets(self) -> dict[str, ParamSet]:
        sets: dict[str, ParamSet] = {"": self._own_params}
        for op_id, op in self.block.pipeops.items():
            sets.update(_flat_sets(op_id, op.param_set))
        return sets

    # --- the repeated graph ---------------------------------------------------------------
    def _repetition(self, i: int, trafo: Trafo | None) -> Graph:
        """Copy ``i`` (1-based) of the block, parameters transformed and ids renamed."""
        copy = self.block.clone()
        if trafo is not None:
            values = trafo(i, copy.param_set.values, self.param_set)
            if not isinstance(values, Mapping):
                raise InvalidParameterError(
                    f"The 'trafo' of PipeOp '{self.id}' must return a dict of block parameter "
                    f"values. Got {format_value(values)} for repetition {i}."
                )
            try:
                copy.param_set.values = dict(values)
            except InvalidParameterError as exc:
                exc.add_note(
                    f"(the values returned by the 'trafo' of PipeOp '{self.id}' for repetition {i})"
                )
                raise
        names = {op_id: self._name(op_id, i) for op_id in copy.pipeops}
        renamed = Graph()
        for op_id, op in copy.pipeops.items():
            op.id = names[op_id]
            renamed.add_pipeop(op, clone=False)
        for e in copy.edge_records():
            renamed.add_edge(names[e.src_id], names[e.dst_id], e.src_channel, e.dst_channel)
        return renamed

    def _repeated(self, n: int) -> Graph:
        trafo = self._own_params.values.get("trafo")
        graph = Graph()
        for i in range(1, n + 1):
            graph.add_pipeop(self._repetition(i, trafo), clone=False)
            if i == 1:
                continue
            outs = [(self._name(op, i - 1), ch) for op, ch in self._ports_out]
            ins = [(self._name(op, i), ch) for op, ch in self._ports_in]
            pairs = (
                [(outs[0], p) for p in ins] if len(outs) == 1 else list(zip(outs, ins, strict=True))
            )
            for (src, src_ch), (dst, dst_ch) in pairs:
                graph.add_edge(src, dst, src_ch, dst_ch)
        return graph

    def _name(self, op_id: str, i: int) -> str:
        return f"{self.id}.{op_id}__{i}"

    def _feed(self, values: list[Any]) -> dict[str, Any]:
        """The repeated graph's inputs (those of repetition 1) from the operator's inputs."""
        if len(self.input) == 1:
            return {f"{self._name(op, 1)}.{ch}": values[0] for op, ch in self._ports_in}
        return {
            f"{self._name(op, 1)}.{ch}": v
            for (op, ch), v in zip(self._ports_in, values, strict=True)
        }

    def _n_blocks(self) -> int:
        # As in mlr3torch, required block parameters must be set on the block (a trafo
        # transforms values; it does not supply missing ones).
        self.param_set.check_required()
        return int(self._own_params.values["n_blocks"])

    # --- shapes, train ------------------------------------------------------------------------
    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        n = self._n_blocks()
        if n == 0:
            return list(shapes_in)
        if task is None:
            raise ShapeError(
                f"PipeOp '{self.id}' requires a task to compute output shapes (the layers of "
                "its block may size themselves from it); pass task=."
            )
        graph = self._repeated(n)
        feed = self._feed(list(shapes_in))
        shapes: dict[tuple[str, str], Shape] = {}
        for op_id in graph.ids():
            op = graph.pipeops[op_id]
            args: list[Shape] = []
            for ch in op.input:
                edges = graph.in_edges(op_id, ch.name)
                args.extend(shapes[(e.src_id, e.src_channel)] for e in edges)
                if not edges and f"{op_id}.{ch.name}" in feed:
                    args.append(feed[f"{op_id}.{ch.name}"])
            if isinstance(op, PipeOpTorch):
                outs = op.shapes_out(args, task)
            elif isinstance(op, PipeOpNOP):
                outs = args
            else:
                raise ShapeError(
                    f"PipeOp '{self.id}' cannot infer shapes through PipeOp '{op_id}' "
                    f"({type(op).__name__}), which is not a torch operator. Train the graph "
                    "to get the shapes."
                )
            for ch, shape in zip(op.output, outs, strict=True):
                shapes[(op_id, ch.name)] = shape
        return [shapes[(self._name(op, n), ch)] for op, ch in self._ports_out]

    def _train(self, inputs: list[Any]) -> list[Any]:
        n = self._n_blocks()
        if n == 0:
            self.state = {"shapes_out": [md.pointer_shape for md in inputs]}
            return list(inputs)
        result = self._repeated(n).train(self._feed(inputs))
        outputs: list[ModelDescriptor] = [
            result[f"{self._name(op, n)}.{ch}"] for op, ch in self._ports_out
        ]
        self.state = {"shapes_out": [md.pointer_shape for md in outputs]}
        return list(outputs)


pipeops.register("nn_block", PipeOpTorchBlock)
