"""Max, average and adaptive average pooling: shapes (inferred == real), errors, params."""

import pickle

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
import torchweave.network.ops.adaptive_avg_pool
import torchweave.network.ops.avg_pool
import torchweave.network.ops.max_pool
from tests.network.ops.helpers import (
    assert_matches_torch,
    assert_params_mirror_torch,
    make_md,
    shapes_from,
    sizes,
    spatial_input,
)
from torchweave.errors import InvalidParameterError, InvalidTypeError, ShapeError
from torchweave.network.module_graph import model_descriptor_to_module
from torchweave.network.ops.adaptive_avg_pool import (
    PipeOpTorchAdaptiveAvgPool1d,
    PipeOpTorchAdaptiveAvgPool2d,
    PipeOpTorchAdaptiveAvgPool3d,
)
from torchweave.network.ops.avg_pool import (
    PipeOpTorchAvgPool1d,
    PipeOpTorchAvgPool2d,
    PipeOpTorchAvgPool3d,
)
from torchweave.network.ops.max_pool import (
    PipeOpTorchMaxPool1d,
    PipeOpTorchMaxPool2d,
    PipeOpTorchMaxPool3d,
)

MAX = {1: PipeOpTorchMaxPool1d, 2: PipeOpTorchMaxPool2d, 3: PipeOpTorchMaxPool3d}
AVG = {1: PipeOpTorchAvgPool1d, 2: PipeOpTorchAvgPool2d, 3: PipeOpTorchAvgPool3d}
ADAPTIVE = {
    1: PipeOpTorchAdaptiveAvgPool1d,
    2: PipeOpTorchAdaptiveAvgPool2d,
    3: PipeOpTorchAdaptiveAvgPool3d,
}
ALL = [*MAX.values(), *AVG.values(), *ADAPTIVE.values()]
KEYS = {cls: cls().id.removeprefix("nn_") for cls in ALL}
REQUIRED = {
    **{cls: {"kernel_size": 2} for cls in [*MAX.values(), *AVG.values()]},
    **{cls: {"output_size": 2} for cls in ADAPTIVE.values()},
}


def _input(data, d, channels):
    extents, unknown = data.draw(spatial_input(d, 1, 7 if d == 3 else 10))
    return shapes_from(channels, extents, unknown), unknown


# --- shape inference against torch ---------------------------------------------------------
@given(
    d=st.sampled_from([1, 2, 3]),
    data=st.data(),
    channels=st.integers(1, 3),
    ceil_mode=st.booleans(),
    return_indices=st.booleans(),
)
def test_max_pool_shapes_match_torch(d, data, channels, ceil_mode, return_indices):
    (shape, real_shape), unknown = _input(data, d, channels)
    params = dict(
        kernel_size=data.draw(sizes(d, 1, 4)),
        stride=data.draw(st.one_of(st.none(), sizes(d, 1, 3))),
        padding=data.draw(sizes(d, 0, 1)),
        dilation=data.draw(sizes(d, 1, 2)),
        ceil_mode=ceil_mode,
    )
    op = tw.nn(f"max_pool{d}d", return_indices=return_indices, **params)
    inferred = assert_matches_torch(
        op,
        shape,
        real_shape,
        lambda: MAX[d].module_class(**params, return_indices=return_indices),
    )
    if not isinstance(inferred, Exception):
        assert len(inferred) == 1 + return_indices
        assert all(s == inferred[0] for s in inferred)
        assert inferred[0][1] == channels
        assert all(inferred[0][2 + j] is None for j in range(d) if unknown[j])


@given(
    d=st.sampled_from([1, 2, 3]),
    data=st.data(),
    channels=st.integers(1, 3),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
)
def test_avg_pool_shapes_match_torch(d, data, channels, ceil_mode, count_include_pad):
    (shape, real_shape), unknown = _input(data, d, channels)
    params = dict(
        kernel_size=data.draw(sizes(d, 1, 4)),
        stride=data.draw(st.one_of(st.none(), sizes(d, 1, 3))),
        padding=data.draw(sizes(d, 0, 1)),
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
    )
    if d > 1:
        params["divisor_override"] = data.draw(st.one_of(st.none(), st.integers(1, 3)))
    op = tw.nn(f"avg_pool{d}d", **params)
    inferred = assert_matches_torch(op, shape, real_shape, lambda: AVG[d].module_class(**params))
    if not isinstance(inferred, Exception):
        assert inferred[0][1] == channels
        assert all(inferred[0][2 + j] is None for j in range(d) if unknown[j])


