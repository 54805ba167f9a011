"""The built-in losses: ParamSets mirror torch, generate builds the right module."""

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
from torchweave.errors import InvalidParameterError, InvalidTypeError, TaskError, UnknownKeyError
from torchweave.testing.params import check_param_set
from torchweave.training.descriptors import TorchLoss
from torchweave.training.losses import check_weights, cross_entropy_loss
from torchweave.training.sugar import as_torch_loss, t_loss, t_losses

KEYS = ["cross_entropy", "bce", "mse", "l1", "smooth_l1", "huber", "nll", "poisson_nll"]
CLASSES = {
    "cross_entropy": cross_entropy_loss,
    "bce": nn.BCEWithLogitsLoss,
    "mse": nn.MSELoss,
    "l1": nn.L1Loss,
    "smooth_l1": nn.SmoothL1Loss,
    "huber": nn.HuberLoss,
    "nll": nn.NLLLoss,
    "poisson_nll": nn.PoissonNLLLoss,
}
TASK_FOR = {
    "cross_entropy": "iris",
    "bce": "breast_cancer",
    "nll": "iris",
}


def test_registry_holds_exactly_the_built_ins():
    assert tw.registry.losses.keys() == sorted(KEYS)
    table = tw.registry.losses.table()
    assert table.set_index("key").loc["mse", "class"] == "MSELoss"
    assert "Mean Squared Error" in table.set_index("key").loc["mse", "description"]


@pytest.mark.parametrize("key", KEYS)
def test_param_set_mirrors_the_torch_signature(key):
    loss = t_loss(key)
    assert loss.id == key
    assert loss.cls is CLASSES[key]
    signature = {
        name: p for name, p in inspect.signature(loss.cls).parameters.items() if name != "task"
    }
    ids = set(loss.param_set.ids())
    assert ids.isdisjoint(loss.omitted)
    assert ids | set(loss.omitted) == set(signature)
    for pid, param in loss.param_set.params.items():
        assert param.default == signature[pid].default, pid
        assert "train" in param.tags
    assert loss.param_set.values == {}
    assert loss.param_set.owner == f"loss '{key}'"
    check_param_set(loss.param_set)


@pytest.mark.parametrize("key", KEYS)
def test_generate_builds_the_torch_class_with_the_values(key):
    loss = t_loss(key, reduction="sum")
    module = loss.generate(tw.tsk(TASK_FOR.get(key, "mtcars")))
    expected = nn.CrossEntropyLoss if key == "cross_entropy" else CLASSES[key]
    assert type(module) is expected
    assert module.reduction == "sum"


def test_generate_passes_the_specific_values():
    assert t_loss("smooth_l1", beta=0.25).generate().beta == 0.25
    assert t_loss("huber", delta=2.0).generate().delta == 2.0
    m = t_loss("poisson_nll", log_input=False, full=True, eps=1e-4).generate()
    assert (m.log_input, m.full, m.eps) == (False, True, 1e-4)
    m = t_loss("bce", pos_weight=[3.0]).generate(tw.tsk("breast_cancer"))
    assert m.pos_weight.tolist() == [3.0]
    m = t_loss("nll", weight=[1.0, 2.0, 0.5], ignore_index=1).generate(tw.tsk("iris"))
    assert m.weight.tolist() == [1.0, 2.0, 0.5]
    assert m.ignore_index == 1


@pytest.mark.parametrize(
    ("key", "task", "match"),
    [
        ("mse", "iris", r"The loss 'mse' is for 'regr' tasks, not classif tasks \(task 'iris'\)"),
        ("huber", "breast_cancer", "'huber' is for 'regr' tasks"),
        ("cross_entropy", "mtcars", "'cross_entropy' is for 'classif' tasks, not regr tasks"),
        (
            "bce",
            "iris",
            "'bce' is for binary tasks; task 'iris' is a multiclass task with 3 classes",
        ),
        (
            "nll",
            "breast_cancer",
            "'nll' is for multiclass tasks; task 'breast_cancer' is a binary task",
        ),
    ],
)
def test_losses_refuse_the_wrong_task(key, task, match):
    with pytest.raises(TaskError, match=match):
        t_loss(key).generate(tw.tsk(task))


