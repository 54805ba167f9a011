"""Graph: building with >>, lists as unions, type checks, running, flat params."""

import itertools
import pickle
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
from torchweave.pipelines import VARARG, Channel, Graph, PipeOp


class Num(PipeOp):
    """int -> int: multiply by ``factor`` (a constructor argument)."""

    def __init__(self, id: str = "num", factor: int = 2) -> None:
        super().__init__(
            id, input=[Channel("input", int, int)], output=[Channel("output", int, int)]
        )
        self.factor = factor

    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {"seen": inputs[0]}
        return [inputs[0] * self.factor]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return [inputs[0] * self.factor]


class Sum(PipeOp):
    """Sums any number of ints (vararg input)."""

    def __init__(self, id: str = "sum") -> None:
        super().__init__(
            id, input=[Channel(VARARG, int, int)], output=[Channel("output", int, int)]
        )

    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {"n": len(inputs)}
        return [sum(inputs)]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return [sum(inputs)]


class Split(PipeOp):
    """int -> two outputs."""

    def __init__(self, id: str = "split") -> None:
        super().__init__(
            id,
            input=[Channel("input", int, int)],
            output=[Channel("a", int, int), Channel("b", int, int)],
        )

    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {}
        return [inputs[0], inputs[0] + 1]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return [inputs[0], inputs[0] + 1]


def test_chain_runs_in_order_and_keeps_state():
    graph = Num("a", 2) >> Num("b", 3)
    assert graph.ids() == ["a", "b"]
    assert graph.train(1) == {"b.output": 6}
    assert graph.state == {"a": {"seen": 1}, "b": {"seen": 2}}
    assert graph.predict(2) == {"b.output": 12}
    assert list(graph.edges.columns) == ["src_id", "src_channel", "dst_id", "dst_channel"]
    assert graph.edges.iloc[0].tolist() == ["a", "output", "b", "input"]


def test_list_is_parallel_union_into_vararg():
    graph = Num("x", 1) >> [Num("a", 2), Num("b", 3)] >> Sum()
    assert graph.train(1) == {"sum.output": 5}
    assert graph.state["sum"] == {"n": 2}
    g2 = [Num("a", 2), Num("b", 3)] >> Sum()
    assert g2.input["name"].tolist() == ["a.input", "b.input"]
    assert g2.train(1) == {"sum.output": 5}
    assert g2.train({"a.input": 1, "b.input": 10}) == {"sum.output": 32}


def test_pairwise_and_fan_out_connections():
    graph = Split() >> [Num("a", 10), Num("b", 100)]
    assert graph.train(1) == {"a.output": 10, "b.output": 200}
    fan = Num("x", 1) >> [Num("a", 2), Num("b", 3)]
    assert fan.train(2) == {"a.output": 4, "b.output": 6}


def test_operands_are_copied():
    op = Num("a")
    graph = op >> Num("b")
    graph.train(1)
    assert not op.is_trained
    assert graph.pipeops["a"] is not op


def test_channel_type_mismatch_names_both_sides():
    with pytest.raises(
        tw.ChannelTypeError,
        match="output 'output' of PipeOp 'num' to input 'input' of PipeOp 'scale': at train time 'num' gives int but 'scale' takes Task",
    ):
        Num() >> tw.po("scale")


def test_duplicate_ids_hint_at_renaming():
    with pytest.raises(
        tw.GraphError, match="already has a PipeOp with id 'num'.*po\\(..., id=\"num_2\"\\)"
    ):
        Num() >> Num()


def test_add_edge_errors_and_cycles():
    graph = (
        Graph().add_pipeop(Num("a")).add_pipeop(Num("b")).add_pipeop(Split()).add_pipeop(Num("c"))
    )
    with pytest.raises(tw.GraphError, match="The graph has no PipeOp 'cc'. Did you mean 'c'"):
        graph.add_edge("a", "cc")
    with pytest.raises(tw.GraphError, match="has 2 output channels \\('a', 'b'\\); name the one"):
        graph.add_edge("split", "a")
    graph.add_edge("split", "a", src_channel="a").add_edge("a", "b")
    with pytest.raises(tw.GraphError, match="connected already"):
        graph.add_edge("split", "b", src_channel="b")
    with pytest.raises(tw.GraphError, match="cycle"):
        graph.add_edge("b", "split")
    assert len(graph.edges) == 2


def test_input_and_output_frames():
    graph = Split() >> [Num("a"), Num("b")]
    assert graph.input.to_dict("records") == [
        {
            "name": "split.input",
            "op_id": "split",
            "channel": "input",
            "train": "int",
            "predict": "int",
        }
    ]
    assert graph.output["name"].tolist() == ["a.output", "b.output"]


def test_mismatched_counts_raise():
    with pytest.raises(tw.GraphError, match="Cannot connect 2 outputs"):
        Split() >> [Num("a"), Num("b"), Num("c")]


