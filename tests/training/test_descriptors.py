"""TorchDescriptor and its kinds: inferred ParamSets, ids, generate, clone, printing."""

import copy
import pickle

import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.callbacks.callback_set import CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.errors import InvalidParameterError, InvalidTypeError, TaskError
from torchweave.params.param import p_dbl
from torchweave.params.param_set import ParamSet
from torchweave.training.descriptors import (
    ModuleCopier,
    TorchDescriptor,
    TorchLoss,
    TorchOptimizer,
    infer_param_set,
    snake_case,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CrossEntropyLoss", "cross_entropy_loss"),
        ("MSELoss", "mse_loss"),
        ("BCEWithLogitsLoss", "bce_with_logits_loss"),
        ("L1Loss", "l1_loss"),
        ("History", "history"),
        ("already_snake", "already_snake"),
    ],
)
def test_snake_case(name, expected):
    assert snake_case(name) == expected


def test_infer_param_set_mirrors_the_signature():
    def make(a, b=2, *args, c=None, **kwargs):
        return (a, b, c)

    ps = infer_param_set(make, exclude=["b"], owner="thing 'x'")
    assert ps.ids() == ["a", "c"]
    assert ps.default == {"c": None}
    assert ps.tags["a"] == frozenset({"train", "required"})
    assert ps.tags["c"] == frozenset({"train"})
    assert ps.owner == "thing 'x'"
    assert ps.values == {}


def test_descriptor_defaults_and_generate():
    d = TorchDescriptor(nn.Linear)
    assert d.id == "linear"
    assert d.label == "linear"
    assert d.param_set.ids() == ["in_features", "out_features", "bias", "device", "dtype"]
    assert d.param_set.owner == "descriptor 'linear'"
    with pytest.raises(InvalidParameterError, match=r"descriptor 'linear' needs the required"):
        d.generate()
    d.param_set.set_values(in_features=3, out_features=2)
    module = d.generate(bias=False)
    assert isinstance(module, nn.Linear)
    assert (module.in_features, module.out_features, module.bias) == (3, 2, None)


def test_descriptor_id_renames_the_owner_and_is_checked():
    d = TorchDescriptor(nn.Linear, id="lin", label="A linear layer")
    assert (d.id, d.label, d.param_set.owner) == ("lin", "A linear layer", "descriptor 'lin'")
    d.id = "other"
    assert d.param_set.owner == "descriptor 'other'"
    with pytest.raises(InvalidParameterError, match="must be a non-empty string. Got '' instead"):
        d.id = ""


def test_descriptor_rejects_non_callables_and_bad_param_sets():
    with pytest.raises(InvalidTypeError, match="needs a class or a function to call. Got int"):
        TorchDescriptor(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="param_set of a TorchDescriptor must be a ParamSet"):
        TorchDescriptor(nn.Linear, param_set={"a": 1})  # type: ignore[arg-type]


def test_given_param_set_is_used_and_omitted_are_skipped():
    ps = ParamSet(p=p_dbl(0, 1, default=0.5, tags="train"))
    d = TorchDescriptor(nn.Dropout, param_set=ps)
    assert d.param_set is ps
    assert ps.owner == "descriptor 'dropout'"
    assert TorchDescriptor(nn.Dropout, omitted=["inplace"]).param_set.ids() == ["p"]


def test_clone_is_independent_and_pickles():
    loss = tw.registry.losses.get("mse")
    loss.param_set.set_values(reduction="sum")
    twin = loss.clone()
    twin.param_set.set_values(reduction="none")
    twin.id = "twin"
    assert loss.param_set.values == {"reduction": "sum"}
    assert loss.id == "mse"
    assert loss.param_set.owner == "loss 'mse'"
    back = pickle.loads(pickle.dumps(loss))
    assert back.param_set.values == {"reduction": "sum"}
    assert isinstance(back.generate(tw.tsk("mtcars")), nn.MSELoss)


