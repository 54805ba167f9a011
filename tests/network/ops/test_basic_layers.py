"""nn_dropout, nn_identity, nn_softmax and nn_layer_norm: shapes, params, errors."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
from tests.network.ops.helpers import make_md, run
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.module_graph import model_descriptor_to_module
from torchweave.network.ops.nn_dropout import PipeOpTorchDropout
from torchweave.network.ops.nn_identity import PipeOpTorchIdentity
from torchweave.network.ops.nn_layer_norm import PipeOpTorchLayerNorm
from torchweave.network.ops.nn_softmax import PipeOpTorchSoftmax
from torchweave.network.pipeop_torch import signature_params

shapes = st.lists(st.one_of(st.none(), st.integers(1, 4)), min_size=0, max_size=3).map(
    lambda rest: (None, *rest)
)


def _signature_defaults(op, extra_omitted=()):
    omitted = (*getattr(op, "omitted", ("device", "dtype")), *extra_omitted)
    return signature_params(op.module_class, exclude=(*op.inferred, *omitted))


@pytest.mark.parametrize(
    ("key", "cls"),
    [
        ("dropout", PipeOpTorchDropout),
        ("identity", PipeOpTorchIdentity),
        ("softmax", PipeOpTorchSoftmax),
        ("layer_norm", PipeOpTorchLayerNorm),
    ],
)
def test_registered_with_default_id(key, cls):
    op = tw.po(f"nn_{key}")
    assert type(op) is cls
    assert op.id == f"nn_{key}"
    assert tw.nn(key).id == key
    assert op.param_set.values == {}


# --- nn_dropout ------------------------------------------------------------------------------
def test_dropout_params_mirror_torch():
    op = PipeOpTorchDropout()
    assert op.module_class is nn.Dropout
    assert op.param_set.default == _signature_defaults(op) == {"p": 0.5, "inplace": False}
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'p' parameter of PipeOp 'dropout' must be a float in \[0, 1\]\. Got 1\.5 instead\.",
    ):
        tw.nn("dropout", p=1.5)


@given(shape=shapes)
def test_dropout_keeps_the_shape(shape):
    inferred, x, y, layer = run(tw.nn("dropout", p=0.25), shape)
    assert inferred == shape
    assert y.shape == x.shape
    assert layer.p == 0.25


def test_dropout_zeroes_in_training_only():
    _, _, _, layer = run(tw.nn("dropout", p=0.5), (None, 4))
    x = torch.ones(200, 50)
    y = layer.train()(x)
    assert set(y.unique().tolist()) == {0.0, 2.0}
    torch.testing.assert_close(layer.eval()(x), x)


# --- nn_identity -----------------------------------------------------------------------------
def test_identity_has_no_params_and_returns_its_input():
    op = PipeOpTorchIdentity()
    assert op.module_class is nn.Identity
    assert len(op.param_set) == 0 == len(_signature_defaults(op))
    inferred, x, y, _ = run(op, (None, None, 3))
    assert inferred == (None, None, 3)
    assert torch.equal(x, y)


@given(shape=shapes)
def test_identity_keeps_any_shape(shape):
    assert tw.nn("identity").shapes_out([shape]) == [shape]


# --- nn_softmax ------------------------------------------------------------------------------
def test_softmax_params_mirror_torch_except_dim_is_required():
    op = PipeOpTorchSoftmax()
    assert op.module_class is nn.Softmax
    # torch's default dim=None picks a dimension implicitly (deprecated): required here.
    assert set(op.param_set.ids()) == set(_signature_defaults(op)) == {"dim"}
    assert op.param_set.default == {}
    assert op.param_set.tags["dim"] == {"train", "required"}


@pytest.mark.parametrize(
    ("shape", "dim"),
    [
        ((None, 3), -1),
        ((None, 3), 1),
        ((None, 4, None), 1),
        ((None, None, 5), 2),
        ((None, 2, 3), 0),
    ],
)
def test_softmax_normalises_dim(shape, dim):
    op = tw.nn("softmax", dim=dim)
    inferred, x, y, _ = run(op, shape)
    assert inferred == shape
    assert y.shape == x.shape
    torch.testing.assert_close(y.sum(dim=dim), torch.ones_like(y.sum(dim=dim)))


def test_softmax_r_dim_translation():
    # R's nn_softmax(dim = 2) normalises the features of a (batch, features) input: dim=1 here.
    x = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    _, _, _, layer = run(tw.nn("softmax", dim=1), (None, 3))
    torch.testing.assert_close(layer(x)[1], torch.full((3,), 1 / 3))


def test_softmax_errors():
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'softmax': dim 2 is out of range for an input with 2 dimensions\.",
    ):
        tw.nn("softmax", dim=2).shapes_out([(None, 3)])
    with pytest.raises(ShapeError, match=r"PipeOp 'softmax': dim -3 is out of range"):
        tw.nn("softmax", dim=-3).shapes_out([(None, 3)])
    op = tw.nn("softmax")
    with pytest.raises(
        InvalidParameterError, match=r"PipeOp 'softmax' needs the required parameter\(s\) 'dim'"
    ):
        op.train([make_md((None, 3))])
    assert not op.is_trained


# --- nn_layer_norm ---------------------------------------------------------------------------
def test_layer_norm_params():
    op = PipeOpTorchLayerNorm()
    assert op.module_class is nn.LayerNorm
    assert op.inferred == ("normalized_shape",)
    assert op.extra_params == ("dims",)
    torch_defaults = _signature_defaults(op)
    # ``dims`` (mlr3torch's parameter) replaces the inferred normalized_shape.
    assert set(op.param_set.ids()) == {*torch_defaults, "dims"}
    assert (
        op.param_set.default
        == torch_defaults
        == {"eps": 1e-5, "elementwise_affine": True, "bias": True}
    )
    assert op.param_set.tags["dims"] == {"train", "required"}
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'dims' parameter of PipeOp 'layer_norm' must be an integer >= 1\. Got 0 instead\.",
    ):
        tw.nn("layer_norm", dims=0)


@pytest.mark.parametrize(
    ("shape", "dims", "normalized"),
    [
        ((None, 4), 1, (4,)),
        ((None, None, 4), 1, (4,)),
        ((None, 3, 4), 2, (3, 4)),
        ((None, None, 2, 3), 2, (2, 3)),
        ((None, 2, 3, 4), 3, (2, 3, 4)),
    ],
)
def test_layer_norm_infers_normalized_shape(shape, dims, normalized):
    op = tw.nn("layer_norm", dims=dims)
    inferred, x, y, layer = run(op, shape)
    assert inferred == shape
    assert y.shape == x.shape
    assert layer.normalized_shape == normalized
    flat = y.reshape(*y.shape[: len(shape) - dims], -1)
    torch.testing.assert_close(flat.mean(-1), torch.zeros_like(flat.mean(-1)), atol=1e-5, rtol=0)


def test_layer_norm_params_reach_the_module():
    _, _, _, layer = run(
        tw.nn("layer_norm", dims=1, eps=1e-3, elementwise_affine=True, bias=False), (None, 6)
    )
    assert layer.eps == 1e-3
    assert layer.weight.shape == (6,)
    assert layer.bias is None
    _, _, _, layer = run(tw.nn("layer_norm", dims=1, elementwise_affine=False), (None, 6))
    assert layer.weight is None
    assert "dims" not in vars(layer)


def test_layer_norm_errors():
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'layer_norm' normalises the last 2 dimension\(s\), which must not include the "
        r"batch dimension, but got the shape \(None, 4\) with 2 dimensions\.",
    ):
        tw.nn("layer_norm", dims=2).shapes_out([(None, 4)])
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'layer_norm' requires the last 2 dimension\(s\) of the input shape to be "
        r"known, but got shape \(None, None, 4\)\.",
    ):
        tw.nn("layer_norm", dims=2).shapes_out([(None, None, 4)])
    op = tw.nn("layer_norm")
    with pytest.raises(
        InvalidParameterError, match=r"PipeOp 'layer_norm' needs the required parameter\(s\) 'dims'"
    ):
        op.train([make_md((None, 3))])


def test_layer_norm_on_a_task():
    graph = tw.po("torch_ingress_num") >> tw.nn("layer_norm", dims=1) >> tw.nn("head")
    md = graph.train(tw.tsk("iris"))["head.output"]
    net = model_descriptor_to_module(md)
    assert net(torch.randn(3, 4)).shape == (3, 3)
    assert isinstance(net.layers["layer_norm"], nn.LayerNorm)
