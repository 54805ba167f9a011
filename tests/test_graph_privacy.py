"""Graph's structure is reached through its public API only (issue 12).

Every module of the package other than ``pipelines/graph.py`` is parsed, and no
attribute access may use a name that is private to :class:`Graph` (``_edges``,
``_pipeops``, ``_add``...). The names come from the class itself, so a private
member added later is covered too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from torchweave.pipelines.graph import Graph

SRC = Path(__file__).resolve().parents[1] / "src" / "torchweave"
GRAPH_MODULE = SRC / "pipelines" / "graph.py"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def graph_private_names() -> set[str]:
    """Private attribute and method names of Graph (class members and instance fields)."""
    names = {name for klass in Graph.__mro__ for name in vars(klass) if _is_private(name)}
    return names | {name for name in vars(Graph()) if _is_private(name)}


def private_accesses(source: str, names: set[str]) -> list[tuple[int, str]]:
    """``(line, attribute)`` for every ``x.<name>`` with ``name`` in ``names``."""
    found = [
        (node.lineno, node.attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr in names
    ]
    # getattr(graph, "_edges") and friends reach the same members.
    found += [
        (node.lineno, node.args[1].value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"getattr", "setattr", "hasattr", "delattr"}
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value in names
    ]
    return sorted(found)


def test_the_private_names_are_found() -> None:
    names = graph_private_names()
    assert {"_edges", "_pipeops", "_check_new_ids", "_op"} <= names
    assert "__init__" not in names
    assert "edges" not in names


def test_the_checker_sees_attribute_and_getattr_access() -> None:
    source = "g._edges.append(e)\nports = getattr(g, '_pipeops')\ng.edges\n"
    assert private_accesses(source, {"_edges", "_pipeops"}) == [(1, "_edges"), (2, "_pipeops")]


@pytest.mark.parametrize(
    "path",
    sorted(p for p in SRC.rglob("*.py") if p != GRAPH_MODULE),
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_no_module_touches_a_private_member_of_graph(path: Path) -> None:
    hits = private_accesses(path.read_text(encoding="utf-8"), graph_private_names())
    assert not hits, (
        f"{path.relative_to(SRC)} uses private members of Graph at (line, name) {hits}; "
        "use Graph's structure API (pipeops, edges, edge_records, in_edges, input_ports, "
        "output_ports, add_pipeop, add_edge, add_graph) instead."
    )
