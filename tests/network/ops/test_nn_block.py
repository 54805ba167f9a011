"""nn_block: a sub-graph of layers repeated n_blocks times."""

import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
import torchweave.network.ops.nn_block  # registers nn_block
from torchweave.errors import GraphError, InvalidParameterError, ShapeError
from torchweave.network.ops.nn_block import PipeOpTorchBlock
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.testing.params import check_param_set


class _Sum(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class PipeOpTestSum(PipeOpTorch):
    """Sums its inputs (a stand-in for nn_merge_sum)."""

    module_class = _Sum

    def __init__(self, id: str = "add", param_vals=None) -> None:
        super().__init__(id, param_vals=param_vals, inname="...")


def residual(width: int = 50):
    return [tw.po("nop"), tw.nn("linear", out_features=width) >> tw.nn("relu")] >> PipeOpTestSum()


def train_net(block_op, task=None, width_in=None):
    task = task or tw.tsk("iris")
    graph = tw.po("torch_ingress_num")
    if width_in is not None:
        graph = graph >> tw.nn("linear_0", out_features=width_in)
    graph = graph >> block_op
    outputs = graph.train(task)
    (md,) = outputs.values()
    return graph, md


def block_ids(md, prefix="block."):
    return [i for i in md.graph.ids() if i.startswith(prefix)]


# --- ids, channels, parameters --------------------------------------------------------------------
def test_repetitions_are_numbered_from_one_under_the_block_id():
    layer = tw.nn("linear", out_features=3) >> tw.nn("relu")
    _, md = train_net(tw.nn("block", layer, n_blocks=2))
    assert block_ids(md) == ["block.linear__1", "block.relu__1", "block.linear__2", "block.relu__2"]
    _, md = train_net(tw.po("nn_block", layer, n_blocks=1))
    assert block_ids(md, "nn_block.") == ["nn_block.linear__1", "nn_block.relu__1"]
    assert md.pointer == ("nn_block.relu__1", "output")


def test_a_residual_block_has_one_input_feeding_every_graph_input():
    op = tw.nn("block", residual(), n_blocks=2)
    assert list(op.block.input["name"]) == ["nop.input", "linear.input"]
    assert [ch.name for ch in op.input] == ["input"]
    assert [ch.name for ch in op.output] == ["output"]
    assert "torch" in op.tags


def test_a_block_with_as_many_outputs_as_inputs_keeps_its_channel_names():
    streams = [tw.nn("linear_1", out_features=2), tw.nn("linear_2", out_features=3)]
    op = tw.nn("block", streams, n_blocks=2)
    assert [ch.name for ch in op.input] == ["linear_1.input", "linear_2.input"]
    assert [ch.name for ch in op.output] == ["linear_1.output", "linear_2.output"]
    first = tw.po("torch_ingress_num").train([tw.tsk("iris")])[0]
    second = first.with_pointer(first.pointer, (None, 4))
    out_a, out_b = op.train([first, second])
    assert (out_a.pointer, out_a.pointer_shape) == (("block.linear_1__2", "output"), (None, 2))
    assert (out_b.pointer, out_b.pointer_shape) == (("block.linear_2__2", "output"), (None, 3))
    # Repetition 2 of each stream reads repetition 1 of the same stream.
    edges = out_a.graph.edges
    into_a2 = edges[edges["dst_id"] == "block.linear_1__2"]
    assert list(into_a2["src_id"]) == ["block.linear_1__1"]


def test_a_block_whose_outputs_cannot_feed_its_inputs_is_refused():
    with pytest.raises(
        GraphError,
        match=r"block of PipeOp 'block' cannot be repeated: its 2 outputs .* its 1 inputs",
    ):
        tw.nn("block", tw.po("copy", outnum=2), n_blocks=1)
    with pytest.raises(
        GraphError, match=r"its 3 outputs .* its 2 inputs \('nop.input', 'copy.input'\)"
    ):
        tw.nn("block", [tw.po("nop"), tw.po("copy", outnum=2)], n_blocks=1)
    with pytest.raises(tw.InvalidTypeError, match="Cannot make a Graph from an object of type int"):
        PipeOpTorchBlock(3)


def test_block_parameters_read_and_write_through_to_the_block_graph():
    op = tw.nn("block", residual(), n_blocks=5)
    assert op.param_set.ids() == [
        "n_blocks",
        "trafo",
        "linear.out_features",
        "linear.bias",
        "relu.inplace",
    ]
    assert op.param_set.values == {"n_blocks": 5, "linear.out_features": 50}
    op.param_set.set_values(**{"linear.out_features": 7, "linear.bias": False})
    assert op.block.pipeops["linear"].param_set.values == {"out_features": 7, "bias": False}
    op.param_set.remove_values("linear.bias")
    assert op.block.pipeops["linear"].param_set.values == {"out_features": 7}
    # po() passes block parameters on as values.
    op2 = tw.nn("block", residual(), n_blocks=1, **{"linear.out_features": 3})
    assert op2.param_set.values["linear.out_features"] == 3
    _, md = train_net(op2, width_in=3)
    assert md.pointer_shape == (None, 3)


def test_block_parameter_errors_name_the_parameter():
    op = tw.nn("block", residual(), n_blocks=5)
    with pytest.raises(
        InvalidParameterError, match=r"'n_blocks' parameter of PipeOp 'block'.*>= 0"
    ):
        op.param_set.set_values(n_blocks=-1)
    with pytest.raises(InvalidParameterError, match=r"'out_features' parameter of PipeOp 'linear'"):
        op.param_set.set_values(**{"linear.out_features": 0})
    with pytest.raises(InvalidParameterError, match=r"Did you mean 'linear.out_features'\?"):
        op.param_set.set_values(**{"linear.out_feature": 3})
    with pytest.raises(InvalidParameterError, match=r"'trafo' parameter of PipeOp 'block' must be"):
        op.param_set.set_values(trafo=3)
    assert op.param_set.values == {"n_blocks": 5, "linear.out_features": 50}
    op.id = "res"
    with pytest.raises(InvalidParameterError, match=r"'n_blocks' parameter of PipeOp 'res'"):
        op.param_set.set_values(n_blocks=1.5)


def test_the_param_set_conforms():
    check_param_set(tw.nn("block", residual(), n_blocks=2).param_set)
    check_param_set(tw.nn("block", tw.nn("linear")).param_set)


def test_n_blocks_and_the_blocks_required_parameters_are_required():
    op = tw.nn("block", residual())
    md = tw.po("torch_ingress_num").train([tw.tsk("iris")])[0]
    with pytest.raises(InvalidParameterError, match=r"PipeOp 'block' needs .*'n_blocks'"):
        op.train([md])
    with pytest.raises(InvalidParameterError, match=r"'n_blocks'"):
        op.shapes_out([(None, 4)], task=tw.tsk("iris"))
    op = tw.nn("block", tw.nn("linear"), n_blocks=2, trafo=widths)
    with pytest.raises(InvalidParameterError, match=r"'linear.out_features'"):
        op.train([md])
    assert not op.is_trained


def test_the_block_is_copied_at_construction():
    layer = tw.nn("linear", out_features=3)
    op = tw.nn("block", layer, n_blocks=2)
    layer.param_set.set_values(out_features=9)
    assert op.param_set.values["linear.out_features"] == 3
    graph = tw.nn("linear", out_features=2) >> tw.nn("relu")
    op = tw.nn("block", graph, n_blocks=1)
    assert op.block is not graph and op.block.pipeops["linear"] is not graph.pipeops["linear"]


def test_training_does_not_train_or_change_the_block():
    graph, _ = train_net(tw.nn("block", residual(), n_blocks=2), width_in=50)
    op = graph.pipeops["block"]
    assert all(not inner.is_trained for inner in op.block.pipeops.values())
    assert op.block.ids() == ["nop", "linear", "relu", "add"]
    assert op.state == {"shapes_out": [(None, 50)]}


# --- trafo ------------------------------------------------------------------------------------------
def widths(i, param_vals, param_set):
    assert isinstance(param_set.values["n_blocks"], int)
    return {**param_vals, "linear.out_features": param_vals["linear.out_features"] * 2**i}


def test_trafo_sets_the_values_of_each_repetition():
    layer = tw.nn("linear", out_features=1) >> tw.nn("relu")
    op = tw.nn("block", layer, n_blocks=3, trafo=widths)
    _, md = train_net(op)
    net = tw.model_descriptor_to_module(md)
    shapes = {row["layer"]: row["output shape"] for _, row in net.summary().table.iterrows()}
    assert shapes["block.linear__1"] == "(None, 2)"
    assert shapes["block.linear__2"] == "(None, 4)"
    assert shapes["block.linear__3"] == "(None, 8)"
    assert net(torch.randn(5, 4)).shape == (5, 8)
    assert md.pointer_shape == (None, 8)
    assert op.shapes_out([(None, 4)], task=tw.tsk("iris")) == [(None, 8)]
    # The block's own values stay as they were.
    assert op.param_set.values["linear.out_features"] == 1


def test_trafo_receives_one_based_indices_and_the_block_values():
    seen = []

    def record(i, param_vals, param_set):
        seen.append((i, dict(param_vals), param_set.values["n_blocks"]))
        return param_vals

    op = tw.nn("block", tw.nn("linear", out_features=2), n_blocks=3, trafo=record)
    train_net(op)
    assert seen == [(i, {"linear.out_features": 2}, 3) for i in (1, 2, 3)]


def test_trafo_must_return_valid_values():
    op = tw.nn("block", tw.nn("linear", out_features=2), n_blocks=2, trafo=lambda i, v, ps: None)
    with pytest.raises(
        InvalidParameterError, match=r"'trafo' of PipeOp 'block' must return a dict"
    ):
        train_net(op)
    op.param_set.set_values(trafo=lambda i, v, ps: {**v, "linear.out_features": -i})
    with pytest.raises(InvalidParameterError, match=r"'out_features' parameter") as info:
        train_net(op)
    assert any("for repetition 1" in note for note in info.value.__notes__)


# --- n_blocks = 0 ------------------------------------------------------------------------------------
def test_zero_blocks_pass_the_input_through():
    op = tw.nn("block", residual(), n_blocks=0)
    md = tw.po("torch_ingress_num").train([tw.tsk("iris")])[0]
    (out,) = op.train([md])
    assert out is md
    assert op.state == {"shapes_out": [(None, 4)]}
    assert op.shapes_out([(None, 7)]) == [(None, 7)]  # no task needed
    _, md = train_net(tw.nn("block", residual(), n_blocks=0), width_in=6)
    assert block_ids(md) == [] and md.pointer == ("linear_0", "output")


# --- real networks ------------------------------------------------------------------------------------
def test_five_residual_repetitions_compute_x_plus_relu_linear_x():
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=50)
        >> tw.nn("block", residual(), n_blocks=5)
        >> tw.nn("head")
    )
    md = graph.train(tw.tsk("iris"))["head.output"]
    layers = [i for i in md.graph.ids() if i.startswith("block.")]
    assert len(layers) == 15  # linear, relu, add per repetition: the nop adds no layer
    net = tw.model_descriptor_to_module(md, output_pointers=[("block.add__5", "output")])
    x = torch.randn(8, 4)
    with torch.no_grad():
        y = net(x)
        expected = md.graph.pipeops["linear"].module(x)
        for i in range(1, 6):
            linear = md.graph.pipeops[f"block.linear__{i}"].module
            expected = expected + torch.relu(linear(expected))
    assert y.shape == (8, 50)
    torch.testing.assert_close(y, expected)
    full = tw.model_descriptor_to_module(md)
    assert full(x).shape == (8, 3) and md.pointer_shape == (None, 3)
    assert graph.pipeops["block"].state == {"shapes_out": [(None, 50)]}
    # Every repetition has its own weights.
    w1 = md.graph.pipeops["block.linear__1"].module.weight
    w2 = md.graph.pipeops["block.linear__2"].module.weight
    assert w1 is not w2


