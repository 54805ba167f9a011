"""nn_ft_cls and nn_ft_transformer_block: shapes, wiring, initialisation, errors, params."""

import functools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
import torchweave.network.ops.nn_ft_cls
import torchweave.network.ops.nn_ft_transformer_block
import torchweave.network.ops.tokenizer  # registers the operators
from tests.network.ops.helpers import assert_params_mirror_torch, run
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.ops.glu import GeGLU, ReGLU
from torchweave.network.ops.nn_ft_cls import CLS, PipeOpTorchFTCLS
from torchweave.network.ops.nn_ft_transformer_block import (
    FTTransformerBlock,
    PipeOpTorchFTTransformerBlock,
)


# --- nn_ft_cls -----------------------------------------------------------------------------------
def test_ft_cls_params_mirror_module():
    op = tw.nn("ft_cls")
    assert isinstance(op, PipeOpTorchFTCLS)
    assert op.inferred == ("d_token",)
    assert_params_mirror_torch(op, CLS)
    assert op.param_set.values == {"initialization": "uniform"}


def test_ft_cls_appends_the_same_learned_token_last():
    shape, _, y, _ = run(tw.nn("ft_cls"), (None, 3, 4), batch=5)
    assert shape == (None, 4, 4)
    assert tuple(y.shape) == (5, 4, 4)
    layer = CLS(4)
    x = torch.randn(5, 3, 4)
    y = layer(x)
    torch.testing.assert_close(y[:, :3], x)
    torch.testing.assert_close(y[:, -1], layer.weight.expand(5, 4))
    assert layer.weight.abs().max() <= 1 / math.sqrt(4)
    y.sum().backward()
    torch.testing.assert_close(layer.weight.grad, torch.full((4,), 5.0))


def test_ft_cls_shapes_out_and_errors():
    op = tw.nn("ft_cls")
    assert op.shapes_out([(None, None, 8)]) == [(None, None, 8)]
    assert op.shapes_out([(2, 7, 8)]) == [(2, 8, 8)]
    with pytest.raises(ShapeError, match="'ft_cls' requires an input with 3 dimensions"):
        op.shapes_out([(None, 8)])
    with pytest.raises(
        ShapeError, match=r"requires the token dimension \(dimension 2\) of the input shape to be"
    ):
        op.shapes_out([(None, 3, None)])


# --- nn_ft_transformer_block ---------------------------------------------------------------------
def test_ft_transformer_block_params_mirror_module():
    op = tw.nn("ft_transformer_block")
    assert isinstance(op, PipeOpTorchFTTransformerBlock)
    assert op.inferred == ("d_token",)
    assert_params_mirror_torch(op, FTTransformerBlock)
    assert op.param_set.values == {"is_first_layer": False, "query_idx": None}
    defaults = op.param_set.default
    assert defaults["attention_n_heads"] == 8
    assert defaults["attention_dropout"] == 0.2
    assert defaults["ffn_dropout"] == 0.1
    assert defaults["residual_dropout"] == 0.0
    assert defaults["ffn_activation"] is ReGLU
    assert defaults["attention_normalization"] is nn.LayerNorm


def test_ft_transformer_stack_on_a_task():
    task = tw.tsk("iris")
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("tokenizer_num", d_token=8)
        >> tw.nn("ft_cls")
        >> tw.nn("ft_transformer_block", attention_n_heads=2, is_first_layer=True)
        >> tw.nn("ft_transformer_block_2", attention_n_heads=2, query_idx=-1)
    )
    md = graph.train(task)["ft_transformer_block_2.output"]
    assert graph.pipeops["tokenizer_num"].state["shapes_out"] == [(None, 4, 8)]
    assert graph.pipeops["ft_cls"].state["shapes_out"] == [(None, 5, 8)]
    assert graph.pipeops["ft_transformer_block"].state["shapes_out"] == [(None, 5, 8)]
    assert md.pointer_shape == (None, 1, 8)
    net = tw.model_descriptor_to_module(md)
    first, last = net.layers["ft_transformer_block"], net.layers["ft_transformer_block_2"]
    assert first.attention_normalization is None
    assert isinstance(last.attention_normalization, nn.LayerNorm)
    assert last.query_idx == [-1]
    x = md.ingress["torch_ingress_num.input"](task.data(cols=task.feature_names).iloc[:6])
    y = net(x)
    assert tuple(y.shape) == (6, 1, 8)
    assert torch.isfinite(y).all()
    # every parameter takes part and gets a gradient
    y.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    # evaluation mode is deterministic
    net.eval()
    torch.testing.assert_close(net(x), net(x))


