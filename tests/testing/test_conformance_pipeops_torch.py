"""The torch operator conformance suite, run over every registered layer, and its own tests."""

import importlib
import pickle
import pkgutil
import random
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
import torchweave.network.ops
from torchweave import registry
from torchweave.data.task import Task
from torchweave.errors import ShapeError
from torchweave.network import PipeOpTorch
from torchweave.network.shapes import Shape
from torchweave.params.param import p_int, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.testing import pipeops_torch as suite
from torchweave.testing.pipeops_torch import (
    CONSTRUCTION,
    GENERIC_SHAPES,
    PIPEOP_TORCH_CHECKS,
    SHAPES,
    TASKS,
    check_pipeop_torch,
)


def _import_operator_modules() -> None:
    """Register every layer module, also those not (yet) listed in network/ops/__init__.py."""
    for module in pkgutil.iter_modules(torchweave.network.ops.__path__):
        importlib.import_module(f"torchweave.network.ops.{module.name}")


def _is_layer(key: str) -> bool:
    constructor = registry.pipeops.constructor(key)
    return isinstance(constructor, type) and issubclass(constructor, PipeOpTorch)


_import_operator_modules()
KEYS = [key for key in registry.pipeops if _is_layer(key)]

#: Registry key -> {check name: reason} for checks a layer is known to fail (scikit-learn's
#: ``expected_failed_checks``). An entry that starts passing makes
#: ``test_expected_failures_still_fail`` fail, so that it gets removed.
EXPECTED_FAILURES: dict[str, dict[str, str]] = {}


@pytest.mark.parametrize("key", KEYS)
def test_registered_torch_pipeop_conforms(key):
    expected = EXPECTED_FAILURES.get(key, {})
    results = check_pipeop_torch(key, skip=expected)
    assert set(results) == set(PIPEOP_TORCH_CHECKS)
    for name, result in results.items():
        assert result == "passed" or result.startswith("skipped: "), (name, result)
        if name in expected:
            assert result == f"skipped: {expected[name]}"


def test_expected_failures_still_fail():
    for key, checks in EXPECTED_FAILURES.items():
        for check in checks:
            with pytest.raises(AssertionError, match=f"fails check '{check}'"):
                check_pipeop_torch(key, checks=[check])


def test_expected_failures_name_real_keys_and_checks():
    for key, checks in EXPECTED_FAILURES.items():
        assert key in KEYS, key
        assert set(checks) <= set(PIPEOP_TORCH_CHECKS), checks
        assert all(isinstance(r, str) and r for r in checks.values())


def test_the_layers_are_registered():
    # Operators of the core; the others join as they are written.
    assert {"nn_linear", "nn_head", "nn_relu"} <= set(KEYS)
    assert "torch_ingress_num" not in KEYS and "module" not in KEYS


def test_constructions_build_picklable_operators_of_their_key():
    for key, make in CONSTRUCTION.items():
        assert key.startswith("nn_"), key
        if key not in KEYS:
            continue  # not written yet
        op = make()
        assert isinstance(op, registry.pipeops.constructor(key)), key
        assert op.id == key, key
        pickle.loads(pickle.dumps(op))


def test_shapes_and_tasks_are_well_formed():
    for key, lists in [*SHAPES.items(), ("generic", GENERIC_SHAPES)]:
        assert lists, key
        for shapes in lists:
            assert shapes and all(isinstance(s, tuple) and s[0] is None for s in shapes), key
    assert set(TASKS) <= set(SHAPES)
    task = TASKS["nn_tokenizer_categ"]()
    assert isinstance(task, Task)
    n_categ = sum(t in ("factor", "ordered", "logical") for t in task.feature_types.values())
    assert SHAPES["nn_tokenizer_categ"] == [[(None, n_categ)]]


def test_nn_fn_construction_uses_a_module_level_function():
    x = torch.ones(2)
    assert suite.scale_by(x).tolist() == [2.0, 2.0]
    assert suite.scale_by(x, factor=3.0).tolist() == [3.0, 3.0]


# --- working operators and broken variants -------------------------------------------------------
class Double(nn.Module):
    """Multiplies by two."""

    def forward(self, x):
        return 2 * x


class PipeOpDouble(PipeOpTorch):
    """A correct layer without parameters (a control)."""

    module_class = Double

    def __init__(self, id: str = "twice", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals=param_vals)


