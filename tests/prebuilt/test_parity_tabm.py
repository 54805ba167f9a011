"""Numerical parity with the tabm (0.0.3) and rtdl_num_embeddings (0.0.12) packages."""

import warnings

import pytest
import torch

from torchweave.prebuilt.embeddings import (
    LinearReLUEmbeddings,
    PeriodicEmbeddings,
    PiecewiseLinearEmbeddings,
    compute_bins,
)
from torchweave.prebuilt.tabm import TabM, average_ensemble

tabm = pytest.importorskip("tabm")
rne = pytest.importorskip("rtdl_num_embeddings")

TOL = {"atol": 1e-6, "rtol": 1e-6}


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(old)


def _ref_name(name: str) -> str:
    """The reference's name of one of our parameters."""
    return (
        name.replace("num_embeddings.", "num_module.")
        .replace("blocks.", "backbone.blocks.")
        .replace("frequencies", "periodic.weight")
        .replace("affine", "backbone.affine.weight")
    )


def _copy_from(ours: torch.nn.Module, ref: torch.nn.Module, rename=_ref_name) -> None:
    theirs = dict(ref.named_parameters())
    with torch.no_grad():
        for name, param in ours.named_parameters():
            param.copy_(theirs[rename(name)])
    assert len(theirs) == len(dict(ours.named_parameters()))


def _embedding_pair(kind, x_train, lite=False):
    n = x_train.shape[1]
    if kind == "linear_relu":
        return LinearReLUEmbeddings(n, 8), rne.LinearReLUEmbeddings(n, 8)
    if kind == "periodic":
        ours = PeriodicEmbeddings(n, 8, n_frequencies=6, frequency_init_scale=0.5, lite=lite)
        ref = rne.PeriodicEmbeddings(n, 8, n_frequencies=6, frequency_init_scale=0.5, lite=lite)
        return ours, ref
    bins = compute_bins(x_train, n_bins=7)
    ours = PiecewiseLinearEmbeddings(bins, 8, activation=False)
    ref = rne.PiecewiseLinearEmbeddings(bins, 8, activation=False, version="B")
    return ours, ref


def _x_train():
    x = torch.randn(50, 3)
    x[:, 2] = torch.randint(0, 3, (50,)).double()  # few distinct values: fewer bins
    return x


@pytest.mark.parametrize(
    ("kind", "lite"),
    [("linear_relu", False), ("periodic", False), ("periodic", True), ("piecewise_linear", False)],
)
def test_embeddings_match_rtdl_num_embeddings(kind, lite):
    x_train = _x_train()
    ours, ref = _embedding_pair(kind, x_train, lite)
    with torch.no_grad():  # give the zero-initialised PLE layer values
        for p in ref.parameters():
            p.normal_()
    _copy_from(ours, ref, lambda n: n.replace("frequencies", "periodic.weight"))
    x = torch.randn(20, 3) * 2  # also outside the training range
    torch.testing.assert_close(ours(x), ref(x), **TOL)


def test_compute_bins_matches_rtdl_and_checks_input():
    x = _x_train()
    for mine, theirs in zip(compute_bins(x, 7), rne.compute_bins(x, 7), strict=True):
        torch.testing.assert_close(mine, theirs)
    with pytest.raises(ValueError, match=r"n_bins must be more than 1 and less than"):
        compute_bins(x, 50)
    x[:, 1] = 1.0
    with pytest.raises(ValueError, match=r"feature\(s\) at position\(s\) \[1\] are constant"):
        compute_bins(x, 5)


def _tabm_pair(arch_type, embedding, n_num=3, cards=(2, 4)):
    x_train = _x_train()
    emb_ours, emb_ref = (None, None) if embedding is None else _embedding_pair(embedding, x_train)
    kwargs = {
        "k": 4,
        "n_blocks": 2,
        "d_block": 16,
        "dropout": 0.0,
        "arch_type": arch_type,
        "start_scaling_init": "normal",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = tabm.TabM(
            n_num_features=n_num,
            cat_cardinalities=list(cards),
            d_out=3,
            num_embeddings=emb_ref,
            activation="ReLU",
            **kwargs,
        )
    ours = TabM(
        n_num,
        list(cards),
        3,
        activation="relu",
        num_embeddings=emb_ours,
        d_embedding=None if embedding is None else 8,
        **kwargs,
    )
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    _copy_from(ours, ref)
    return ours, ref


@pytest.mark.parametrize("arch_type", ["tabm", "tabm-mini"])
@pytest.mark.parametrize("embedding", [None, "linear_relu", "periodic", "piecewise_linear"])
def test_tabm_matches_the_tabm_package(arch_type, embedding):
    ours, ref = _tabm_pair(arch_type, embedding)
    x_num = torch.randn(10, 3)
    x_cat = torch.stack([torch.randint(0, 2, (10,)), torch.randint(0, 4, (10,))], 1)
    expected = ref(x_num, x_cat)
    assert expected.shape == (10, 4, 3)
    torch.testing.assert_close(ours(x_num, x_cat), expected, **TOL)
    torch.testing.assert_close(ours(x_num=x_num, x_cat=x_cat), expected, **TOL)


def test_tabm_numeric_only_and_categorical_only():
    ours, ref = _tabm_pair("tabm", None, n_num=3, cards=())
    x = torch.randn(6, 3)
    torch.testing.assert_close(ours(x), ref(x), **TOL)
    ours, ref = _tabm_pair("tabm", None, n_num=0, cards=(3,))
    x_cat = torch.randint(0, 3, (6, 1))
    torch.testing.assert_close(ours(x_cat), ref(None, x_cat), **TOL)


def test_tabm_first_scaling_is_shared_per_feature_block():
    torch.manual_seed(1)
    net = TabM(2, [3], 1, k=5, d_block=8, n_blocks=2, start_scaling_init="random-signs")
    r = net.blocks[0][0].r  # (k, 1 + 1 + 3): one draw per feature block and member
    assert set(r.detach().abs().flatten().tolist()) == {1.0}
    assert torch.equal(r[:, 2], r[:, 3]) and torch.equal(r[:, 3], r[:, 4])
    assert torch.equal(net.blocks[1][0].r, torch.ones_like(net.blocks[1][0].r))
    assert torch.equal(net.blocks[0][0].s, torch.ones_like(net.blocks[0][0].s))


def test_average_ensemble_averages_probabilities_not_logits():
    out = torch.tensor([[[0.0, 4.0], [2.0, 0.0]]])  # (B=1, k=2, d=2)
    probs = torch.softmax(out, -1).mean(1)
    torch.testing.assert_close(average_ensemble(out, "multiclass").exp(), probs)
    binary = torch.tensor([[[-3.0], [5.0]]])
    p = torch.sigmoid(binary).mean(1)
    torch.testing.assert_close(torch.sigmoid(average_ensemble(binary, "binary")), p)
    assert not torch.allclose(average_ensemble(binary, "binary"), binary.mean(1))
    torch.testing.assert_close(average_ensemble(binary, "regr"), torch.tensor([[1.0]]))