@given(d=st.sampled_from([1, 2, 3]), data=st.data(), channels=st.integers(1, 3))
def test_adaptive_avg_pool_shapes_match_torch(d, data, channels):
    (shape, real_shape), _ = _input(data, d, channels)
    entry = st.integers(1, 4) if d == 1 else st.one_of(st.none(), st.integers(1, 4))
    output_size = data.draw(st.one_of(st.integers(1, 4), st.tuples(*[entry] * d)))
    op = tw.nn(f"adaptive_avg_pool{d}d", output_size=output_size)
    inferred = assert_matches_torch(
        op, shape, real_shape, lambda: ADAPTIVE[d].module_class(output_size)
    )
    assert not isinstance(inferred, Exception)
    sizes_out = output_size if isinstance(output_size, tuple) else (output_size,) * d
    # the output extents are known even where the input's are not (None keeps the input's)
    expected = tuple(shape[2 + j] if s is None else s for j, s in enumerate(sizes_out))
    assert inferred == [(None, channels, *expected)]


@pytest.mark.parametrize(
    ("key", "params", "shape_in", "shape_out"),
    [
        ("max_pool1d", {"kernel_size": 2}, (None, 3, 9), (None, 3, 4)),
        ("max_pool1d", {"kernel_size": 2, "ceil_mode": True}, (None, 3, 9), (None, 3, 5)),
        ("max_pool1d", {"kernel_size": 3, "stride": 1, "dilation": 2}, (None, 3, 9), (None, 3, 5)),
        # ceil_mode: the last window may not start in the right padding
        (
            "max_pool1d",
            {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True},
            (None, 1, 4),
            (None, 1, 3),
        ),
        ("max_pool2d", {"kernel_size": (2, 3)}, (None, 2, 8, None), (None, 2, 4, None)),
        ("max_pool3d", {"kernel_size": 2, "padding": 1}, (5, 1, 2, 3, 4), (5, 1, 2, 2, 3)),
        ("avg_pool1d", {"kernel_size": 3, "stride": 2}, (None, 2, 7), (None, 2, 3)),
        ("avg_pool2d", {"kernel_size": 2, "ceil_mode": True}, (None, 3, 5, 4), (None, 3, 3, 2)),
        ("avg_pool3d", {"kernel_size": (1, 2, 2), "divisor_override": 3}, (None, 1, 2, 4, 6),
         (None, 1, 2, 2, 3)),
        ("adaptive_avg_pool1d", {"output_size": 3}, (None, 2, None), (None, 2, 3)),
        ("adaptive_avg_pool2d", {"output_size": (None, 2)}, (None, 2, 5, None), (None, 2, 5, 2)),
        ("adaptive_avg_pool3d", {"output_size": (1, 2, 3)}, (None, 4, 1, 1, 1), (None, 4, 1, 2, 3)),
    ],
)  # fmt: skip
def test_pool_known_shapes(key, params, shape_in, shape_out):
    op = tw.nn(key, **params)
    assert op.shapes_out([shape_in]) == [shape_out]
    real_shape = tuple(3 if s is None else s for s in shape_in)
    assert_matches_torch(op, shape_in, real_shape, lambda: type(op).module_class(**params))


# --- return_indices ----------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 2, 3])
def test_max_pool_return_indices_channels(d):
    op = tw.nn(f"max_pool{d}d", kernel_size=2, return_indices=True)
    assert op.return_indices is True
    assert [ch.name for ch in op.output] == ["output", "indices"]
    assert [ch.name for ch in tw.nn(f"max_pool{d}d").output] == ["output"]
    shape = (None, 2, *[6] * d)
    out, indices = op.train([make_md(shape)])
    expected = (None, 2, *[3] * d)
    assert out.pointer == (f"max_pool{d}d", "output")
    assert indices.pointer == (f"max_pool{d}d", "indices")
    assert out.pointer_shape == indices.pointer_shape == expected
    assert op.state["shapes_out"] == [expected, expected]
    net = model_descriptor_to_module(out, [out.pointer, indices.pointer])
    x = torch.randn(4, 2, *[6] * d)
    values, positions = net(x)
    assert values.shape == positions.shape == (4, 2, *[3] * d)
    assert positions.dtype == torch.int64
    flat = x.flatten(start_dim=2)
    torch.testing.assert_close(flat.gather(2, positions.flatten(start_dim=2)), values.flatten(2))
    # predict passes the task through both channels
    task = out.task
    assert op.predict([task]) == [task, task]


