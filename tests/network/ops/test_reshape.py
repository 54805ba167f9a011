"""nn_reshape, nn_flatten, nn_unsqueeze, nn_squeeze: shapes vs real batches, errors, params."""

import math
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import torchweave as tw
import torchweave.network.ops.reshape  # registers the operators
from tests.network.ops.helpers import assert_fits, assert_params_mirror_torch, make_md, run
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.ops.reshape import (
    PipeOpTorchFlatten,
    PipeOpTorchReshape,
    PipeOpTorchSqueeze,
    PipeOpTorchUnsqueeze,
    Reshape,
    Squeeze,
    Unsqueeze,
    reshape_output_shape,
)

# A real shape (batch first) and a mask of unknown dims (the batch is usually unknown).
real_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=5).map(tuple)


def _shapes(op, shape_in, real_in):
    """The inferred output shape of ``op`` for ``shape_in`` and the real one for ``real_in``."""
    result = run(op, shape_in, real_in)
    return result.shape, tuple(result.y.shape)


@st.composite
def masked_shapes(draw, min_ndim=1):
    real = draw(st.lists(st.integers(1, 4), min_size=min_ndim, max_size=5).map(tuple))
    unknown = draw(st.lists(st.booleans(), min_size=len(real), max_size=len(real)))
    unknown[0] = draw(st.sampled_from([True, True, False]))
    masked = tuple(None if u else r for r, u in zip(real, unknown, strict=True))
    return real, masked


# --- parameters -------------------------------------------------------------------------------
def test_params_mirror_the_module_signatures():
    assert_params_mirror_torch(tw.nn("flatten"), torch.nn.Flatten)
    assert_params_mirror_torch(tw.nn("reshape"), Reshape)
    assert_params_mirror_torch(tw.nn("unsqueeze"), Unsqueeze)
    assert_params_mirror_torch(tw.nn("squeeze"), Squeeze)
    assert tw.nn("flatten").param_set.default == {"start_dim": 1, "end_dim": -1}
    assert tw.nn("flatten").param_set.values == {}


def test_keys_ids_and_classes():
    for key, cls in [
        ("reshape", PipeOpTorchReshape),
        ("flatten", PipeOpTorchFlatten),
        ("unsqueeze", PipeOpTorchUnsqueeze),
        ("squeeze", PipeOpTorchSqueeze),
    ]:
        assert type(tw.po(f"nn_{key}")) is cls
        assert tw.po(f"nn_{key}").id == f"nn_{key}"
        assert tw.nn(key).id == key
        assert tw.nn(f"{key}_2").id == f"{key}_2"


def test_required_params_are_checked_at_train():
    for key in ("reshape", "unsqueeze", "squeeze"):
        with pytest.raises(InvalidParameterError, match="required parameter"):
            tw.nn(key).train([make_md((None, 3))])


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ((None, 12), "use -1, not None"),
        ((-1, -1), "at most one -1"),
        ((0, 12), "ints >= 1 or -1"),
        ((-2, 12), "ints >= 1 or -1"),
        ((True, 12), "ints >= 1 or -1"),
        ((), "non-empty tuple"),
        ("12", "non-empty tuple"),
        (12, "non-empty tuple"),
    ],
)
def test_reshape_shape_param_is_validated(value, match):
    with pytest.raises(
        InvalidParameterError, match=rf"'shape' parameter of PipeOp 'reshape'.*{match}"
    ):
        tw.nn("reshape", shape=value)


def test_reshape_shape_param_accepts_tuples_lists_and_callables():
    assert tw.nn("reshape", shape=[-1, 4]).param_set.values["shape"] == [-1, 4]
    assert tw.nn("reshape", shape=torch.Size([2, 3])).shapes_out([(2, 3)]) == [(2, 3)]
    assert tw.nn("reshape", shape=lambda s: (s[0], -1)).shapes_out([(None, 2, 3)]) == [(None, 6)]


