"""nn_merge_sum, nn_merge_prod, nn_merge_cat: shape rules, channels, real forwards, errors."""

import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import torchweave as tw
import torchweave.network.ops.merge  # registers the operators
from tests.network.ops.helpers import assert_fits, descriptors
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.ops.merge import (
    MergeCat,
    MergeProd,
    MergeSum,
    PipeOpTorchMerge,
    PipeOpTorchMergeCat,
    PipeOpTorchMergeProd,
    PipeOpTorchMergeSum,
    broadcast_shapes,
    cat_shapes,
)
from torchweave.network.pipeop_torch import signature_params


def _run(op, shapes, reals):
    """Train ``op`` on descriptors of ``shapes``; run the network on batches of ``reals``."""
    md = op.train(descriptors(*shapes))[0]
    net = tw.model_descriptor_to_module(md)
    xs = [torch.randn(*r) for r in reals]
    return md.pointer_shape, net(*xs), xs


# --- shape rules (mlr3torch's examples) -------------------------------------------------------
@pytest.mark.parametrize("key", ["merge_sum", "merge_prod"])
@pytest.mark.parametrize(
    ("shapes", "expected"),
    [
        ([(None, 1), (None, 6)], (None, 6)),
        ([(None, None, 4), (None, 3, 4)], (None, 3, 4)),
        ([(None, 3), (None, 3), (None, 3)], (None, 3)),
        ([(None, 1), (None, 1)], (None, 1)),
        ([(None, 1), (None, None)], (None, None)),  # an unknown may be > 1
        ([(4, 2), (None, 2)], (4, 2)),
        ([(1, 2), (None, 2)], (None, 2)),
        ([(None, 5)], (None, 5)),
    ],
)
def test_broadcast_shapes(key, shapes, expected):
    assert tw.nn(key).shapes_out(shapes) == [expected]


def test_broadcast_errors():
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'merge_sum' requires all its inputs to have the same number of dimensions, but got "
        r"the shapes \[\(None, 3\); \(None, 2, 3\)\] \(with 2, 3 dimensions\)\.",
    ):
        tw.nn("merge_sum").shapes_out([(None, 3), (None, 2, 3)])
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'merge_prod' cannot broadcast its input shapes \[\(None, 4\); \(None, 6\)\]: dimension 1 "
        r"has the incompatible sizes 4 and 6\. Dimensions must be equal or 1\.",
    ):
        tw.nn("merge_prod").shapes_out([(None, 4), (None, 6)])
    with pytest.raises(ShapeError, match="dimension 0 has the incompatible sizes 2 and 3"):
        broadcast_shapes([(2, 4), (3, 4)], "m")


@pytest.mark.parametrize(
    ("dim", "shapes", "expected"),
    [
        (1, [(None, 4, None), (None, 4, 6)], (None, 8, 6)),
        (-1, [(None, 2), (None, 3)], (None, 5)),
        (-1, [(None, 2), (None, None)], (None, None)),
        (1, [(None, 2, None), (None, 3, 5), (None, 1, None)], (None, 6, 5)),
        (0, [(2, 3), (4, 3)], (6, 3)),
        (0, [(None, 3), (4, 3)], (None, 3)),
        (-2, [(None, 2, 3), (None, 5, 3)], (None, 7, 3)),
    ],
)
def test_cat_shapes(dim, shapes, expected):
    assert tw.nn("merge_cat", dim=dim).shapes_out(shapes) == [expected]
    assert cat_shapes(shapes, dim, "m") == expected


def test_cat_default_dim_is_the_last():
    assert tw.nn("merge_cat").shapes_out([(None, 4, 2), (None, 4, 3)]) == [(None, 4, 5)]