def test_max_pool_return_indices_via_po_and_clone():
    op = tw.po("nn_max_pool2d", return_indices=True, kernel_size=3)
    assert op.return_indices is True and op.param_set.values == {"kernel_size": 3}
    copy = op.clone()
    assert copy.return_indices is True
    assert [ch.name for ch in copy.output] == ["output", "indices"]


def test_max_pool_return_indices_survives_pickle():
    op = tw.nn("max_pool1d", kernel_size=2, return_indices=True)
    op.train([make_md((None, 1, 6))])
    restored = pickle.loads(pickle.dumps(op))
    assert restored.return_indices is True
    assert restored.state == {"shapes_out": [(None, 1, 3), (None, 1, 3)]}
    assert restored.shapes_out([(None, 2, 9)]) == [(None, 2, 4), (None, 2, 4)]


def test_max_pool_return_indices_must_be_bool():
    with pytest.raises(
        InvalidTypeError,
        match=r"The 'return_indices' argument of PipeOp 'nn_max_pool1d' must be a bool\. "
        r"Got 1 instead\.",
    ):
        PipeOpTorchMaxPool1d(return_indices=1)


def test_max_pool_indices_feed_an_unpool_by_hand():
    md = make_md((None, 1, 4, 4))
    out, indices = tw.nn("max_pool2d", kernel_size=2, return_indices=True).train([md])
    net = model_descriptor_to_module(out, [out.pointer, indices.pointer])
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    values, positions = net(x)
    restored = nn.MaxUnpool2d(2)(values, positions)
    assert restored.shape == x.shape
    assert restored[0, 0, 1, 1] == 5.0 and restored[0, 0, 0, 0] == 0.0


# --- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL)
def test_pool_wrong_ndim(cls):
    key = KEYS[cls]
    op = tw.nn(key, **REQUIRED[cls])
    d = cls.d
    bad = (None, 2, *[8] * (d + 1))
    with pytest.raises(
        ShapeError,
        match=rf"^PipeOp '{key}' requires an input with {d + 2} dimensions \(the first one being "
        rf"the batch dimension\), but got the shape \(None, 2{', 8' * (d + 1)}\)\.$",
    ):
        op.shapes_out([bad])
    with pytest.raises(ShapeError, match=rf"PipeOp '{key}' requires an input with {d + 2}"):
        op.shapes_out([(None, 2)])


@pytest.mark.parametrize(
    ("key", "params", "shape", "size", "dim"),
    [
        ("max_pool1d", {"kernel_size": 3}, (None, 2, 2), 0, 2),
        ("max_pool2d", {"kernel_size": (1, 3), "dilation": 2}, (None, 2, None, 4), 0, 3),
        ("max_pool3d", {"kernel_size": 4, "stride": 1}, (None, 2, 9, 9, 1), -2, 4),
        ("avg_pool1d", {"kernel_size": 4, "stride": 2}, (None, 1, 3), 0, 2),
        ("avg_pool2d", {"kernel_size": 2}, (None, 1, 1, 5), 0, 2),
        ("avg_pool3d", {"kernel_size": (1, 1, 3)}, (None, 1, 1, 1, 2), 0, 4),
    ],
)
def test_pool_too_small_input(key, params, shape, size, dim):
    op = tw.nn(key, **params)
    shape_str = ", ".join(str(s) for s in shape)
    with pytest.raises(
        ShapeError,
        match=rf"^PipeOp '{key}' would produce an output of size {size} in dimension {dim} for "
        rf"input shape \({shape_str}\), which no tensor can have\.$",
    ):
        op.shapes_out([shape])
    # with that extent unknown, inference is permissive
    permissive = tuple(None if i == dim else s for i, s in enumerate(shape))
    assert op.shapes_out([permissive])[0][dim] is None