class LinearLike(PipeOpTorch):
    """``nn.Linear`` with in_features inferred: correct unless a subclass breaks it."""

    module_class = nn.Linear
    inferred = ("in_features",)

    def __init__(self, id: str = "linlike", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_set=self._param_set(), param_vals=param_vals)
        if "out_features" not in self.param_set.values:
            self.param_set.set_values(out_features=2)

    def _param_set(self) -> ParamSet:
        return ParamSet(
            out_features=p_int(1, tags={"train", "required"}),
            bias=p_lgl(default=True, tags="train"),
        )

    def _shape_dependent_params(self, shapes_in, param_vals, task):
        if shapes_in[0][-1] is None:
            raise ShapeError(f"PipeOp '{self.id}' needs the last dimension.")
        return {"in_features": shapes_in[0][-1], **param_vals}


class LyingShapes(LinearLike):
    """Claims one output feature more than it has."""

    def _shapes_out(self, shapes_in, param_vals, task):
        shape = super()._shapes_out(shapes_in, param_vals, task)[0]
        return [(*shape[:-1], shape[-1] + 1)]


class LiesWhenUnknown(PipeOpDouble):
    """Fills unknown dims of the input with 1 instead of keeping them unknown."""

    def _shapes_out(self, shapes_in, param_vals, task):
        return [tuple(1 if d is None and i > 0 else d for i, d in enumerate(shapes_in[0]))]


class WrongNdim(PipeOpDouble):
    """Drops the last dimension from the inferred shape."""

    def _shapes_out(self, shapes_in, param_vals, task):
        return [shapes_in[0][:-1]]


class CrashesOnUnknown(PipeOpDouble):
    """Raises a plain ValueError (not a ShapeError) on unknown dims."""

    def _shapes_out(self, shapes_in, param_vals, task):
        if None in shapes_in[0][1:]:
            raise ValueError("unknown size")
        return list(shapes_in)


class RefusesKnownBatch(PipeOpDouble):
    """Refuses (with a ShapeError) a known batch dimension."""

    def _shapes_out(self, shapes_in, param_vals, task):
        if shapes_in[0][0] is not None:
            raise ShapeError(f"PipeOp '{self.id}' wants an unknown batch dimension.")
        return list(shapes_in)


class MisspelledParam(LinearLike):
    """Calls 'bias' 'biased': its ParamSet does not mirror nn.Linear."""

    def _param_set(self) -> ParamSet:
        return ParamSet(
            out_features=p_int(1, tags={"train", "required"}),
            biased=p_lgl(default=True, tags="train"),
        )

    def _shape_dependent_params(self, shapes_in, param_vals, task):
        vals = dict(param_vals)
        vals["bias"] = vals.pop("biased", True)
        return super()._shape_dependent_params(shapes_in, vals, task)


class WrongDefault(LinearLike):
    """Documents bias=False, but torch's default is True."""

    def _param_set(self) -> ParamSet:
        return ParamSet(
            out_features=p_int(1, tags={"train", "required"}),
            bias=p_lgl(default=False, tags="train"),
        )


class NotRequired(LinearLike):
    """Forgets that torch requires out_features."""

    def __init__(self, id: str = "notrequired", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals=param_vals)

    def _param_set(self) -> ParamSet:
        return ParamSet(out_features=p_int(1, tags="train"), bias=p_lgl(default=True, tags="train"))


class DeclaredDeviation(LinearLike):
    """Adds an operator-only parameter and omits 'bias', both declared."""

    omitted = ("bias", "device", "dtype")
    extra_params = ("scale",)

    def _param_set(self) -> ParamSet:
        return ParamSet(
            out_features=p_int(1, tags={"train", "required"}),
            scale=p_int(1, default=1, tags="train"),
        )

    def _shape_dependent_params(self, shapes_in, param_vals, task):
        vals = {k: v for k, v in param_vals.items() if k != "scale"}
        return super()._shape_dependent_params(shapes_in, vals, task)


class TypoInInferred(LinearLike):
    """Lists an 'inferred' argument nn.Linear does not take."""

    inferred = ("in_features", "in_feature")


class UnpicklableModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.fn = lambda x: 2 * x

    def forward(self, x):
        return self.fn(x)


class PipeOpUnpicklable(PipeOpDouble):
    """Builds a module holding a lambda."""

    module_class = UnpicklableModule


class DropsFeatures(PipeOpDouble):
    """Predicts a task without its first feature."""

    def _predict(self, inputs):
        task = inputs[0].clone()
        return [task.select(task.feature_names[1:])]


class NumpyModule(nn.Module):
    """Goes through numpy: tracing records the result as a constant."""

    def forward(self, x):
        return torch.from_numpy(x.detach().numpy() * 2)


class PipeOpNumpy(PipeOpDouble):
    """A layer whose module cannot be traced faithfully."""

    module_class = NumpyModule

    def _shapes_out(self, shapes_in, param_vals, task):
        return list(shapes_in)


