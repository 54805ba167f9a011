"""nn_conv_transpose1d/2d/3d: inferred shapes equal real ones, errors, params mirroring torch."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
import torchweave.network.ops.conv_transpose
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
from torchweave.network.ops.conv_transpose import (
    PipeOpTorchConvTranspose1d,
    PipeOpTorchConvTranspose2d,
    PipeOpTorchConvTranspose3d,
)

CONV_T = {
    1: PipeOpTorchConvTranspose1d,
    2: PipeOpTorchConvTranspose2d,
    3: PipeOpTorchConvTranspose3d,
}


@given(
    d=st.sampled_from([1, 2, 3]),
    data=st.data(),
    in_channels=st.integers(1, 4),
    out_channels=st.integers(1, 4),
    groups=st.sampled_from([1, 1, 2]),
    bias=st.booleans(),
)
def test_conv_transpose_shapes_match_torch(d, data, in_channels, out_channels, groups, bias):
    extents, unknown = data.draw(spatial_input(d, 1, 5 if d == 3 else 8))
    params = dict(
        out_channels=out_channels,
        kernel_size=data.draw(sizes(d, 1, 4)),
        stride=data.draw(sizes(d, 1, 3)),
        padding=data.draw(sizes(d, 0, 3)),
        output_padding=data.draw(sizes(d, 0, 1)),
        dilation=data.draw(sizes(d, 1, 2)),
        groups=groups,
        bias=bias,
    )
    op = tw.nn(f"conv_transpose{d}d", **params)
    shape, real_shape = shapes_from(in_channels, extents, unknown)
    inferred = assert_matches_torch(
        op, shape, real_shape, lambda: CONV_T[d].module_class(in_channels, **params)
    )
    if not isinstance(inferred, Exception):
        assert inferred[0][1] == out_channels
        assert all(inferred[0][2 + j] is None for j in range(d) if unknown[j])


@pytest.mark.parametrize(
    ("d", "params", "shape_in", "shape_out"),
    [
        (1, {"kernel_size": 3}, (None, 2, 10), (None, 5, 12)),
        (1, {"kernel_size": 3, "stride": 2}, (None, 2, 10), (None, 5, 21)),
        (1, {"kernel_size": 3, "stride": 2, "output_padding": 1}, (None, 2, 10), (None, 5, 22)),
        (1, {"kernel_size": 3, "padding": 1, "dilation": 2}, (None, 2, 4), (None, 5, 6)),
        (2, {"kernel_size": 2, "stride": 2}, (None, 2, 4, None), (None, 5, 8, None)),
        (2, {"kernel_size": (1, 3), "padding": (0, 1)}, (7, 2, 3, 3), (7, 5, 3, 3)),
        (3, {"kernel_size": 2, "stride": (1, 2, 3)}, (None, 2, 2, 2, 2), (None, 5, 3, 4, 5)),
    ],
)
def test_conv_transpose_known_shapes(d, params, shape_in, shape_out):
    op = tw.nn(f"conv_transpose{d}d", out_channels=5, **params)
    assert op.shapes_out([shape_in]) == [shape_out]
    real_shape = tuple(3 if s is None else s for s in shape_in)
    assert_matches_torch(op, shape_in, real_shape, lambda: CONV_T[d].module_class(2, 5, **params))


def test_conv_transpose_undoes_a_strided_conv():
    md = make_md((None, 1, 8, 8))
    md = tw.nn("conv2d", out_channels=4, kernel_size=2, stride=2).train([md])[0]
    md = tw.nn("conv_transpose2d", out_channels=1, kernel_size=2, stride=2).train([md])[0]
    assert md.pointer_shape == (None, 1, 8, 8)
    layer = md.graph.pipeops["conv_transpose2d"].module
    assert isinstance(layer, nn.ConvTranspose2d)
    assert (layer.in_channels, layer.out_channels) == (4, 1)
    net = model_descriptor_to_module(md)
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 1, 8, 8)


@pytest.mark.parametrize(("d", "shape"), [(1, (None, 2)), (2, (None, 2, 8)), (3, (None, 2, 8, 8))])
def test_conv_transpose_wrong_ndim(d, shape):
    op = tw.nn(f"conv_transpose{d}d", out_channels=2, kernel_size=1)
    with pytest.raises(
        ShapeError,
        match=rf"PipeOp 'conv_transpose{d}d' requires an input with {d + 2} dimensions \(the first "
        r"one being the batch dimension\), but got the shape \(None, 2",
    ):
        op.shapes_out([shape])


def test_conv_transpose_unknown_channels():
    op = tw.nn("conv_transpose1d", out_channels=2, kernel_size=1)
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'conv_transpose1d' requires the channel dimension \(1\) of the input shape "
        r"to be known, but got shape \(None, None, 4\)\.",
    ):
        op.shapes_out([(None, None, 4)])


def test_conv_transpose_non_positive_output():
    op = tw.nn("conv_transpose2d", out_channels=2, kernel_size=3, padding=(0, 3))
    with pytest.raises(
        ShapeError,
        match=r"^PipeOp 'conv_transpose2d' would produce an output of size -2 in dimension 3 for "
        r"input shape \(None, 2, 1, 2\), which no tensor can have\.$",
    ):
        op.shapes_out([(None, 2, 1, 2)])
    # unknown extents are assumed large enough
    assert op.shapes_out([(None, 2, None, None)]) == [(None, 2, None, None)]


def test_conv_transpose_output_padding_must_be_smaller_than_stride_or_dilation():
    op = tw.nn("conv_transpose1d", out_channels=2, kernel_size=3, stride=2, output_padding=2)
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'output_padding' parameter of PipeOp 'conv_transpose1d' must be smaller than "
        r"either 'stride' or 'dilation' in each dimension\. Got output_padding 2 with stride 2 "
        r"and dilation 1 instead\.",
    ):
        op.shapes_out([(None, 1, None)])
    op.param_set.set_values(dilation=3)
    assert op.shapes_out([(None, 1, 4)]) == [(None, 2, 15)]


def test_conv_transpose_only_zero_padding():
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'padding_mode' parameter of PipeOp 'conv_transpose2d' must be one of "
        r"\{'zeros'\}\. Got 'reflect' instead\.",
    ):
        tw.nn("conv_transpose2d", padding_mode="reflect")
    with pytest.raises(InvalidParameterError, match=r"'padding' parameter .* must be an integer"):
        tw.nn("conv_transpose2d", padding="same")


@pytest.mark.parametrize("cls", list(CONV_T.values()))
def test_conv_transpose_params_mirror_torch(cls):
    assert_params_mirror_torch(cls)
    assert cls.inferred == ("in_channels",)
    assert "output_padding" in cls().param_set.ids()


@pytest.mark.parametrize("d", [1, 2, 3])
def test_conv_transpose_registry_and_sugar(d):
    op = tw.nn(f"conv_transpose{d}d", out_channels=1, kernel_size=1)
    assert type(op) is CONV_T[d]
    assert op.id == f"conv_transpose{d}d"
    assert CONV_T[d]().id == f"nn_conv_transpose{d}d"
    assert "output_padding : int or tuple of int" in CONV_T[d].__doc__