def _reference(block, x, prenorm):
    """The block's output computed from its own submodules (evaluation mode)."""
    attn, norm_a, norm_f = block.attention, block.attention_normalization, block.ffn_normalization
    if prenorm:
        h = x if norm_a is None else norm_a(x)
        x = x + attn(h, h, h, need_weights=False)[0]
        return x + block.ffn(norm_f(x))
    x = norm_a(x + attn(x, x, x, need_weights=False)[0])
    return norm_f(x + block.ffn(x))


@pytest.mark.parametrize(
    ("prenorm", "first"), [(True, False), (True, True), (False, False), (False, True)]
)
def test_ft_transformer_block_residual_wiring(prenorm, first):
    block = FTTransformerBlock(8, 2, prenormalization=prenorm, is_first_layer=first).eval()
    # post-normalisation always needs the attention norm, even in the first layer
    assert (block.attention_normalization is None) == (prenorm and first)
    x = torch.randn(3, 5, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(x), _reference(block, x, prenorm))


@pytest.mark.parametrize("query_idx", [-1, 0, [0, -1], [3, 1, 1]])
def test_query_idx_outputs_the_same_as_the_full_block_at_those_tokens(query_idx):
    full = FTTransformerBlock(8, 4).eval()
    part = FTTransformerBlock(8, 4, query_idx=query_idx).eval()
    part.load_state_dict(full.state_dict())
    idx = [query_idx] if isinstance(query_idx, int) else query_idx
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        y = part(x)
        assert tuple(y.shape) == (2, len(idx), 8)
        torch.testing.assert_close(y, full(x)[:, idx])


def test_feed_forward_sizes():
    def ffn(**kwargs):
        f = FTTransformerBlock(12, 2, **kwargs).ffn
        return f.linear_first.out_features, f.linear_second.in_features

    assert ffn() == (32, 16)  # round(4/3 * 12) = 16, doubled for ReGLU
    assert ffn(ffn_d_hidden=5) == (10, 5)
    assert ffn(ffn_d_hidden_multiplier=0.5) == (12, 6)
    assert ffn(ffn_activation=nn.ReLU) == (16, 16)
    assert ffn(ffn_activation=nn.GLU) == (32, 16)
    assert ffn(ffn_activation=GeGLU) == (32, 16)
    assert ffn(ffn_activation=functools.partial(nn.GLU, dim=-1)) == (32, 16)
    f = FTTransformerBlock(4, 1, ffn_bias_first=False, ffn_bias_second=False).ffn
    assert f.linear_first.bias is None and f.linear_second.bias is None
    assert FTTransformerBlock(4, 1, attention_bias=False).attention.in_proj_bias is None


@pytest.mark.parametrize("initialization", ["kaiming", "xavier"])
def test_attention_projections_are_initialised_per_block(initialization):
    d = 64
    block = FTTransformerBlock(d, 8, attention_initialization=initialization)
    weight = block.attention.in_proj_weight.detach()
    # kaiming_uniform(a=sqrt(5)) on a (d, d) block: bound 1/sqrt(d);
    # xavier_uniform(gain=1/sqrt(2)) on a (d, d) block: bound sqrt(1.5/d)
    bound = 1 / math.sqrt(d) if initialization == "kaiming" else math.sqrt(1.5 / d)
    for i in range(3):
        values = weight[i * d : (i + 1) * d]
        assert values.abs().max() <= bound
        assert values.abs().max() > 0.98 * bound
    assert torch.equal(block.attention.in_proj_bias, torch.zeros(3 * d))
    assert torch.equal(block.attention.out_proj.bias, torch.zeros(d))


def test_ft_transformer_block_module_errors():
    with pytest.raises(
        InvalidParameterError, match=r"d_token \(6\) must be a multiple of .* \(4\)"
    ):
        FTTransformerBlock(6, 4)
    with pytest.raises(InvalidParameterError, match="at most one of ffn_d_hidden and ffn_d_h"):
        FTTransformerBlock(4, 1, ffn_d_hidden=3, ffn_d_hidden_multiplier=1.0)
    with pytest.raises(InvalidParameterError, match="must be >= 1. Got 0"):
        FTTransformerBlock(4, 1, ffn_d_hidden_multiplier=0.0)
    with pytest.raises(InvalidParameterError, match="'kaiming' or 'xavier'. Got 'he'"):
        FTTransformerBlock(4, 1, attention_initialization="he")


