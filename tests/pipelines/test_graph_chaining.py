"""``>>`` in linear time (issue 20): operands stay untouched, chains clone each operator once.

``>>`` copies a Graph operand by sharing its operator objects until one of the graphs
hands them out or changes them (copy on write). These tests pin the copy semantics
(operands unchanged, no shared mutable state) and count the clones a chain makes.
"""

from __future__ import annotations

import copy
import gc
import pickle
from typing import Any

import pytest

import torchweave as tw
from torchweave.pipelines import Channel, Graph, PipeOp


class Counted(PipeOp):
    """int -> int, multiplying by ``factor``; counts how often an instance is deep-copied."""

    copies = 0

    def __init__(self, id: str = "num", factor: int = 2) -> None:
        super().__init__(
            id,
            param_set=tw.ParamSet(factor=tw.p_int(0, init=factor)),
            input=[Channel("input", int, int)],
            output=[Channel("output", int, int)],
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> Counted:
        Counted.copies += 1
        new = object.__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {"seen": inputs[0]}
        return [inputs[0] * self.param_set.values["factor"]]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return [inputs[0] * self.param_set.values["factor"]]


@pytest.fixture(autouse=True)
def _reset_counter():
    Counted.copies = 0
    yield


def _chain(n: int) -> Graph:
    graph = Counted("op0") >> Counted("op1")
    for i in range(2, n):
        graph = graph >> Counted(f"op{i}")  # the old value of ``graph`` is dropped
    return graph


def test_a_chain_of_100_operators_clones_each_operator_once():
    graph = _chain(100)
    assert Counted.copies == 100  # quadratic before: 100 + 2 + 3 + ... + 99 = 5049
    assert graph.ids() == [f"op{i}" for i in range(100)]
    assert len(graph.edge_records()) == 99
    assert graph.edge_records()[-1] == tw.Edge("op98", "output", "op99", "input")
    assert graph.train(1) == {"op99.output": 2**100}
    assert Counted.copies == 100  # nothing else holds the operators: no clone on training


def test_clones_grow_linearly_with_the_chain():
    counts = []
    for n in (25, 50, 100):
        Counted.copies = 0
        _chain(n)
        counts.append(Counted.copies)
    assert counts == [25, 50, 100]


def test_chained_expression_clones_each_operator_once():
    graph = Counted("a") >> Counted("b") >> Counted("c") >> Counted("d")
    assert Counted.copies == 4
    assert graph.ids() == ["a", "b", "c", "d"]
    graph.pipeops["a"].param_set.set_values({"factor": 3})  # the intermediates are gone
    assert Counted.copies == 4


def test_left_operand_kept_by_name_is_unchanged_and_independent():
    a = Counted("x") >> Counted("y")
    b = a >> Counted("z")
    assert a.ids() == ["x", "y"]
    assert a.edge_records() == (tw.Edge("x", "output", "y", "input"),)
    assert [p.name for p in a.output_ports()] == ["y.output"]
    assert b.ids() == ["x", "y", "z"]
    assert len(b.edge_records()) == 2
    b.param_set.set_values({"x.factor": 5})
    assert a.param_set.values["x.factor"] == 2
    assert b.train(1) == {"z.output": 20}
    assert not a.is_trained
    assert a.train(1) == {"y.output": 4}
    assert a.pipeops["x"] is not b.pipeops["x"]
    assert b.state["x"] == {"seen": 1}


def test_changing_the_left_operand_later_leaves_the_result_alone():
    a = Counted("x") >> Counted("y")
    b = a >> Counted("z")
    a.param_set.set_values({"x.factor": 7})
    a.add_pipeop(Counted("w")).add_edge("y", "w")
    a.train(1)
    assert b.param_set.values["x.factor"] == 2
    assert b.ids() == ["x", "y", "z"]
    assert not b.is_trained
    assert b.train(1) == {"z.output": 8}


def test_right_operand_graph_and_list_members_are_unchanged():
    right = Counted("y") >> Counted("z")
    left = Counted("w") >> Counted("x")
    both = left >> right
    both.param_set.set_values({"y.factor": 10})
    both.train(1)
    assert right.param_set.values["y.factor"] == 2
    assert not right.is_trained and not left.is_trained
    assert right.input_ports()[0].name == "y.input"
    union = Counted("s") >> [right, Counted("t")]
    union.train(1)
    assert not right.is_trained
    assert union.ids() == ["s", "y", "t", "z"]


def test_operator_handed_out_before_chaining_does_not_reach_the_result():
    a = Counted("x") >> Counted("y")
    held = a.pipeops["x"]
    b = a >> Counted("z")
    held.param_set.set_values({"factor": 9})
    assert a.param_set.values["x.factor"] == 9
    assert b.param_set.values["x.factor"] == 2
    assert b.pipeops["x"] is not held


def test_param_set_held_across_chaining_writes_only_its_graph():
    a = Counted("x") >> Counted("y")
    params = a.param_set
    b = a >> Counted("z")
    params.set_values({"x.factor": 4})
    assert a.param_set.values["x.factor"] == 4
    assert b.param_set.values["x.factor"] == 2


def test_state_set_on_one_graph_stays_there():
    a = Counted("x") >> Counted("y")
    b = a >> Counted("z")
    b.state = {"x": {"seen": 3}}
    assert a.state == {"x": None, "y": None}
    assert b.state["x"] == {"seen": 3}


def test_shallow_clone_and_add_graph_without_clone_share_on_purpose_only():
    a = Counted("x") >> Counted("y")
    b = a >> Counted("z")
    shallow = a.clone(deep=False)
    assert shallow.pipeops["x"] is a.pipeops["x"]
    assert shallow.pipeops["x"] is not b.pipeops["x"]
    target = Graph().add_graph(b, clone=False)
    assert target.pipeops["z"] is b.pipeops["z"]
    target.pipeops["z"].param_set.set_values({"factor": 6})
    assert b.param_set.values["z.factor"] == 6
    assert a.param_set.values["x.factor"] == 2


def test_shared_graphs_pickle_and_deepcopy_independently():
    a = Counted("x") >> Counted("y")
    b = a >> Counted("z")
    restored = pickle.loads(pickle.dumps(b))
    copied = copy.deepcopy(a)
    restored.train(1)
    copied.param_set.set_values({"x.factor": 3})
    assert not a.is_trained and not b.is_trained
    assert a.param_set.values["x.factor"] == 2
    assert restored.train(1) == {"z.output": 8}
    assert (restored >> Counted("w")).ids() == ["x", "y", "z", "w"]


def test_graph_learner_keeps_the_users_graph_untouched():
    graph = tw.po("scale") >> tw.po("learner", tw.lrn("classif.featureless"))
    learner = tw.as_learner(graph)
    learner.train(tw.tsk("iris"))
    assert not graph.is_trained
    assert learner.graph.is_trained


def test_a_dropped_sharer_leaves_the_survivor_uncloned():
    a = Counted("x") >> Counted("y")
    b = a >> Counted("z")
    del a
    gc.collect()
    before = Counted.copies
    b.train(1)
    assert Counted.copies == before


def test_errors_leave_the_operands_unchanged():
    a = Counted("x") >> Counted("y")
    with pytest.raises(tw.GraphError, match="already has a PipeOp with id 'x'"):
        a >> Counted("x")
    with pytest.raises(tw.ChannelTypeError, match="PipeOp 'y' to input 'input' of PipeOp 'scale'"):
        a >> tw.po("scale")
    assert a.ids() == ["x", "y"]
    assert len(a.edge_records()) == 1
    assert a.train(1) == {"y.output": 4}


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_sharing_graphs_copied_together_stay_independent(how):
    a = Counted("x") >> Counted("y")
    b = a >> Counted("z")
    pair = [a, b]
    a2, b2 = copy.deepcopy(pair) if how == "deepcopy" else pickle.loads(pickle.dumps(pair))
    a2.param_set.set_values({"x.factor": 7})
    a2.train(1)
    assert b2.param_set.values["x.factor"] == 2
    assert not b2.is_trained
    assert b2.train(1) == {"z.output": 8}
    assert a.param_set.values["x.factor"] == 2 and not a.is_trained