class PipeOpNumpyDeclared(PipeOpNumpy):
    """Says tracing is unsupported."""

    jit_unsupported = "goes through numpy"


class Halves(nn.Module):
    def forward(self, x):
        return tuple(x.chunk(2, dim=-1))


class PipeOpHalves(PipeOpTorch):
    """Two outputs: the halves of the last dimension."""

    module_class = Halves

    def __init__(self, id: str = "halves", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals=param_vals, outname=["first", "second"])


class NeedsFourDims(PipeOpDouble):
    """Only takes 4-d inputs."""

    def _shapes_out(self, shapes_in, param_vals, task):
        if len(shapes_in[0]) != 4:
            raise ShapeError(f"PipeOp '{self.id}' takes 4-d inputs.")
        return list(shapes_in)


ALL_PASSED = dict.fromkeys(PIPEOP_TORCH_CHECKS, "passed")


def test_working_operators_pass_every_check():
    op = PipeOpDouble()
    assert check_pipeop_torch(op) == ALL_PASSED
    assert op.state is None  # the operator itself is untouched
    assert check_pipeop_torch(LinearLike()) == ALL_PASSED
    assert check_pipeop_torch(DeclaredDeviation()) == ALL_PASSED
    assert check_pipeop_torch(tw.nn("linear", out_features=2)) == ALL_PASSED


@pytest.mark.parametrize(
    "broken, check, message",
    [
        (LyingShapes, "shapes", r"inferred shape of output 'output' is \(None, 3\), .* \(3, 2\)"),
        (WrongNdim, "shapes", r"is \(None\), but a real batch .* gives \(3, 4\)"),
        (LiesWhenUnknown, "shapes_random", r"is \((None|\d), 1\), but a real batch"),
        (CrashesOnUnknown, "shapes_random", "raised ValueError .* refused with a ShapeError"),
        (MisspelledParam, "signature", r"lacks the torch argument\(s\) \['bias'\] and has .*"),
        (
            WrongDefault,
            "signature",
            "'bias' declares the default False, but torch's default is True",
        ),
        (NotRequired, "signature", "torch requires the argument 'out_features'"),
        (TypoInInferred, "signature", r"\['in_feature'\] that are not arguments of Linear"),
        (PipeOpUnpicklable, "clone_pickle", "the built module must pickle: .*lambda"),
        (DropsFeatures, "predict_passthrough", "must pass the task through"),
        (PipeOpNumpy, "jit", "the traced module computes other outputs"),
    ],
)
def test_broken_operators_are_rejected_naming_the_check(broken, check, message):
    op = broken()
    with pytest.raises(
        AssertionError,
        match=rf"check_pipeop_torch: PipeOp '{op.id}' \({broken.__name__}\) fails check '{check}'",
    ) as info:
        check_pipeop_torch(op)
    assert info.match(message)


def test_every_draw_refused_fails_shapes_random():
    with pytest.raises(
        AssertionError,
        match=r"fails check 'shapes_random': every one of 1 drawn input shapes was refused: "
        r"\[\(\d, 4\)\]: PipeOp 'twice' wants an unknown batch",
    ):
        check_pipeop_torch(RefusesKnownBatch(), n_draws=1)
    # With more draws some keep the batch unknown.
    assert check_pipeop_torch(RefusesKnownBatch())["shapes_random"] == "passed"


def test_generic_shapes_and_explicit_shapes():
    with pytest.raises(
        AssertionError,
        match=r"fails check 'shapes': none of the generic input shapes works; add the operator "
        r"to torchweave.testing.pipeops_torch.SHAPES",
    ):
        check_pipeop_torch(NeedsFourDims())
    results = check_pipeop_torch(NeedsFourDims(), shapes_in=[(None, 2, 5, 5)])
    assert results == ALL_PASSED
    results = check_pipeop_torch(
        LinearLike(), shapes_in=[[(None, 3)], [(None, 2, 3)]], checks=["shapes"]
    )
    assert results == {"shapes": "passed"}
    with pytest.raises(
        AssertionError, match=r"train\(\) on ModelDescriptors of shape \[\(None, None\)\] raised"
    ):
        check_pipeop_torch(LinearLike(), shapes_in=[(None, None)], checks=["shapes"])


def test_several_outputs_are_each_compared_and_skip_jit():
    results = check_pipeop_torch(PipeOpHalves())
    assert results == {**ALL_PASSED, "jit": "skipped: the operator has several outputs"}