def test_cat_errors():
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'merge_cat' cannot concatenate its input shapes \[\(None, 4, 1\); \(None, 4, 6\)\]: "
        r"dimension 2 has the sizes 1 and 6\. All dimensions except the concatenated dimension 1 must be "
        r"equal\.",
    ):
        tw.nn("merge_cat", dim=1).shapes_out([(None, 4, 1), (None, 4, 6)])
    with pytest.raises(
        ShapeError, match="requires all its inputs to have the same number of dimensions"
    ):
        tw.nn("merge_cat").shapes_out([(None, 3), (None, 2, 3)])
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'merge_cat' cannot use 'dim' 2 for the input shapes \[\(None, 3\); \(None, 3\)\], which "
        r"have 2 dimension\(s\)\.",
    ):
        tw.nn("merge_cat", dim=2).shapes_out([(None, 3), (None, 3)])
    with pytest.raises(ShapeError, match="cannot use 'dim' -3"):
        tw.nn("merge_cat", dim=-3).shapes_out([(None, 3), (None, 3)])


# --- channels, params, construction ------------------------------------------------------------
def test_innum_sets_the_input_channels():
    assert [ch.name for ch in tw.nn("merge_sum").input] == ["..."]
    assert tw.nn("merge_sum").has_vararg
    op = tw.nn("merge_cat", innum=3, dim=1)
    assert [ch.name for ch in op.input] == ["input1", "input2", "input3"]
    assert [ch.name for ch in op.output] == ["output"]
    assert op.innum == 3
    assert op.param_set.values == {"dim": 1}
    with pytest.raises(
        ShapeError, match=r"has 3 input channel\(s\) \(input1, input2, input3\), but 2"
    ):
        op.shapes_out([(None, 2), (None, 2)])
    assert op.shapes_out([(None, 2)] * 3) == [(None, 6)]


@pytest.mark.parametrize("innum", [-1, 1.5, True, "2"])
def test_invalid_innum(innum):
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'innum' argument of PipeOp 'nn_merge_prod' must be an integer >= 0",
    ):
        PipeOpTorchMergeProd(innum=innum)


def test_base_class_is_abstract_and_unregistered():
    with pytest.raises(TypeError, match="abstract"):
        PipeOpTorchMerge("merge")
    assert "nn_merge" not in tw.registry.pipeops
    for key, cls in [
        ("nn_merge_sum", PipeOpTorchMergeSum),
        ("nn_merge_prod", PipeOpTorchMergeProd),
        ("nn_merge_cat", PipeOpTorchMergeCat),
    ]:
        assert type(tw.po(key)) is cls
        assert tw.po(key).id == key
        assert isinstance(tw.po(key), PipeOpTorchMerge)
        assert "torch" in tw.po(key).tags


def test_params_mirror_the_module_signatures():
    assert tw.nn("merge_sum").param_set.ids() == []
    assert tw.nn("merge_prod").param_set.ids() == []
    assert signature_params(MergeSum) == signature_params(MergeProd) == {}
    op = tw.nn("merge_cat")
    assert op.param_set.ids() == ["dim"]
    assert op.param_set.default == signature_params(MergeCat) == {"dim": -1}
    assert op.param_set.params["dim"].tags == {"train"}
    with pytest.raises(
        InvalidParameterError, match="'dim' parameter of PipeOp 'merge_cat' must be an integer"
    ):
        op.param_set.set_values(dim=1.0)


# --- real forwards -----------------------------------------------------------------------------
def test_residual_connection_in_a_real_network():
    residual = [tw.po("nop"), tw.nn("linear", out_features=4)] >> tw.nn("merge_sum")
    graph = tw.po("torch_ingress_num") >> residual
    task = tw.tsk("iris")
    md = graph.train(task)["merge_sum.output"]
    assert md.pointer_shape == (None, 4)
    assert set(md.graph.pipeops) == {"torch_ingress_num", "linear", "merge_sum"}
    net = tw.model_descriptor_to_module(md)
    x = torch.randn(5, 4)
    y = net(x)
    assert torch.allclose(y, x + net.layers["linear"](x))
    assert graph.pipeops["merge_sum"].state == {"shapes_out": [(None, 4)]}
    predicted = graph.predict(task)["merge_sum.output"]
    assert predicted.nrow == 150
    assert predicted.feature_names == task.feature_names


