"""Numerical parity with rtdl_revisiting_models: same weights, same forward pass (1e-6)."""

import pytest
import torch

from torchweave.prebuilt.ft_transformer import FTTransformer
from torchweave.prebuilt.mlp import make_mlp
from torchweave.prebuilt.tab_resnet import TabResNet

rtdl = pytest.importorskip("rtdl_revisiting_models")

TOL = {"atol": 1e-6, "rtol": 1e-6}


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(old)


def _copy(dst: torch.Tensor, src: torch.Tensor) -> None:
    with torch.no_grad():
        dst.copy_(src)


def test_mlp_matches_rtdl_mlp():
    ref = rtdl.MLP(d_in=5, d_out=3, n_blocks=3, d_block=16, dropout=0.1).eval()
    ours = make_mlp(5, 3, [16, 16, 16], p=0.1).eval()
    for i, block in enumerate(ref.blocks):
        _copy(ours[3 * i].weight, block.linear.weight)
        _copy(ours[3 * i].bias, block.linear.bias)
    _copy(ours[9].weight, ref.output.weight)
    _copy(ours[9].bias, ref.output.bias)
    x = torch.randn(64, 5)
    torch.testing.assert_close(ours(x), ref(x), **TOL)
    assert [n for n, _ in ours.named_parameters()][:3] == ["0.weight", "0.bias", "3.weight"]


@pytest.mark.parametrize("multiplier", [None, 1.5])
def test_tab_resnet_backbone_matches_rtdl_resnet(multiplier):
    d_hidden = None if multiplier else 24
    ref = rtdl.ResNet(
        d_in=6,
        d_out=None,
        n_blocks=2,
        d_block=16,
        d_hidden=d_hidden,
        d_hidden_multiplier=multiplier,
        dropout1=0.0,
        dropout2=0.0,
    )
    ours = TabResNet(6, 2, 2, 16, d_hidden or int(16 * multiplier), 0.0, 0.0)
    head = {"head.weight": ours.head.weight, "head.bias": ours.head.bias}
    ours.load_state_dict(dict(ref.state_dict()) | head, strict=True)
    x = torch.randn(32, 6)
    # training mode (batch statistics, no dropout), then eval mode (running statistics)
    torch.testing.assert_close(ours.blocks(ours.input_projection(x)), ref(x), **TOL)
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours.blocks(ours.input_projection(x)), ref(x), **TOL)
    # mlr3torch's head is one linear layer (rtdl adds BatchNorm1d and ReLU before it)
    torch.testing.assert_close(ours(x), ours.head(ref(x)), **TOL)


def _ft_pair(n_num, cards, n_blocks, heads=4, d=16):
    ref = rtdl.FTTransformer(
        n_cont_features=n_num,
        cat_cardinalities=cards,
        d_out=3,
        n_blocks=n_blocks,
        d_block=d,
        attention_n_heads=heads,
        attention_dropout=0.2,
        ffn_d_hidden=20,
        ffn_d_hidden_multiplier=None,
        ffn_dropout=0.1,
        residual_dropout=0.0,
    )
    ours = FTTransformer(
        n_num, cards, 3, n_blocks=n_blocks, d_token=d, attention_n_heads=heads, ffn_d_hidden=20
    )
    _copy(ours.cls.weight, ref.cls_embedding.weight)
    if n_num:
        _copy(ours.tokenizer_num.weight, ref.cont_embeddings.weight)
        _copy(ours.tokenizer_num.bias, ref.cont_embeddings.bias)
    if cards:
        table = torch.cat([e.weight for e in ref.cat_embeddings.embeddings])
        _copy(ours.tokenizer_categ.embeddings.weight, table)
        _copy(ours.tokenizer_categ.bias, ref.cat_embeddings.bias)
    for mine, theirs in zip(ours.blocks, ref.backbone.blocks, strict=True):
        att = theirs["attention"]
        _copy(
            mine.attention.in_proj_weight,
            torch.cat([att.W_q.weight, att.W_k.weight, att.W_v.weight]),
        )
        _copy(mine.attention.in_proj_bias, torch.cat([att.W_q.bias, att.W_k.bias, att.W_v.bias]))
        _copy(mine.attention.out_proj.weight, att.W_out.weight)
        _copy(mine.attention.out_proj.bias, att.W_out.bias)
        if "attention_normalization" in theirs:
            mine.attention_normalization.load_state_dict(
                theirs["attention_normalization"].state_dict()
            )
        else:
            assert mine.attention_normalization is None
        mine.ffn_normalization.load_state_dict(theirs["ffn_normalization"].state_dict())
        mine.ffn.linear_first.load_state_dict(theirs["ffn"].linear1.state_dict())
        mine.ffn.linear_second.load_state_dict(theirs["ffn"].linear2.state_dict())
    ours.normalization.load_state_dict(ref.backbone.output.normalization.state_dict())
    ours.head.load_state_dict(ref.backbone.output.linear.state_dict())
    return ours.eval(), ref.eval()


@pytest.mark.parametrize(
    ("n_num", "cards", "n_blocks"), [(3, [3, 4], 2), (4, [], 1), (0, [2, 5, 3], 3)]
)
def test_ft_transformer_matches_rtdl(n_num, cards, n_blocks):
    ours, ref = _ft_pair(n_num, cards, n_blocks)
    x_num = torch.randn(16, n_num) if n_num else None
    x_cat = torch.stack([torch.randint(0, c, (16,)) for c in cards], dim=1) if cards else None
    inputs = {k: v for k, v in (("num", x_num), ("categ", x_cat)) if v is not None}
    # the CLS token is last here and first in rtdl: attention has no positions, and
    # only the CLS token is read out, so the outputs agree
    torch.testing.assert_close(ours(**inputs), ref(x_num, x_cat), **TOL)