def test_flat_param_set_reads_and_writes_through():
    graph = tw.po("scale") >> tw.po("nop")
    ps = graph.param_set
    assert "scale.robust" in ps.ids()
    ps.set_values(**{"scale.robust": True})
    assert graph.pipeops["scale"].param_set.values["robust"] is True
    with pytest.raises(tw.InvalidParameterError, match="Did you mean 'scale.robust'"):
        graph.param_set.set_values(**{"scale.robustt": True})


def test_failure_names_the_op():
    graph = Num("a") >> Num("b")
    with pytest.raises(tw.ChannelTypeError) as info:
        graph.train("x")
    assert "PipeOp 'a' train" in str(info.value)


def test_clone_pickle_repr():
    graph = Num("a") >> Sum()
    graph.train(3)
    clone = graph.clone()
    clone.train(5)
    assert graph.state["a"] == {"seen": 3}
    restored = pickle.loads(pickle.dumps(graph))
    assert restored.predict(1) == {"sum.output": 2}
    assert "<Graph with 2 PipeOps>" in repr(graph)


@given(n=st.integers(1, 12))
def test_chains_of_any_length_multiply(n):
    graph = Graph().add_pipeop(Num("n0", 2))
    for i in range(1, n):
        graph = graph >> Num(f"n{i}", 2)
    assert graph.ids() == [f"n{i}" for i in range(n)]
    assert graph.train(1) == {f"n{n - 1}.output": 2**n}


