"""Drawing graphs: dot and Mermaid text, PNG and SVG pictures (mlr3pipelines' ``plot``).

``graph_to_dot`` and ``graph_to_mermaid`` need nothing beyond the standard library.
``plot_graph`` renders with graphviz's ``dot`` program when it is on the ``PATH``, and
otherwise with networkx and matplotlib (the ``plot`` extra), imported only when used.
Like mlr3pipelines, the pictures show the graph's unconnected input and output channels
as the pseudo-nodes ``<INPUT>`` and ``<OUTPUT>``.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from torchweave.errors import InvalidParameterError, MissingDependencyError, PlotError
from torchweave.pipelines.pipeop import PipeOp

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DrawableGraph",
    "MissingDependencyError",
    "PlotError",
    "graph_to_dot",
    "graph_to_mermaid",
    "graph_to_svg",
    "plot_graph",
]

_INPUT = "<INPUT>"
_OUTPUT = "<OUTPUT>"
_FORMATS = (".png", ".svg")
_DOT_TIMEOUT_S = 60


class DrawableGraph(Protocol):
    """What drawing needs of a graph (a :class:`~torchweave.pipelines.graph.Graph` has it).

    The drawing functions read the graph's structure tables only, so this module does
    not depend on the graph module (which offers them as methods).
    """

    @property
    def pipeops(self) -> Mapping[str, PipeOp]:
        """The operators by id."""
        ...

    @property
    def edges(self) -> pd.DataFrame:
        """The edges (``src_id``, ``src_channel``, ``dst_id``, ``dst_channel``)."""
        ...

    @property
    def input(self) -> pd.DataFrame:
        """The unconnected input channels (``op_id``, ``channel``, ...)."""
        ...

    @property
    def output(self) -> pd.DataFrame:
        """The unconnected output channels (``op_id``, ``channel``, ...)."""
        ...

    def ids(self, sorted: bool = True) -> list[str]:
        """The operator ids, in topological order."""
        ...


# --- the drawing model: nodes and labelled edges, shared by every output format ------------
@dataclass(frozen=True)
class _Node:
    key: str  # unique among the nodes of one drawing
    text: str  # the operator id, or "<INPUT>" / "<OUTPUT>"
    cls: str | None  # the operator's class name; None for the pseudo-nodes
    note: str | None = None  # the operator's state summary (a layer's output shape)


@dataclass(frozen=True)
class _DrawEdge:
    src: str
    dst: str
    label: str | None


def _free_key(base: str, taken: set[str]) -> str:
    key, i = base, 2
    while key in taken:
        key, i = f"{base}_{i}", i + 1
    return key


def _model(graph: DrawableGraph) -> tuple[list[_Node], list[_DrawEdge]]:
    """The nodes (topological order, pseudo-nodes first and last) and labelled edges."""
    ids = graph.ids()
    order = {op_id: i for i, op_id in enumerate(ids)}
    ops = graph.pipeops
    taken = set(ids)
    in_key, out_key = _free_key(_INPUT, taken), _free_key(_OUTPUT, taken)
    inputs, outputs = graph.input, graph.output

    def n_in(op_id: str) -> int:
        return len(ops[op_id].input)

    def n_out(op_id: str) -> int:
        return len(ops[op_id].output)

    def channel_index(op_id: str, channel: str, side: str) -> int:
        names = [ch.name for ch in getattr(ops[op_id], side)]
        return names.index(channel) if channel in names else len(names)

    edges: list[_DrawEdge] = [
        _DrawEdge(in_key, op_id, channel if n_in(op_id) > 1 else None)
        for op_id, channel in zip(inputs["op_id"], inputs["channel"], strict=True)
    ]
    frame = graph.edges
    rows: list[tuple[str, str, str, str]] = sorted(
        zip(
            frame["src_id"].astype(str),
            frame["src_channel"].astype(str),
            frame["dst_id"].astype(str),
            frame["dst_channel"].astype(str),
            strict=True,
        ),
        key=lambda e: (
            order[e[0]],
            channel_index(e[0], e[1], "output"),
            order[e[2]],
            channel_index(e[2], e[3], "input"),
        ),
    )
    for src_id, src_channel, dst_id, dst_channel in rows:
        labelled = n_out(src_id) > 1 or n_in(dst_id) > 1
        label = f"{src_channel} → {dst_channel}" if labelled else None
        edges.append(_DrawEdge(src_id, dst_id, label))
    edges.extend(
        _DrawEdge(op_id, out_key, channel if n_out(op_id) > 1 else None)
        for op_id, channel in zip(outputs["op_id"], outputs["channel"], strict=True)
    )
    nodes = [
        _Node(op_id, op_id, type(ops[op_id]).__name__, ops[op_id].state_summary()) for op_id in ids
    ]
    if len(inputs):
        nodes.insert(0, _Node(in_key, _INPUT, None))
    if len(outputs):
        nodes.append(_Node(out_key, _OUTPUT, None))
    return nodes, edges


# --- text formats -------------------------------------------------------------------------
def _dot_quote(text: str) -> str:
    # An injective escaping: dot keeps "\\" and "\n" in names and reads them in labels.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


def graph_to_dot(graph: DrawableGraph) -> str:
    r"""The graph in Graphviz's dot language.

    One box per operator (labelled with its id and class), the pseudo-nodes
    ``<INPUT>`` and ``<OUTPUT>`` for the unconnected channels, and one arrow per
    edge, labelled ``"<output channel> → <input channel>"`` where an operator has
    more than one channel on that side. The text is deterministic.

    Parameters
    ----------
    graph : Graph
        The graph to describe.

    Returns
    -------
    str
        A ``digraph`` that ``dot -Tpng`` renders.

    Examples
    --------
    >>> import torchweave as tw
    >>> print(tw.as_graph(tw.po("nop")).to_dot(), end="")
    digraph G {
      rankdir=TB;
      node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];
      edge [fontname="Helvetica", fontsize=9];
      "<INPUT>" [label="<INPUT>", shape=plaintext];
      "nop" [label="nop\n(PipeOpNOP)"];
      "<OUTPUT>" [label="<OUTPUT>", shape=plaintext];
      "<INPUT>" -> "nop";
      "nop" -> "<OUTPUT>";
    }
    """
    nodes, edges = _model(graph)
    lines = [
        "digraph G {",
        "  rankdir=TB;",
        '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in nodes:
        if node.cls is None:
            label = _dot_quote(node.text)
            lines.append(f"  {_dot_quote(node.key)} [label={label}, shape=plaintext];")
        else:
            label = f"{node.text}\n({node.cls})" + (f"\n{node.note}" if node.note else "")
            lines.append(f"  {_dot_quote(node.key)} [label={_dot_quote(label)}];")
    for edge in edges:
        attrs = f" [label={_dot_quote(edge.label)}]" if edge.label else ""
        lines.append(f"  {_dot_quote(edge.src)} -> {_dot_quote(edge.dst)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    # Mermaid's entity codes: "#quot;" and "#<decimal>;" survive its parser.
    out = text.replace("#", "#35;").replace('"', "#quot;")
    out = out.replace("<", "#60;").replace(">", "#62;").replace("|", "#124;")
    return re.sub(r"\r\n|\r|\n", " ", out)


def _mermaid_ids(nodes: Iterable[_Node]) -> dict[str, str]:
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for node in nodes:
        if node.cls is None:
            base = "INPUT" if node.text == _INPUT else "OUTPUT"
        else:
            # The prefix keeps ids away from Mermaid keywords ("end") and leading digits.
            base = "op_" + re.sub(r"[^A-Za-z0-9_]", "_", node.key)
        ids[node.key] = _free_key(base, taken)
        taken.add(ids[node.key])
    return ids


def graph_to_mermaid(graph: DrawableGraph) -> str:
    """The graph as a Mermaid ``flowchart TD`` (for Markdown, GitHub and docs).

    Node ids are the operator ids reduced to letters, digits and ``_`` (prefixed
    with ``op_``); labels are quoted, so any operator id shows as it is.

    Parameters
    ----------
    graph : Graph
        The graph to describe.

    Returns
    -------
    str
        The flowchart text.

    Examples
    --------
    >>> import torchweave as tw
    >>> print(tw.as_graph(tw.po("nop", id="my.nop")).to_mermaid(), end="")
    flowchart TD
      INPUT(["#60;INPUT#62;"])
      op_my_nop["my.nop<br/>(PipeOpNOP)"]
      OUTPUT(["#60;OUTPUT#62;"])
      INPUT --> op_my_nop
      op_my_nop --> OUTPUT
    """
    nodes, edges = _model(graph)
    ids = _mermaid_ids(nodes)
    lines = ["flowchart TD"]
    for node in nodes:
        if node.cls is None:
            lines.append(f'  {ids[node.key]}(["{_mermaid_text(node.text)}"])')
        else:
            label = f"{_mermaid_text(node.text)}<br/>({node.cls})"
            if node.note:
                label += f"<br/>{_mermaid_text(node.note)}"
            lines.append(f'  {ids[node.key]}["{label}"]')
    for edge in edges:
        arrow = f'-->|"{_mermaid_text(edge.label)}"|' if edge.label else "-->"
        lines.append(f"  {ids[edge.src]} {arrow} {ids[edge.dst]}")
    return "\n".join(lines) + "\n"


# --- rendering ----------------------------------------------------------------------------
def _format_of(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise InvalidParameterError(
            "The 'path' parameter of Graph.plot must end in '.png' or '.svg'. "
            f"Got {suffix or 'no suffix'!r} ({os.fspath(path)!r}) instead."
        )
    return suffix[1:]


def _render_dot(graph: DrawableGraph, dot: str, fmt: str) -> bytes:
    try:
        result = subprocess.run(
            [dot, f"-T{fmt}"],
            input=graph_to_dot(graph).encode("utf-8"),
            capture_output=True,
            timeout=_DOT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PlotError(f"Graphviz's dot ({dot}) could not be run: {exc}") from exc
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise PlotError(
            f"Graphviz's dot ({dot}) failed with exit status {result.returncode}: {message}"
        )
    return bytes(result.stdout)


def _import_plotting() -> tuple[Any, Any]:
    try:
        import matplotlib.figure
        import networkx
    except ImportError as exc:
        raise MissingDependencyError(
            "Plotting a graph needs graphviz's 'dot' program on the PATH, or the Python "
            f"packages matplotlib and networkx ({exc}). Install them with "
            "`pip install torchweave[plot]`."
        ) from exc
    return matplotlib.figure, networkx


_COL_IN = 2.4  # horizontal room of an operator box, in inches
_VIRTUAL_IN = 0.6  # horizontal room of a bend point of an edge that skips layers
_BOX_W_IN = 2.0
_ROW_IN = 1.3
_MARGIN_IN = 0.3
_WRAP = 24
_MAX_ID_LINES = 3


@dataclass
class _Layout:
    width: float
    height: float
    centre: dict[str, tuple[float, float]]  # node and bend-point positions, in inches
    chains: list[list[str]]  # per edge: source, bend points, destination


def _layout(nodes: list[_Node], edges: list[_DrawEdge], nx: Any) -> _Layout:
    """A layered (Sugiyama-style) layout, top to bottom.

    A node's layer is the longest path to it from a source. An edge that skips
    layers bends through one point per skipped layer, so it never crosses a box.
    Within a layer, nodes follow the mean position of their parents.
    """
    dag = nx.DiGraph()
    dag.add_nodes_from(node.key for node in nodes)
    dag.add_edges_from((e.src, e.dst) for e in edges)
    layer_of = {k: i for i, gen in enumerate(nx.topological_generations(dag)) for k in gen}
    layers: list[list[str]] = [[] for _ in range(max(layer_of.values(), default=0) + 1)]
    for node in nodes:
        layers[layer_of[node.key]].append(node.key)
    taken = set(layer_of)
    bends: set[str] = set()
    parents: dict[str, list[str]] = {k: [] for k in layer_of}
    chains: list[list[str]] = []
    for idx, edge in enumerate(edges):
        chain = [edge.src]
        for level in range(layer_of[edge.src] + 1, layer_of[edge.dst]):
            bend = _free_key(f"<bend {idx}.{level}>", taken)
            taken.add(bend)
            bends.add(bend)
            parents[bend] = []
            layers[level].append(bend)
            chain.append(bend)
        chain.append(edge.dst)
        chains.append(chain)
        for a, b in itertools.pairwise(chain):
            parents[b].append(a)
    rooms = [[_VIRTUAL_IN if k in bends else _COL_IN for k in layer] for layer in layers]
    width = max(max(sum(r) for r in rooms) + 2 * _MARGIN_IN, _COL_IN)
    height = len(layers) * _ROW_IN + 2 * _MARGIN_IN
    centre: dict[str, tuple[float, float]] = {}
    for row, layer in enumerate(layers):

        def barycentre(key: str) -> float:
            xs = [centre[p][0] for p in parents[key] if p in centre]
            return sum(xs) / len(xs) if xs else width / 2

        layer.sort(key=barycentre)  # stable: ties keep the topological order
        room = [_VIRTUAL_IN if k in bends else _COL_IN for k in layer]
        x = (width - sum(room)) / 2
        y = height - _MARGIN_IN - (row + 0.5) * _ROW_IN
        for key, r in zip(layer, room, strict=True):
            centre[key] = (x + r / 2, y)
            x += r
    return _Layout(width, height, centre, chains)


def _wrap_id(text: str) -> list[str]:
    """An operator id in lines of at most ``_WRAP`` characters where it can be.

    Lines break after ``.``, ``_``, ``-``, ``/`` or a space only, never inside a word:
    a part longer than a line gets a line of its own, and the font shrinks to fit it.
    """
    parts = [p for p in re.split(r"(?<=[._\-/ ])", text) if p]
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(part.rstrip()) <= _WRAP:
            lines[-1] += part
        else:
            lines.append(part)
    lines = [line.rstrip(" ") for line in lines] or [text]
    if len(lines) > _MAX_ID_LINES:
        lines = [*lines[: _MAX_ID_LINES - 1], lines[_MAX_ID_LINES - 1] + "…"]
    return lines


def _label_lines(node: _Node) -> list[str]:
    if node.cls is None:
        return [node.text]
    lines = [*_wrap_id(node.text), f"({node.cls})"]
    return [*lines, node.note] if node.note else lines


def _figure(graph: DrawableGraph) -> Any:
    figure_mod, nx = _import_plotting()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    nodes, edges = _model(graph)
    layout = _layout(nodes, edges, nx)
    fig = figure_mod.Figure(figsize=(layout.width, layout.height))
    renderer = FigureCanvasAgg(fig).get_renderer()
    # One data unit is one inch in both directions, so arcs and offsets are not distorted.
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0.0, layout.width)
    ax.set_ylim(0.0, layout.height)
    ax.set_axis_off()
    half_h: dict[str, float] = dict.fromkeys(layout.centre, 0.0)
    for node in nodes:
        (x, y), lines, pseudo = layout.centre[node.key], _label_lines(node), node.cls is None
        text = ax.text(
            x, y, "\n".join(lines), ha="center", va="center", fontsize=9,
            color="0.35" if pseudo else "black", parse_math=False, zorder=3,
        )  # fmt: skip
        # Shrink labels that the wrapping left too wide for the box (wide glyphs).
        while text.get_fontsize() > 5 and (
            text.get_window_extent(renderer).width > (_BOX_W_IN - 0.15) * fig.dpi
        ):
            text.set_fontsize(text.get_fontsize() - 0.5)
        h = min(len(lines) * text.get_fontsize() * 1.3 / 72 + 0.16, _ROW_IN * 0.8)
        half_h[node.key] = h / 2
        if not pseudo:
            box = FancyBboxPatch(
                (x - _BOX_W_IN / 2, y - h / 2), _BOX_W_IN, h,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor="#eef3fb", edgecolor="#4a6fa5", linewidth=1.0, zorder=2,
            )  # fmt: skip
            ax.add_patch(box)
    siblings: dict[tuple[str, str], int] = {}
    for edge in edges:
        siblings[(edge.src, edge.dst)] = siblings.get((edge.src, edge.dst), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    for edge, chain in zip(edges, layout.chains, strict=True):
        (x1, y1), (x2, y2) = layout.centre[edge.src], layout.centre[edge.dst]
        points = [(x1, y1 - half_h[edge.src])]
        points += [layout.centre[bend] for bend in chain[1:-1]]
        points.append((x2, y2 + half_h[edge.dst]))
        # Edges between the same two nodes (several channels) bend apart.
        k, n = seen.get((edge.src, edge.dst), 0), siblings[(edge.src, edge.dst)]
        seen[(edge.src, edge.dst)] = k + 1
        rad = 0.25 * (k - (n - 1) / 2) if len(points) == 2 else 0.0
        if len(points) > 2:
            xs, ys = zip(*points[:-1], strict=True)
            ax.plot(xs, ys, color="0.25", linewidth=1.0, zorder=1)
        start, end = points[-2], points[-1]
        arrow = FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=12, color="0.25", linewidth=1.0,
            shrinkA=0, shrinkB=0, connectionstyle=f"arc3,rad={rad}", zorder=1,
        )  # fmt: skip
        ax.add_patch(arrow)
        if edge.label:
            if len(points) > 2:  # at the first bend, which has no box around it
                lx, ly = points[1]
            else:  # the midpoint of matplotlib's arc3 curve (a quadratic Bezier)
                dx, dy = end[0] - start[0], end[1] - start[1]
                lx = (start[0] + end[0]) / 2 + rad * dy / 2
                ly = (start[1] + end[1]) / 2 - rad * dx / 2
            ax.text(
                lx, ly, edge.label, ha="center", va="center", fontsize=7, parse_math=False,
                zorder=4, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"},
            )  # fmt: skip
    return fig


def _render_matplotlib(graph: DrawableGraph, fmt: str) -> bytes:
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else None
    with warnings.catch_warnings():
        # An id with characters the default font lacks draws them as boxes; say nothing.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        fig = _figure(graph)
        fig.savefig(buffer, format=fmt, metadata=metadata)
    return bytes(buffer.getvalue())


def _render(graph: DrawableGraph, fmt: str) -> bytes:
    dot = shutil.which("dot")
    if dot is not None:
        return _render_dot(graph, dot, fmt)
    return _render_matplotlib(graph, fmt)


def plot_graph(graph: DrawableGraph, path: str | os.PathLike[str] | None = None) -> Any:
    """Draw a graph to a PNG or SVG file, or for inline display.

    Renders with graphviz's ``dot`` program when it is on the ``PATH``, otherwise
    with matplotlib and networkx (``pip install torchweave[plot]``) in a simple
    layered layout, top to bottom.

    Parameters
    ----------
    graph : Graph
        The graph to draw.
    path : str or path-like, optional
        A file ending in ``.png`` or ``.svg``. Without it the drawing is returned for
        display.

    Returns
    -------
    Any
        ``path`` when it is given. Otherwise an ``IPython.display.SVG`` (shown
        inline in Jupyter) when IPython is installed, else the SVG text.

    Raises
    ------
    InvalidParameterError
        If ``path`` ends in another suffix.
    MissingDependencyError
        If neither ``dot`` nor matplotlib and networkx are available (an ImportError).
    PlotError
        If ``dot`` fails.
    """
    if path is None:
        svg = _render(graph, "svg").decode("utf-8")
        try:
            from IPython.display import SVG
        except ImportError:
            return svg
        return SVG(data=svg)
    fmt = _format_of(path)
    Path(path).write_bytes(_render(graph, fmt))
    return path


def graph_to_svg(graph: DrawableGraph) -> str | None:
    """The graph as SVG text, or None when no renderer is available (Jupyter's hook).

    Parameters
    ----------
    graph : Graph
        The graph to draw.

    Returns
    -------
    str or None
        The SVG document; None without ``dot`` and without matplotlib/networkx, or
        when ``dot`` fails, so that Jupyter shows the text representation instead.
    """
    try:
        return _render(graph, "svg").decode("utf-8")
    except (MissingDependencyError, PlotError):
        return None
