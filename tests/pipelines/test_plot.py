import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
from torchweave.errors import Error, InvalidParameterError
from torchweave.pipelines import plot as plot_mod
from torchweave.pipelines.pipeop import ANY, Channel, PipeOp
from torchweave.pipelines.plot import (
    MissingDependencyError,
    PlotError,
    graph_to_dot,
    graph_to_mermaid,
    graph_to_svg,
    plot_graph,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Split(PipeOp):
    """Two outputs that both pass the input on."""

    def __init__(self, id: str = "split") -> None:
        super().__init__(
            id,
            input=[Channel("input", ANY, ANY)],
            output=[Channel("output1", ANY, ANY), Channel("output2", ANY, ANY)],
        )

    def _train(self, inputs):
        self.state = {}
        return [inputs[0], inputs[0]]

    def _predict(self, inputs):
        return [inputs[0], inputs[0]]


class Join(PipeOp):
    """Two inputs; passes the first on."""

    def __init__(self, id: str = "join") -> None:
        super().__init__(
            id,
            input=[Channel("input1", ANY, ANY), Channel("input2", ANY, ANY)],
            output=[Channel("output", ANY, ANY)],
        )

    def _train(self, inputs):
        self.state = {}
        return [inputs[0]]

    def _predict(self, inputs):
        return [inputs[0]]


def branched_graph() -> tw.Graph:
    """split -> (a, b) -> join, plus the second output of split going nowhere else."""
    graph = tw.as_graph(Split())
    graph.add_pipeop(tw.gunion([tw.po("nop", id="a"), tw.po("nop", id="b")]))
    graph.add_pipeop(Join())
    graph.add_edge("split", "a", "output1")
    graph.add_edge("split", "b", "output2")
    graph.add_edge("a", "join", dst_channel="input1")
    graph.add_edge("b", "join", dst_channel="input2")
    return graph


@pytest.fixture
def no_dot(monkeypatch):
    """Force the matplotlib route even where graphviz is installed."""
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda cmd, *a, **k: None if cmd == "dot" else real_which(cmd, *a, **k)
    )


@pytest.fixture
def fake_dot(monkeypatch):
    """A pretend graphviz: records the calls of subprocess.run and answers with `reply`."""
    calls = []
    reply = {"returncode": 0, "stdout": b"RENDERED", "stderr": b""}

    def run(cmd, **kwargs):
        calls.append((cmd, kwargs))
        return subprocess.CompletedProcess(
            cmd, reply["returncode"], reply["stdout"], reply["stderr"]
        )

    monkeypatch.setattr(
        shutil, "which", lambda cmd, *a, **k: "/opt/gv/bin/dot" if cmd == "dot" else None
    )
    monkeypatch.setattr(subprocess, "run", run)
    return calls, reply


# --- dot ------------------------------------------------------------------------------------
def test_to_dot_exact_text_of_a_chain():
    graph = tw.po("scale") >> tw.po("learner", tw.lrn("classif.featureless"))
    assert graph.to_dot() == (
        "digraph G {\n"
        "  rankdir=TB;\n"
        '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];\n'
        '  edge [fontname="Helvetica", fontsize=9];\n'
        '  "<INPUT>" [label="<INPUT>", shape=plaintext];\n'
        '  "scale" [label="scale\\n(PipeOpScale)"];\n'
        '  "classif.featureless" [label="classif.featureless\\n(PipeOpLearner)"];\n'
        '  "<OUTPUT>" [label="<OUTPUT>", shape=plaintext];\n'
        '  "<INPUT>" -> "scale";\n'
        '  "scale" -> "classif.featureless";\n'
        '  "classif.featureless" -> "<OUTPUT>";\n'
        "}\n"
    )
    assert graph_to_dot(graph) == graph.to_dot()