def test_residual_block_repeats_in_a_full_network():
    branch = tw.nn("linear_2", out_features=8) >> tw.nn("relu")
    residual = [tw.po("nop"), branch] >> tw.nn("merge_sum")
    graph = (
        tw.po("torch_ingress_num") >> tw.nn("linear", out_features=8) >> residual >> tw.nn("head")
    )
    md = graph.train(tw.tsk("iris"))["head.output"]
    assert md.pointer_shape == (None, 3)
    assert tw.model_descriptor_to_module(md)(torch.randn(6, 4)).shape == (6, 3)


def test_prod_and_cat_forward_values():
    inferred, y, (a, b) = _run(tw.nn("merge_prod"), [(None, 1), (None, 6)], [(3, 1), (3, 6)])
    assert inferred == (None, 6)
    assert torch.allclose(y, a * b)
    inferred, y, (a, b) = _run(
        tw.nn("merge_cat", dim=1), [(None, 4, None), (None, 4, 6)], [(2, 4, 6), (2, 4, 6)]
    )
    assert inferred == (None, 8, 6)
    assert torch.equal(y, torch.cat([a, b], dim=1))
    inferred, y, (a, b, c) = _run(tw.nn("merge_sum", innum=3), [(None, 2)] * 3, [(4, 2)] * 3)
    assert inferred == (None, 2)
    assert torch.allclose(y, a + b + c)


def test_modules_directly():
    a, b = torch.randn(2, 3), torch.randn(2, 1)
    assert torch.allclose(MergeSum()(a, b), a + b)
    assert torch.allclose(MergeProd()(a, b), a * b)
    assert torch.equal(MergeCat(0)(a, a), torch.cat([a, a]))
    assert torch.equal(MergeCat()(a, a), torch.cat([a, a], dim=-1))
    assert MergeCat(1).dim == 1
    assert repr(MergeCat(1)) == "MergeCat(dim=1)"


def test_pickle_round_trip():
    op = tw.nn("merge_cat", innum=2, dim=0)
    clone = pickle.loads(pickle.dumps(op))
    assert clone.innum == 2
    assert [ch.name for ch in clone.input] == ["input1", "input2"]
    assert clone.param_set.values == {"dim": 0}


@st.composite
def _broadcastable(draw):
    """2-3 real shapes that broadcast (sizes 1 or a common size), with masked copies."""
    ndim = draw(st.integers(1, 4))
    n = draw(st.integers(2, 3))
    common = [draw(st.integers(1, 4)) for _ in range(ndim)]
    reals, masked = [], []
    for _ in range(n):
        real = tuple(c if draw(st.booleans()) else 1 for c in common)
        mask = tuple(None if draw(st.booleans()) else r for r in real)
        reals.append(real)
        masked.append(mask)
    return reals, masked


@settings(max_examples=30, deadline=None)
@given(_broadcastable(), st.sampled_from(["merge_sum", "merge_prod"]))
def test_broadcast_inferred_shape_matches_real_batches(case, key):
    reals, masked = case
    inferred, y, _ = _run(tw.nn(key, innum=len(reals)), masked, reals)
    assert_fits(inferred, tuple(y.shape))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_cat_inferred_shape_matches_real_batches(data):
    ndim = data.draw(st.integers(1, 4))
    dim = data.draw(st.integers(-ndim, ndim - 1))
    base = [data.draw(st.integers(1, 4)) for _ in range(ndim)]
    reals, masked = [], []
    for _ in range(data.draw(st.integers(2, 3))):
        real = list(base)
        real[dim] = data.draw(st.integers(1, 4))
        reals.append(tuple(real))
        masked.append(tuple(None if data.draw(st.booleans()) else r for r in real))
    inferred, y, _ = _run(tw.nn("merge_cat", dim=dim), masked, reals)
    assert_fits(inferred, tuple(y.shape))
    resolved = dim % ndim
    if all(m[resolved] is not None for m in masked):
        assert inferred[resolved] == y.shape[resolved]