@pytest.mark.parametrize("value", [1.5, (1, "a"), (), None, True])
def test_squeeze_dim_param_is_validated(value):
    with pytest.raises(
        InvalidParameterError, match="'dim' parameter of PipeOp 'squeeze' must be an int or"
    ):
        tw.nn("squeeze", dim=value)


def test_int_params_reject_floats():
    with pytest.raises(
        InvalidParameterError, match="'start_dim' parameter of PipeOp 'flatten' must be an integer"
    ):
        tw.nn("flatten", start_dim=1.0)
    with pytest.raises(
        InvalidParameterError, match="'dim' parameter of PipeOp 'unsqueeze' must be an integer"
    ):
        tw.nn("unsqueeze", dim="1")


# --- nn_reshape ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape_in", "target", "expected"),
    [
        ((None, 3, 4), (-1, 12), (None, 12)),  # -1 first keeps the batch
        ((None, 3, 4), (-1, 2, 6), (None, 2, 6)),
        ((None, 3, 4), lambda s: (s[0], -1), (None, 12)),  # per-observation resolution
        ((None, 3, 4), lambda s: (s[0], 2, -1), (None, 2, 6)),
        ((None, 3, 4), lambda s: (s[0], 4, 3), (None, 4, 3)),
        ((2, 3, 4), (2, -1), (2, 12)),
        ((2, 3, 4), (3, -1), (3, 8)),  # a new first size: the target does not keep the batch
        ((2, 3, 4), (4, 6), (4, 6)),
        ((2, 3, 4), (24,), (24,)),
        ((None, None, 4), (-1, 4), (None, 4)),  # unknown element count: -1 stays unknown
        ((None, None, 4), lambda s: (s[0], s[1], 2, 2), (None, None, 2, 2)),
        ((None, 3, None), (5, -1), (5, None)),
        ((None, 6), (3, 2, -1), (3, 2, None)),
    ],
)
def test_reshape_output_shapes(shape_in, target, expected):
    assert tw.nn("reshape", shape=target).shapes_out([shape_in]) == [expected]
    assert reshape_output_shape(shape_in, target, "reshape") == expected


def test_reshape_errors():
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'reshape': 'shape' \(2, 5\) is not compatible with the input shape \(2, 3, 4\)\.",
    ):
        tw.nn("reshape", shape=(2, 5)).shapes_out([(2, 3, 4)])
    with pytest.raises(
        ShapeError, match=r"'shape' \(-1, 5\) is not compatible with the input shape \(2, 3, 4\)"
    ):
        tw.nn("reshape", shape=(-1, 5)).shapes_out([(2, 3, 4)])
    with pytest.raises(
        ShapeError,
        match=r"'shape' \(-1, 6\) changes the batch dimension of the input shape \(2, 3, 4\): it maps 12 "
        r"elements per observation to 6\.",
    ):
        tw.nn("reshape", shape=(-1, 6)).shapes_out([(2, 3, 4)])
    with pytest.raises(
        ShapeError,
        match=r"'shape' \(-1, 6\) changes the batch dimension of the input shape \(None, 3, 4\): it maps "
        r"12 elements per observation to 6\.",
    ):
        tw.nn("reshape", shape=(-1, 6)).shapes_out([(None, 3, 4)])
    with pytest.raises(
        ShapeError,
        match=r"'shape' \(None, 5, -1\) is not compatible with the input shape \(None, 3, 4\)",
    ):
        tw.nn("reshape", shape=lambda s: (s[0], 5, -1)).shapes_out([(None, 3, 4)])
    with pytest.raises(
        ShapeError, match=r"changes the batch dimension.*maps 12 elements per observation to 1\."
    ):
        tw.nn("reshape", shape=(-1,)).shapes_out([(None, 3, 4)])


def test_reshape_callable_returning_an_invalid_target_is_reported():
    with pytest.raises(
        ShapeError,
        match=r"'shape' returned \(-1, -1\) for the input shape \(None, 3\), but must return",
    ):
        tw.nn("reshape", shape=lambda s: (-1, -1)).shapes_out([(None, 3)])
    with pytest.raises(ShapeError, match="returned 'x'"):
        tw.nn("reshape", shape=lambda s: "x").shapes_out([(None, 3)])


