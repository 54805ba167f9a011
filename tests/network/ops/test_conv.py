"""nn_conv1d/2d/3d: inferred shapes equal real ones, errors, params mirroring torch."""

import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
import torchweave.network.ops.conv
import torchweave.network.ops.max_pool  # registers nn_max_pool2d for the net test
from tests.network.ops.helpers import (
    assert_matches_torch,
    assert_params_mirror_torch,
    make_md,
    shapes_from,
    sizes,
    spatial_input,
)
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.module_graph import model_descriptor_to_module
from torchweave.network.ops.conv import (
    PipeOpTorchConv1d,
    PipeOpTorchConv2d,
    PipeOpTorchConv3d,
    p_spatial,
    spatial_tuple,
)

CONV = {1: PipeOpTorchConv1d, 2: PipeOpTorchConv2d, 3: PipeOpTorchConv3d}


# --- shape inference against torch ---------------------------------------------------------
@given(
    d=st.sampled_from([1, 2, 3]),
    data=st.data(),
    in_channels=st.integers(1, 4),
    out_channels=st.integers(1, 4),
    groups=st.sampled_from([1, 1, 2]),
    bias=st.booleans(),
    padding_mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
)
def test_conv_shapes_match_torch(d, data, in_channels, out_channels, groups, bias, padding_mode):
    extents, unknown = data.draw(spatial_input(d, 1, 9 if d == 3 else 12))
    kernel = data.draw(sizes(d, 1, 4))
    stride = data.draw(sizes(d, 1, 3))
    dilation = data.draw(sizes(d, 1, 2))
    padding = data.draw(st.one_of(sizes(d, 0, 2), st.sampled_from(["valid", "same"])))
    params = dict(
        out_channels=out_channels,
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
        padding_mode=padding_mode,
    )
    op = tw.nn(f"conv{d}d", **params)
    shape, real_shape = shapes_from(in_channels, extents, unknown)
    inferred = assert_matches_torch(
        op, shape, real_shape, lambda: CONV[d].module_class(in_channels, **params)
    )
    if not isinstance(inferred, Exception):
        assert inferred[0][1] == out_channels
        # an unknown input extent gives an unknown output extent
        for j in range(d):
            if unknown[j] and padding != "same":
                assert inferred[0][2 + j] is None


@pytest.mark.parametrize(
    ("d", "params", "shape_in", "shape_out"),
    [
        (1, {"kernel_size": 3}, (None, 2, 10), (None, 5, 8)),
        (1, {"kernel_size": 3, "stride": 2, "padding": 1}, (None, 2, 10), (None, 5, 5)),
        (1, {"kernel_size": 3, "dilation": 2}, (None, 2, 10), (None, 5, 6)),
        (1, {"kernel_size": 4, "padding": "same"}, (None, 2, None), (None, 5, None)),
        (2, {"kernel_size": (3, 1), "padding": "same"}, (None, 2, 7, 9), (None, 5, 7, 9)),
        (2, {"kernel_size": (1, 3), "stride": (2, 1)}, (None, 2, 7, 9), (None, 5, 4, 7)),
        (2, {"kernel_size": 3, "padding": "valid"}, (None, 2, None, 9), (None, 5, None, 7)),
        (3, {"kernel_size": (1, 2, 3)}, (4, 2, 3, 4, 5), (4, 5, 3, 3, 3)),
        (3, {"kernel_size": 1, "padding": (0, 1, 2)}, (None, 2, 1, 1, 1), (None, 5, 1, 3, 5)),
    ],
)
def test_conv_known_shapes(d, params, shape_in, shape_out):
    op = tw.nn(f"conv{d}d", out_channels=5, **params)
    assert op.shapes_out([shape_in]) == [shape_out]
    real_shape = tuple(3 if s is None else s for s in shape_in)
    assert_matches_torch(op, shape_in, real_shape, lambda: CONV[d].module_class(2, 5, **params))