def test_ft_transformer_block_shape_errors():
    op = tw.nn("ft_transformer_block", attention_n_heads=3)
    with pytest.raises(ShapeError, match="requires an input with 3 dimensions"):
        op.shapes_out([(None, 6)])
    with pytest.raises(ShapeError, match=r"token dimension \(dimension 2\) .* to be known"):
        op.shapes_out([(None, 4, None)])
    with pytest.raises(
        ShapeError, match=r"multiple of attention_n_heads = 3, but got the shape \(None, 4, 8\)"
    ):
        op.shapes_out([(None, 4, 8)])
    op.param_set.set_values(ffn_d_hidden=4, ffn_d_hidden_multiplier=2.0)
    with pytest.raises(InvalidParameterError, match="at most one of the parameters 'ffn_d_hidden'"):
        op.shapes_out([(None, 4, 6)])
    op = tw.nn("ft_transformer_block", attention_n_heads=2, query_idx=[0, 4])
    with pytest.raises(
        ShapeError, match=r"cannot use 'query_idx' \[4\] for the input shape \(None, 4, 6\), "
    ):
        op.shapes_out([(None, 4, 6)])
    op.param_set.set_values(query_idx=-5)
    with pytest.raises(ShapeError, match=r"'query_idx' \[-5\] .* which has 4 tokens"):
        op.shapes_out([(None, 4, 6)])
    # an unknown number of tokens is accepted
    assert op.shapes_out([(None, None, 6)]) == [(None, 1, 6)]


def test_ft_transformer_block_param_checks():
    op = tw.nn("ft_transformer_block")
    for bad in [True, [], "a", [0, 1.5], 1.0]:
        with pytest.raises(
            InvalidParameterError, match="'query_idx' .* must be an int or a non-empty list"
        ):
            op.param_set.set_values(query_idx=bad)
    op.param_set.set_values(query_idx=(0, -1))
    for bad in [nn.LayerNorm(3), 3, "layer_norm"]:
        with pytest.raises(
            InvalidParameterError, match="'ffn_normalization' .* must be a torch.nn.Module class"
        ):
            op.param_set.set_values(ffn_normalization=bad)
    with pytest.raises(InvalidParameterError, match="'attention_dropout' .* Got 1.5"):
        op.param_set.set_values(attention_dropout=1.5)
    with pytest.raises(InvalidParameterError, match="'attention_initialization'"):
        op.param_set.set_values(attention_initialization="he")


def test_custom_normalization_and_activation():
    op = tw.nn(
        "ft_transformer_block",
        attention_n_heads=1,
        attention_normalization=nn.RMSNorm,
        ffn_normalization=nn.RMSNorm,
        ffn_activation=nn.GELU,
        prenormalization=False,
    )
    shape, _, y, _ = run(op, (None, 3, 4), batch=2)
    assert shape == (None, 3, 4)
    assert tuple(y.shape) == (2, 3, 4)


@settings(max_examples=15, deadline=None)
@given(
    n_tokens=st.integers(1, 5),
    heads=st.sampled_from([1, 2, 4]),
    head_dim=st.integers(1, 3),
    query=st.one_of(st.none(), st.just(-1), st.lists(st.integers(0, 4), min_size=1, max_size=3)),
    prenorm=st.booleans(),
    first=st.booleans(),
    batch=st.integers(1, 3),
)
def test_ft_transformer_block_inferred_shape_equals_real_shape(
    n_tokens, heads, head_dim, query, prenorm, first, batch
):
    if isinstance(query, list):
        query = [q % n_tokens for q in query]
    d = heads * head_dim
    op = tw.nn(
        "ft_transformer_block",
        attention_n_heads=heads,
        query_idx=query,
        prenormalization=prenorm,
        is_first_layer=first,
    )
    shape, _, y, _ = run(op, (None, n_tokens, d), batch=batch)
    n_out = n_tokens if query is None else (1 if query == -1 else len(query))
    assert shape == (None, n_out, d)
    assert tuple(y.shape) == (batch, n_out, d)
    assert torch.isfinite(y).all()
    # unknown number of tokens: still the number of queried tokens, or unknown
    assert op.shapes_out([(None, None, d)]) == [(None, None if query is None else n_out, d)]