def test_residual_block_with_merge_sum():
    pytest.importorskip("torchweave.network.ops.merge")
    block = [tw.po("nop"), tw.nn("linear", out_features=50) >> tw.nn("relu")] >> tw.nn("merge_sum")
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=50)
        >> tw.nn("block", block, n_blocks=5)
        >> tw.nn("head")
    )
    md = graph.train(tw.tsk("iris"))["head.output"]
    assert "block.merge_sum__5" in md.graph.pipeops
    assert tw.model_descriptor_to_module(md)(torch.randn(6, 4)).shape == (6, 3)


def test_predict_passes_the_task_through():
    task = tw.tsk("iris")
    graph, _ = train_net(tw.nn("block", residual(), n_blocks=2), width_in=50)
    (out,) = graph.predict(task).values()
    assert out is task


def test_nested_blocks():
    inner = tw.nn("block", id="block_in", block=tw.nn("linear", out_features=3), n_blocks=2)
    outer = tw.nn("block", inner, n_blocks=2)
    assert outer.param_set.ids() == [
        "n_blocks",
        "trafo",
        "block_in.n_blocks",
        "block_in.trafo",
        "block_in.linear.out_features",
        "block_in.linear.bias",
    ]
    outer.param_set.set_values(**{"block_in.linear.out_features": 5})
    assert inner.param_set.values["linear.out_features"] == 3  # the block was copied
    _, md = train_net(outer)
    assert block_ids(md) == [
        "block.block_in__1.linear__1",
        "block.block_in__1.linear__2",
        "block.block_in__2.linear__1",
        "block.block_in__2.linear__2",
    ]
    assert md.pointer_shape == (None, 5)
    assert outer.shapes_out([(None, 4)], task=tw.tsk("iris")) == [(None, 5)]