# --- cross entropy -----------------------------------------------------------------------
def test_cross_entropy_binary_is_one_logit_bce():
    task = tw.tsk("breast_cancer")
    module = t_loss("cross_entropy").generate(task)
    assert type(module) is nn.BCEWithLogitsLoss
    assert module.pos_weight is None
    logits = torch.tensor([[2.0], [-1.0]])
    target = torch.tensor([[1.0], [0.0]])  # 1 = positive class = first level
    expected = nn.functional.binary_cross_entropy_with_logits(logits, target)
    assert torch.allclose(module(logits, target), expected)


def test_cross_entropy_binary_weights():
    task = tw.tsk("breast_cancer")
    one = t_loss("cross_entropy", weight=[2.5]).generate(task)
    assert one.pos_weight.tolist() == [2.5]
    two = t_loss("cross_entropy", weight=[3.0, 1.5]).generate(task)
    assert two.pos_weight.tolist() == [2.0]
    with pytest.raises(
        InvalidParameterError, match=r"must hold 1 value .* or 2 values .* Got \[1.0, 2.0, 3.0\]"
    ):
        t_loss("cross_entropy", weight=[1.0, 2.0, 3.0]).generate(task)
    with pytest.raises(InvalidParameterError, match="the second > 0"):
        t_loss("cross_entropy", weight=[1.0, 0.0]).generate(task)


def test_cross_entropy_binary_refuses_ignore_index_and_label_smoothing():
    task = tw.tsk("breast_cancer")
    with pytest.raises(
        InvalidParameterError, match="ignore_index is not supported for binary cross entropy loss"
    ):
        t_loss("cross_entropy", ignore_index=0).generate(task)
    with pytest.raises(
        InvalidParameterError,
        match="label_smoothing is not supported for binary cross entropy loss",
    ):
        t_loss("cross_entropy", label_smoothing=0.1).generate(task)
    # the defaults, set explicitly, are no change
    assert (
        type(t_loss("cross_entropy", ignore_index=-100, label_smoothing=0.0).generate(task))
        is nn.BCEWithLogitsLoss
    )


def test_cross_entropy_multiclass_with_weights():
    task = tw.tsk("iris")
    loss = t_loss("cross_entropy", weight=[1.0, 2.0, 3.0], ignore_index=2, label_smoothing=0.1)
    module = loss.generate(task)
    assert type(module) is nn.CrossEntropyLoss
    assert module.weight.dtype == torch.float32
    assert module.weight.tolist() == [1.0, 2.0, 3.0]
    assert (module.ignore_index, module.label_smoothing) == (2, 0.1)
    logits = torch.randn(5, 3)
    target = torch.tensor([0, 1, 2, 1, 0])  # int64, 0-based classes
    expected = nn.functional.cross_entropy(
        logits, target, weight=torch.tensor([1.0, 2.0, 3.0]), ignore_index=2, label_smoothing=0.1
    )
    assert torch.allclose(module(logits, target), expected)


def test_cross_entropy_multiclass_weight_count_must_match():
    with pytest.raises(
        InvalidParameterError,
        match=r"one value per class \(3 for task 'iris': setosa, versicolor, virginica\). Got 2 values",
    ):
        t_loss("cross_entropy", weight=[1.0, 2.0]).generate(tw.tsk("iris"))


def test_cross_entropy_loss_function_refuses_regression():
    with pytest.raises(TaskError, match="cross entropy loss is for classif tasks, not regr tasks"):
        cross_entropy_loss(tw.tsk("mtcars"))


def test_weights_accept_tensors_and_arrays():
    loss = t_loss("cross_entropy", weight=torch.tensor([1.0, 1.0, 2.0]))
    assert loss.generate(tw.tsk("iris")).weight.tolist() == [1.0, 1.0, 2.0]
    loss = t_loss("cross_entropy", weight=np.array([1, 2, 3]))
    assert loss.generate(tw.tsk("iris")).weight.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "bad", [[], [-1.0], ["a"], "abc", [float("nan")], 3.0, torch.ones(2, 2), [True]]
)
def test_weights_reject_invalid_values(bad):
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'weight' parameter of loss 'cross_entropy' must be a non-empty sequence of floats >= 0 \(or a 1-d tensor\) or None",
    ):
        t_loss("cross_entropy", weight=bad)


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=6))
def test_check_weights_accepts_non_negative_sequences(values):
    assert check_weights(values) is None
    assert check_weights(tuple(values)) is None


