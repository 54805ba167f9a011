"""Graph: PipeOps connected by edges, trained and predicted in topological order.

``a >> b`` concatenates operators and graphs; a Python list on either side is a
parallel union (mlr3pipelines' ``gunion``), so ``[a, b] >> c`` feeds both into ``c``.
"""

from __future__ import annotations

import builtins
import copy
import graphlib
import os
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pandas as pd

from torchweave.errors import ChannelTypeError, GraphError, InvalidTypeError
from torchweave.params.param_set import ParamSetCollection
from torchweave.pipelines.pipeop import (
    VARARG,
    Channel,
    PipeOp,
    register_composer,
    type_name,
    types_compatible,
)
from torchweave.pipelines.plot import graph_to_dot, graph_to_mermaid, graph_to_svg, plot_graph
from torchweave.utils.text import did_you_mean, quote_list

__all__ = ["Edge", "Graph", "Port", "as_graph", "concat_graphs", "gunion"]


@dataclass(frozen=True)
class Edge:
    """A connection from an output channel to an input channel."""

    src_id: str
    src_channel: str
    dst_id: str
    dst_channel: str

    def __deepcopy__(self, memo: dict[int, Any]) -> Edge:
        return self  # frozen


@dataclass(frozen=True)
class Port:
    """An unconnected channel of a graph: where the graph takes input or gives output.

    Attributes
    ----------
    op_id : str
        The operator the channel belongs to.
    channel : Channel
        The channel (its name and its train and predict types).
    """

    op_id: str
    channel: Channel

    @property
    def name(self) -> str:
        """``"<op id>.<channel>"``, the name :meth:`Graph.train` takes inputs by."""
        return f"{self.op_id}.{self.channel.name}"


