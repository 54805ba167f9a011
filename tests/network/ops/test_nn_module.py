"""nn_module: any torch.nn.Module class as a layer; parameters, inferred arguments, channels."""

import inspect
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
import torchweave.network.ops.nn_module  # registers the operator
from tests.network.ops.helpers import make_md, run
from torchweave.errors import InvalidParameterError, InvalidTypeError, ShapeError
from torchweave.network.ops.nn_module import PipeOpTorchModule


class MyBlock(nn.Module):
    """A residual MLP block on the last dimension."""

    def __init__(self, in_features, hidden=16, dropout=0.0):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, in_features),
        )

    def forward(self, x):
        return x + self.body(x)


class Pair(nn.Module):
    def __init__(self, weight=1.0):
        super().__init__()
        self.weight = weight

    def forward(self, a, b, mask=None):
        return self.weight * a + b


class SumAll(nn.Module):
    def forward(self, *xs):
        return sum(xs)


class Project(nn.Module):
    """Projects the channel dimension; needs a device argument without default."""

    def __init__(self, in_channels, out_channels, device, dtype=None):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, 1, device=device, dtype=dtype)

    def forward(self, x):
        return self.conv(x)


def _n_classes(shapes_in, task):
    return None if task is None else len(task.class_names)


# --- parameters -------------------------------------------------------------------------------
def test_params_mirror_the_constructor_minus_inferred():
    op = tw.po("nn_module", MyBlock, infer={"in_features": -1}, hidden=16)
    assert op.id == "nn_module"
    assert op.param_set.ids() == ["hidden", "dropout"]
    assert op.param_set.default == {"hidden": 16, "dropout": 0.0}
    assert op.param_set.values == {"hidden": 16}
    assert all(op.param_set.params[i].tags == {"train"} for i in ("hidden", "dropout"))
    assert op.inferred == ("in_features",)
    assert op.module_class is MyBlock
    # without infer, in_features is a required parameter
    op = tw.nn("module", MyBlock)
    assert op.param_set.ids() == ["in_features", "hidden", "dropout"]
    assert op.param_set.params["in_features"].tags == {"train", "required"}
    with pytest.raises(
        InvalidParameterError, match=r"needs the required parameter\(s\) 'in_features'"
    ):
        op.train([make_md((None, 4))])


def test_torch_classes_mirror_their_signature_without_device_and_dtype():
    op = tw.nn("module", nn.Linear, infer={"in_features": -1})
    sig = inspect.signature(nn.Linear.__init__).parameters
    expected = [n for n in sig if n not in ("self", "in_features", "device", "dtype")]
    assert op.param_set.ids() == expected == ["out_features", "bias"]
    assert op.param_set.default == {"bias": True}
    assert "required" in op.param_set.params["out_features"].tags
    # a device argument without a default stays a (required) parameter
    assert tw.nn("module", Project, infer={"in_channels": 1}).param_set.ids() == [
        "out_channels",
        "device",
    ]


def test_construction_errors():
    with pytest.raises(
        InvalidTypeError, match=r"PipeOp 'module' needs a torch.nn.Module class \(not an instance\)"
    ):
        tw.nn("module", nn.Linear(2, 3))
    with pytest.raises(InvalidTypeError, match="needs a torch.nn.Module class"):
        tw.nn("module", int)
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'infer' argument of PipeOp 'module' names 'in_feature', which is not an argument of Linear "
        r"\('in_features', 'out_features', 'bias'\)\. Did you mean",
    ):
        tw.nn("module", nn.Linear, infer={"in_feature": -1})
    with pytest.raises(
        InvalidParameterError,
        match="The 'infer' rule for 'in_features' of PipeOp 'module' must be an int",
    ):
        tw.nn("module", nn.Linear, infer={"in_features": "last"})
    with pytest.raises(InvalidParameterError, match="must be an int"):
        tw.nn("module", nn.Linear, infer={"in_features": True})
    with pytest.raises(
        InvalidParameterError, match="'in_features' is not a parameter of PipeOp 'module'"
    ):
        tw.nn("module", nn.Linear, infer={"in_features": -1}, in_features=3)


# --- inference and shapes -----------------------------------------------------------------------
def test_inferred_from_a_dim_and_traced_shapes():
    op = tw.nn("module", MyBlock, infer={"in_features": -1}, hidden=8)
    inferred, _, y, _ = run(op, (None, 5), (3, 5))
    assert inferred == (None, 5)
    assert y.shape == (3, 5)
    block = op.train([make_md((None, 5))])[0].graph.pipeops["module"].module
    assert isinstance(block, MyBlock)
    assert (block.body[0].in_features, block.body[0].out_features) == (5, 8)
    inferred, _, y, _ = run(
        tw.nn("module", nn.Linear, infer={"in_features": 2}, out_features=3),
        (None, None, 4),
        (2, 7, 4),
    )
    assert inferred == (None, None, 3)
    assert y.shape == (2, 7, 3)
    op = tw.nn("module", nn.Conv1d, infer={"in_channels": 1}, out_channels=6, kernel_size=3)
    inferred, _, y, _ = run(op, (None, 2, None), (4, 2, 10))
    assert inferred == (None, 6, None)
    assert y.shape == (4, 6, 8)