def test_conv_unknown_batch_and_spatial_dims_are_permissive():
    op = tw.nn("conv2d", out_channels=3, kernel_size=7, dilation=3)
    assert op.shapes_out([(None, 1, None, None)]) == [(None, 3, None, None)]
    assert op.shapes_out([(8, 1, None, 30)]) == [(8, 3, None, 12)]


def test_conv_train_builds_layer_with_inferred_in_channels():
    md = make_md((None, 3, 8, 8))
    out = tw.nn("conv2d", out_channels=6, kernel_size=3, bias=False).train([md])[0]
    assert out.pointer == ("conv2d", "output")
    assert out.pointer_shape == (None, 6, 6, 6)
    layer = out.graph.pipeops["conv2d"].module
    assert isinstance(layer, nn.Conv2d)
    assert (layer.in_channels, layer.out_channels, layer.bias) == (3, 6, None)
    assert out.graph.pipeops["conv2d"].shapes_out == [(None, 6, 6, 6)]


def test_conv_predict_passes_task_through():
    op = tw.nn("conv1d", out_channels=2, kernel_size=1)
    op.train([make_md((None, 1, 4))])
    task = tw.tsk("iris")
    assert op.predict([task]) == [task]


# --- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("d", "shape"), [(1, (None, 2)), (1, (None, 2, 3, 4)), (2, (None, 2, 8)), (3, (None, 2, 8, 8))]
)
def test_conv_wrong_ndim(d, shape):
    op = tw.nn(f"conv{d}d", out_channels=2, kernel_size=1)
    dims = str(d + 2)
    with pytest.raises(ShapeError, match=rf"PipeOp 'conv{d}d' requires an input with {dims} dim"):
        op.shapes_out([shape])
    with pytest.raises(ShapeError, match=r"but got the shape \(None, 2"):
        op.train([make_md(shape)])


def test_conv_unknown_channels():
    op = tw.nn("conv2d", out_channels=2, kernel_size=1)
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'conv2d' requires the channel dimension \(1\) of the input shape to be "
        r"known, but got shape \(None, None, 4, 4\)\.",
    ):
        op.shapes_out([(None, None, 4, 4)])


@pytest.mark.parametrize(
    ("params", "shape", "size", "dim"),
    [
        ({"kernel_size": 3}, (None, 1, 2, 8), 0, 2),
        ({"kernel_size": (1, 5), "dilation": 3}, (None, 1, 9, 8), -4, 3),
        ({"kernel_size": 4, "stride": 3}, (None, 1, None, 2), 0, 3),
    ],
)
def test_conv_too_small_input(params, shape, size, dim):
    op = tw.nn("conv2d", id="c", out_channels=2, **params)
    shape_str = "(" + ", ".join(str(s) for s in shape) + ")"
    message = (
        f"PipeOp 'c' would produce an output of size {size} in dimension {dim} for input shape "
        f"{shape_str}, which no tensor can have."
    )
    with pytest.raises(ShapeError, match=f"^{re.escape(message)}$"):
        op.shapes_out([shape])


def test_conv_groups_must_divide_channels():
    op = tw.nn("conv1d", out_channels=4, kernel_size=1, groups=2)
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'conv1d' needs a number of input channels divisible by 'groups' \(2\), "
        r"but got the shape \(None, 3, 5\)\.",
    ):
        op.shapes_out([(None, 3, 5)])
    op.param_set.set_values(out_channels=3)
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'out_channels' parameter of PipeOp 'conv1d' must be divisible by 'groups' "
        r"\(2\)\. Got 3 instead\.",
    ):
        op.shapes_out([(None, 4, 5)])


def test_conv_same_padding_needs_stride_one():
    op = tw.nn("conv2d", out_channels=1, kernel_size=3, padding="same", stride=(1, 2))
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'padding' parameter of PipeOp 'conv2d' can only be 'same' when every stride "
        r"is 1\. Got stride \(1, 2\) instead\.",
    ):
        op.shapes_out([(None, 1, 8, 8)])


