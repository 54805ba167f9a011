"""nn_glu, nn_reglu and nn_geglu: halved shapes, values, params mirroring torch, errors."""

import inspect

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional

import torchweave as tw
from tests.network.ops.helpers import assert_fits, make_md, run
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.module_graph import model_descriptor_to_module
from torchweave.network.ops.glu import (
    GeGLU,
    PipeOpTorchGeGLU,
    PipeOpTorchGLU,
    PipeOpTorchReGLU,
    ReGLU,
)
from torchweave.network.pipeop_torch import signature_params


@pytest.mark.parametrize(
    ("key", "cls", "module_class"),
    [
        ("glu", PipeOpTorchGLU, nn.GLU),
        ("reglu", PipeOpTorchReGLU, ReGLU),
        ("geglu", PipeOpTorchGeGLU, GeGLU),
    ],
)
def test_registered_and_params_mirror_the_module(key, cls, module_class):
    op = tw.po(f"nn_{key}")
    assert type(op) is cls
    assert op.id == f"nn_{key}"
    assert tw.nn(key).id == key
    assert "activation" in op.tags
    assert not op.preserves_shape
    assert op.module_class is module_class
    expected = signature_params(module_class, exclude=op.inferred)
    assert set(op.param_set.ids()) == set(expected)
    assert op.param_set.default == {
        k: v for k, v in expected.items() if v is not inspect.Parameter.empty
    }
    assert op.param_set.values == {}


# --- nn_glu --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "dim", "expected"),
    [
        ((None, 6), -1, (None, 3)),
        ((None, 6), 1, (None, 3)),
        ((None, None, 4), -1, (None, None, 2)),
        ((None, 4, None), 1, (None, 2, None)),  # R's dim = 2
        ((None, 3, 8, None), 2, (None, 3, 4, None)),
        ((None, 3, 8, 2), -2, (None, 3, 4, 2)),
    ],
)
def test_glu_halves_dim(shape, dim, expected):
    op = tw.nn("glu", dim=dim)
    assert op.shapes_out([shape]) == [expected]
    inferred, x, y, _ = run(op, shape, sizes=(3, 5, 7))
    assert inferred == expected
    assert_fits(inferred, tuple(y.shape))
    torch.testing.assert_close(y, functional.glu(x, dim=dim))


def test_glu_default_dim_is_last():
    inferred, x, y, _ = run(tw.nn("glu"), (None, 2, 6), sizes=(3, 5, 7))
    assert inferred == (None, 2, 3)
    torch.testing.assert_close(y, x[..., :3] * torch.sigmoid(x[..., 3:]))


@given(
    rest=st.lists(st.one_of(st.none(), st.integers(1, 4)), min_size=1, max_size=3),
    data=st.data(),
)
def test_glu_any_shape(rest, data):
    dim = data.draw(st.integers(1, len(rest)))
    half = data.draw(st.integers(1, 3))
    shape = (None, *rest[: dim - 1], 2 * half, *rest[dim:])
    op = tw.nn("glu", dim=dim if data.draw(st.booleans()) else dim - len(shape))
    inferred, x, y, _ = run(op, shape, sizes=(3, 5, 7))
    assert inferred == (*shape[:dim], half, *shape[dim + 1 :])
    assert_fits(inferred, tuple(y.shape))
    torch.testing.assert_close(y, functional.glu(x, dim=dim))


def test_glu_errors():
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'glu' cannot halve the batch dimension \(dim 0\) of the input shape \(None, 4\)\.",
    ):
        tw.nn("glu", dim=0).shapes_out([(None, 4)])
    with pytest.raises(ShapeError, match=r"PipeOp 'glu' cannot halve the batch dimension"):
        tw.nn("glu", dim=-2).shapes_out([(None, 4)])
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'glu' halves dimension 1 of its input, whose size must be divisible by 2, "
        r"but got shape \(None, 5\)\.",
    ):
        tw.nn("glu").shapes_out([(None, 5)])
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'glu' requires dimension 2 \(the one it halves\) of the input shape to be "
        r"known, but got shape \(None, 4, None\)\.",
    ):
        tw.nn("glu").shapes_out([(None, 4, None)])
    with pytest.raises(
        ShapeError, match=r"PipeOp 'glu': dim 2 is out of range for an input with 2 dimensions\."
    ):
        tw.nn("glu", dim=2).shapes_out([(None, 4)])
    with pytest.raises(ShapeError, match=r"PipeOp 'glu': dim -3 is out of range"):
        tw.nn("glu", dim=-3).shapes_out([(None, 4)])