def test_to_dot_labels_edges_of_operators_with_several_channels():
    dot = branched_graph().to_dot()
    edge_lines = [line.strip() for line in dot.splitlines() if "->" in line]
    assert edge_lines == [
        '"<INPUT>" -> "split";',
        '"split" -> "a" [label="output1 → input"];',
        '"split" -> "b" [label="output2 → input"];',
        '"a" -> "join" [label="output → input1"];',
        '"b" -> "join" [label="output → input2"];',
        '"join" -> "<OUTPUT>";',
    ]
    node_lines = [
        line.strip() for line in dot.splitlines() if "[label=" in line and "->" not in line
    ]
    assert [line.split(" [")[0] for line in node_lines] == [
        '"<INPUT>"',
        '"split"',
        '"a"',
        '"b"',
        '"join"',
        '"<OUTPUT>"',
    ]


def test_to_dot_names_unconnected_channels_of_multi_channel_operators():
    graph = tw.as_graph(Join()) >> Split()
    dot = graph.to_dot()
    assert '"<INPUT>" -> "join" [label="input1"];' in dot
    assert '"<INPUT>" -> "join" [label="input2"];' in dot
    assert '"split" -> "<OUTPUT>" [label="output1"];' in dot
    assert '"split" -> "<OUTPUT>" [label="output2"];' in dot


def test_to_dot_is_independent_of_edge_insertion_order():
    one = branched_graph()
    two = tw.as_graph(Split())
    two.add_pipeop(tw.gunion([tw.po("nop", id="a"), tw.po("nop", id="b")]))
    two.add_pipeop(Join())
    two.add_edge("b", "join", dst_channel="input2")
    two.add_edge("split", "b", "output2")
    two.add_edge("a", "join", dst_channel="input1")
    two.add_edge("split", "a", "output1")
    assert one.to_dot() == two.to_dot()


def test_to_dot_of_an_empty_graph_has_no_nodes():
    dot = tw.Graph().to_dot()
    assert dot.startswith("digraph G {\n  rankdir=TB;\n")
    assert dot.endswith("}\n")
    assert "->" not in dot and "<INPUT>" not in dot


def test_pseudo_nodes_do_not_clash_with_operator_ids():
    graph = tw.po("nop", id="<INPUT>") >> tw.po("nop", id="<OUTPUT>")
    dot = graph.to_dot()
    assert '"<INPUT>_2" -> "<INPUT>";' in dot
    assert '"<INPUT>" -> "<OUTPUT>";' in dot
    assert '"<OUTPUT>" -> "<OUTPUT>_2";' in dot
    assert '"<INPUT>_2" [label="<INPUT>", shape=plaintext];' in dot


_DOT_STRING = r'"(?:[^"\\\n]|\\.)*"'


def _unquote(token: str) -> str:
    escapes = {"n": "\n", "r": "\r"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), token[1:-1])


@given(st.text(min_size=1, max_size=30).filter(lambda s: s not in ("<INPUT>", "<OUTPUT>")))
def test_to_dot_quotes_any_id_safely(op_id):
    dot = tw.as_graph(tw.po("nop", id=op_id)).to_dot()
    lines = dot.split("\n")
    node_line = lines[5]
    match = re.fullmatch(rf"  ({_DOT_STRING}) \[label=({_DOT_STRING})\];", node_line)
    assert match is not None, node_line
    expected = op_id
    assert _unquote(match.group(1)) == expected
    assert _unquote(match.group(2)) == f"{expected}\n(PipeOpNOP)"
    for line in lines[4:-2]:
        assert re.fullmatch(rf"  {_DOT_STRING}( -> {_DOT_STRING})?( \[.*\])?;", line), line


# --- mermaid --------------------------------------------------------------------------------
def test_to_mermaid_exact_text():
    graph = tw.po("scale", id="my.scale") >> tw.po("nop")
    assert graph.to_mermaid() == (
        "flowchart TD\n"
        '  INPUT(["#60;INPUT#62;"])\n'
        '  op_my_scale["my.scale<br/>(PipeOpScale)"]\n'
        '  op_nop["nop<br/>(PipeOpNOP)"]\n'
        '  OUTPUT(["#60;OUTPUT#62;"])\n'
        "  INPUT --> op_my_scale\n"
        "  op_my_scale --> op_nop\n"
        "  op_nop --> OUTPUT\n"
    )
    assert graph_to_mermaid(graph) == graph.to_mermaid()


