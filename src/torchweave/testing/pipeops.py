"""``check_pipeop``: the conformance suite every PipeOp must pass (mlr3pipelines' autotests).

The suite trains and predicts an operator on generated tasks with every feature type
and missing values, and checks the bookkeeping around that: well-formed channels,
the registry entry, refusing an untrained predict, identical states when trained
twice, predict agreeing with train on the training data, never modifying the input
task, independent deep clones, a pickle round trip, and zero-row tasks.

Operators that need constructor arguments are built by :data:`CONSTRUCTION`;
operators whose channels take something the suite cannot make up are fed by
:data:`INPUTS`. An operator whose train and predict outputs differ on the same data
by design (for instance one that subsamples rows during training) sets the class
attribute ``predict_like_train = False``.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import pickle
import random
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from torchweave import registry
from torchweave.data.prediction import Prediction
from torchweave.data.task import Task, TaskClassif, TaskRegr
from torchweave.errors import Error, NotTrainedError
from torchweave.pipelines.pipeop import ANY, VARARG, Channel, PipeOp, type_name
from torchweave.testing._checks import CheckFailedError as _CheckFailedError
from torchweave.testing._checks import refuse_unknown_checks, run_check
from torchweave.testing.generate import GENERATED_FEATURE_TYPES, generate_task

__all__ = [
    "CONSTRUCTION",
    "INPUTS",
    "PIPEOP_CHECKS",
    "check_pipeop",
    "lazy_preproc_inputs",
    "lazy_preproc_params",
    "lazy_task",
]

_SEED = 20240611
_N_ROWS = 40


# --- how to build operators that need arguments --------------------------------------------------
def identity(x: Any) -> Any:
    """Return ``x`` unchanged (a picklable applicator for ``po("colapply")``)."""
    return x


def _learner() -> PipeOp:
    from torchweave.pipelines.sugar import po
    from torchweave.sugar import lrn

    return po("learner", lrn("classif.featureless"))


def _sklearn() -> PipeOp:
    from sklearn.preprocessing import StandardScaler

    from torchweave.pipelines.selectors import selector_type
    from torchweave.pipelines.sugar import po

    op = po("sklearn", transformer=StandardScaler(), affect_columns=selector_type("numeric"))
    return op


def _colapply() -> PipeOp:
    from torchweave.pipelines.selectors import selector_type
    from torchweave.pipelines.sugar import po

    op = po("colapply", applicator=identity, affect_columns=selector_type("numeric"))
    return op


def _select() -> PipeOp:
    from torchweave.pipelines.selectors import selector_type
    from torchweave.pipelines.sugar import po

    return po("select", selector=selector_type(["numeric", "factor"]))


def _copy() -> PipeOp:
    from torchweave.pipelines.sugar import po

    return po("copy", outnum=2)


def _torch_model_classif() -> PipeOp:
    from torchweave.pipelines.sugar import po

    return po("torch_model_classif", epochs=2, batch_size=16, device="cpu", seed=1)


def _torch_model_regr() -> PipeOp:
    from torchweave.pipelines.sugar import po

    return po("torch_model_regr", epochs=2, batch_size=16, device="cpu", seed=1)


#: Registry key -> a function building the operator to check, for operators whose
#: default construction is impossible or uninteresting. Other keys are built with
#: ``registry.pipeops.get(key)``. The operators must pickle (no lambdas inside).
CONSTRUCTION: dict[str, Callable[[], PipeOp]] = {
    "learner": _learner,
    "sklearn": _sklearn,
    "colapply": _colapply,
    "select": _select,
    "copy": _copy,
    # A torch model must be told how long to train (``epochs`` is required).
    "torch_model_classif": _torch_model_classif,
    "torch_model_regr": _torch_model_regr,
}


def _categorical_inputs() -> list[Any]:
    return [generate_task("classif", ("factor", "ordered", "logical"), n=_N_ROWS, seed=3)]


def _unbranch_inputs() -> list[Any]:
    from torchweave.pipelines.pipeop import NO_OP  # one selected path, one inactive

    return [NO_OP, generate_task("classif", ("numeric",), n=_N_ROWS, seed=3)]


def _module_inputs() -> tuple[list[Any], list[Any]]:
    import torch  # only for po("module"), a node of the torch layer's module graphs

    return [torch.arange(6.0).reshape(3, 2)], [None]


#: Registry key -> a function returning the train inputs (one per input channel), for
#: operators whose channels take values the suite cannot generate (it makes tasks,
#: predictions and ``None``), or that need particular tasks. Predict inputs are the
#: same, unless the function returns a tuple ``(train inputs, predict inputs)``.
#: The layer operators (``nn_*``) are checked by
#: :func:`torchweave.testing.pipeops_torch.check_pipeop_torch`, which runs this suite on
#: ModelDescriptors of working shapes.
INPUTS: dict[str, Callable[[], list[Any] | tuple[list[Any], list[Any]]]] = {
    "torch_ingress_categ": _categorical_inputs,
    "module": _module_inputs,
    "unbranch": _unbranch_inputs,
}


# --- comparing states and outputs --------------------------------------------------------------
# Keys and attributes that measure time rather than what was learned.
_VOLATILE = re.compile(r"(^|_)(time|times|timing|timings|duration)$")
_MAX_DEPTH = 40


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _pandas_difference(a: Any, b: Any, path: str) -> str | None:
    try:
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-7)
        elif isinstance(a, pd.Series):
            pd.testing.assert_series_equal(a, b, check_exact=False, rtol=1e-7)
        elif isinstance(a, pd.Index):
            pd.testing.assert_index_equal(a, b, exact=True)
        elif not a.equals(b):  # Categorical and other extension arrays
            return f"{path}: {_short(a)} != {_short(b)}"
    except AssertionError as exc:
        first = " ".join(str(exc).split())[:300]
        return f"{path}: {first}"
    return None


def _array_difference(a: np.ndarray, b: np.ndarray, path: str) -> str | None:
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"{path}: arrays of shape/dtype {a.shape}/{a.dtype} and {b.shape}/{b.dtype}"
    if a.dtype.kind in "fc":
        same = np.allclose(a, b, rtol=1e-7, atol=1e-12, equal_nan=True)
    elif a.dtype.kind == "O":
        for i, (x, y) in enumerate(zip(a.ravel(), b.ravel(), strict=True)):
            diff = _difference(x, y, f"{path}[{i}]")
            if diff is not None:
                return diff
        return None
    else:
        same = np.array_equal(a, b)
    return None if same else f"{path}: arrays differ"


def _difference(
    a: Any, b: Any, path: str = "", memo: set[tuple[int, int]] | None = None, depth: int = 0
) -> str | None:
    """Where ``a`` and ``b`` differ (``None`` when they are alike), recursing into objects.

    DataFrames, Series and arrays compare by value (floats with a relative tolerance
    of 1e-7, NaN equal to NaN), containers element by element, other objects by their
    attributes (``vars``). Timings (``train_time``, ...) are ignored. Objects without
    attributes or an ``==`` of their own (locks, random generators) count as alike.
    """
    if a is b:
        return None
    memo = set() if memo is None else memo
    if (id(a), id(b)) in memo or depth > _MAX_DEPTH:
        return None
    memo.add((id(a), id(b)))
    here = path or "value"
    if type(a) is not type(b):
        return f"{here}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, pd.DataFrame | pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        return _pandas_difference(a, b, here)
    if isinstance(a, np.ndarray):
        return _array_difference(a, b, here)
    if hasattr(a, "detach") and hasattr(a, "cpu") and hasattr(a, "numpy"):  # a torch tensor
        return _array_difference(a.detach().cpu().numpy(), b.detach().cpu().numpy(), here)
    if isinstance(a, float | np.floating):
        both_nan = math.isnan(a) and math.isnan(b)
        ok = both_nan or math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-12)
        return None if ok else f"{here}: {a!r} != {b!r}"
    if isinstance(a, str | bytes | int | bool | complex | np.generic | type(None)):
        return None if a == b else f"{here}: {_short(a)} != {_short(b)}"
    if isinstance(a, Mapping):
        if list(a.keys()) != list(b.keys()):
            return f"{here}: keys {_short(list(a))} != {_short(list(b))}"
        for key in a:
            if isinstance(key, str) and _VOLATILE.search(key):
                continue
            diff = _difference(a[key], b[key], f"{path}[{key!r}]", memo, depth + 1)
            if diff is not None:
                return diff
        return None
    if isinstance(a, list | tuple | set | frozenset):
        if len(a) != len(b):
            return f"{here}: lengths {len(a)} != {len(b)}"
        if isinstance(a, set | frozenset):  # in a stable order
            a, b = sorted(a, key=repr), sorted(b, key=repr)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            diff = _difference(x, y, f"{path}[{i}]", memo, depth + 1)
            if diff is not None:
                return diff
        return None
    if inspect.isroutine(a) or inspect.isclass(a) or inspect.ismodule(a):
        same = getattr(a, "__qualname__", a) == getattr(b, "__qualname__", b)
        return None if same else f"{here}: {_short(a)} != {_short(b)}"
    if hasattr(a, "__dict__"):
        attrs_a = {k: v for k, v in vars(a).items() if not _VOLATILE.search(k)}
        attrs_b = {k: v for k, v in vars(b).items() if not _VOLATILE.search(k)}
        if set(attrs_a) != set(attrs_b):
            only = sorted(set(attrs_a) ^ set(attrs_b))
            return f"{here}: only one of the objects has the attribute(s) {_short(only)}"
        for name in attrs_a:
            diff = _difference(attrs_a[name], attrs_b[name], f"{here}.{name}", memo, depth + 1)
            if diff is not None:
                return diff
        return None
    if type(a).__eq__ is not object.__eq__:
        try:
            equal = a == b
            if isinstance(equal, bool | np.bool_):
                return None if equal else f"{here}: {_short(a)} != {_short(b)}"
        except Exception:  # an == that cannot answer counts as "not comparable"
            return None
    return None


# --- the context of one run --------------------------------------------------------------------
@dataclass
class _Context:
    op: PipeOp
    key: str | None
    pristine: tuple[list[Any], list[Any]] = field(default_factory=lambda: ([], []))
    check: str = ""

    def fail(self, message: str) -> _CheckFailedError:
        return _CheckFailedError(
            f"check_pipeop: PipeOp '{self.op.id}' ({type(self.op).__name__}) fails check "
            f"'{self.check}': {message}"
        )

    def fresh(self) -> PipeOp:
        """An untrained deep copy of the operator under test."""
        op = self.op.clone(deep=True)
        op.state = None
        return op

    def set_inputs(self, train: Sequence[Any], predict: Sequence[Any]) -> None:
        self.pristine = (list(train), list(predict))

    @property
    def train_inputs(self) -> list[Any]:
        """A deep copy of the train inputs: no check sees what another one did to them."""
        return copy.deepcopy(self.pristine[0])

    @property
    def predict_inputs(self) -> list[Any]:
        """A deep copy of the predict inputs."""
        return copy.deepcopy(self.pristine[1])

    @property
    def same_inputs(self) -> bool:
        train, predict = self.pristine
        return len(train) == len(predict) and all(
            a is b for a, b in zip(train, predict, strict=True)
        )

    def tasks(self, inputs: Sequence[Any]) -> list[Task]:
        seen: dict[int, Task] = {}
        for value in inputs:
            if isinstance(value, Task):
                seen.setdefault(id(value), value)
        return list(seen.values())


def _seeded(fn: Callable[[], Any], seed: int = _SEED) -> Any:
    np.random.seed(seed)
    random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
    return fn()


def _run(ctx: _Context, op: PipeOp, phase: str, inputs: list[Any], what: str) -> list[Any]:
    """Train or predict, turning an unexpected exception into a failed check."""
    try:
        if phase == "train":
            return list(_seeded(lambda: op.train(list(inputs))))
        return list(_seeded(lambda: op.predict(list(inputs))))
    except _CheckFailedError:
        raise
    except Exception as exc:  # an AssertionError of the operator's own code too
        raise ctx.fail(f"{what} raised {type(exc).__name__}: {exc}") from exc


# --- default inputs ----------------------------------------------------------------------------
def _task_class(t: Any) -> type[Task] | None:
    if t == ANY:
        return TaskClassif
    classes = t if isinstance(t, tuple) else (t,)
    for cls in classes:
        if isinstance(cls, type) and issubclass(cls, Task):
            return TaskRegr if issubclass(cls, TaskRegr) else TaskClassif
    return None


def _base_task(task_type: str, variant: int, prefix: str = "") -> Task:
    types, missings = [
        (GENERATED_FEATURE_TYPES, True),
        (GENERATED_FEATURE_TYPES, False),
        (("numeric", "integer"), False),
    ][variant]
    task = generate_task(task_type, types, n=_N_ROWS, missings=missings, seed=variant)
    if prefix:  # the same target and rows, other feature names (for vararg inputs)
        frame = task.data().rename(columns={f: prefix + f for f in task.feature_names})
        target, new_id = task.target_names[0], f"{task.id}_{prefix.strip('_')}"
        cls = TaskClassif if isinstance(task, TaskClassif) else TaskRegr
        task = cls(frame.reset_index(drop=True), target, id=new_id)
    # Rows in a shuffled order, some left out: row ids are not 0..n-1.
    rows = np.random.default_rng(variant).permutation(task.row_ids)[: _N_ROWS - 6]
    return task.filter(rows)


def _prediction(task: Task) -> Prediction:
    from torchweave.sugar import lrn

    kind = "classif" if isinstance(task, TaskClassif) else "regr"
    learner = lrn(f"{kind}.featureless")
    return learner.train(task).predict(task)


def _value_for(t: Any, task: Callable[[type[Task]], Task]) -> Any:
    """A value of channel type ``t`` (``task(cls)`` makes the tasks)."""
    if t is None:
        return None
    cls = _task_class(t)
    if cls is not None:
        return task(cls)
    classes = t if isinstance(t, tuple) else (t,)
    if any(isinstance(c, type) and issubclass(c, Prediction) for c in classes):
        return _prediction(task(TaskClassif))
    raise LookupError(type_name(t))


def _default_inputs(op: PipeOp, variant: int) -> tuple[list[Any], list[Any]]:
    """Train and predict inputs derived from the channel types.

    Train and predict get the very same task objects, so their outputs can be compared.
    """
    made: dict[tuple[type[Task], str], Task] = {}

    def maker(prefix: str) -> Callable[[type[Task]], Task]:
        def task(cls: type[Task]) -> Task:
            if (cls, prefix) not in made:
                kind = "regr" if cls is TaskRegr else "classif"
                made[(cls, prefix)] = _base_task(kind, variant, prefix)
            return made[(cls, prefix)]

        return task

    train: list[Any] = []
    predict: list[Any] = []
    for ch in op.input:
        prefixes = ["", "v2_"] if ch.name == VARARG else [""]
        for prefix in prefixes:
            train.append(_value_for(ch.train, maker(prefix)))
            predict.append(_value_for(ch.predict, maker(prefix)))
    return train, predict


def _choose_inputs(ctx: _Context) -> None:
    """Use the richest generated inputs that the operator accepts.

    Inputs with missing values come first; an operator that refuses them (or a
    feature type) with a torchweave error gets complete data, then numeric data.
    """
    refusals: list[str] = []
    for variant in range(3):
        try:
            train, predict = _default_inputs(ctx.op, variant)
        except LookupError as exc:
            raise ctx.fail(
                f"cannot make up inputs for a channel of type {exc.args[0]}; pass inputs= "
                "(or add the operator to torchweave.testing.pipeops.INPUTS)."
            ) from None
        ctx.set_inputs(train, predict)
        try:
            _seeded(lambda: ctx.fresh().train(ctx.train_inputs))
        except Error as exc:
            refusals.append(f"{type(exc).__name__}: {exc}")
            continue
        except Exception:
            return  # reported by the checks, with the traceback
        return
    raise ctx.fail(
        "training on every generated task raised a torchweave error: " + " | ".join(refusals)
    )


def _other_inputs(inputs: list[Any]) -> list[Any]:
    """The inputs with each task cut to its first two thirds of rows."""
    out = []
    for value in inputs:
        if isinstance(value, Task):
            value = value.clone().filter(value.row_ids[: (2 * value.nrow) // 3])
        out.append(value)
    return out


def _empty_inputs(inputs: list[Any]) -> list[Any]:
    return [v.clone().filter([]) if isinstance(v, Task) else v for v in inputs]


# --- the checks --------------------------------------------------------------------------------
def _check_types(ctx: _Context, ch: Channel, side: str) -> None:
    for phase in ("train", "predict"):
        t = getattr(ch, phase)
        classes = t if isinstance(t, tuple) else (t,)
        is_classes = len(classes) > 0 and all(isinstance(c, type) for c in classes)
        ok = t is None or t == ANY or is_classes
        if not ok:
            raise ctx.fail(
                f"{side} channel '{ch.name}' has {phase} type {t!r}; a channel type is a "
                "class, a tuple of classes, 'any' or None."
            )


def _check_channels(ctx: _Context) -> None:
    op = ctx.op
    for side, channels in (("input", op.input), ("output", op.output)):
        if not channels:
            raise ctx.fail(f"the operator has no {side} channel.")
        names = []
        for ch in channels:
            if not isinstance(ch, Channel):
                raise ctx.fail(f"{side} channels must be Channel objects. Got {ch!r}.")
            if not isinstance(ch.name, str) or not ch.name:
                raise ctx.fail(f"{side} channel names must be non-empty strings. Got {ch.name!r}.")
            _check_types(ctx, ch, side)
            names.append(ch.name)
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ctx.fail(f"{side} channel names must be unique; {duplicated} repeat.")
    if any(ch.name == VARARG for ch in op.output):
        raise ctx.fail(f"a vararg channel ('{VARARG}') is only allowed among the inputs.")
    if sum(ch.name == VARARG for ch in op.input) > 1:
        raise ctx.fail(f"at most one vararg input channel ('{VARARG}') is allowed.")
    try:
        text = repr(op)
    except Exception as exc:
        raise ctx.fail(f"repr() raised {type(exc).__name__}: {exc}") from exc
    if op.id not in text:
        raise ctx.fail(f"repr() must show the id. Got: {text}")


def _registry_keys(op: PipeOp) -> list[str]:
    return [k for k in registry.pipeops if registry.pipeops.constructor(k) is type(op)]


def _check_registry(ctx: _Context) -> None:
    key = ctx.key
    assert key is not None
    constructor = registry.pipeops.constructor(key)
    if isinstance(constructor, type) and not isinstance(ctx.op, constructor):
        raise ctx.fail(f"the registry key '{key}' builds {constructor.__name__} objects.")
    params = inspect.signature(constructor).parameters
    missing = [p for p in ("id", "param_vals") if p not in params]
    if missing:
        raise ctx.fail(f"the constructor must take the argument(s) {missing}.")
    if not (inspect.getdoc(constructor) or "").strip():
        raise ctx.fail("the class needs a docstring (its first line describes it in the registry).")
    if key in CONSTRUCTION:  # needs arguments; its default id may depend on them
        return
    try:
        default = registry.pipeops.get(key)
    except Exception as exc:
        raise ctx.fail(
            f"tw.po('{key}') raised {type(exc).__name__} ({exc}); an operator that needs "
            "constructor arguments belongs in torchweave.testing.pipeops.CONSTRUCTION."
        ) from exc
    if default.id != key:
        raise ctx.fail(
            f"built with default arguments, its id is '{default.id}', not the key '{key}'."
        )


def _check_param_set(ctx: _Context) -> None:
    from torchweave.testing.params import check_param_set

    try:
        check_param_set(ctx.fresh().param_set)
    except AssertionError as exc:
        raise ctx.fail(str(exc)) from exc


def _check_untrained_predict(ctx: _Context) -> None:
    op = ctx.fresh()
    if op.is_trained:
        raise ctx.fail("an operator with state None reports is_trained.")
    try:
        op.predict(list(ctx.predict_inputs))
    except NotTrainedError as exc:
        if op.id not in str(exc):
            raise ctx.fail(f"the NotTrainedError must name the operator. Got: {exc}") from exc
        return
    except Exception as exc:
        raise ctx.fail(
            f"predict() before train() raised {type(exc).__name__} ({exc}); "
            "expected NotTrainedError."
        ) from exc
    raise ctx.fail("predict() before train() did not raise NotTrainedError.")


def _check_train_predict(ctx: _Context) -> None:
    op = ctx.fresh()
    values = copy.deepcopy(op.param_set.values)
    out = _run(ctx, op, "train", ctx.train_inputs, "train()")
    if len(out) != len(op.output) or not op.is_trained:
        raise ctx.fail("train() must return one value per output channel and set the state.")
    diff = _difference(values, op.param_set.values, "param_set.values")
    if diff is not None:
        raise ctx.fail(f"train() changed the parameter values: {diff}")
    out = _run(ctx, op, "predict", ctx.predict_inputs, "predict()")
    if len(out) != len(op.output):
        raise ctx.fail("predict() must return one value per output channel.")


def _check_train_twice(ctx: _Context) -> None:
    op = ctx.fresh()
    first_out = _run(ctx, op, "train", ctx.train_inputs, "train()")
    first = copy.deepcopy(op.state)
    again_out = _run(ctx, op, "train", ctx.train_inputs, "a second train()")
    diff = _difference(first, op.state, "state") or _difference(first_out, again_out, "output")
    if diff is not None:
        raise ctx.fail(f"training the same operator twice on the same data differs: {diff}")
    other = ctx.fresh()
    other_out = _run(ctx, other, "train", ctx.train_inputs, "train()")
    diff = _difference(first, other.state, "state") or _difference(first_out, other_out, "output")
    if diff is not None:
        raise ctx.fail(f"two copies trained on the same data differ: {diff}")


def _check_predict_like_train(ctx: _Context) -> None:
    op = ctx.fresh()
    train_out = _run(ctx, op, "train", ctx.train_inputs, "train()")
    predict_out = _run(ctx, op, "predict", ctx.predict_inputs, "predict()")
    for ch, a, b in zip(op.output, train_out, predict_out, strict=True):
        if isinstance(a, Task):
            diff = _difference(a, b, f"output '{ch.name}'")
            if diff is not None:
                raise ctx.fail(
                    "predict() on the training data must give what train() gave (set "
                    f"predict_like_train = False where this differs by design): {diff}"
                )


def _task_round(ctx: _Context, with_valid: bool) -> None:
    train_in, predict_in = list(ctx.train_inputs), list(ctx.predict_inputs)
    if with_valid:
        replaced: dict[int, Task] = {}
        for task in ctx.tasks(train_in + predict_in):
            new = task.clone()
            new.internal_valid_task = task.clone().filter(task.row_ids[:8])
            replaced[id(task)] = new
        train_in = [replaced.get(id(v), v) for v in train_in]
        predict_in = [replaced.get(id(v), v) for v in predict_in]
    tasks = ctx.tasks(train_in + predict_in)
    before = [task.clone() for task in tasks]
    op = ctx.fresh()
    where = " (with an internal_valid_task)" if with_valid else ""
    _run(ctx, op, "train", train_in, f"train(){where}")
    _run(ctx, op, "predict", predict_in, f"predict(){where}")
    for task, snapshot in zip(tasks, before, strict=True):
        diff = _difference(snapshot, task, f"task '{task.id}'")
        if diff is not None:
            raise ctx.fail(f"train/predict{where} modified an input task: {diff}")


def _check_input_unchanged(ctx: _Context) -> None:
    _task_round(ctx, with_valid=False)
    _task_round(ctx, with_valid=True)


def _check_clone_independence(ctx: _Context) -> None:
    op = ctx.fresh()
    _run(ctx, op, "train", ctx.train_inputs, "train()")
    state = copy.deepcopy(op.state)
    before = _run(ctx, op, "predict", ctx.predict_inputs, "predict()")
    clone = op.clone(deep=True)
    if clone is op or clone.param_set is op.param_set:
        raise ctx.fail("clone(deep=True) shares the operator or its param_set.")
    clone.state = None
    _run(ctx, clone, "train", _other_inputs(ctx.train_inputs), "training a clone")
    diff = _difference(state, op.state, "state")
    if diff is not None:
        raise ctx.fail(f"training a deep clone changed the original's state: {diff}")
    after = _run(ctx, op, "predict", ctx.predict_inputs, "predict()")
    diff = _difference(before, after, "output")
    if diff is not None:
        raise ctx.fail(f"training a deep clone changed the original's predictions: {diff}")
    trained_clone = op.clone(deep=True)
    _run(ctx, op, "train", _other_inputs(ctx.train_inputs), "retraining the original")
    diff = _difference(state, trained_clone.state, "state")
    if diff is not None:
        raise ctx.fail(f"retraining the original changed its deep clone's state: {diff}")


def _check_pickle(ctx: _Context) -> None:
    op = ctx.fresh()
    for trained in (False, True):
        if trained:
            _run(ctx, op, "train", ctx.train_inputs, "train()")
        try:
            restored = pickle.loads(pickle.dumps(op))
        except Exception as exc:
            status = "a trained" if trained else "an untrained"
            raise ctx.fail(f"{status} operator must pickle: {type(exc).__name__}: {exc}") from exc
        if restored.id != op.id or type(restored) is not type(op):
            raise ctx.fail("the unpickled operator has another id or class.")
        diff = _difference(op.param_set.values, restored.param_set.values, "param_set.values")
        diff = diff or _difference(op.state, restored.state, "state")
        if diff is not None:
            raise ctx.fail(f"the unpickled operator differs: {diff}")
    original = _run(ctx, op, "predict", ctx.predict_inputs, "predict()")
    again = _run(ctx, restored, "predict", ctx.predict_inputs, "predict() after unpickling")
    diff = _difference(original, again, "output")
    if diff is not None:
        raise ctx.fail(f"the unpickled operator predicts differently: {diff}")


def _allow_error(ctx: _Context, fn: Callable[[], Any], what: str) -> bool:
    """Run ``fn``; True when it worked, False when it raised a torchweave error."""
    try:
        _seeded(fn)
    except Error:
        return False
    except Exception as exc:
        raise ctx.fail(
            f"{what} raised {type(exc).__name__} ({exc}); an operator must either handle "
            "a task without rows or raise a torchweave error (torchweave.errors.Error)."
        ) from exc
    return True


def _check_empty_task(ctx: _Context) -> None:
    empty_train, empty_predict = (
        _empty_inputs(ctx.train_inputs),
        _empty_inputs(ctx.predict_inputs),
    )
    op = ctx.fresh()
    if _allow_error(ctx, lambda: op.train(list(empty_train)), "train() on a task without rows"):
        _allow_error(
            ctx, lambda: op.predict(list(empty_predict)), "predict() on a task without rows"
        )
    op = ctx.fresh()
    _run(ctx, op, "train", ctx.train_inputs, "train()")
    _allow_error(
        ctx,
        lambda: op.predict(list(empty_predict)),
        "predict() on a task without rows (after training on rows)",
    )


#: The checks of :func:`check_pipeop`, by name (the keys of ``skip``).
PIPEOP_CHECKS: dict[str, Callable[[_Context], None]] = {
    "channels": _check_channels,
    "registry": _check_registry,
    "param_set": _check_param_set,
    "untrained_predict": _check_untrained_predict,
    "train_predict": _check_train_predict,
    "input_unchanged": _check_input_unchanged,
    "train_twice": _check_train_twice,
    "predict_like_train": _check_predict_like_train,
    "clone_independence": _check_clone_independence,
    "pickle": _check_pickle,
    "empty_task": _check_empty_task,
}


# Checks that run before the operator sees any input.
_WITHOUT_INPUTS = ("channels", "registry", "param_set")


def _build(key: str) -> PipeOp:
    if key in CONSTRUCTION:
        return CONSTRUCTION[key]()
    example = getattr(registry.pipeops.constructor(key), "example_param_vals", None)
    if example:  # e.g. a lazy preprocessing operator with required parameters
        return registry.pipeops.get(key, param_vals=dict(example))
    return registry.pipeops.get(key)


def _not_applicable(ctx: _Context, name: str) -> str | None:
    """Why a check does not apply to this operator (None when it does)."""
    if name == "registry" and ctx.key is None:
        return "the operator's class is not in tw.registry.pipeops"
    if name == "predict_like_train":
        if not getattr(ctx.op, "predict_like_train", True):
            return "the operator sets predict_like_train = False"
        if not ctx.same_inputs:
            return "train and predict take different inputs"
    if name == "empty_task" and not ctx.tasks(ctx.pristine[0] + ctx.pristine[1]):
        return "the operator takes no task"
    return None


def check_pipeop(
    op: PipeOp | str,
    inputs: Sequence[Any] | None = None,
    predict_inputs: Sequence[Any] | None = None,
    skip: Mapping[str, str] | None = None,
    checks: Iterable[str] | None = None,
) -> dict[str, str]:
    """Run the PipeOp conformance suite.

    The operator itself is left untouched: every check works on deep copies.
    numpy's and Python's global random states are restored afterwards.

    Parameters
    ----------
    op : PipeOp or str
        The operator, or a registry key: then it is built by :data:`CONSTRUCTION`
        or with default arguments (and its id must equal the key).
    inputs : sequence, optional
        Train inputs, one per input channel. By default they are made from the
        channel types: a classification task (a regression task for ``TaskRegr``
        channels) with every feature type and missing values, for task and
        ``"any"`` channels; two tasks with different feature names for a vararg
        channel; predictions of a featureless learner for Prediction channels. An
        operator that refuses missing values or a feature type with a torchweave
        error is checked on complete data, or on numeric features.
    predict_inputs : sequence, optional
        Predict inputs (default: ``inputs``).
    skip : mapping of str to str, optional
        Checks to skip, with the reason. Names are the keys of :data:`PIPEOP_CHECKS`.
    checks : iterable of str, optional
        Run only these checks.

    Returns
    -------
    dict of str to str
        For each check ``"passed"`` or ``"skipped: <reason>"``.

    Raises
    ------
    AssertionError
        On the first failed check, naming the operator and the check.

    Examples
    --------
    >>> from torchweave.testing.pipeops import check_pipeop
    >>> results = check_pipeop("scale")
    >>> results["input_unchanged"]
    'passed'
    """
    key: str | None
    if isinstance(op, str):
        key = op
        op = _build(key)
    elif isinstance(op, PipeOp):
        keys = _registry_keys(op)
        key = keys[0] if keys else None
    else:
        raise AssertionError(f"check_pipeop needs a PipeOp or a key. Got {type(op).__name__}.")
    if not isinstance(op, PipeOp):
        raise AssertionError(f"'{key}' built a {type(op).__name__}, not a PipeOp.")
    skips = dict(skip or {})
    wanted = list(PIPEOP_CHECKS) if checks is None else list(checks)
    refuse_unknown_checks([*skips, *wanted], PIPEOP_CHECKS, f"for PipeOp '{op.id}'")
    ctx = _Context(op=op.clone(deep=True), key=key)
    rng_state, py_state = np.random.get_state(), random.getstate()
    torch = sys.modules.get("torch")
    torch_state = torch.random.get_rng_state() if torch is not None else None
    results: dict[str, str] = {}
    try:
        if inputs is None and key is not None and key in INPUTS:
            made = INPUTS[key]()
            inputs, predict_inputs = made if isinstance(made, tuple) else (made, predict_inputs)
        elif inputs is None:
            inputs = lazy_preproc_inputs(op)
        if inputs is not None:
            ctx.set_inputs(inputs, inputs if predict_inputs is None else predict_inputs)
        have_inputs = inputs is not None
        for name, check in PIPEOP_CHECKS.items():
            if name not in wanted:
                continue
            if not have_inputs and name not in _WITHOUT_INPUTS:
                ctx.check = "inputs"
                _choose_inputs(ctx)
                have_inputs = True
            reason = skips.get(name) or _not_applicable(ctx, name)
            if reason is not None:
                results[name] = f"skipped: {reason}"
                continue
            run_check(ctx, name, check, f"check_pipeop for PipeOp '{op.id}'")
            results[name] = "passed"
    finally:
        np.random.set_state(rng_state)
        random.setstate(py_state)
        if torch is not None:
            torch.random.set_rng_state(torch_state)
    return results


def _model_descriptor_inputs() -> tuple[list[Any], list[Any]]:
    """A ModelDescriptor from a numeric ingress on iris, and the task for predict."""
    from torchweave.pipelines.sugar import po
    from torchweave.sugar import tsk

    task = tsk("iris")
    return [po("torch_ingress_num").train([task])[0]], [task]


INPUTS |= {
    key: _model_descriptor_inputs for key in ("torch_loss", "torch_optimizer", "torch_callbacks")
}


def _configured_model_descriptor(task_key: str, loss: str) -> tuple[list[Any], list[Any]]:
    """A ModelDescriptor with a head, a loss and an optimizer, and the task for predict."""
    from torchweave.network.sugar import nn
    from torchweave.pipelines.sugar import po
    from torchweave.sugar import tsk

    task = tsk(task_key)
    graph = (
        po("torch_ingress_num")
        >> nn("head")
        >> po("torch_loss", loss=loss)
        >> po("torch_optimizer", optimizer="adam")
    )
    (md,) = graph.train(task).values()
    return [md], [task]


def _torch_model_classif_inputs() -> tuple[list[Any], list[Any]]:
    return _configured_model_descriptor("iris", "cross_entropy")


def _torch_model_regr_inputs() -> tuple[list[Any], list[Any]]:
    return _configured_model_descriptor("mtcars", "mse")


INPUTS |= {
    "torch_model_classif": _torch_model_classif_inputs,
    "torch_model_regr": _torch_model_regr_inputs,
}


# --- lazy tensor inputs ------------------------------------------------------------------------
def lazy_task(shape: Sequence[int | None] = (None, 3, 8, 8), numeric: bool = True) -> Task:
    """A classification task with a lazy tensor feature ``x`` of ``shape`` (seeded).

    Unknown sizes (``None`` after the batch dimension) become 8. With ``numeric`` the
    task also has a numeric feature, which lazy operators must pass through.
    """
    import torch

    from torchweave.lazy.lazy_tensor import as_lazy_tensor

    dims = [8 if d is None else int(d) for d in shape[1:]]
    generator = torch.Generator().manual_seed(_SEED)
    values = torch.rand((_N_ROWS, *dims), generator=generator)
    rng = np.random.default_rng(_SEED)
    frame = pd.DataFrame(
        {
            "x": as_lazy_tensor(values),
            "y": pd.Categorical(rng.choice(["a", "b"], size=_N_ROWS)),
        }
    )
    if numeric:
        frame["num"] = rng.normal(size=_N_ROWS)
    task = TaskClassif(frame, "y", id="lazy")
    # Rows in a shuffled order, some left out: row ids are not 0..n-1.
    return task.filter(rng.permutation(task.row_ids)[: _N_ROWS - 6])


def lazy_preproc_inputs(op: PipeOp) -> list[Any] | None:
    """Inputs for lazy tensor preprocessing operators, ``None`` for other operators.

    Any operator with a class attribute ``example_shape`` (every
    ``PipeOpTaskPreprocTorch`` has one, ``(None, 3, 8, 8)`` unless its class overrides
    it) gets a task whose lazy column ``x`` has that shape, plus a numeric feature.
    Such a class may also set ``example_param_vals`` (a dict): the suite then builds
    the operator with these values (for required parameters).
    """
    shape = getattr(type(op), "example_shape", None)
    if shape is None:
        return None
    return [lazy_task(shape)]


def _ingress_ltnsr_inputs() -> list[Any]:
    return [lazy_task((None, 1, 8, 8), numeric=False)]


def _preproc_torch() -> PipeOp:
    from torchweave.lazy.preproc import PipeOpTaskPreprocTorch

    return PipeOpTaskPreprocTorch(negate, stages_init="both", shapes_out="infer")


def negate(x: Any) -> Any:
    """Return ``-x`` (a picklable function for ``po("preproc_torch")``)."""
    return -x


INPUTS["torch_ingress_ltnsr"] = _ingress_ltnsr_inputs
# po("preproc_torch") takes the function to apply.
CONSTRUCTION["preproc_torch"] = _preproc_torch


def lazy_preproc_params() -> dict[str, dict[str, Any]]:
    """Values for the required parameters of the ``trafo_*`` / ``augment_*`` operators.

    They suit the suite's lazy column of shape ``(None, 3, 8, 8)``.
    """
    from torchweave.lazy import transforms as tf

    flips = [tf.hflip, tf.vflip]
    return {
        "trafo_reshape": {"shape": (-1, 192)},
        "trafo_resize": {"size": 4},
        "trafo_normalize": {"mean": [0.5, 0.4, 0.3], "std": 0.25},
        "trafo_pad": {"padding": (1, 2)},
        "trafo_grayscale": {"num_output_channels": 1},
        "trafo_adjust_brightness": {"brightness_factor": 1.5},
        "trafo_adjust_gamma": {"gamma": 0.5},
        "trafo_adjust_hue": {"hue_factor": 0.2},
        "trafo_adjust_saturation": {"saturation_factor": 0.5},
        "augment_crop": {"top": 1, "left": 2, "height": 4, "width": 5},
        "augment_center_crop": {"size": 6},
        "augment_random_crop": {"size": 6},
        "augment_resized_crop": {"top": 0, "left": 0, "height": 4, "width": 4, "size": 6},
        "augment_random_resized_crop": {"size": 6},
        "augment_random_affine": {"degrees": 20.0},
        "augment_rotate": {"angle": 30.0},
        "augment_random_choice": {"transforms": flips},
        "augment_random_order": {"transforms": flips},
    }


def _lazy_preproc_op(key: str) -> PipeOp:
    from torchweave.pipelines.sugar import po

    return po(key, **lazy_preproc_params()[key])


# The lazy preprocessing operators with required parameters (torchweave.lazy.ops).
CONSTRUCTION |= {
    key: functools.partial(_lazy_preproc_op, key)
    for key in (
        "trafo_reshape",
        "trafo_resize",
        "trafo_normalize",
        "trafo_pad",
        "trafo_grayscale",
        "trafo_adjust_brightness",
        "trafo_adjust_gamma",
        "trafo_adjust_hue",
        "trafo_adjust_saturation",
        "augment_crop",
        "augment_center_crop",
        "augment_random_crop",
        "augment_resized_crop",
        "augment_random_resized_crop",
        "augment_random_affine",
        "augment_rotate",
        "augment_random_choice",
        "augment_random_order",
    )
}