def test_repr_of_a_loss():
    loss = TorchLoss(nn.L1Loss, task_types="regr", id="l1", label="Absolute Error")
    loss.param_set.set_values(reduction="sum")
    assert repr(loss) == (
        "<TorchLoss:l1> Absolute Error\n"
        "* Generator: L1Loss\n"
        "* Parameters: reduction='sum'\n"
        "* Task Types: regr"
    )


# --- TorchLoss ---------------------------------------------------------------------------
def test_loss_passes_the_task_to_factories_that_take_one():
    seen = {}

    def factory(task, scale=1.0):
        seen["task"], seen["scale"] = task.id, scale
        return nn.MSELoss()

    loss = TorchLoss(factory, task_types=["regr"])
    assert loss.param_set.ids() == ["scale"]  # task is never a parameter
    loss.param_set.set_values(scale=2.0)
    assert isinstance(loss.generate(tw.tsk("mtcars")), nn.MSELoss)
    assert seen == {"task": "mtcars", "scale": 2.0}
    with pytest.raises(
        TaskError, match=r"loss 'factory' is built for a task; pass generate\(task\)"
    ):
        loss.generate()


def test_loss_without_task_argument_generates_without_a_task():
    loss = TorchLoss(nn.MSELoss, task_types=["regr"], omitted=["size_average", "reduce"])
    assert isinstance(loss.generate(), nn.MSELoss)


def test_loss_checks_task_type_and_properties():
    loss = TorchLoss(nn.MSELoss, task_types=["regr"], id="mse")
    with pytest.raises(
        TaskError, match=r"The loss 'mse' is for 'regr' tasks, not classif tasks \(task 'iris'\)"
    ):
        loss.generate(tw.tsk("iris"))
    binary_only = TorchLoss(
        nn.BCEWithLogitsLoss, task_types=["classif"], id="b", properties=["twoclass"]
    )
    with pytest.raises(
        TaskError, match="'b' is for binary tasks; task 'iris' is a multiclass task with 3 classes"
    ):
        binary_only.check_task(tw.tsk("iris"))
    binary_only.check_task(tw.tsk("breast_cancer"))
    with pytest.raises(InvalidParameterError, match="properties of loss 'x' must be among"):
        TorchLoss(nn.MSELoss, id="x", properties=["threeclass"])


def test_loss_task_types_accept_a_string():
    assert TorchLoss(nn.MSELoss, task_types="regr").task_types == ("regr",)
    assert TorchLoss(nn.MSELoss).task_types == ("classif", "regr")


def test_tensor_params_become_float_tensors():
    loss = TorchLoss(nn.NLLLoss, task_types=["classif"], tensor_params=["weight"])
    loss.param_set.set_values(weight=[1, 2, 3])
    module = loss.generate(tw.tsk("iris"))
    assert module.weight.dtype == torch.float32
    assert module.weight.tolist() == [1.0, 2.0, 3.0]


def test_module_copier_returns_fresh_copies():
    original = nn.HuberLoss(delta=0.3)
    copier = ModuleCopier(original)
    a, b = copier(), copier()
    assert a is not original and a is not b
    assert a.delta == 0.3
    assert copier.__name__ == "HuberLoss"


# --- TorchOptimizer ----------------------------------------------------------------------
def test_optimizer_infers_params_without_params_and_adds_param_groups():
    opt = TorchOptimizer(torch.optim.ASGD)
    assert opt.id == "asgd"
    ids = opt.param_set.ids()
    assert "params" not in ids
    assert ids[-1] == "param_groups"
    assert opt.param_set.default["param_groups"] is None
    assert opt.param_set.default["lr"] == 0.01


def test_optimizer_refuses_a_params_parameter():
    ps = ParamSet({"params": p_dbl()})
    with pytest.raises(
        InvalidParameterError, match="parameter name 'params' of optimizer 'sgd' is reserved"
    ):
        TorchOptimizer(torch.optim.SGD, param_set=ps)


def test_optimizer_generate_takes_named_or_plain_parameters():
    net = nn.Linear(3, 1)
    opt = TorchOptimizer(torch.optim.SGD)
    opt.param_set.set_values(lr=0.3)
    from_named = opt.generate(net.named_parameters())
    from_plain = opt.generate(net.parameters())
    for o in (from_named, from_plain):
        assert o.param_groups[0]["lr"] == 0.3
        assert [
            p is q for p, q in zip(o.param_groups[0]["params"], net.parameters(), strict=True)
        ] == [True, True]