def test_to_mermaid_sanitizes_ids_uniquely_and_escapes_labels():
    graph = tw.gunion(
        [tw.po("nop", id="a.b"), tw.po("nop", id="a_b"), tw.po("nop", id='end "x" #1|<y>')]
    )
    text = graph.to_mermaid()
    assert '  op_a_b["a.b<br/>(PipeOpNOP)"]' in text
    assert '  op_a_b_2["a_b<br/>(PipeOpNOP)"]' in text
    assert '  op_end__x___1__y_["end #quot;x#quot; #35;1#124;#60;y#62;<br/>(PipeOpNOP)"]' in text
    for line in text.splitlines()[1:]:
        node_id = line.split()[0].split("[")[0].split("(")[0]
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", node_id)


def test_to_mermaid_labels_channel_edges():
    text = branched_graph().to_mermaid()
    assert '  op_split -->|"output1 → input"| op_a' in text
    assert '  op_b -->|"output → input2"| op_join' in text
    assert "  op_join --> OUTPUT" in text


# --- rendering with matplotlib ----------------------------------------------------------------
def test_plot_png_with_matplotlib(no_dot, tmp_path):
    path = tmp_path / "graph.png"
    returned = branched_graph().plot(str(path))
    assert returned == str(path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 5000


def test_plot_svg_with_matplotlib_accepts_path_objects(no_dot, tmp_path):
    path = tmp_path / "graph.SVG"
    assert plot_graph(branched_graph(), path) == path
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<?xml")
    assert "<svg" in text and text.rstrip().endswith("</svg>")


def test_plot_survives_long_odd_labels_and_skipping_edges(no_dot, tmp_path):
    long_id = "a_very_long_operator_identifier_" * 4
    graph = tw.as_graph(Split(id="$x$ 漢字 😀 \\ {braces}"))
    graph.add_pipeop(tw.po("nop", id=long_id))
    graph.add_pipeop(Join())
    graph.add_edge("$x$ 漢字 😀 \\ {braces}", long_id, "output1")
    graph.add_edge(long_id, "join", dst_channel="input1")
    graph.add_edge("$x$ 漢字 😀 \\ {braces}", "join", "output2", "input2")
    for name in ("odd.png", "odd.svg"):
        path = tmp_path / name
        graph.plot(str(path))
        assert path.stat().st_size > 2000


def test_layout_bends_edges_that_skip_layers():
    import networkx as nx

    graph = tw.gunion([tw.po("nop", id="a") >> tw.po("nop", id="b"), tw.po("nop", id="c")])
    nodes, edges = plot_mod._model(graph)
    layout = plot_mod._layout(nodes, edges, nx)
    ys = {key: layout.centre[key][1] for key in ("<INPUT>", "a", "b", "c", "<OUTPUT>")}
    assert ys["<INPUT>"] > ys["a"] == ys["c"] > ys["b"] > ys["<OUTPUT>"]
    chain = layout.chains[[(e.src, e.dst) for e in edges].index(("c", "<OUTPUT>"))]
    assert len(chain) == 3 and layout.centre[chain[1]][1] == ys["b"]
    assert abs(layout.centre[chain[1]][0] - layout.centre["b"][0]) >= 1.0  # beside b's box


def test_plot_empty_graph(no_dot, tmp_path):
    path = tmp_path / "empty.png"
    tw.Graph().plot(str(path))
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_plot_inline_without_ipython_returns_svg_text(no_dot, monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)
    svg = tw.as_graph(tw.po("nop")).plot()
    assert isinstance(svg, str) and "<svg" in svg


def test_plot_inline_with_ipython_returns_an_svg_display_object(no_dot, monkeypatch):
    class SVG:
        def __init__(self, data):
            self.data = data

    display = types.ModuleType("IPython.display")
    display.SVG = SVG
    ipython = types.ModuleType("IPython")
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    shown = tw.as_graph(tw.po("nop")).plot()
    assert isinstance(shown, SVG) and "<svg" in shown.data


def test_repr_svg_for_jupyter(no_dot):
    graph = tw.po("scale") >> tw.po("nop")
    svg = graph._repr_svg_()
    assert svg is not None and svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert graph_to_svg(graph) is not None


@pytest.mark.parametrize("name", ["graph.pdf", "graph", "graph.png.txt"])
def test_plot_rejects_other_formats(name, tmp_path):
    suffix = Path(name).suffix or "no suffix"
    with pytest.raises(
        InvalidParameterError, match=rf"must end in '\.png' or '\.svg'\. Got '{re.escape(suffix)}'"
    ):
        tw.as_graph(tw.po("nop")).plot(str(tmp_path / name))
    assert not (tmp_path / name).exists()


def test_missing_plot_dependencies(no_dot, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    graph = tw.as_graph(tw.po("nop"))
    with pytest.raises(MissingDependencyError, match=r"pip install torchweave\[plot\]") as info:
        graph.plot(str(tmp_path / "g.png"))
    assert isinstance(info.value, ImportError) and isinstance(info.value, Error)
    assert "dot" in str(info.value)
    assert graph._repr_svg_() is None
    assert graph.to_dot().startswith("digraph")  # text formats need nothing


def test_missing_networkx_is_reported_too(no_dot, monkeypatch):
    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(MissingDependencyError, match=r"matplotlib and networkx"):
        tw.as_graph(tw.po("nop")).plot()


# --- rendering with graphviz (simulated) --------------------------------------------------------
def test_plot_png_with_dot(fake_dot, tmp_path):
    calls, _ = fake_dot
    graph = branched_graph()
    path = tmp_path / "g.png"
    assert graph.plot(str(path)) == str(path)
    assert path.read_bytes() == b"RENDERED"
    ((cmd, kwargs),) = calls
    assert cmd == ["/opt/gv/bin/dot", "-Tpng"]
    assert kwargs["input"] == graph.to_dot().encode("utf-8")
    assert kwargs["capture_output"] is True


def test_plot_svg_and_inline_with_dot(fake_dot, tmp_path, monkeypatch):
    calls, reply = fake_dot
    reply["stdout"] = "<svg>é</svg>".encode()
    monkeypatch.setitem(sys.modules, "IPython", None)
    graph = tw.as_graph(tw.po("nop"))
    graph.plot(tmp_path / "g.svg")
    assert (tmp_path / "g.svg").read_text(encoding="utf-8") == "<svg>é</svg>"
    assert graph.plot() == "<svg>é</svg>"
    assert graph._repr_svg_() == "<svg>é</svg>"
    assert [cmd for cmd, _ in calls] == [["/opt/gv/bin/dot", "-Tsvg"]] * 3


def test_failing_dot_raises_plot_error(fake_dot, tmp_path):
    _, reply = fake_dot
    reply.update(returncode=1, stdout=b"", stderr=b"Error: syntax error in line 3")
    graph = tw.as_graph(tw.po("nop"))
    with pytest.raises(PlotError, match=r"exit status 1: Error: syntax error in line 3"):
        graph.plot(str(tmp_path / "g.png"))
    assert not (tmp_path / "g.png").exists()
    assert graph._repr_svg_() is None


def test_dot_that_cannot_start_raises_plot_error(monkeypatch, tmp_path):
    def run(cmd, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: "/opt/gv/bin/dot")
    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(PlotError, match=r"could not be run: .*Permission denied"):
        tw.as_graph(tw.po("nop")).plot(str(tmp_path / "g.svg"))


# --- imports ----------------------------------------------------------------------------------
def test_import_torchweave_does_not_import_plotting_libraries():
    code = (
        "import sys, torchweave as tw\n"
        "g = tw.po('scale') >> tw.po('nop')\n"
        "g.to_dot(); g.to_mermaid()\n"
        "bad = [m for m in ('matplotlib', 'networkx', 'IPython') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_matplotlib_route_never_touches_pyplot(tmp_path):
    code = (
        "import shutil, sys, torchweave as tw\n"
        "shutil.which = lambda *a, **k: None\n"
        f"(tw.po('scale') >> tw.po('nop')).plot({str(tmp_path / 'g.png')!r})\n"
        "print('matplotlib.pyplot' in sys.modules, 'matplotlib' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONWARNINGS": "error", "MPLBACKEND": "Agg"},
    )  # fmt: skip
    assert out.stdout.strip() == "False True"
    assert (tmp_path / "g.png").read_bytes().startswith(PNG_MAGIC)


# --- labels: whole words, and the trained layers' output shapes (issue 13) ----------------------
@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("scale", ["scale"]),
        ("classif.logisticregression", ["classif.", "logisticregression"]),
        ("torch_model_classif", ["torch_model_classif"]),
        ("a_very_long_operator_name_here", ["a_very_long_operator_", "name_here"]),
        ("averyveryverylongwordwithoutbreaks.x", ["averyveryverylongwordwithoutbreaks.", "x"]),
        ("one two three four five six", ["one two three four five", "six"]),
    ],
)
def test_ids_wrap_between_words_only(text, lines):
    assert plot_mod._wrap_id(text) == lines