# --- shapes_out without training --------------------------------------------------------------------------
def test_shapes_out_needs_a_task_and_builds_nothing():
    op = tw.nn("block", residual(8), n_blocks=3)
    with pytest.raises(
        ShapeError, match=r"PipeOp 'block' requires a task to compute output shapes"
    ):
        op.shapes_out([(None, 8)])
    assert op.shapes_out([(None, 8)], task=tw.tsk("iris")) == [(None, 8)]
    assert op.shapes_out([(None, 2, 8)], task=tw.tsk("iris")) == [(None, 2, 8)]
    assert not op.is_trained


def test_shapes_out_reports_the_inner_operators_errors():
    op = tw.nn("block", tw.nn("linear", out_features=3), n_blocks=2)
    with pytest.raises(ShapeError, match=r"PipeOp 'block.linear__1' requires the last dimension"):
        op.shapes_out([(None, None)], task=tw.tsk("iris"))
    merge_mismatch = tw.nn("block", residual(3), n_blocks=1)
    with pytest.raises(ShapeError, match=r"PipeOp 'block.add__1'"):
        merge_mismatch.shapes_out([(None, 5)], task=tw.tsk("iris"))


def test_shapes_out_refuses_non_torch_operators_other_than_nop():
    op = tw.nn("block", tw.po("copy", outnum=1) >> tw.nn("linear", out_features=2), n_blocks=2)
    with pytest.raises(ShapeError, match=r"through PipeOp 'block.copy__1' \(PipeOpCopy\)"):
        op.shapes_out([(None, 4)], task=tw.tsk("iris"))
    _, md = train_net(op)  # training works: the copy passes the descriptor on
    assert md.pointer_shape == (None, 2)