def test_declared_jit_support_and_signature_without_module_class():
    assert check_pipeop_torch(PipeOpNumpyDeclared())["jit"] == "skipped: goes through numpy"

    class NoModuleClass(PipeOpDouble):
        module_class = None

        def _make_module(self, shapes_in, param_vals, task):
            return Double()

    results = check_pipeop_torch(NoModuleClass(), checks=["signature", "shapes"])
    assert results == {
        "signature": "skipped: the operator sets no module_class",
        "shapes": "passed",
    }


def test_layers_of_the_registry_use_their_shapes_and_tasks(monkeypatch):
    seen: list[tuple[list[Shape], str]] = []
    build = suite._Context.build

    def spy(self, shapes):
        seen.append((list(shapes), self.task.id))
        return build(self, shapes)

    monkeypatch.setattr(suite._Context, "build", spy)
    check_pipeop_torch("nn_linear", checks=["shapes"])
    assert seen == [([(None, 4)], "iris"), ([(None, 3, 5)], "iris")]
    seen.clear()
    monkeypatch.setitem(SHAPES, "nn_relu", [[(None, 2, 2)]])
    monkeypatch.setitem(TASKS, "nn_relu", lambda: tw.tsk("mtcars"))
    check_pipeop_torch("nn_relu", checks=["shapes"])
    assert seen == [([(None, 2, 2)], "mtcars")]


def test_skip_and_checks_arguments():
    results = check_pipeop_torch(PipeOpDouble(), skip={"jit": "slow"}, checks=["shapes", "jit"])
    assert results == {"shapes": "passed", "jit": "skipped: slow"}
    assert check_pipeop_torch(PipeOpDouble(), n_draws=0, checks=["shapes_random"]) == {
        "shapes_random": "skipped: n_draws is 0"
    }
    with pytest.raises(AssertionError, match=r"Unknown check\(s\) \['shape'\]"):
        check_pipeop_torch(PipeOpDouble(), skip={"shape": "typo"})
    with pytest.raises(AssertionError, match="needs a PipeOpTorch or a key. Got int"):
        check_pipeop_torch(3)
    with pytest.raises(
        AssertionError, match=r"PipeOp 'scale' \(PipeOpScale\) is not a PipeOpTorch"
    ):
        check_pipeop_torch("scale")


def test_the_general_suite_runs_on_model_descriptors():
    class ChangesParams(LinearLike):
        def _train(self, inputs):
            self.param_set.set_values(out_features=self.param_set.values["out_features"] + 1)
            return super()._train(inputs)

    with pytest.raises(
        AssertionError,
        match=r"fails check 'pipeop': the general suite failed: check_pipeop: PipeOp 'linlike' "
        r"\(ChangesParams\) fails check 'train_predict': train\(\) changed the parameter values",
    ):
        check_pipeop_torch(ChangesParams(), checks=["pipeop"])


def test_random_states_are_restored():
    np.random.seed(5)
    random.seed(5)
    torch.manual_seed(5)
    expected = (np.random.random(), random.random(), torch.rand(1).item())
    np.random.seed(5)
    random.seed(5)
    torch.manual_seed(5)
    check_pipeop_torch(PipeOpDouble(), checks=["shapes", "shapes_random"])
    assert (np.random.random(), random.random(), torch.rand(1).item()) == expected


def test_draws_forget_known_dims_and_vary_the_batch():
    rng = np.random.default_rng(0)
    base = [(None, 2, 9, 9)]
    first_shapes, first_sizes = suite._draw(rng, base, first=True)
    assert first_shapes[0][1:] == (2, 9, 9) and first_shapes[0][0] == first_sizes[0][0]
    draws = [suite._draw(rng, base, first=False) for _ in range(40)]
    assert {sizes[0][1:] for _, sizes in draws} == {(2, 9, 9)}  # real sizes stay valid
    assert len({sizes[0][0] for _, sizes in draws}) > 1
    assert any(None in shapes[0][1:] for shapes, _ in draws)
    assert any(shapes[0][0] is None for shapes, _ in draws)
    assert suite._concrete((None, None, 3, None), 2) == (2, 5, 3, 7)


@st.composite
def _input_shapes(draw):
    """(None, ...) with 1 to 3 more dims, the last known, the others possibly unknown."""
    inner = draw(st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=0, max_size=2))
    return (None, *inner, draw(st.integers(1, 5)))


@settings(max_examples=15)
@given(
    key=st.sampled_from(["nn_relu", "nn_linear", "nn_softmax", "nn_layer_norm", "nn_flatten"]),
    shape=_input_shapes(),
)
def test_hypothesis_drawn_shapes_infer_the_real_shape(key, shape):
    if key not in KEYS:
        pytest.skip(f"{key} is not registered")
    results = check_pipeop_torch(key, shapes_in=[shape], checks=["shapes"])
    assert results == {"shapes": "passed"}
