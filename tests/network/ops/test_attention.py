"""nn_multihead_attention: torch.nn.MultiheadAttention (batch first) as a layer operator."""

import inspect
import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
import torchweave.network.ops.nn_multihead_attention  # registers the operator
from tests.network.ops.helpers import assert_fits, assert_params_mirror_torch, descriptors
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.ops.nn_multihead_attention import (
    Attention,
    PipeOpTorchMultiheadAttention,
)


def run(op, shapes, sizes):
    """Train ``op`` on inputs of ``shapes``; return descriptors, network and real outputs."""
    outs = op.train(descriptors(*shapes))
    net = tw.model_descriptor_to_module(outs[0], output_pointers=[md.pointer for md in outs])
    net.eval()
    y = net(*[torch.randn(*size) for size in sizes])
    return outs, net, (list(y) if isinstance(y, tuple) else [y])


# --- channels and construction ---------------------------------------------------------------------
def test_channels_follow_mode_and_need_weights():
    op = tw.nn("multihead_attention", num_heads=1)
    assert op.id == "multihead_attention"
    assert [ch.name for ch in op.input] == ["input"]
    assert [ch.name for ch in op.output] == ["output"]
    op = tw.po("nn_multihead_attention", mode="cross", need_weights=True)
    assert op.id == "nn_multihead_attention"
    assert [ch.name for ch in op.input] == ["query", "key_value"]
    assert [ch.name for ch in op.output] == ["output", "weights"]
    op = PipeOpTorchMultiheadAttention(mode="general")
    assert [ch.name for ch in op.input] == ["query", "key", "value"]


def test_invalid_construction_arguments():
    with pytest.raises(
        InvalidParameterError,
        match=r"'mode' argument of PipeOp 'nn_multihead_attention' must be one of 'self', "
        r"'cross', 'general'. Got 'both' instead.",
    ):
        PipeOpTorchMultiheadAttention(mode="both")
    with pytest.raises(InvalidParameterError, match=r"'need_weights' argument .* must be a bool"):
        PipeOpTorchMultiheadAttention(need_weights=1)


def test_params_mirror_the_torch_signatures():
    op = PipeOpTorchMultiheadAttention()
    assert_params_mirror_torch(op, Attention, ordered=False)
    ps = op.param_set
    ours = inspect.signature(Attention.__init__).parameters
    # The wrapper takes torch's constructor arguments with torch's defaults, plus the
    # forward arguments average_attn_weights and need_weights; batch_first is always True.
    torch_args = inspect.signature(nn.MultiheadAttention.__init__).parameters
    for name, arg in torch_args.items():
        if name in ("self", "batch_first"):
            continue
        assert name in ours and ours[name].default == arg.default, name
    forward = inspect.signature(nn.MultiheadAttention.forward).parameters
    for name in ("average_attn_weights", "need_weights"):
        assert name in ours
    assert ours["average_attn_weights"].default == forward["average_attn_weights"].default
    assert ps.params["num_heads"].check(0) is not None
    assert ps.params["dropout"].check(1.5) is not None


# --- shapes --------------------------------------------------------------------------------------------
CONFIGS = list(
    itertools.product(
        ["self", "cross", "general"], [False, True], [True, False], [False, True], [False, True]
    )
)


@pytest.mark.parametrize(("mode", "need_weights", "average", "bias_kv", "zero_attn"), CONFIGS)
def test_inferred_shapes_equal_real_shapes(mode, need_weights, average, bias_kv, zero_attn):
    op = tw.nn(
        "multihead_attention",
        mode=mode,
        need_weights=need_weights,
        num_heads=2,
        average_attn_weights=average,
        add_bias_kv=bias_kv,
        add_zero_attn=zero_attn,
    )
    shapes = {
        "self": [(None, 5, 8)],
        "cross": [(None, 5, 8), (None, None, 3)],
        "general": [(None, 5, 8), (None, 7, 3), (None, None, 6)],
    }[mode]
    sizes = {
        "self": [(4, 5, 8)],
        "cross": [(4, 5, 8), (4, 9, 3)],
        "general": [(4, 5, 8), (4, 7, 3), (4, 7, 6)],
    }[mode]
    outs, _net, ys = run(op, shapes, sizes)
    assert len(ys) == len(outs) == (2 if need_weights else 1)
    for md, y in zip(outs, ys, strict=True):
        assert_fits(md.pointer_shape, tuple(y.shape))
    assert outs[0].pointer_shape == (None, 5, 8)
    if need_weights:
        src = {"self": 5, "cross": None, "general": 7}[mode]
        if src is not None:
            src += bias_kv + zero_attn
        expected = (None, 5, src) if average else (None, 2, 5, src)
        assert outs[1].pointer_shape == expected
    assert op.state == {"shapes_out": [md.pointer_shape for md in outs]}
    assert op.shapes_out(shapes) == [md.pointer_shape for md in outs]


def test_dimensions_are_inferred_from_the_inputs():
    op = tw.nn("multihead_attention", mode="general", num_heads=4)
    _outs, net, _ = run(
        op, [(None, 5, 8), (None, 7, 3), (None, 7, 6)], [(2, 5, 8), (2, 7, 3), (2, 7, 6)]
    )
    (layer,) = [m for m in net.modules() if isinstance(m, nn.MultiheadAttention)]
    assert (layer.embed_dim, layer.kdim, layer.vdim, layer.num_heads) == (8, 3, 6, 4)
    assert layer.batch_first
    op = tw.nn("multihead_attention", mode="cross", num_heads=2, bias=False)
    _, net, _ = run(op, [(None, 5, 4), (None, 7, 3)], [(2, 5, 4), (2, 7, 3)])
    (layer,) = [m for m in net.modules() if isinstance(m, nn.MultiheadAttention)]
    assert (layer.embed_dim, layer.kdim, layer.vdim) == (4, 3, 3)
    assert layer.out_proj.bias is None