def test_reshape_callable_gets_the_real_shape_at_run_time():
    op = tw.nn("reshape", shape=lambda s: (s[0], s[1], 2, -1))
    inferred, real = _shapes(op, (None, None, 8), (3, 5, 8))
    assert inferred == (None, None, 2, None)
    assert real == (3, 5, 2, 4)


def test_reshape_keeps_batch_in_a_real_network():
    graph = tw.po("torch_ingress_num") >> tw.nn("reshape", shape=(-1, 2, 2)) >> tw.nn("flatten")
    md = graph.train(tw.tsk("iris"))["flatten.output"]
    assert md.pointer_shape == (None, 4)
    net = tw.model_descriptor_to_module(md)
    x = torch.randn(7, 4)
    assert torch.equal(net(x), x)


@st.composite
def _valid_reshape(draw):
    """A real shape, its mask, and a batch-keeping target that torch accepts."""
    real, masked = draw(masked_shapes())
    rest = math.prod(real[1:])
    divisors = [d for d in range(1, rest + 1) if rest % d == 0]
    a = draw(st.sampled_from(divisors))
    kind = draw(st.sampled_from(["neg_first", "fn_neg", "fn_exact", "fn_keep"]))
    if kind == "neg_first":
        target = (-1, a, rest // a)
    elif kind == "fn_neg":
        target = lambda s: (s[0], a, -1)  # noqa: E731
    elif kind == "fn_exact":
        target = lambda s: (s[0], rest // a, a)  # noqa: E731
    else:
        target = lambda s: tuple(s)  # noqa: E731
    return real, masked, target, kind


@settings(max_examples=40, deadline=None)
@given(_valid_reshape())
def test_reshape_inferred_shape_matches_real_batches(case):
    real, masked, target, kind = case
    inferred, out = _shapes(tw.nn("reshape", shape=target), masked, real)
    assert_fits(inferred, out)
    if masked[1:] == real[1:] and kind != "fn_keep":
        # only the batch is unknown: everything else is resolved per observation
        assert inferred[1:] == out[1:]


@settings(max_examples=40, deadline=None)
@given(real_shapes, st.lists(st.sampled_from([-1, 1, 2, 3, 4, 6, 8, 12]), min_size=1, max_size=4))
def test_reshape_on_known_shapes_agrees_with_torch(real, target):
    if target.count(-1) > 1:
        target = [abs(t) for t in target]
    try:
        expected = tuple(torch.empty(real).reshape(target).shape)
    except RuntimeError:
        expected = None
    keeps_batch = target[0] == -1 or target[0] == real[0]
    if expected is None or (keeps_batch and math.prod(expected[1:]) != math.prod(real[1:])):
        with pytest.raises(ShapeError, match="PipeOp 'reshape': 'shape'"):
            tw.nn("reshape", shape=tuple(target)).shapes_out([real])
    else:
        assert tw.nn("reshape", shape=tuple(target)).shapes_out([real]) == [expected]


# --- nn_flatten ---------------------------------------------------------------------------------
def test_flatten_defaults_are_torchs_and_r_start_dim_2_is_python_1():
    assert tw.nn("flatten").shapes_out([(None, 3, 8, 8)]) == [(None, 192)]
    # mlr3torch's nn_flatten(start_dim = 2) keeps the batch: that is start_dim=1 here
    assert tw.nn("flatten", start_dim=1).shapes_out([(None, 3, 4)]) == [(None, 12)]
    assert tw.nn("flatten", start_dim=0).shapes_out([(None, 3, 4)]) == [(None,)]
    assert tw.nn("flatten", start_dim=1, end_dim=2).shapes_out([(None, 2, 3, 4)]) == [(None, 6, 4)]
    assert tw.nn("flatten", start_dim=-2).shapes_out([(None, 2, None, 4)]) == [(None, 2, None)]
    assert tw.nn("flatten", start_dim=1, end_dim=1).shapes_out([(None, 2, 3)]) == [(None, 2, 3)]


def test_flatten_errors():
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'flatten' cannot use 'start_dim' 3 for the input shape \(None, 3, 4\), which has 3 dimension",
    ):
        tw.nn("flatten", start_dim=3).shapes_out([(None, 3, 4)])
    with pytest.raises(
        ShapeError, match=r"cannot use 'end_dim' -4 for the input shape \(None, 3, 4\)"
    ):
        tw.nn("flatten", end_dim=-4).shapes_out([(None, 3, 4)])
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'flatten' requires 'end_dim' \(dimension 1\) to be at least 'start_dim' \(dimension 2\)",
    ):
        tw.nn("flatten", start_dim=2, end_dim=1).shapes_out([(None, 3, 4)])
    with pytest.raises(ShapeError, match="cannot use 'start_dim' 1"):
        tw.nn("flatten").shapes_out([(None,)])


