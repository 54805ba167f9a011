"""The built-in optimizers: ParamSets mirror torch.optim, generate and param_groups."""

import inspect
import pickle

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
from torchweave.errors import InvalidParameterError, InvalidTypeError, UnknownKeyError
from torchweave.testing.params import check_param_set
from torchweave.training.descriptors import TorchOptimizer
from torchweave.training.optimizers import check_betas
from torchweave.training.sugar import as_torch_optimizer, t_opt, t_opts

CLASSES = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
    "adamax": torch.optim.Adamax,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
}
INTERNALS = {"foreach", "capturable", "differentiable", "fused"}


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))


def test_registry_holds_exactly_the_built_ins():
    assert tw.registry.optimizers.keys() == sorted(CLASSES)
    assert tw.registry.optimizers.table().set_index("key").loc["adam", "class"] == "Adam"


@pytest.mark.parametrize("key", list(CLASSES))
def test_param_set_mirrors_the_torch_signature(key):
    opt = t_opt(key)
    assert opt.id == key
    assert opt.cls is CLASSES[key]
    signature = dict(inspect.signature(opt.cls).parameters)
    del signature["params"]
    ids = set(opt.param_set.ids()) - {"param_groups"}
    assert set(opt.omitted) <= INTERNALS
    assert ids.isdisjoint(opt.omitted)
    assert ids | set(opt.omitted) == set(signature)
    for pid in ids:
        assert opt.param_set.params[pid].default == signature[pid].default, pid
    assert opt.param_set.default["param_groups"] is None
    assert all("train" in tags for tags in opt.param_set.tags.values())
    assert opt.param_set.values == {}
    check_param_set(opt.param_set)


@pytest.mark.parametrize("key", list(CLASSES))
def test_generate_builds_the_class_with_defaults_and_steps(key):
    net = _net()
    opt = t_opt(key, lr=0.05).generate(net.named_parameters())
    assert type(opt) is CLASSES[key]
    assert opt.param_groups[0]["lr"] == 0.05
    before = [p.detach().clone() for p in net.parameters()]
    loss = net(torch.randn(8, 3)).pow(2).mean()
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_sgd_values_reach_the_param_group():
    net = _net()
    opt = t_opt("sgd", lr=0.5, momentum=0.9, nesterov=True, weight_decay=0.01).generate(
        net.named_parameters()
    )
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (
        0.5,
        0.9,
        True,
        0.01,
    )
    assert len(group["params"]) == 4
    assert all(isinstance(p, torch.Tensor) for p in group["params"])


def test_adam_betas_and_amsgrad():
    group = (
        t_opt("adam", betas=(0.8, 0.99), amsgrad=True)
        .generate(_net().named_parameters())
        .param_groups[0]
    )
    assert tuple(group["betas"]) == (0.8, 0.99)
    assert group["amsgrad"] is True


def test_param_groups_give_groups_with_their_own_options():
    net = _net()

    def groups(named):
        first = [p for name, p in named if name.startswith("0.")]
        rest = [p for name, p in named if not name.startswith("0.")]
        return [{"params": first, "lr": 0.5}, {"params": rest, "weight_decay": 0.11}]

    opt = t_opt("adam", lr=0.1, weight_decay=0.37, param_groups=groups).generate(
        net.named_parameters()
    )
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.37, 0.11]
    assert [len(g["params"]) for g in opt.param_groups] == [2, 2]
    assert "param_groups" not in opt.defaults


def test_param_groups_receives_the_named_parameters():
    seen = []

    def groups(named):
        seen.extend(name for name, _ in named)
        return [{"params": [p for _, p in named]}]

    t_opt("sgd", param_groups=groups).generate(_net().named_parameters())
    assert seen == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_param_groups_must_be_callable_and_return_groups():
    with pytest.raises(
        InvalidParameterError,
        match="The 'param_groups' parameter of optimizer 'adam' must be a function",
    ):
        t_opt("adam", param_groups=[{"params": []}])
    opt = t_opt("adam", param_groups=lambda named: [])
    with pytest.raises(
        InvalidParameterError,
        match="'param_groups' function of optimizer 'adam' must return a non-empty list of dicts, each with the key 'params'. Got \\[\\]",
    ):
        opt.generate(_net().named_parameters())


@pytest.mark.parametrize(
    "bad", [(0.9,), (0.9, 1.0), (-0.1, 0.5), "ab", (0.9, True), 0.9, [0.9, float("nan")]]
)
def test_betas_are_checked(bad):
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'betas' parameter of optimizer 'adam' must be a pair of floats in \[0, 1\)",
    ):
        t_opt("adam", betas=bad)


@given(st.floats(0, 0.999), st.floats(0, 0.999))
def test_check_betas_accepts_pairs_in_range(b1, b2):
    assert check_betas((b1, b2)) is None
    assert check_betas([b1, b2]) is None


def test_bounds_are_enforced_with_messages():
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'lr' parameter of optimizer 'sgd' must be a float >= 0. Got -1.0 instead.",
    ):
        t_opt("sgd", lr=-1.0)
    with pytest.raises(
        InvalidParameterError,
        match=r"'rho' parameter of optimizer 'adadelta' must be a float in \[0, 1\]",
    ):
        t_opt("adadelta", rho=1.5)
    with pytest.raises(
        InvalidParameterError, match="'foreach' is not a parameter of optimizer 'adam'"
    ):
        t_opt("adam", foreach=True)


def test_t_opt_id_and_t_opts():
    opt = t_opt("adam", id="fast", lr=0.3)
    assert (opt.id, opt.param_set.owner, opt.param_set.values) == (
        "fast",
        "optimizer 'fast'",
        {"lr": 0.3},
    )
    assert [o.id for o in t_opts("sgd", "adam")] == ["sgd", "adam"]


def test_unknown_optimizer_key_suggests():
    with pytest.raises(UnknownKeyError, match="'adm' is not a registered optimizer. Did you mean"):
        t_opt("adm")


def test_as_torch_optimizer():
    opt = t_opt("adam")
    assert as_torch_optimizer(opt) is opt
    assert as_torch_optimizer(opt, clone=True) is not opt
    assert as_torch_optimizer("rmsprop").cls is torch.optim.RMSprop
    custom = as_torch_optimizer(torch.optim.ASGD)
    assert isinstance(custom, TorchOptimizer)
    assert custom.id == "asgd"
    assert "param_groups" in custom.param_set
    custom.param_set.set_values(lr=0.2)
    assert custom.generate(_net().named_parameters()).param_groups[0]["lr"] == 0.2
    with pytest.raises(
        InvalidTypeError,
        match="to a TorchOptimizer; give a TorchOptimizer, a key of tw.registry.optimizers",
    ):
        as_torch_optimizer(nn.MSELoss)


def test_optimizer_descriptor_pickles_and_repr():
    opt = t_opt("adamw", lr=0.01)
    back = pickle.loads(pickle.dumps(opt))
    assert back.param_set.values == {"lr": 0.01}
    assert repr(opt) == (
        "<TorchOptimizer:adamw> Decoupled Weight Decay Regularization\n"
        "* Generator: AdamW\n"
        "* Parameters: lr=0.01"
    )