def test_glu_error_at_train_leaves_it_untrained():
    op = tw.nn("glu")
    md = make_md((None, 3))
    with pytest.raises(ShapeError, match="divisible by 2"):
        op.train([md])
    assert not op.is_trained
    assert list(md.graph.pipeops) == ["inp"]


def test_glu_dim_must_be_an_integer():
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'dim' parameter of PipeOp 'glu' must be an integer\. Got 1\.5 instead\.",
    ):
        tw.nn("glu", dim=1.5)


# --- nn_reglu / nn_geglu ----------------------------------------------------------------------
@pytest.mark.parametrize(("key", "gate"), [("reglu", functional.relu), ("geglu", functional.gelu)])
@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((None, 8), (None, 4)),
        ((None, None, 6), (None, None, 3)),
        ((None, 2, None, 2), (None, 2, None, 1)),
    ],
)
def test_gated_units_halve_the_last_dim(key, gate, shape, expected):
    op = tw.nn(key)
    assert op.shapes_out([shape]) == [expected]
    inferred, x, y, _ = run(op, shape, sizes=(3, 5, 7))
    assert inferred == expected
    assert_fits(inferred, tuple(y.shape))
    half = shape[-1] // 2
    torch.testing.assert_close(y, x[..., :half] * gate(x[..., half:]))


def test_reglu_and_geglu_values():
    x = torch.tensor([[1.0, -2.0, 3.0, -1.0, 0.5, 2.0]])  # a = (1, -2, 3), b = (-1, 0.5, 2)
    assert ReGLU()(x).tolist() == [[0.0, -1.0, 6.0]]
    phi = torch.distributions.Normal(0.0, 1.0).cdf
    b = torch.tensor([-1.0, 0.5, 2.0])
    expected = torch.tensor([1.0, -2.0, 3.0]) * b * phi(b)
    torch.testing.assert_close(GeGLU()(x), expected.unsqueeze(0))


def test_gated_units_have_no_parameters():
    assert list(ReGLU().parameters()) == []
    assert list(GeGLU().parameters()) == []


@pytest.mark.parametrize("key", ["reglu", "geglu"])
def test_gated_unit_errors(key):
    with pytest.raises(
        ShapeError,
        match=rf"PipeOp '{key}' halves dimension 2 of its input, whose size must be divisible by 2, "
        r"but got shape \(None, 4, 3\)\.",
    ):
        tw.nn(key).shapes_out([(None, 4, 3)])
    with pytest.raises(
        ShapeError,
        match=rf"PipeOp '{key}' requires dimension 1 \(the one it halves\) of the input shape to be known",
    ):
        tw.nn(key).shapes_out([(None, None)])
    with pytest.raises(ShapeError, match=rf"PipeOp '{key}' cannot halve the batch dimension"):
        tw.nn(key).shapes_out([(None,)])
    with pytest.raises(InvalidParameterError, match=rf"'dim' is not a parameter of PipeOp '{key}'"):
        tw.nn(key, dim=1)


def test_geglu_in_a_graph_on_a_task():
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=8)
        >> tw.nn("geglu")
        >> tw.nn("head")
    )
    md = graph.train(tw.tsk("iris"))["head.output"]
    assert md.graph.pipeops["geglu"].shapes_out == [(None, 4)]
    assert model_descriptor_to_module(md)(torch.randn(3, 4)).shape == (3, 3)