def test_conv_required_params():
    op = tw.nn("conv2d", out_channels=1)
    with pytest.raises(InvalidParameterError, match=r"PipeOp 'conv2d' needs the required param"):
        op.train([make_md((None, 1, 4, 4))])


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("kernel_size", 0, r"an integer >= 1 or a tuple of 2 integers >= 1"),
        ("kernel_size", (3, 3, 3), r"an integer >= 1 or a tuple of 2 integers >= 1"),
        ("kernel_size", (3, True), r"an integer >= 1 or a tuple of 2 integers >= 1"),
        ("stride", 2.0, r"an integer >= 1 or a tuple of 2 integers >= 1"),
        ("padding", -1, r"an integer >= 0 or a tuple of 2 integers >= 0 or one of \{'valid'"),
        ("padding", "full", r"an integer >= 0 or a tuple of 2 integers >= 0 or one of \{'valid'"),
        ("dilation", (1, 0), r"an integer >= 1 or a tuple of 2 integers >= 1"),
        ("out_channels", 0, r"an integer >= 1"),
        ("padding_mode", "mirror", r"one of \{'zeros', 'reflect', 'replicate', 'circular'\}"),
    ],
)
def test_conv_invalid_params(name, value, expected):
    with pytest.raises(
        InvalidParameterError,
        match=rf"The '{name}' parameter of PipeOp 'conv2d' must be {expected}",
    ):
        tw.nn("conv2d", **{name: value})


def test_p_spatial_and_spatial_tuple():
    p = p_spatial(3, 1, none_entries=True, required=True)
    assert p.check((1, None, 2)) is None
    assert p.check(None) is not None
    assert p.check([1, 2, 3]) is None
    assert "required" in p.tags and not p.has_default
    assert spatial_tuple(2, 3) == (2, 2, 2)
    assert spatial_tuple([1, 2], 2) == (1, 2)


# --- params mirror torch ---------------------------------------------------------------------
@pytest.mark.parametrize("cls", list(CONV.values()))
def test_conv_params_mirror_torch(cls):
    assert_params_mirror_torch(cls)
    assert cls.inferred == ("in_channels",)
    assert cls.omitted == ("device", "dtype")


@pytest.mark.parametrize("d", [1, 2, 3])
def test_conv_registry_and_sugar(d):
    op = tw.nn(f"conv{d}d", out_channels=1, kernel_size=1)
    assert type(op) is CONV[d]
    assert op.id == f"conv{d}d"
    assert CONV[d]().id == f"nn_conv{d}d"
    assert tw.po(f"nn_conv{d}d").id == f"nn_conv{d}d"
    assert "torch" in op.tags
    assert "Parameters\n    ----------\n    out_channels : int" in CONV[d].__doc__


# --- a small conv net --------------------------------------------------------------------------
def test_conv_net_on_images():
    torch.manual_seed(1)
    md = make_md((None, 1, 8, 8))
    md = tw.nn("conv2d", out_channels=4, kernel_size=3, padding=1).train([md])[0]
    md = tw.nn("relu").train([md])[0]
    md = tw.nn("conv2d_2", out_channels=6, kernel_size=3).train([md])[0]
    md = tw.nn("max_pool2d", kernel_size=2).train([md])[0]
    assert md.pointer == ("max_pool2d", "output")
    assert md.pointer_shape == (None, 6, 3, 3)
    net = model_descriptor_to_module(md)
    assert list(net.layers) == ["conv2d", "relu", "conv2d_2", "max_pool2d"]
    x = torch.randn(5, 1, 8, 8)
    y = torch.flatten(net(x), start_dim=1)
    assert y.shape == (5, 6 * 3 * 3)
    # the same computation by hand, with the network's own layers
    layers = net.layers
    expected = layers["max_pool2d"](layers["conv2d_2"](torch.relu(layers["conv2d"](x))))
    torch.testing.assert_close(y, torch.flatten(expected, 1))
    # gradients reach the first layer
    y.sum().backward()
    assert layers["conv2d"].weight.grad is not None