@given(st.text(alphabet="ab._- ", min_size=1, max_size=60))
def test_wrapping_keeps_every_word_whole(text):
    lines = plot_mod._wrap_id(text)
    assert 1 <= len(lines) <= plot_mod._MAX_ID_LINES
    if not lines[-1].endswith("…"):
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    words = [w for w in re.split(r"[._\- ]", text) if w]
    pieces = {w for line in lines for w in re.split(r"[._\- …]", line) if w}
    assert pieces <= set(words)  # no line ends or starts inside a word


def _trained_network_graph():
    graph = tw.po("torch_ingress_num") >> tw.nn("linear", out_features=8) >> tw.nn("head")
    graph.train(tw.tsk("iris"))
    return graph


def test_trained_torch_operators_show_their_output_shapes():
    graph = _trained_network_graph()
    dot = graph.to_dot()
    assert (
        '"torch_ingress_num" [label="torch_ingress_num\\n(PipeOpTorchIngressNumeric)\\noutput: (None, 4)"];'
        in dot
    )
    assert '"linear" [label="linear\\n(PipeOpTorchLinear)\\noutput: (None, 8)"];' in dot
    assert '"head" [label="head\\n(PipeOpTorchHead)\\noutput: (None, 3)"];' in dot
    assert 'op_linear["linear<br/>(PipeOpTorchLinear)<br/>output: (None, 8)"]' in graph.to_mermaid()
    nodes, _ = plot_mod._model(graph)
    assert plot_mod._label_lines(nodes[2]) == ["linear", "(PipeOpTorchLinear)", "output: (None, 8)"]


def test_untrained_operators_show_no_state_line():
    graph = tw.po("torch_ingress_num") >> tw.nn("linear", out_features=8)
    assert '"linear" [label="linear\\n(PipeOpTorchLinear)"];' in graph.to_dot()
    assert tw.po("scale").state_summary() is None


def test_the_demo_draws_the_trained_torch_graph(no_dot, tmp_path):
    from torchweave.cli.demo import draw_penguins_network

    path = draw_penguins_network(tmp_path / "sub" / "network.svg")
    text = path.read_text(encoding="utf-8")
    for label in ("torch_ingress_num", "output: (None, 32)", "output: (None, 3)", "torch_loss"):
        assert label in text
    assert "logisticregression" not in text
