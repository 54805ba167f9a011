"""nn_transformer_encoder_layer: torch.nn.TransformerEncoderLayer (batch first)."""

import inspect

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
import torchweave.network.ops.nn_transformer_encoder_layer  # registers the operator
from tests.network.ops.helpers import assert_params_mirror_torch, descriptors
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.ops.nn_transformer_encoder_layer import (
    EncoderLayer,
    PipeOpTorchTransformerEncoderLayer,
)


def build(op, *shapes):
    (md,) = op.train(descriptors(*shapes))
    net = tw.model_descriptor_to_module(md)
    net.eval()
    return md, net


def layer_of(net):
    (layer,) = [m for m in net.modules() if isinstance(m, nn.TransformerEncoderLayer)]
    return layer


def causal(length):
    return torch.ones(length, length, dtype=torch.bool).triu(1)


# --- construction and parameters ------------------------------------------------------------------
def test_channels_follow_the_mask_arguments():
    op = tw.nn("transformer_encoder_layer", nhead=2)
    assert op.id == "transformer_encoder_layer"
    assert [ch.name for ch in op.input] == ["input"]
    assert [ch.name for ch in op.output] == ["output"]
    op = tw.po("nn_transformer_encoder_layer", src_key_padding_mask=True)
    assert op.id == "nn_transformer_encoder_layer"
    assert [ch.name for ch in op.input] == ["input", "src_key_padding_mask"]
    op = PipeOpTorchTransformerEncoderLayer(src_mask=True, src_key_padding_mask=True)
    assert [ch.name for ch in op.input] == ["input", "src_mask", "src_key_padding_mask"]
    with pytest.raises(InvalidParameterError, match=r"'src_mask' argument .* must be a bool"):
        PipeOpTorchTransformerEncoderLayer(src_mask="yes")


def test_params_mirror_the_torch_signature():
    op = PipeOpTorchTransformerEncoderLayer()
    assert_params_mirror_torch(op, EncoderLayer, ordered=False)
    ps = op.param_set
    ours = inspect.signature(EncoderLayer.__init__).parameters
    # Torch's constructor: the same arguments and defaults, except that the activation is
    # named by a string (torch's default is the function F.relu) and batch_first is fixed.
    torch_args = inspect.signature(nn.TransformerEncoderLayer.__init__).parameters
    for name, arg in torch_args.items():
        if name in ("self", "batch_first"):
            continue
        assert name in ours, name
        if name == "activation":
            assert arg.default is torch.nn.functional.relu and ours[name].default == "relu"
        else:
            assert ours[name].default == arg.default, name
    forward = inspect.signature(nn.TransformerEncoderLayer.forward).parameters
    assert ours["is_causal"].default == forward["is_causal"].default
    assert ps.params["activation"].levels == ("relu", "gelu")
    assert ps.params["nhead"].check(0) is not None
    assert ps.params["layer_norm_eps"].check(0.0) is not None


# --- shapes -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"norm_first": True, "activation": "gelu"},
        {"bias": False, "dim_feedforward": 3, "dropout": 0.0, "layer_norm_eps": 1e-3},
        {"is_causal": True},
    ],
)
@pytest.mark.parametrize("shape", [(None, 5, 8), (None, None, 8), (3, 5, 8)])
def test_inferred_shape_equals_the_real_shape(params, shape):
    op = tw.nn("transformer_encoder_layer", nhead=2, **params)
    md, net = build(op, shape)
    assert md.pointer_shape == shape
    assert op.state == {"shapes_out": [shape]}
    y = net(torch.randn(3, 5, 8))
    assert y.shape == (3, 5, 8)
    layer = layer_of(net)
    assert layer.self_attn.embed_dim == 8 and layer.self_attn.num_heads == 2
    assert layer.self_attn.batch_first and layer.norm_first == params.get("norm_first", False)
    assert layer.linear1.out_features == params.get("dim_feedforward", 2048)


@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(1, 3),
    seq=st.integers(1, 6),
    heads=st.integers(1, 3),
    head_dim=st.integers(1, 3),
    masks=st.sampled_from([(False, False), (True, False), (False, True), (True, True)]),
)
def test_shapes_with_masks_on_random_sizes(batch, seq, heads, head_dim, masks):
    d_model = heads * head_dim
    src_mask, padding = masks
    op = tw.nn(
        "transformer_encoder_layer",
        nhead=heads,
        dim_feedforward=4,
        src_mask=src_mask,
        src_key_padding_mask=padding,
    )
    shapes = [(None, None, d_model)]
    inputs = [torch.randn(batch, seq, d_model)]
    if src_mask:
        shapes.append((None, None))
        inputs.append(causal(seq))
    if padding:
        shapes.append((None, None))
        inputs.append(torch.zeros(batch, seq, dtype=torch.bool))
    md, net = build(op, *shapes)
    assert md.pointer_shape == (None, None, d_model)
    assert net(*inputs).shape == (batch, seq, d_model)


