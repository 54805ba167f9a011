"""nn_batch_norm1d/2d/3d: inferred num_features, shapes, params mirroring torch, errors."""

import inspect
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
from tests.network.ops.helpers import make_md, run
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.module_graph import model_descriptor_to_module
from torchweave.network.ops.batch_norm import (
    PipeOpTorchBatchNorm1D,
    PipeOpTorchBatchNorm2D,
    PipeOpTorchBatchNorm3D,
)
from torchweave.network.pipeop_torch import signature_params
from torchweave.network.shapes import shape_to_str

OPS = {
    "batch_norm1d": (PipeOpTorchBatchNorm1D, nn.BatchNorm1d, (2, 3)),
    "batch_norm2d": (PipeOpTorchBatchNorm2D, nn.BatchNorm2d, (4,)),
    "batch_norm3d": (PipeOpTorchBatchNorm3D, nn.BatchNorm3d, (5,)),
}


@pytest.mark.parametrize("key", sorted(OPS))
def test_registered_and_params_mirror_torch(key):
    cls, module_class, _ = OPS[key]
    op = tw.po(f"nn_{key}")
    assert type(op) is cls
    assert op.id == f"nn_{key}"
    assert tw.nn(key).id == key
    assert op.module_class is module_class
    assert op.inferred == ("num_features",)
    expected = signature_params(module_class, exclude=(*op.inferred, *op.omitted))
    assert expected == {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True}
    assert op.param_set.default == expected
    assert all(tags == {"train"} for tags in op.param_set.tags.values())
    assert op.param_set.values == {}
    # bias is keyword-only and only in recent torch versions (torchweave supports torch >= 2.3)
    assert "bias" in op.omitted
    assert "bias" not in op.param_set


@pytest.mark.parametrize(
    ("key", "shape"),
    [
        ("batch_norm1d", (None, 6)),
        ("batch_norm1d", (None, 6, None)),
        ("batch_norm1d", (None, 6, 5)),
        ("batch_norm2d", (None, 3, None, None)),
        ("batch_norm2d", (None, 3, 4, 5)),
        ("batch_norm3d", (None, 2, None, 3, None)),
    ],
)
def test_inferred_shape_equals_real_shape(key, shape):
    inferred, x, y, layer = run(tw.nn(key), shape)
    assert inferred == shape
    assert y.shape == x.shape
    assert layer.num_features == shape[1]
    assert type(layer) is OPS[key][1]


@given(
    key=st.sampled_from(sorted(OPS)),
    channels=st.integers(1, 4),
    data=st.data(),
)
def test_any_known_channel_count(key, channels, data):
    ndim = data.draw(st.sampled_from(OPS[key][2]))
    rest = data.draw(
        st.lists(st.one_of(st.none(), st.integers(1, 3)), min_size=ndim - 2, max_size=ndim - 2)
    )
    shape = (None, channels, *rest)
    inferred, x, y, _ = run(tw.nn(key), shape, batch=3)
    assert inferred == shape
    assert y.shape == x.shape


def test_normalises_each_channel_in_training():
    _, _, _, layer = run(tw.nn("batch_norm2d", affine=False), (None, 3, 4, 4))
    x = torch.randn(8, 3, 4, 4) * 5 + 2
    y = layer.train()(x)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)


def test_params_reach_the_module():
    op = tw.nn("batch_norm1d", eps=1e-3, momentum=None, affine=False, track_running_stats=False)
    _, _, _, layer = run(op, (None, 5))
    assert (layer.eps, layer.momentum, layer.affine, layer.track_running_stats) == (
        1e-3,
        None,
        False,
        False,
    )
    assert layer.weight is None
    assert layer.running_mean is None


@pytest.mark.parametrize(
    ("key", "shape", "want"),
    [
        ("batch_norm1d", (None,), "2 or 3"),
        ("batch_norm1d", (None, 3, 4, 5), "2 or 3"),
        ("batch_norm2d", (None, 3, 4), "4"),
        ("batch_norm3d", (None, 3, 4, 5), "5"),
    ],
)
def test_wrong_number_of_dimensions(key, shape, want):
    with pytest.raises(
        ShapeError,
        match=rf"PipeOp '{key}' requires an input with {want} dimensions \(the first one being the "
        rf"batch dimension\), but got the shape {re.escape(shape_to_str(shape))}\.",
    ):
        tw.nn(key).shapes_out([shape])


@pytest.mark.parametrize(
    ("key", "shape"), [("batch_norm1d", (None, None, 16)), ("batch_norm2d", (None, None, 4, 4))]
)
def test_unknown_feature_dimension(key, shape):
    op = tw.nn(key)
    with pytest.raises(
        ShapeError,
        match=rf"PipeOp '{key}' requires the feature dimension \(dimension 1\) of the input shape to be known",
    ):
        op.shapes_out([shape])
    with pytest.raises(ShapeError, match="requires the feature dimension"):
        op.train([make_md(shape)])
    assert not op.is_trained


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"momentum": 1.5},
            r"The 'momentum' parameter of PipeOp 'batch_norm1d' must be a float in \[0, 1\] or None\. Got 1\.5",
        ),
        (
            {"eps": -1.0},
            r"The 'eps' parameter of PipeOp 'batch_norm1d' must be a float >= 0\. Got -1\.0",
        ),
        ({"bias": False}, r"'bias' is not a parameter of PipeOp 'batch_norm1d'"),
    ],
)
def test_invalid_params(values, message):
    with pytest.raises(InvalidParameterError, match=message):
        tw.nn("batch_norm1d", **values)


def test_in_a_graph_on_a_task():
    graph = tw.po("torch_ingress_num") >> tw.nn("batch_norm1d") >> tw.nn("head")
    md = graph.train(tw.tsk("iris"))["head.output"]
    net = model_descriptor_to_module(md)
    assert net.layers["batch_norm1d"].num_features == 4
    assert net(torch.randn(6, 4)).shape == (6, 3)
    assert inspect.signature(PipeOpTorchBatchNorm1D).parameters["id"].default == "nn_batch_norm1d"