@settings(max_examples=40, deadline=None)
@given(masked_shapes(), st.data())
def test_flatten_inferred_shape_matches_real_batches(shapes, data):
    real, masked = shapes
    n = len(real)
    start = data.draw(st.integers(0, n - 1))
    end = data.draw(st.integers(start, n - 1))
    start_arg = data.draw(st.sampled_from([start, start - n]))
    end_arg = data.draw(st.sampled_from([end, end - n]))
    inferred, out = _shapes(tw.nn("flatten", start_dim=start_arg, end_dim=end_arg), masked, real)
    assert_fits(inferred, out)
    merged = masked[start : end + 1]
    assert (inferred[start] is None) == (None in merged)


# --- nn_unsqueeze -------------------------------------------------------------------------------
def test_unsqueeze_shapes_and_errors():
    assert tw.nn("unsqueeze", dim=0).shapes_out([(None, 4)]) == [(1, None, 4)]
    assert tw.nn("unsqueeze", dim=1).shapes_out([(None, 4)]) == [(None, 1, 4)]
    assert tw.nn("unsqueeze", dim=2).shapes_out([(None, 4)]) == [(None, 4, 1)]
    assert tw.nn("unsqueeze", dim=-1).shapes_out([(None, 4)]) == [(None, 4, 1)]
    assert tw.nn("unsqueeze", dim=-3).shapes_out([(None, 4)]) == [(1, None, 4)]
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'unsqueeze' cannot use 'dim' 3 for the input shape \(None, 4\): a new dimension can be "
        r"inserted at positions -3 to 2\.",
    ):
        tw.nn("unsqueeze", dim=3).shapes_out([(None, 4)])
    with pytest.raises(ShapeError, match="cannot use 'dim' -4"):
        tw.nn("unsqueeze", dim=-4).shapes_out([(None, 4)])


@settings(max_examples=30, deadline=None)
@given(masked_shapes(), st.data())
def test_unsqueeze_inferred_shape_matches_real_batches(shapes, data):
    real, masked = shapes
    dim = data.draw(st.integers(-len(real) - 1, len(real)))
    inferred, out = _shapes(tw.nn("unsqueeze", dim=dim), masked, real)
    assert_fits(inferred, out)
    position = dim if dim >= 0 else dim + len(real) + 1
    assert inferred == (*masked[:position], 1, *masked[position:])


# --- nn_squeeze ---------------------------------------------------------------------------------
def test_squeeze_only_squeezes_dims_known_to_be_1():
    op = tw.nn("squeeze", dim=(1, 2))
    assert op.shapes_out([(None, 1, None, 4)]) == [(None, None, 4)]
    # the unknown dim 2 is 1 at run time, but the module keeps it as inferred
    inferred, real = _shapes(op, (None, 1, None, 4), (3, 1, 1, 4))
    assert inferred == (None, None, 4)
    assert real == (3, 1, 4)
    assert tw.nn("squeeze", dim=-1).shapes_out([(None, 3, 1)]) == [(None, 3)]
    assert tw.nn("squeeze", dim=1).shapes_out([(None, 3)]) == [(None, 3)]  # not 1: kept
    assert tw.nn("squeeze", dim=(1, -2)).shapes_out([(None, 1, 3)]) == [(None, 3)]  # same dim twice
    assert tw.nn("squeeze", dim=0).shapes_out([(1, 3)]) == [(3,)]  # a known batch of 1