def test_inferred_by_a_callable_from_the_task():
    graph = tw.po("torch_ingress_num") >> tw.nn(
        "module", nn.Linear, infer={"in_features": -1, "out_features": _n_classes}
    )
    md = graph.train(tw.tsk("iris"))["module.output"]
    assert md.pointer_shape == (None, 3)
    assert tw.model_descriptor_to_module(md)(torch.randn(2, 4)).shape == (2, 3)
    seen = []
    op = tw.nn(
        "module", Pair, infer={"weight": lambda shapes, task: seen.append((shapes, task)) or 2.0}
    )
    op.shapes_out([(None, 3), (None, 3)])
    assert seen == [([(None, 3), (None, 3)], None)]


def test_inference_errors():
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'module' infers 'in_features' from dimension 3 of the input, but the input shape "
        r"\(None, 4\) has 2 dimension\(s\)\.",
    ):
        tw.nn("module", nn.Linear, infer={"in_features": 3}, out_features=2).shapes_out([(None, 4)])
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'module' requires dimension 1 \(for 'in_features'\) of the input shape to be known, "
        r"but got shape \(None, None\)\.",
    ):
        tw.nn("module", nn.Linear, infer={"in_features": -1}, out_features=2).shapes_out(
            [(None, None)]
        )
    with pytest.raises(
        ShapeError, match=r"PipeOp 'module' cannot process an input of shape \[\(None, 3\)\]"
    ):
        tw.nn("module", nn.Linear, in_features=4, out_features=2).shapes_out([(None, 3)])


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=2, max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.integers(1, 4),
)
def test_traced_shapes_match_real_batches(real, unknown, out_features):
    masked = (*(None if u else r for r, u in zip(real[:-1], unknown, strict=False)), real[-1])
    op = tw.nn("module", nn.Linear, infer={"in_features": -1}, out_features=out_features)
    inferred, _, y, _ = run(op, masked, tuple(real))
    assert len(inferred) == y.dim()
    assert inferred[-1] == out_features
    for i, r in zip(inferred, y.shape, strict=True):
        assert i is None or i == r


# --- channels -----------------------------------------------------------------------------------
def test_channels_follow_forward():
    assert [ch.name for ch in tw.nn("module", MyBlock, infer={"in_features": -1}).input] == [
        "input"
    ]
    assert [ch.name for ch in tw.nn("module", Pair).input] == ["a", "b"]
    assert [ch.name for ch in tw.nn("module", SumAll).input] == ["..."]
    assert [ch.name for ch in tw.nn("module", Pair).output] == ["output"]


def test_two_input_module_in_a_graph():
    branches = [tw.nn("linear", out_features=3), tw.nn("linear_2", out_features=3)]
    graph = tw.po("torch_ingress_num") >> branches >> tw.nn("module", Pair, weight=2.0)
    md = graph.train(tw.tsk("iris"))["module.output"]
    assert md.pointer_shape == (None, 3)
    net = tw.model_descriptor_to_module(md)
    x = torch.randn(5, 4)
    assert torch.allclose(net(x), 2.0 * net.layers["linear"](x) + net.layers["linear_2"](x))


def test_vararg_module_in_a_graph():
    graph = tw.po("torch_ingress_num") >> [tw.po("nop"), tw.nn("relu")] >> tw.nn("module", SumAll)
    md = graph.train(tw.tsk("iris"))["module.output"]
    x = torch.randn(5, 4)
    assert torch.allclose(tw.model_descriptor_to_module(md)(x), x + torch.relu(x))


# --- pickling -----------------------------------------------------------------------------------
def test_pickle_round_trip():
    op = tw.po("nn_module", MyBlock, infer={"in_features": -1}, hidden=4)
    clone = pickle.loads(pickle.dumps(op))
    assert clone.module_class is MyBlock
    assert clone.infer == {"in_features": -1}
    assert clone.param_set.values == {"hidden": 4}
    md = clone.train([make_md((None, 3))])[0]
    net = pickle.loads(pickle.dumps(tw.model_descriptor_to_module(md)))
    assert net(torch.randn(2, 3)).shape == (2, 3)
    assert isinstance(tw.po("nn_module", SumAll), PipeOpTorchModule)