def test_invalid_values_are_refused_with_the_owner():
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'reduction' parameter of loss 'mse' must be one of \{'mean', 'sum', 'none'\}. Got 'avg' instead.",
    ):
        t_loss("mse", reduction="avg")
    with pytest.raises(
        InvalidParameterError, match=r"'delta' parameter of loss 'huber' must be a float > 0"
    ):
        t_loss("huber", delta=0.0)


def test_losses_work_on_the_learner_target_encodings():
    torch.manual_seed(0)
    reg_target = torch.randn(4, 1)
    for key in ["mse", "l1", "smooth_l1", "huber"]:
        value = t_loss(key).generate(tw.tsk("mtcars"))(torch.randn(4, 1), reg_target)
        assert value.shape == ()
    value = t_loss("poisson_nll").generate(tw.tsk("mtcars"))(torch.randn(4, 1), reg_target.abs())
    assert torch.isfinite(value)
    binary = t_loss("bce").generate(tw.tsk("breast_cancer"))
    assert binary(torch.randn(4, 1), torch.tensor([[1.0], [0.0], [1.0], [0.0]])).shape == ()
    nll = t_loss("nll").generate(tw.tsk("iris"))
    log_probs = torch.log_softmax(torch.randn(4, 3), dim=1)
    assert nll(log_probs, torch.tensor([0, 2, 1, 0])).shape == ()


# --- sugar -------------------------------------------------------------------------------
def test_t_loss_sets_id_and_params_and_t_losses():
    loss = t_loss("mse", id="my_mse", reduction="sum")
    assert loss.id == "my_mse"
    assert loss.param_set.owner == "loss 'my_mse'"
    assert loss.param_set.values == {"reduction": "sum"}
    assert [lo.id for lo in t_losses("mse", "l1")] == ["mse", "l1"]
    with pytest.raises(
        InvalidParameterError,
        match="'reductio' is not a parameter of loss 'mse'. Did you mean 'reduction'?",
    ):
        t_loss("mse", reductio="sum")


def test_unknown_loss_key_suggests():
    with pytest.raises(
        UnknownKeyError,
        match="'crossentropy' is not a registered loss. Did you mean 'cross_entropy'?",
    ):
        t_loss("crossentropy")
    with pytest.raises(KeyError):
        as_torch_loss("msee")


def test_t_loss_gives_fresh_objects():
    a, b = t_loss("mse"), t_loss("mse")
    a.param_set.set_values(reduction="sum")
    assert b.param_set.values == {}


def test_as_torch_loss():
    loss = t_loss("mse")
    assert as_torch_loss(loss) is loss
    twin = as_torch_loss(loss, clone=True)
    assert twin is not loss and twin.id == "mse"
    assert as_torch_loss("l1").id == "l1"
    from_class = as_torch_loss(nn.SmoothL1Loss)
    assert isinstance(from_class, TorchLoss)
    assert from_class.id == "smooth_l1_loss"
    assert from_class.param_set.default["beta"] == 1.0
    assert from_class.task_types == ("classif", "regr")
    assert from_class.generate(tw.tsk("mtcars")).beta == 1.0


def test_as_torch_loss_of_an_instance_copies_it():
    module = nn.HuberLoss(delta=0.7)
    loss = as_torch_loss(module)
    assert loss.id == "huber_loss"
    assert loss.param_set.ids() == []
    module.delta = 99.0  # the descriptor keeps its own copy
    a, b = loss.generate(tw.tsk("mtcars")), loss.generate(tw.tsk("mtcars"))
    assert a is not b and a is not module
    assert a.delta == 0.7


def test_as_torch_loss_refuses_other_things():
    with pytest.raises(
        InvalidTypeError,
        match="Cannot convert int .* to a TorchLoss; give a TorchLoss, a key of tw.registry.losses",
    ):
        as_torch_loss(3)
    with pytest.raises(InvalidTypeError, match="to a TorchLoss"):
        as_torch_loss(torch.optim.SGD)