@given(widths=st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_branch_layouts(widths):
    graph: Any = Num("start", 1)
    total = 1
    for layer, width in enumerate(widths):
        branches = [Num(f"l{layer}b{j}", j + 1) for j in range(width)]
        graph = graph >> branches >> Sum(f"sum{layer}")
        total = total * sum(range(1, width + 1))
    assert graph.train(1) == {f"sum{len(widths) - 1}.output": total}


def test_graph_on_tasks_preprocesses_without_touching_input():
    task = tw.tsk("iris")
    before = task.data()
    out = (tw.po("scale") >> tw.po("nop")).train(task)["nop.output"]
    assert abs(out.data(cols="petal_length")["petal_length"].mean()) < 1e-12
    pd.testing.assert_frame_equal(task.data(), before)


# --- the public structure API (issue 12) -------------------------------------------------
def test_pipeops_is_a_read_only_view():
    graph = Num("a") >> Num("b")
    assert list(graph.pipeops) == ["a", "b"]
    with pytest.raises(TypeError):
        graph.pipeops["c"] = Num("c")
    with pytest.raises(TypeError):
        del graph.pipeops["a"]
    graph.add_pipeop(Num("c"))
    assert list(graph.pipeops) == ["a", "b", "c"]


def test_edge_records_and_in_edges():
    graph = [Num("a"), Num("b")] >> Sum("s")
    records = graph.edge_records()
    assert isinstance(records, tuple)
    assert records == (
        tw.Edge("a", "output", "s", VARARG),
        tw.Edge("b", "output", "s", VARARG),
    )
    assert graph.in_edges("s") == records
    assert graph.in_edges("s", VARARG) == records
    assert graph.in_edges("s", "input") == ()
    assert graph.in_edges("a") == ()
    with pytest.raises(tw.GraphError, match="The graph has no PipeOp 'q'"):
        graph.in_edges("q")
    # The tables are copies: editing them changes nothing.
    frame = graph.edges
    frame.loc[0, "dst_id"] = "a"
    assert graph.edge_records() == records


def test_input_and_output_ports():
    graph = Num("a") >> [Num("b"), Num("c")]
    ins, outs = graph.input_ports(), graph.output_ports()
    assert [(p.op_id, p.channel.name, p.name) for p in ins] == [("a", "input", "a.input")]
    assert [p.name for p in outs] == ["b.output", "c.output"]
    assert outs[0].channel == Channel("output", int, int)
    assert list(graph.input["name"]) == [p.name for p in ins]
    assert list(graph.output["name"]) == [p.name for p in outs]


def test_add_graph_adds_operators_and_edges_as_copies():
    graph = as_chain("a", "b")
    other = as_chain("c", "d")
    assert graph.add_graph(other) is graph
    assert graph.ids(sorted=False) == ["a", "b", "c", "d"]
    assert graph.edge_records()[-1] == tw.Edge("c", "output", "d", "input")
    assert graph.pipeops["c"] is not other.pipeops["c"]
    graph.add_edge("b", "c")
    assert graph.ids() == ["a", "b", "c", "d"]
    assert graph.train(1) == {"d.output": 16}
    assert other.pipeops["c"].state is None


def test_add_graph_without_clone_shares_the_operators():
    graph, other = Graph(), as_chain("c", "d")
    graph.add_graph(other, clone=False)
    assert graph.pipeops["c"] is other.pipeops["c"]
    assert graph.add_pipeop(Num("e"), clone=False).ids(sorted=False) == ["c", "d", "e"]


def test_add_graph_refuses_taken_ids_and_bad_arguments():
    graph = as_chain("a", "b")
    with pytest.raises(tw.GraphError, match="already has a PipeOp with id 'b'"):
        graph.add_graph(as_chain("b", "c"))
    assert graph.ids() == ["a", "b"]
    with pytest.raises(tw.InvalidTypeError, match="add_graph takes a Graph. Got Num instead"):
        graph.add_graph(Num("z"))
    with pytest.raises(tw.GraphError, match="cannot be added to itself"):
        graph.add_graph(graph)


def test_add_graph_with_share_keeps_shared_operators_and_edges_once():
    a, b, c = Num("a"), Num("b"), Num("c")
    left = Graph().add_pipeop(a, clone=False).add_pipeop(b, clone=False).add_edge("a", "b")
    right = Graph().add_pipeop(a, clone=False).add_pipeop(b, clone=False).add_edge("a", "b")
    right.add_pipeop(c, clone=False).add_edge("b", "c")
    left.add_graph(right, clone=False, share=True)
    assert left.ids() == ["a", "b", "c"]
    assert left.pipeops["c"] is c
    assert left.edge_records() == (
        tw.Edge("a", "output", "b", "input"),
        tw.Edge("b", "output", "c", "input"),
    )


def test_add_graph_with_share_refuses_different_objects_and_differing_edges():
    a = Num("a")
    left = Graph().add_pipeop(a, clone=False)
    with pytest.raises(tw.GraphError, match=r"ID\(s\) 'a' but they are not identical"):
        left.add_graph(Graph().add_pipeop(Num("a"), clone=False), clone=False, share=True)
    b = Num("b")
    left.add_pipeop(b, clone=False).add_edge("a", "b")
    right = Graph().add_pipeop(b, clone=False).add_pipeop(Num("x"), clone=False)
    right.add_edge("x", "b")
    with pytest.raises(tw.GraphError, match=r"'b' have differing incoming edges"):
        left.add_graph(right, clone=False, share=True)
    assert left.ids() == ["a", "b"]


def test_add_graph_checks_every_edge_and_leaves_the_graph_unchanged_on_failure():
    a, b = Num("a"), Num("b")
    left = Graph().add_pipeop(a, clone=False).add_pipeop(b, clone=False).add_edge("a", "b")
    # The same operators, connected the other way round: the union would be a cycle.
    right = Graph().add_pipeop(b, clone=False).add_pipeop(a, clone=False).add_edge("b", "a")
    with pytest.raises(tw.GraphError, match="would make the graph contain a cycle"):
        left.add_graph(right, clone=False, share=True)
    assert left.ids() == ["a", "b"]
    assert left.edge_records() == (tw.Edge("a", "output", "b", "input"),)


def test_add_pipeop_with_a_graph_adds_the_graph():
    graph = Graph().add_pipeop(as_chain("a", "b"))
    assert graph.ids() == ["a", "b"]
    assert len(graph.edge_records()) == 1


def test_pipeop_rshift_builds_a_graph_without_importing_graph_in_pipeop():
    import ast
    import inspect

    import torchweave.pipelines.pipeop as pipeop_module
    import torchweave.pipelines.plot as plot_module

    assert isinstance(Num("a") >> Num("b"), Graph)
    assert (tw.po("nop", id="n") >> Sum("s")).ids() == ["n", "s"]
    for module in (pipeop_module, plot_module):
        imported = {
            node.module
            for node in ast.walk(ast.parse(inspect.getsource(module)))
            if isinstance(node, ast.ImportFrom)
        }
        assert "torchweave.pipelines.graph" not in imported


def as_chain(*ids: str) -> Graph:
    graph = Graph()
    for op_id in ids:
        graph.add_pipeop(Num(op_id))
    for src, dst in itertools.pairwise(ids):
        graph.add_edge(src, dst)
    return graph


def test_rshift_without_a_registered_composer_says_what_is_missing(monkeypatch):
    import torchweave.pipelines.pipeop as pipeop_module

    monkeypatch.setattr(pipeop_module, "_composers", [])
    with pytest.raises(tw.GraphError, match="'>>' needs the graph module"):
        Num("a") >> Num("b")
    pipeop_module.register_composer(lambda left, right: (left.id, right.id))
    assert (Num("a") >> Num("b")) == ("a", "b")


def test_reaches_follows_the_edges_downstream():
    graph = tw.po("scale") >> tw.po("imputemedian") >> tw.po("encode")
    assert graph.reaches("scale", "encode")
    assert graph.reaches("scale", "scale")
    assert not graph.reaches("encode", "scale")