def test_squeeze_module_gets_the_resolved_dims():
    md = tw.nn("squeeze", dim=(-1, 1, 2)).train([make_md((None, 1, None, 1))])[0]
    module = md.graph.pipeops["squeeze"].module
    assert isinstance(module, Squeeze)
    assert module.dim == (1, 3)
    md = tw.nn("squeeze", dim=1).train([make_md((None, 5))])[0]
    x = torch.randn(2, 5)
    assert md.graph.pipeops["squeeze"].module(x) is x


def test_squeeze_errors():
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'squeeze' cannot use 'dim' 3 for the input shape \(None, 1, 4\), which has 3 dimension",
    ):
        tw.nn("squeeze", dim=(1, 3)).shapes_out([(None, 1, 4)])
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'squeeze' would squeeze every dimension of the input shape \(1, 1\); a network",
    ):
        tw.nn("squeeze", dim=(0, 1)).shapes_out([(1, 1)])


@settings(max_examples=40, deadline=None)
@given(masked_shapes(), st.data())
def test_squeeze_inferred_shape_matches_real_batches(shapes, data):
    real, masked = shapes
    n = len(real)
    dims = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=3))
    dim = dims[0] if len(dims) == 1 else tuple(dims)
    resolved = {d % n for d in dims}
    if all(masked[d] == 1 for d in range(n)) and resolved == set(range(n)):
        with pytest.raises(ShapeError, match="would squeeze every dimension"):
            tw.nn("squeeze", dim=dim).shapes_out([masked])
        return
    inferred, out = _shapes(tw.nn("squeeze", dim=dim), masked, real)
    assert_fits(inferred, out)
    assert len(inferred) == n - sum(1 for d in resolved if masked[d] == 1)


# --- modules and pickling -----------------------------------------------------------------------
def test_modules_directly():
    x = torch.randn(2, 3, 4)
    assert torch.equal(Reshape((-1, 12))(x), x.reshape(2, 12))
    assert Reshape(lambda s: (s[0], s[2], s[1]))(x).shape == (2, 4, 3)
    assert Unsqueeze(1)(x).shape == (2, 1, 3, 4)
    assert Squeeze(0)(torch.randn(1, 3)).shape == (3,)
    assert Squeeze([0, 2])(torch.randn(1, 3, 1)).shape == (3,)
    assert "shape=(-1, 12)" in repr(Reshape((-1, 12)))


def test_operators_and_networks_pickle():
    op = tw.nn("reshape", shape=(-1, 2, 2))
    graph = tw.po("torch_ingress_num") >> op >> tw.nn("squeeze", dim=1) >> tw.nn("unsqueeze", dim=1)
    md = graph.train(tw.tsk("iris"))["unsqueeze.output"]
    assert md.pointer_shape == (None, 1, 2, 2)
    net = pickle.loads(pickle.dumps(tw.model_descriptor_to_module(md)))
    assert net(torch.randn(3, 4)).shape == (3, 1, 2, 2)
    clone = pickle.loads(pickle.dumps(graph.pipeops["reshape"]))
    assert clone.param_set.values == {"shape": (-1, 2, 2)}
    assert clone.state == {"shapes_out": [(None, 2, 2)]}


def test_predict_passes_the_task_through():
    graph = tw.po("torch_ingress_num") >> tw.nn("flatten")
    task = tw.tsk("iris")
    graph.train(task)
    assert graph.predict(task)["flatten.output"].nrow == 150