def test_known_sizes_of_other_inputs_fill_unknown_ones():
    op = tw.nn("multihead_attention", mode="general", num_heads=1, need_weights=True)
    shapes = op.shapes_out([(None, 5, 8), (3, 7, 2), (None, None, 6)])
    assert shapes == [(3, 5, 8), (3, 5, 7)]


@settings(max_examples=20, deadline=None)
@given(
    batch=st.integers(1, 3),
    tgt=st.integers(1, 4),
    src=st.integers(1, 4),
    heads=st.integers(1, 3),
    head_dim=st.integers(1, 3),
    kdim=st.integers(1, 5),
    known=st.booleans(),
)
def test_cross_attention_shapes_on_random_sizes(batch, tgt, src, heads, head_dim, kdim, known):
    embed = heads * head_dim
    op = tw.nn("multihead_attention", mode="cross", num_heads=heads, need_weights=True)
    q_shape = (None, tgt if known else None, embed)
    kv_shape = (None, src if known else None, kdim)
    outs, _, ys = run(op, [q_shape, kv_shape], [(batch, tgt, embed), (batch, src, kdim)])
    assert tuple(ys[0].shape) == (batch, tgt, embed)
    assert tuple(ys[1].shape) == (batch, tgt, src)
    for md, y in zip(outs, ys, strict=True):
        assert_fits(md.pointer_shape, tuple(y.shape))
    assert outs[1].pointer_shape == (None, q_shape[1], kv_shape[1])


# --- values -------------------------------------------------------------------------------------------
def test_values_equal_torch_multihead_attention():
    torch.manual_seed(0)
    op = tw.nn("multihead_attention", mode="cross", need_weights=True, num_heads=2)
    _outs, net, _ = run(op, [(None, 5, 8), (None, 6, 8)], [(2, 5, 8), (2, 6, 8)])
    (ours,) = [m for m in net.modules() if isinstance(m, Attention)]
    reference = nn.MultiheadAttention(8, 2, batch_first=True)
    reference.load_state_dict(ours.attention.state_dict())
    reference.eval()
    q, kv = torch.randn(2, 5, 8), torch.randn(2, 6, 8)
    with torch.no_grad():
        out, weights = net(q, kv)
        ref_out, ref_weights = reference(q, kv, kv)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(weights, ref_weights)


def test_self_attention_module_and_reset():
    torch.manual_seed(0)
    module = Attention(6, 3)
    module.eval()
    x = torch.randn(2, 4, 6)
    y = module(x)
    assert isinstance(y, torch.Tensor) and y.shape == (2, 4, 6)
    torch.testing.assert_close(y, module.attention(x, x, x)[0])
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(1.0)
    module.reset_parameters()
    assert not torch.all(module.attention.in_proj_weight == 1.0)
    assert not torch.all(module.attention.out_proj.weight == 1.0)
    assert torch.all(module.attention.out_proj.bias == 0.0)
    assert torch.all(module.attention.in_proj_bias == 0.0)


def test_predict_passes_the_task_through():
    op = tw.nn("multihead_attention", mode="cross", num_heads=1)
    op.train(descriptors((None, 2, 4), (None, 3, 4)))
    task = tw.tsk("iris")
    out = op.predict([task, task])
    assert len(out) == 1 and out[0].feature_names == task.feature_names


# --- errors ---------------------------------------------------------------------------------------
def test_inputs_must_be_three_dimensional_with_known_features():
    op = tw.nn("multihead_attention", num_heads=2)
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'multihead_attention' requires an input with 3 dimensions .* got the "
        r"shape \(None, 8\)",
    ):
        op.shapes_out([(None, 8)])
    with pytest.raises(
        ShapeError,
        match=r"requires the last dimension \(input 'input'\) of the input shape to be known, "
        r"but got shape \(None, 5, None\)",
    ):
        op.shapes_out([(None, 5, None)])
    cross = tw.nn("multihead_attention", mode="cross", num_heads=2)
    with pytest.raises(ShapeError, match=r"input 'key_value'"):
        cross.shapes_out([(None, 5, 8), (None, 3, None)])
    with pytest.raises(ShapeError, match=r"has 2 input channel\(s\) \(query, key_value\)"):
        cross.shapes_out([(None, 5, 8)])


def test_embed_dim_must_be_divisible_by_num_heads():
    op = tw.nn("multihead_attention", num_heads=3)
    with pytest.raises(
        ShapeError,
        match=r"embedding dimension \(the last dimension of the query, 8\) to be divisible by "
        r"num_heads \(3\), but got the shape \(None, 5, 8\)",
    ):
        op.shapes_out([(None, 5, 8)])
    with pytest.raises(ShapeError, match=r"divisible by num_heads"):
        op.train(descriptors((None, 5, 8)))


def test_inputs_must_agree_on_batch_size_and_key_value_length():
    op = tw.nn("multihead_attention", mode="general", num_heads=1)
    with pytest.raises(ShapeError, match=r"agree on the batch sizes, but got the shapes"):
        op.shapes_out([(2, 5, 8), (3, 7, 3), (None, 7, 6)])
    with pytest.raises(ShapeError, match=r"agree on the key and value sequence lengths"):
        op.shapes_out([(None, 5, 8), (None, 7, 3), (None, 6, 6)])


def test_num_heads_is_required():
    op = tw.nn("multihead_attention")
    with pytest.raises(
        InvalidParameterError, match=r"needs the required parameter\(s\) 'num_heads'"
    ):
        op.shapes_out([(None, 5, 8)])
    with pytest.raises(InvalidParameterError, match=r"'num_heads'"):
        op.train(descriptors((None, 5, 8)))