@pytest.mark.parametrize("key", ["max_pool1d", "max_pool2d", "avg_pool2d", "avg_pool3d"])
def test_pool_padding_at_most_half_the_kernel(key):
    d = int(key[-2])
    op = tw.nn(key, kernel_size=(3,) * d if d > 1 else 3, padding=2)
    with pytest.raises(
        InvalidParameterError,
        match=rf"The 'padding' parameter of PipeOp '{key}' must be at most half of 'kernel_size' "
        rf"in each dimension\. Got padding 2 with kernel_size (3|\(3(, 3)*\)) instead\.",
    ):
        op.shapes_out([(None, 1, *[None] * d)])
    op.param_set.set_values(padding=1)
    assert op.shapes_out([(None, 1, *[5] * d)]) == [(None, 1, *[2] * d)]


def test_pool_required_and_invalid_params():
    with pytest.raises(InvalidParameterError, match=r"needs the required parameter\(s\) 'kernel_"):
        tw.nn("max_pool2d").train([make_md((None, 1, 4, 4))])
    with pytest.raises(InvalidParameterError, match=r"needs the required parameter\(s\) 'output_"):
        tw.nn("adaptive_avg_pool2d").train([make_md((None, 1, 4, 4))])
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'stride' parameter of PipeOp 'max_pool2d' must be an integer >= 1 or a tuple "
        r"of 2 integers >= 1 or None\. Got 0 instead\.",
    ):
        tw.nn("max_pool2d", stride=0)
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'output_size' parameter of PipeOp 'adaptive_avg_pool1d' must be an integer "
        r">= 1 or a tuple of 1 integers >= 1\. Got \(None,\) instead\.",
    ):
        tw.nn("adaptive_avg_pool1d", output_size=(None,))
    with pytest.raises(
        InvalidParameterError,
        match=r"must be an integer >= 1 or a tuple of 3 integers >= 1 or None\. Got 0 instead",
    ):
        tw.nn("adaptive_avg_pool3d", output_size=0)
    with pytest.raises(InvalidParameterError, match=r"'divisor_override' is not a parameter of"):
        tw.nn("avg_pool1d", divisor_override=2)
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'divisor_override' parameter of PipeOp 'avg_pool2d' must be an integer >= 1 "
        r"or None\. Got 0 instead\.",
    ):
        tw.nn("avg_pool2d", divisor_override=0)


# --- params mirror torch, registry -------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL)
def test_pool_params_mirror_torch(cls):
    assert_params_mirror_torch(cls)
    assert cls.inferred == ()


def test_pool_omitted_arguments():
    assert all(MAX[d].omitted == ("return_indices",) for d in MAX)
    assert all(cls.omitted == () for cls in [*AVG.values(), *ADAPTIVE.values()])
    assert "divisor_override" not in PipeOpTorchAvgPool1d().param_set.ids()
    assert "divisor_override" in PipeOpTorchAvgPool2d().param_set.ids()


@pytest.mark.parametrize("cls", ALL)
def test_pool_registry_and_sugar(cls):
    key = KEYS[cls]
    op = tw.nn(key, **REQUIRED[cls])
    assert type(op) is cls
    assert op.id == key
    assert tw.po(f"nn_{key}").id == f"nn_{key}"
    assert "torch" in op.tags
    doc = cls.__doc__
    for section in ("Input and output channels", "State", "Parameters", "Examples"):
        assert f"\n    {section}\n    ---" in doc, (cls, section)
    assert "{params}" not in doc


def test_pooling_net():
    torch.manual_seed(1)
    md = make_md((None, 3, None, None))
    md = tw.nn("conv2d", out_channels=8, kernel_size=3, padding=1).train([md])[0]
    md = tw.nn("avg_pool2d", kernel_size=2).train([md])[0]
    assert md.pointer_shape == (None, 8, None, None)
    md = tw.nn("adaptive_avg_pool2d", output_size=1).train([md])[0]
    assert md.pointer_shape == (None, 8, 1, 1)
    net = model_descriptor_to_module(md)
    for size in (4, 7, 12):
        y = torch.flatten(net(torch.randn(2, 3, size, size)), start_dim=1)
        assert y.shape == (2, 8)