class Graph:
    """A directed acyclic graph of PipeOps.

    The structure is read through :attr:`pipeops`, :attr:`edges`, :attr:`input`
    and :attr:`output` (tables, as in mlr3pipelines) or :meth:`edge_records`,
    :meth:`in_edges`, :meth:`input_ports` and :meth:`output_ports` (records). It
    changes only through :meth:`add_pipeop`, :meth:`add_edge` and :meth:`add_graph`,
    which check ids, channels, channel types and acyclicity.

    Examples
    --------
    >>> import torchweave as tw
    >>> graph = tw.po("imputemedian") >> tw.po("scale")
    >>> graph.ids()
    ['imputemedian', 'scale']
    >>> graph.edge_records()
    (Edge(src_id='imputemedian', src_channel='output', dst_id='scale', dst_channel='input'),)
    >>> [port.name for port in graph.input_ports()]
    ['imputemedian.input']
    """

    def __init__(self) -> None:
        self._pipeops: dict[str, PipeOp] = {}
        self._edges: list[Edge] = []
        self._order_cache: tuple[Any, list[str]] | None = None
        # Copy on write (see _share_copy): the graphs that may hold some of this graph's
        # operator objects, which none of them changes while they are shared.
        self._cow_group: weakref.WeakSet[Graph] | None = None
        # Whether operator objects of this graph may be referenced from outside it (handed
        # out, or taken in without a copy); such a graph is copied, never shared.
        self._ops_exposed = False
        # The unconnected output ports, when ``>>`` knows them without a search: keyed by
        # the numbers of operators and edges (a graph only grows, see ids()).
        self._open_outputs: tuple[tuple[int, int], tuple[Port, ...]] | None = None

    # --- copy on write ------------------------------------------------------------------
    # ``>>`` and ``as_graph`` must not let the result share mutable state with an operand.
    # Deep-copying the growing left operand at every ``>>`` made chaining quadratic, so a
    # graph that never handed out its operators is copied by sharing them instead: both
    # graphs join a group, and a graph about to hand out or change its operators first
    # replaces, by clones, those that another live member of its group still holds. An
    # operator object held by two graphs is therefore never changed, and a temporary graph
    # (the ``x >> y`` inside ``x >> y >> z``, or the old value of a rebound name) drops out
    # of the group when it is collected, so its successor keeps the operators uncloned.

    def _share_copy(self) -> Graph:
        """A copy that shares the (unchanged) operator objects until one side changes them."""
        new = Graph()
        new._pipeops = dict(self._pipeops)
        new._edges = list(self._edges)
        new._order_cache = self._order_cache
        new._open_outputs = self._open_outputs
        if self._cow_group is None:
            self._cow_group = weakref.WeakSet([self])
        self._cow_group.add(new)
        new._cow_group = self._cow_group
        return new

    def _snapshot(self) -> Graph:
        """A graph equal to this one that shares nothing observable with it."""
        return self.clone() if self._ops_exposed else self._share_copy()

    def _own_ops(self, expose: bool = True) -> None:
        """Clone the operators another live graph of the group holds, then leave the group.

        Called before the operators are handed out or changed; ``expose`` marks that
        they may be referenced from outside from now on.
        """
        group = self._cow_group
        if group is not None:
            held = {id(op) for g in list(group) if g is not self for op in g._pipeops.values()}
            for op_id, op in list(self._pipeops.items()):
                if id(op) in held:
                    self._pipeops[op_id] = op.clone()
            group.discard(self)
            self._cow_group = None
        if expose:
            self._ops_exposed = True

    def _join_group(self, other: Graph) -> None:
        """Put ``self`` into ``other``'s copy-on-write group (``self`` now holds its operators)."""
        theirs = other._cow_group
        if theirs is None:
            return
        mine = self._cow_group
        if mine is None:
            theirs.add(self)
            self._cow_group = theirs
            return
        if mine is theirs:
            return
        small, large = (mine, theirs) if len(mine) < len(theirs) else (theirs, mine)
        for member in list(small):
            member._cow_group = large
            large.add(member)

    def _absorb(self, other: Graph) -> Graph:
        """Add the operators and edges of ``other``, a graph nobody else holds (ids new)."""
        self._check_new_ids(other._pipeops)
        self._pipeops.update(other._pipeops)
        self._edges.extend(other._edges)
        self._join_group(other)
        self._ops_exposed = self._ops_exposed or other._ops_exposed
        return self

    def __getstate__(self) -> dict[str, Any]:
        # Pickled together, two graphs of a group would come back sharing operator
        # objects outside any group: each takes its own copies first.
        self._own_ops(expose=False)
        state = dict(self.__dict__)
        state["_cow_group"] = None
        state["_open_outputs"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_order_cache", None)
        self.__dict__.setdefault("_cow_group", None)
        self.__dict__.setdefault("_ops_exposed", False)
        self.__dict__.setdefault("_open_outputs", None)

    # --- building -----------------------------------------------------------------------
    def add_pipeop(self, op: PipeOp | Graph, clone: bool = True) -> Graph:
        """Add an operator (a Graph is added with :meth:`add_graph`).

        Parameters
        ----------
        op : PipeOp or Graph
            What to add.
        clone : bool, default True
            Add a deep copy, so the caller's object stays independent of the graph.

        Returns
        -------
        Graph
            ``self``, so calls chain.

        Raises
        ------
        GraphError
            If the id is taken already.
        InvalidTypeError
            If ``op`` is neither a PipeOp nor a Graph.
        """
        if isinstance(op, Graph):
            return self.add_graph(op, clone=clone)
        if not isinstance(op, PipeOp):
            raise InvalidTypeError(
                f"add_pipeop takes a PipeOp or a Graph. Got {type(op).__name__} instead."
            )
        self._check_new_ids([op.id])
        self._pipeops[op.id] = op.clone() if clone else op
        if not clone:
            self._ops_exposed = True  # the caller holds the operator
        return self

    def add_graph(self, other: Graph, clone: bool = True, share: bool = False) -> Graph:
        """Add every operator and edge of another graph (mlr3pipelines' ``gunion``).

        The addition is all or nothing: when a check fails, ``self`` is unchanged.

        Parameters
        ----------
        other : Graph
            The graph to add.
        clone : bool, default True
            Add deep copies of ``other``'s operators.
        share : bool, default False
            Whether the graphs may share operators. With False, every id of ``other``
            must be new. With True, an id held by both graphs must name the same
            object, which is kept once, and an edge held by both is kept once (two
            branches of one network, each grown from the same layers); then every
            edge ``other`` adds is checked as :meth:`add_edge` checks it (no cycle),
            and must not feed an input channel that ``self`` connects already.
            (Edges between disjoint graphs were checked when they were added to
            ``other`` and cannot clash.)

        Returns
        -------
        Graph
            ``self``.

        Raises
        ------
        GraphError
            If an id is taken (by a different object, with ``share=True``), an edge
            feeds an input channel that is connected already, or the union would
            contain a cycle.
        InvalidTypeError
            If ``other`` is not a Graph.
        """
        if not isinstance(other, Graph):
            raise InvalidTypeError(
                f"add_graph takes a Graph. Got {type(other).__name__} instead; use "
                "add_pipeop for a PipeOp."
            )
        if other is self:
            raise GraphError("A graph cannot be added to itself; add a clone of it.")
        if clone:
            source = other.clone()
        else:
            # Both graphs hold the operators from now on, outside the copy-on-write scheme.
            other._own_ops()
            self._ops_exposed = True
            source = other
        new_ops = dict(source._pipeops)
        if share:
            shared = [k for k in new_ops if k in self._pipeops]
            different = [k for k in shared if self._pipeops[k] is not new_ops[k]]
            if different:
                raise GraphError(
                    f"Both graphs have PipeOps with ID(s) {quote_list(sorted(different))} but "
                    "they are not identical."
                )
            for k in shared:
                del new_ops[k]
        self._check_new_ids(new_ops)
        known = set(self._edges)
        new_edges = [e for e in source._edges if e not in known]
        if share:
            connected = {(e.dst_id, e.dst_channel) for e in self._edges}
            differing = sorted(
                {e.dst_id for e in new_edges if (e.dst_id, e.dst_channel) in connected}
            )
            if differing:
                raise GraphError(
                    f"PipeOp(s) {quote_list(differing)} have differing incoming edges in the "
                    "two graphs."
                )
        if not share:
            # Disjoint operators: each edge was checked when it was added to ``other``,
            # and none can clash with an edge of ``self`` or close a cycle through it.
            self._pipeops.update(new_ops)
            self._edges.extend(new_edges)
            return self
        trial = self.clone(deep=False)
        trial._pipeops.update(new_ops)
        for e in new_edges:
            trial.add_edge(e.src_id, e.dst_id, e.src_channel, e.dst_channel)
        self._pipeops.update(new_ops)
        self._edges = trial._edges
        return self

    def _check_new_ids(self, ids: Iterable[str]) -> None:
        taken = [i for i in ids if i in self._pipeops]
        if taken:
            first = taken[0]
            raise GraphError(
                f"The graph already has a PipeOp with id {quote_list(taken)}. Give the new one "
                f'another id: nn("{first}_2") or po(..., id="{first}_2").'
            )

    def _op(self, op_id: str) -> PipeOp:
        if op_id not in self._pipeops:
            raise GraphError(
                f"The graph has no PipeOp '{op_id}'.{did_you_mean(op_id, self._pipeops)}"
            )
        return self._pipeops[op_id]

    @staticmethod
    def _pick_channel(op: PipeOp, channels: list[Channel], name: str | None, what: str) -> Channel:
        if name is None:
            if len(channels) != 1:
                raise GraphError(
                    f"PipeOp '{op.id}' has {len(channels)} {what} channels "
                    f"({quote_list(ch.name for ch in channels)}); name the one to connect."
                )
            return channels[0]
        for ch in channels:
            if ch.name == name:
                return ch
        raise GraphError(
            f"PipeOp '{op.id}' has no {what} channel '{name}'."
            f"{did_you_mean(name, [ch.name for ch in channels])}"
        )

    def add_edge(
        self,
        src_id: str,
        dst_id: str,
        src_channel: str | None = None,
        dst_channel: str | None = None,
    ) -> Graph:
        """Connect an output channel of ``src_id`` to an input channel of ``dst_id``.

        A channel may be omitted when the operator has only one. The channel types
        are checked now, and a mismatch raises :class:`ChannelTypeError` naming both
        operators, both channels and both types.
        """
        src, dst = self._op(src_id), self._op(dst_id)
        out_ch = self._pick_channel(src, src.output, src_channel, "output")
        in_ch = self._pick_channel(dst, dst.input, dst_channel, "input")
        if in_ch.name != VARARG and any(
            e.dst_id == dst_id and e.dst_channel == in_ch.name for e in self._edges
        ):
            raise GraphError(
                f"Input channel '{in_ch.name}' of PipeOp '{dst_id}' is connected already."
            )
        _check_channel_types(Port(src_id, out_ch), Port(dst_id, in_ch))
        if self.reaches(dst_id, src_id):
            raise GraphError(
                f"Connecting '{src_id}' to '{dst_id}' would make the graph contain a cycle."
            )
        self._edges.append(Edge(src_id, out_ch.name, dst_id, in_ch.name))
        return self

    def reaches(self, start: str, goal: str) -> bool:
        """Whether ``goal`` can be reached from ``start`` along the edges."""
        successors: dict[str, list[str]] = {}
        for e in self._edges:
            successors.setdefault(e.src_id, []).append(e.dst_id)
        stack, seen = [start], set()
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(successors.get(node, ()))
        return False

    # --- structure ----------------------------------------------------------------------
    @property
    def pipeops(self) -> Mapping[str, PipeOp]:
        """The operators by id, in insertion order (a read-only view; see :meth:`add_pipeop`)."""
        self._own_ops()
        return MappingProxyType(self._pipeops)

    @property
    def edges(self) -> pd.DataFrame:
        """The edges as a table: ``src_id``, ``src_channel``, ``dst_id``, ``dst_channel``.

        A new table on every access; changing it does not change the graph.
        """
        return pd.DataFrame(
            [(e.src_id, e.src_channel, e.dst_id, e.dst_channel) for e in self._edges],
            columns=["src_id", "src_channel", "dst_id", "dst_channel"],
        )

    def edge_records(self) -> tuple[Edge, ...]:
        """The edges as immutable :class:`Edge` records, in the order they were added."""
        return tuple(self._edges)

    def in_edges(self, op_id: str, channel: str | None = None) -> tuple[Edge, ...]:
        """The edges into operator ``op_id`` (into its input ``channel`` when given).

        Raises
        ------
        GraphError
            If the graph has no operator ``op_id``.
        """
        self._op(op_id)
        return tuple(
            e
            for e in self._edges
            if e.dst_id == op_id and (channel is None or e.dst_channel == channel)
        )

    def input_ports(self) -> tuple[Port, ...]:
        """The unconnected input channels, in topological order of their operators."""
        connected = {(e.dst_id, e.dst_channel) for e in self._edges}
        return tuple(
            Port(op_id, ch)
            for op_id in self.ids()
            for ch in self._pipeops[op_id].input
            if (op_id, ch.name) not in connected
        )

    def output_ports(self) -> tuple[Port, ...]:
        """The unconnected output channels, in topological order of their operators."""
        connected = {(e.src_id, e.src_channel) for e in self._edges}
        return tuple(
            Port(op_id, ch)
            for op_id in self.ids()
            for ch in self._pipeops[op_id].output
            if (op_id, ch.name) not in connected
        )

    @staticmethod
    def _ports_frame(ports: Iterable[Port]) -> pd.DataFrame:
        return pd.DataFrame(
            [
                (
                    p.name,
                    p.op_id,
                    p.channel.name,
                    type_name(p.channel.train),
                    type_name(p.channel.predict),
                )
                for p in ports
            ],
            columns=["name", "op_id", "channel", "train", "predict"],
        )

    @property
    def input(self) -> pd.DataFrame:
        """The unconnected input channels as a table (``name`` is ``"<op id>.<channel>"``)."""
        return self._ports_frame(self.input_ports())

    @property
    def output(self) -> pd.DataFrame:
        """The unconnected output channels as a table (``name`` is ``"<op id>.<channel>"``)."""
        return self._ports_frame(self.output_ports())

    def ids(self, sorted: bool = True) -> list[str]:
        """Operator ids, in topological order (ties in insertion order) by default."""
        if not sorted:
            return list(self._pipeops)
        # Graphs only grow in place (operators and edges are added, never changed), so
        # the ids and the number of edges identify the order.
        key = (tuple(self._pipeops), len(self._edges))
        cache = getattr(self, "_order_cache", None)
        if cache is not None and cache[0] == key:
            return list(cache[1])
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for op_id in self._pipeops:
            sorter.add(op_id)
        for e in self._edges:
            sorter.add(e.dst_id, e.src_id)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            raise GraphError(f"The graph would contain a cycle: {exc.args[1]}.") from None
        rank = {op_id: i for i, op_id in enumerate(self._pipeops)}
        order: list[str] = []
        while sorter.is_active():
            ready = builtins.sorted(sorter.get_ready(), key=rank.__getitem__)
            order.extend(ready)
            sorter.done(*ready)
        self._order_cache = (key, order)
        return list(order)

    # --- running ------------------------------------------------------------------------
    def train(self, input: Any) -> dict[str, Any]:
        """Train every operator in topological order.

        Parameters
        ----------
        input : Any or dict
            One object for every input channel, or a dict from input channel names
            (``"<op id>.<channel>"``) to objects.

        Returns
        -------
        dict
            The values of the unconnected output channels, by name.
        """
        return self._execute(input, "train")

    def predict(self, input: Any) -> dict[str, Any]:
        """Predict with every operator in topological order (see :meth:`train`)."""
        return self._execute(input, "predict")

    def _execute(self, input: Any, phase: str) -> dict[str, Any]:
        self._own_ops()  # training changes the operators; outputs may reference them
        ports = self.input_ports()
        if not ports:
            raise GraphError("The graph has no unconnected input channel to feed.")
        names = [p.name for p in ports]
        if isinstance(input, Mapping) and set(input) <= set(names) and input:
            missing = [n for n in names if n not in input]
            if missing:
                raise GraphError(
                    f"No input given for the graph input channel(s) {quote_list(missing)}."
                )
            feed = {(p.op_id, p.channel.name): input[p.name] for p in ports}
        else:
            feed = {(p.op_id, p.channel.name): input for p in ports}
        incoming: dict[str, list[Edge]] = {op_id: [] for op_id in self._pipeops}
        for e in self._edges:
            incoming[e.dst_id].append(e)
        results: dict[tuple[str, str], Any] = {}
        for op_id in self.ids():
            op = self._pipeops[op_id]
            args: list[Any] = []
            for ch in op.input:
                edges = [e for e in incoming[op_id] if e.dst_channel == ch.name]
                if edges:
                    args.extend(results[(e.src_id, e.src_channel)] for e in edges)
                elif (op_id, ch.name) in feed:
                    args.append(feed[(op_id, ch.name)])
            outputs = op.train(args) if phase == "train" else op.predict(args)
            for ch, value in zip(op.output, outputs, strict=True):
                results[(op_id, ch.name)] = value
        return {p.name: results[(p.op_id, p.channel.name)] for p in self.output_ports()}

    # --- state and parameters -----------------------------------------------------------
    @property
    def param_set(self) -> ParamSetCollection:
        """Every operator's parameters as ``"<op id>.<param>"``, read and written through."""
        self._own_ops()
        return ParamSetCollection(
            lambda: {op_id: op.param_set for op_id, op in self._pipeops.items()},
            owner="graph",
        )

    @property
    def state(self) -> dict[str, Any]:
        """Each operator's state, by id."""
        self._own_ops()
        return {op_id: op.state for op_id, op in self._pipeops.items()}

    @state.setter
    def state(self, states: Mapping[str, Any]) -> None:
        self._own_ops()
        for op_id, op in self._pipeops.items():
            op.state = states.get(op_id)

    @property
    def is_trained(self) -> bool:
        """Whether every operator is trained."""
        return bool(self._pipeops) and all(op.is_trained for op in self._pipeops.values())

    # --- copying, composition, printing ------------------------------------------------
    def __deepcopy__(self, memo: dict[int, Any]) -> Graph:
        self._own_ops(expose=False)  # as in __getstate__: copies share one memo
        new = Graph()
        memo[id(self)] = new
        new._pipeops = {k: copy.deepcopy(op, memo) for k, op in self._pipeops.items()}
        new._edges = list(self._edges)  # edges are frozen
        return new

    def clone(self, deep: bool = True) -> Graph:
        """An independent copy (operators, edges and states)."""
        if deep:
            return copy.deepcopy(self)
        self._own_ops()  # the two graphs share their operators, on purpose
        new = Graph()
        new._ops_exposed = True
        new._pipeops = dict(self._pipeops)
        new._edges = list(self._edges)
        return new

    def __rshift__(self, other: Any) -> Graph:
        return concat_graphs(self, other)

    def __rrshift__(self, other: Any) -> Graph:
        return concat_graphs(other, self)

    def to_dot(self) -> str:
        """The graph in Graphviz's dot language."""
        return graph_to_dot(self)

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart."""
        return graph_to_mermaid(self)

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """Draw the graph; to a PNG or SVG file when ``path`` is given, else inline.

        Uses graphviz's ``dot`` binary when present, otherwise networkx and matplotlib
        (the ``plot`` extra).
        """
        return plot_graph(self, path)

    def _repr_svg_(self) -> str | None:
        return graph_to_svg(self)

    def __repr__(self) -> str:
        if not self._pipeops:
            return "<Graph: empty>"
        rows = []
        for op_id in self.ids():
            op = self._pipeops[op_id]
            succ = sorted({e.dst_id for e in self._edges if e.src_id == op_id})
            pred = sorted({e.src_id for e in self._edges if e.dst_id == op_id})
            rows.append(
                {
                    "id": op_id,
                    "class": type(op).__name__,
                    "state": "trained" if op.is_trained else "-",
                    "successors": ",".join(succ) or "-",
                    "predecessors": ",".join(pred) or "-",
                }
            )
        table = pd.DataFrame(rows).to_string(index=False)
        return f"<Graph with {len(self._pipeops)} PipeOps>\n{table}"


def as_graph(x: Any, clone: bool = True) -> Graph:
    """Convert a PipeOp, a Graph or a list (parallel union) to a Graph.

    Parameters
    ----------
    x : PipeOp, Graph, or list of them
        What to convert.
    clone : bool, default True
        Copy, so the graph is independent of ``x``.
    """
    if isinstance(x, Graph):
        return x._snapshot() if clone else x
    if isinstance(x, PipeOp):
        return Graph().add_pipeop(x, clone=clone)
    if isinstance(x, list | tuple):
        return gunion(list(x), clone=clone)
    raise InvalidTypeError(
        f"Cannot make a Graph from an object of type {type(x).__name__}; use a PipeOp, "
        "a Graph or a list of them."
    )


def gunion(graphs: list[Any], clone: bool = True) -> Graph:
    """Place graphs side by side (a disjoint union), without connecting them.

    Raises
    ------
    GraphError
        If two members share an operator id.
    """
    out = Graph()
    for member in graphs:
        part = as_graph(member, clone=clone)
        if clone:
            out._absorb(part)  # ``part`` is a new graph only ``out`` holds
        else:
            out.add_graph(part, clone=False)
    return out


def concat_graphs(left: Any, right: Any) -> Graph:
    """``left >> right``: connect the outputs of ``left`` to the inputs of ``right``.

    Outputs and inputs are paired in order when their numbers match; one output is
    fanned out to every input; several outputs all go into a single vararg input.
    """
    # Both sides are new graphs that only this call holds (see Graph._share_copy), so
    # ``g1`` becomes the result, and ``g2`` is merged into it without another copy.
    g1, g2 = as_graph(left), as_graph(right)
    outs, ins = _open_ports(g1, "output"), _open_ports(g2, "input")
    if not outs:
        raise GraphError("The left side of >> has no unconnected output channel.")
    if not ins:
        raise GraphError("The right side of >> has no unconnected input channel.")
    g2_outs = _open_ports(g2, "output")
    graph = g1._absorb(g2)
    if len(ins) == 1 and ins[0].channel.name == VARARG:
        pairs = [(o, ins[0]) for o in outs]
    elif len(outs) == len(ins):
        pairs = list(zip(outs, ins, strict=True))
    elif len(outs) == 1:
        pairs = [(outs[0], i) for i in ins]
    else:
        raise GraphError(
            f"Cannot connect {len(outs)} outputs ({quote_list(o.name for o in outs)}) to "
            f"{len(ins)} inputs ({quote_list(i.name for i in ins)}) with >>; their numbers "
            "must match, or one side must have a single channel."
        )
    for out, inp in pairs:
        _check_channel_types(out, inp)
    # The two sides are disjoint and every input is unconnected: no edge can clash with
    # another or close a cycle, so the edges are added without add_edge's search.
    graph._edges.extend(Edge(o.op_id, o.channel.name, i.op_id, i.channel.name) for o, i in pairs)
    # Remember the result's open outputs for the next ``>>`` of a chain: every output of
    # ``g1`` is connected now and no edge leaves ``g2``, so they are ``g2``'s (when there
    # is one, whose place in the topological order does not matter).
    if len(g2_outs) == 1:
        graph._open_outputs = ((len(graph._pipeops), len(graph._edges)), g2_outs)
    return graph


def _open_ports(graph: Graph, side: str) -> tuple[Port, ...]:
    """``graph.output_ports()`` or ``graph.input_ports()``, without sorting a single port.

    The topological order only matters when there are several ports, and sorting at
    every ``>>`` of a chain would cost time linear in its length.
    """
    ops = graph._pipeops
    if side == "output":
        hint = graph._open_outputs
        if hint is not None and hint[0] == (len(ops), len(graph._edges)):
            return hint[1]
        connected = {(e.src_id, e.src_channel) for e in graph._edges}
        candidates = [
            Port(op_id, ch)
            for op_id, op in ops.items()
            for ch in op.output
            if (op_id, ch.name) not in connected
        ]
    else:
        connected = {(e.dst_id, e.dst_channel) for e in graph._edges}
        candidates = [
            Port(op_id, ch)
            for op_id, op in ops.items()
            for ch in op.input
            if (op_id, ch.name) not in connected
        ]
    if len(candidates) <= 1:
        return tuple(candidates)
    return graph.output_ports() if side == "output" else graph.input_ports()


def _check_channel_types(out: Port, inp: Port) -> None:
    for phase in ("train", "predict"):
        produced, accepted = getattr(out.channel, phase), getattr(inp.channel, phase)
        if not types_compatible(produced, accepted):
            raise ChannelTypeError(
                f"Cannot connect output '{out.channel.name}' of PipeOp '{out.op_id}' to input "
                f"'{inp.channel.name}' of PipeOp '{inp.op_id}': at {phase} time "
                f"'{out.op_id}' gives {type_name(produced)} but '{inp.op_id}' takes "
                f"{type_name(accepted)}."
            )


register_composer(concat_graphs)