def test_mask_shapes_are_checked():
    op = tw.nn("transformer_encoder_layer", nhead=2, src_mask=True, src_key_padding_mask=True)
    assert op.shapes_out([(3, 5, 8), (6, 5, 5), (3, None)]) == [(3, 5, 8)]
    assert op.shapes_out([(None, 5, 8), (None, None), (None, 5)]) == [(None, 5, 8)]
    with pytest.raises(
        ShapeError,
        match=r"requires the 'src_mask' input to have the shape \(6, 5, 5\) for an input of "
        r"shape \(3, 5, 8\), but got \(5, 5, 5\)",
    ):
        op.shapes_out([(3, 5, 8), (5, 5, 5), (3, 5)])
    with pytest.raises(
        ShapeError, match=r"'src_key_padding_mask' input to have the shape \(3, 5\)"
    ):
        op.shapes_out([(3, 5, 8), (5, 5), (3, 4)])
    with pytest.raises(ShapeError, match=r"'src_mask' input to have 2 or 3 dimensions"):
        op.shapes_out([(3, 5, 8), (5,), (3, 5)])
    with pytest.raises(ShapeError, match=r"'src_key_padding_mask' input to have 2 dimensions"):
        op.shapes_out([(3, 5, 8), (5, 5), (3, 5, 1)])


# --- values ---------------------------------------------------------------------------------------------
def test_output_equals_torch_with_the_given_masks():
    torch.manual_seed(0)
    op = tw.nn(
        "transformer_encoder_layer",
        nhead=2,
        dim_feedforward=16,
        dropout=0.0,
        src_mask=True,
        src_key_padding_mask=True,
    )
    _, net = build(op, (None, 4, 8), (4, 4), (None, 4))
    x = torch.randn(2, 4, 8)
    mask = causal(4)
    padding = torch.tensor([[False, False, False, True], [False, False, False, False]])
    layer = layer_of(net)
    with torch.no_grad():
        y = net(x, mask, padding)
        expected = layer(x, src_mask=mask, src_key_padding_mask=padding)
    torch.testing.assert_close(y, expected)


def test_is_causal_hides_later_positions():
    torch.manual_seed(0)
    op = tw.nn("transformer_encoder_layer", nhead=2, dim_feedforward=16, is_causal=True)
    _, net = build(op, (None, 6, 8))
    x = torch.randn(2, 6, 8)
    changed = x.clone()
    changed[:, 4:] = torch.randn(2, 2, 8)
    with torch.no_grad():
        y, y_changed = net(x), net(changed)
        expected = layer_of(net)(x, src_mask=causal(6), is_causal=True)
    torch.testing.assert_close(y[:, :4], y_changed[:, :4])
    assert not torch.allclose(y[:, 4:], y_changed[:, 4:])
    torch.testing.assert_close(y, expected)


def test_is_causal_follows_a_float_padding_mask_without_warnings():
    torch.manual_seed(0)
    module = EncoderLayer(
        8, 2, dim_feedforward=16, dropout=0.0, is_causal=True, mask_inputs=("src_key_padding_mask",)
    )
    module.eval()
    x = torch.randn(2, 5, 8)
    padding = torch.zeros(2, 5)
    padding[0, 4] = float("-inf")
    with torch.no_grad():
        y = module(x, padding)
        float_causal = torch.zeros(5, 5).masked_fill(causal(5), float("-inf"))
        expected = module.layer(x, src_mask=float_causal, src_key_padding_mask=padding)
    torch.testing.assert_close(y, expected)


def test_reset_parameters_reinitialises_every_sublayer():
    module = EncoderLayer(8, 2, dim_feedforward=16)
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(3.0)
    module.reset_parameters()
    for name, p in module.named_parameters():
        assert not torch.all(p == 3.0), name


def test_predict_passes_the_task_through():
    op = tw.nn("transformer_encoder_layer", nhead=1)
    op.train(descriptors((None, 3, 4)))
    task = tw.tsk("iris")
    assert op.predict([task]) == [task]


# --- errors -------------------------------------------------------------------------------------------
def test_input_must_be_three_dimensional_with_known_d_model():
    op = tw.nn("transformer_encoder_layer", nhead=2)
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'transformer_encoder_layer' requires an input with 3 dimensions .* "
        r"\(None, 8\)",
    ):
        op.shapes_out([(None, 8)])
    # d_model is dim 2 (0-based; mlr3torch's dim 3).
    with pytest.raises(
        ShapeError, match=r"requires the last dimension \(d_model\) of the input shape to be known"
    ):
        op.shapes_out([(None, 5, None)])


def test_d_model_must_be_divisible_by_nhead():
    op = tw.nn("transformer_encoder_layer", nhead=3)
    with pytest.raises(
        ShapeError,
        match=r"requires d_model \(the last input dimension, 8\) to be divisible by nhead \(3\), "
        r"but got the shape \(None, 5, 8\)",
    ):
        op.train(descriptors((None, 5, 8)))
    assert not op.is_trained


def test_is_causal_cannot_be_combined_with_a_src_mask_channel():
    op = tw.nn("transformer_encoder_layer", nhead=2, src_mask=True, is_causal=True)
    with pytest.raises(
        InvalidParameterError,
        match=r"PipeOp 'transformer_encoder_layer' cannot combine is_causal=True, .* with a "
        r"'src_mask' input channel",
    ):
        op.train(descriptors((None, 5, 8), (5, 5)))


def test_nhead_is_required():
    op = tw.nn("transformer_encoder_layer")
    with pytest.raises(InvalidParameterError, match=r"needs the required parameter\(s\) 'nhead'"):
        op.shapes_out([(None, 5, 8)])