@settings(max_examples=15, deadline=None)
@given(
    n_blocks=st.integers(0, 3),
    width=st.integers(1, 6),
    seq=st.one_of(st.none(), st.integers(1, 3)),
)
def test_inferred_shapes_match_real_outputs(n_blocks, width, seq):
    block = tw.nn("linear", out_features=width) >> tw.nn("relu")
    op = tw.nn("block", block, n_blocks=n_blocks)
    task = tw.tsk("iris")
    md = tw.po("torch_ingress_num").train([task])[0]
    if seq is not None:  # a 3-d input: (batch, seq, features)
        md = md.with_pointer(md.pointer, (None, seq, 4))
    (out,) = op.train([md])
    assert op.shapes_out([md.pointer_shape], task=task) == [out.pointer_shape]
    net = tw.model_descriptor_to_module(out)
    x = torch.randn(5, 4) if seq is None else torch.randn(5, seq, 4)
    y = net(x)
    assert all(a is None or a == b for a, b in zip(out.pointer_shape, y.shape, strict=True))
    assert y.shape[-1] == (width if n_blocks else 4)


# --- copies -----------------------------------------------------------------------------------------------
def test_clone_and_pickle_are_independent():
    op = tw.nn("block", residual(), n_blocks=2)
    copy = op.clone()
    copy.param_set.set_values(**{"linear.out_features": 3, "n_blocks": 1})
    assert op.param_set.values == {"n_blocks": 2, "linear.out_features": 50}
    assert copy.block.pipeops["linear"].param_set.values["out_features"] == 3
    restored = pickle.loads(pickle.dumps(op))
    restored.param_set.set_values(n_blocks=4)
    assert op.param_set.values["n_blocks"] == 2
    assert restored.param_set.values == {"n_blocks": 4, "linear.out_features": 50}
    _, md = train_net(restored, width_in=50)
    assert len(block_ids(md)) == 12