def test_param_groups_must_return_dicts_with_params():
    opt = TorchOptimizer(torch.optim.SGD)
    opt.param_set.set_values(param_groups=lambda named: [p for _, p in named])
    with pytest.raises(
        InvalidParameterError,
        match="'param_groups' function of optimizer 'sgd' must return a non-empty list of dicts",
    ):
        opt.generate(nn.Linear(2, 1).named_parameters())
    with pytest.raises(
        InvalidParameterError,
        match="The 'param_groups' parameter of optimizer 'sgd' must be a function",
    ):
        opt.param_set.set_values(param_groups=3)


# --- TorchCallback -----------------------------------------------------------------------
class CallbackSetCounter(CallbackSet):
    def __init__(self, start=0, step=1):
        super().__init__()
        self.n = start
        self.step = step

    def on_batch_end(self):
        self.n += self.step


def test_callback_infers_params_id_and_generates():
    cb = TorchCallback(CallbackSetCounter)
    assert cb.id == "counter"
    assert cb.param_set.ids() == ["start", "step"]
    assert cb.param_set.owner == "callback 'counter'"
    cb.param_set.set_values(start=5)
    obj = cb.generate()
    assert isinstance(obj, CallbackSetCounter)
    assert (obj.n, obj.step, obj.weight) == (5, 1, 0.0)
    assert cb.generate() is not obj


def test_callback_weight_overrides_the_instance_only():
    cb = TorchCallback(CallbackSetCounter, id="c", weight=7)
    assert cb.generate().weight == 7
    assert CallbackSetCounter.weight == 0.0
    cb.weight = None
    assert cb.generate().weight == 0.0
    with pytest.raises(
        InvalidParameterError, match="weight of callback 'c' must be a number or None. Got 'high'"
    ):
        cb.weight = "high"  # type: ignore[assignment]
    with pytest.raises(InvalidParameterError, match="must be a number or None"):
        TorchCallback(CallbackSetCounter, weight=True)


class CallbackSetWithCtx(CallbackSet):
    def __init__(self, ctx=None):
        super().__init__()


class CallbackSetWithWeight(CallbackSet):
    def __init__(self, weight=1.0):
        super().__init__()


@pytest.mark.parametrize(
    ("cls", "name"), [(CallbackSetWithCtx, "ctx"), (CallbackSetWithWeight, "weight")]
)
def test_callback_reserved_parameter_names(cls, name):
    with pytest.raises(
        InvalidParameterError,
        match=f"parameter name\\(s\\) '{name}' of callback 'with_{name}' are reserved",
    ):
        TorchCallback(cls)


def test_callback_needs_a_callback_set_class():
    with pytest.raises(
        InvalidTypeError, match="needs a subclass of CallbackSet. Got <class 'int'>"
    ):
        TorchCallback(int)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="needs a subclass of CallbackSet"):
        TorchCallback(CallbackSetCounter())  # type: ignore[arg-type]


def test_callback_repr_and_torch_callback_helper():
    from torchweave.callbacks.descriptor import torch_callback

    cb = torch_callback(
        "my_logger", initialize=lambda self, alpha=0.5: None, on_begin=lambda self: None
    )
    assert isinstance(cb, TorchCallback)
    assert cb.param_set.ids() == ["alpha"]
    assert cb.param_set.default == {"alpha": 0.5}
    text = repr(TorchCallback(CallbackSetCounter, label="Counter"))
    assert text.splitlines() == [
        "<TorchCallback:counter> Counter",
        "* Generator: CallbackSetCounter",
        "* Parameters: -",
        "* Weight: 0.0",
    ]


def test_deepcopy_keeps_the_class():
    cb = TorchCallback(CallbackSetCounter)
    twin = copy.deepcopy(cb)
    assert twin.cls is CallbackSetCounter
    assert twin.param_set is not cb.param_set
