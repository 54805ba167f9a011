"""``check_callback``: the conformance suite every callback must pass.

The suite takes a registry key (or a :class:`~torchweave.training.descriptors.TorchCallback`)
and checks what every callback promises: the descriptor names a :class:`CallbackSet`
subclass and, when registered, carries its key as id; the class implements only known
stages and both or neither of ``state_dict`` / ``load_state_dict``; its ParamSet keeps
paradox's invariants and mirrors the constructor; ``generate()`` builds it; it survives
a short real training run of a tiny torch learner (its parameters appear there as
``cb.<id>.<name>``); its state holds only what a checkpoint can store and comes back
unchanged through ``load_state_dict``; and the descriptor pickles and deep-copies.

Callbacks that need constructor arguments (a path, selectors, a required scheduler
argument) are built by :data:`CONSTRUCTION`. A callback class declares checks it cannot
pass, with a reason, in the class attribute ``_conformance_skips`` (check name ->
reason), as scikit-learn's estimator tags do.
"""

from __future__ import annotations

import copy
import inspect
import math
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn

from torchweave import registry
from torchweave.callbacks.callback_set import STAGES, CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.params.param_set import REQUIRED
from torchweave.testing._checks import CheckFailedError as _CheckFailedError
from torchweave.testing._checks import refuse_unknown_checks, run_check
from torchweave.testing.params import check_param_set

__all__ = ["CALLBACK_CHECKS", "CONSTRUCTION", "check_callback"]

_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@dataclass
class _Context:
    descriptor: TorchCallback
    key: str | None
    check: str = ""
    results: dict[str, Any] = field(default_factory=dict)

    def fail(self, message: str) -> _CheckFailedError:
        return _CheckFailedError(
            f"check_callback: callback '{self.descriptor.id}' fails check '{self.check}': {message}"
        )

    def fresh(self) -> TorchCallback:
        """An independent copy of the descriptor."""
        return self.descriptor.clone()


# --- how to build callbacks that need arguments ----------------------------------------------
def _decay(epoch: int) -> float:
    """A picklable learning rate factor for ``lr_lambda`` and ``lr_multiplicative``."""
    return 0.95


def _t_clbk(key: str, **params: Any) -> TorchCallback:
    from torchweave.training.sugar import t_clbk

    return t_clbk(key, **params)


def _select(name: str) -> Any:
    from torchweave.callbacks import select

    return getattr(select, name)


def _unfreeze() -> TorchCallback:
    return _t_clbk(
        "unfreeze",
        starting_weights=_select("select_grep")("^2[.]"),
        unfreeze=[{"weights": _select("select_all")(), "epoch": 2}],
    )


#: Registry key -> a function building the callback to check, for callbacks that need
#: constructor arguments. Other keys are built with ``t_clbk(key)``.
CONSTRUCTION: dict[str, Callable[[], TorchCallback]] = {
    "csv": lambda: _t_clbk("csv", path=os.path.join(tempfile.mkdtemp(), "history.csv")),
    "tb": lambda: _t_clbk("tb", path=os.path.join(tempfile.mkdtemp(), "tb"), log_train_loss=True),
    "unfreeze": _unfreeze,
    "lr_step": lambda: _t_clbk("lr_step", step_size=1, gamma=0.5),
    "lr_cosine_annealing": lambda: _t_clbk("lr_cosine_annealing", T_max=2),
    "lr_lambda": lambda: _t_clbk("lr_lambda", lr_lambda=_decay),
    "lr_multiplicative": lambda: _t_clbk("lr_multiplicative", lr_lambda=_decay),
    "lr_exponential": lambda: _t_clbk("lr_exponential", gamma=0.9),
    "lr_one_cycle": lambda: _t_clbk("lr_one_cycle", max_lr=0.05),
    # Applies once the checkpoint callback is registered.
    "checkpoint": lambda: _t_clbk(
        "checkpoint", path=os.path.join(tempfile.mkdtemp(), "checkpoints"), freq=1
    ),
}


def _tiny_learner(descriptor: TorchCallback) -> Any:
    """A LearnerTorchModel on iris: two linear layers, 3 epochs of 3 batches, validated."""
    from torchweave.network.ingress_token import TorchIngressToken, batchgetter_num
    from torchweave.sugar import msr
    from torchweave.training.learner_torch_model import LearnerTorchModel

    network = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    learner = LearnerTorchModel(
        network,
        {"x": TorchIngressToken(_FEATURES, batchgetter_num, (None, 4))},
        task_type="classif",
        callbacks=[descriptor],
    )
    learner.param_set.set_values(
        epochs=3,
        batch_size=40,
        device="cpu",
        seed=1,
        measures_train=msr("classif.ce"),
        measures_valid=msr("classif.acc"),
    )
    learner.validate = 0.2
    return learner


# --- helpers -------------------------------------------------------------------------------
_PLAIN = (bool, int, float, str, torch.Tensor, type(None))


def _unstorable(obj: Any, where: str = "state") -> str | None:
    """Where ``obj`` holds something a checkpoint cannot store, or None."""
    if isinstance(obj, _PLAIN):
        return None
    if isinstance(obj, pd.DataFrame):
        return None
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str | int):
                return f"{where} has the key {k!r} of type {type(k).__name__}"
            found = _unstorable(v, f"{where}[{k!r}]")
            if found:
                return found
        return None
    if isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            found = _unstorable(v, f"{where}[{i}]")
            if found:
                return found
        return None
    return f"{where} is a {type(obj).__name__}"


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and bool(torch.equal(a.cpu(), b.cpu()))
        )
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame) and a.equals(b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except Exception:
        return False


def _own_methods(cls: type) -> dict[str, Any]:
    """Attributes defined by ``cls`` and its bases below CallbackSet."""
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass in (object, CallbackSet) or not issubclass(klass, CallbackSet):
            continue
        out.update(vars(klass))
    return out


# --- the checks ----------------------------------------------------------------------------
def _check_descriptor(ctx: _Context) -> None:
    desc = ctx.descriptor
    if not (isinstance(desc.cls, type) and issubclass(desc.cls, CallbackSet)):
        raise ctx.fail(f"its class {desc.cls!r} is not a subclass of CallbackSet.")
    if ctx.key is not None and desc.id != ctx.key:
        raise ctx.fail(f"the id is '{desc.id}', but the registry key is '{ctx.key}'.")
    if not isinstance(desc.label, str) or not desc.label:
        raise ctx.fail(f"the label must be a non-empty string. Got {desc.label!r}.")
    weight = desc.weight if desc.weight is not None else getattr(desc.cls, "weight", 0.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight != weight:
        raise ctx.fail(f"the weight must be a number. Got {weight!r}.")


def _check_stages(ctx: _Context) -> None:
    cls: Any = ctx.descriptor.cls
    methods = _own_methods(cls)
    unknown = sorted(n for n, v in methods.items() if n.startswith("on_") and n not in STAGES)
    if unknown:
        raise ctx.fail(
            f"the class has methods {unknown} that are not callback stages (typos?); the loop "
            f"never calls them. Stages are {list(STAGES)}."
        )
    for name in STAGES:
        value = methods.get(name)
        if value is None or not callable(value):
            continue
        try:
            sig = inspect.signature(value)
        except (TypeError, ValueError):
            continue
        required = [
            p
            for p in list(sig.parameters.values())[1:]
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if required:
            raise ctx.fail(
                f"the stage {name} must take only self; it requires {[p.name for p in required]}."
            )


def _check_state_pair(ctx: _Context) -> None:
    cls: Any = ctx.descriptor.cls
    has_state = cls.state_dict is not CallbackSet.state_dict
    has_load = cls.load_state_dict is not CallbackSet.load_state_dict
    if has_state != has_load:
        given, missing = (
            ("state_dict", "load_state_dict") if has_state else ("load_state_dict", "state_dict")
        )
        raise ctx.fail(
            f"the class implements {given} but not {missing}: implement both or neither, so "
            "that a state kept by a checkpoint can be restored."
        )


def _init_signature(desc: TorchCallback) -> dict[str, inspect.Parameter]:
    target = getattr(desc, "mirrors", desc.cls)
    skip = {"self", "ctx", "weight", *desc._reserved, *desc.omitted}
    sig = inspect.signature(target)
    return {
        name: p
        for name, p in sig.parameters.items()
        if name not in skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY)
    }


def _check_param_set(ctx: _Context) -> None:
    desc = ctx.descriptor
    try:
        check_param_set(desc.param_set)
    except AssertionError as exc:
        raise ctx.fail(str(exc)) from exc
    expected = _init_signature(desc)
    ids = desc.param_set.ids()
    if set(ids) != set(expected):
        raise ctx.fail(
            f"the ParamSet {sorted(ids)} does not mirror the arguments "
            f"{sorted(expected)} of {getattr(desc, 'mirrors', desc.cls).__name__}."
        )
    params = desc.param_set.params
    for name, arg in expected.items():
        param = params[name]
        if arg.default is arg.empty:
            if REQUIRED not in param.tags:
                raise ctx.fail(f"the argument '{name}' has no default, so must be 'required'.")
        elif param.has_default and not _equal(param.default, arg.default):
            raise ctx.fail(
                f"the parameter '{name}' documents the default {param.default!r}, but the "
                f"argument's default is {arg.default!r}."
            )
    untagged = [pid for pid, p in params.items() if "train" not in p.tags]
    if untagged:
        raise ctx.fail(f"callback parameters must be tagged 'train'; {untagged} are not.")


def _check_generate(ctx: _Context) -> None:
    desc = ctx.fresh()
    obj = desc.generate()
    if type(obj) is not desc.cls:
        raise ctx.fail(f"generate() returned a {type(obj).__name__}, not a {desc.cls.__name__}.")
    if obj.ctx is not None:
        raise ctx.fail("a new callback must have ctx None.")
    desc.weight = 7.0
    if desc.generate().weight != 7.0:
        raise ctx.fail("generate() does not apply the descriptor's weight.")


def _check_train(ctx: _Context) -> None:
    from torchweave.sugar import tsk

    desc = ctx.fresh()
    learner = _tiny_learner(desc)
    values = desc.param_set.values
    collection = learner.param_set.values
    for name, value in values.items():
        full = f"cb.{desc.id}.{name}"
        if full not in collection or not _equal(collection[full], value):
            raise ctx.fail(f"the learner's parameters lack '{full}' = {value!r}.")
    learner.train(tsk("iris"))
    model = learner.model
    if not 0 <= model.epochs <= 3:  # a callback may stop early, never train longer
        raise ctx.fail(f"the run trained {model.epochs} epochs; 'epochs' was 3.")
    obj = desc.generate()
    has_state = type(obj).state_dict is not CallbackSet.state_dict
    if has_state and desc.id not in model.callbacks:
        raise ctx.fail("the callback has a state_dict, but the trained model keeps no state.")
    ctx.results["state"] = model.callbacks.get(desc.id)
    prediction = learner.predict(tsk("iris"), row_ids=range(0, 150, 30))
    if len(prediction.row_ids) != 5:
        raise ctx.fail("the trained learner does not predict.")


def _check_state(ctx: _Context) -> None:
    state = ctx.results.get("state")
    problem = _unstorable(state)
    if problem is not None:
        raise ctx.fail(
            f"the state must hold only dicts, lists, tuples, str, int, float, bool, None, "
            f"tensors and DataFrames (what a checkpoint stores); {problem}."
        )


def _check_state_round_trip(ctx: _Context) -> None:
    state = ctx.results.get("state")
    if state is None:
        return
    obj = ctx.fresh().generate()
    obj.load_state_dict(copy.deepcopy(state))
    again = obj.state_dict()
    if not _equal(again, state):
        raise ctx.fail(
            "load_state_dict(state) then state_dict() must give the state back (before "
            f"training). Got {again!r} instead of {state!r}."
        )


def _check_pickle(ctx: _Context) -> None:
    desc = ctx.descriptor
    try:
        back = pickle.loads(pickle.dumps(desc))
    except Exception as exc:
        raise ctx.fail(f"the descriptor does not pickle: {type(exc).__name__}: {exc}") from exc
    if back.id != desc.id or back.cls is not desc.cls:
        raise ctx.fail("a pickled descriptor comes back with another id or class.")
    if not _equal(back.param_set.values, desc.param_set.values):
        raise ctx.fail("a pickled descriptor comes back with other parameter values.")
    clone = copy.deepcopy(desc)
    if clone.param_set is desc.param_set:
        raise ctx.fail("a deep copy shares the ParamSet.")
    before = desc.param_set.values
    for pid in list(clone.param_set.values):
        clone.param_set.remove_values(pid)
    clone.id = desc.id + "_copy"
    if desc.param_set.values.keys() != before.keys() or desc.id == clone.id:
        raise ctx.fail("changing a deep copy changed the original.")


#: The checks of :func:`check_callback`, by name (the keys of ``_conformance_skips``).
CALLBACK_CHECKS: dict[str, Callable[[_Context], None]] = {
    "descriptor": _check_descriptor,
    "stages": _check_stages,
    "state_pair": _check_state_pair,
    "param_set": _check_param_set,
    "generate": _check_generate,
    "train": _check_train,
    "state": _check_state,
    "state_round_trip": _check_state_round_trip,
    "pickle": _check_pickle,
}


def _resolve(key_or_descriptor: str | TorchCallback) -> tuple[TorchCallback, str | None]:
    if isinstance(key_or_descriptor, str):
        key = key_or_descriptor
        registered = registry.callbacks.keys()
        if key not in registered:
            registry.callbacks.get(key)  # raises UnknownKeyError with suggestions
        make = CONSTRUCTION.get(key)
        desc = make() if make is not None else registry.callbacks.get(key)
        return desc, key
    if isinstance(key_or_descriptor, TorchCallback):
        return key_or_descriptor, None
    raise AssertionError(
        "check_callback needs a registry key or a TorchCallback. Got "
        f"{type(key_or_descriptor).__name__}."
    )


def check_callback(
    key_or_descriptor: str | TorchCallback,
    skip: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Run the callback conformance suite.

    Parameters
    ----------
    key_or_descriptor : str or TorchCallback
        A key of ``tw.registry.callbacks`` (built by :data:`CONSTRUCTION` when it needs
        arguments, else by ``t_clbk(key)``; its id must equal the key), or a descriptor
        with its parameters set.
    skip : mapping of str to str, optional
        Checks to skip, with the reason, on top of the class's own
        ``_conformance_skips``. Names are the keys of :data:`CALLBACK_CHECKS`.

    Returns
    -------
    dict of str to str
        For each check ``"passed"`` or ``"skipped: <reason>"``.

    Raises
    ------
    AssertionError
        On the first failed check, naming the callback and the check. Errors raised
        inside a check (e.g. by training) propagate with a note naming the check.

    Examples
    --------
    >>> from torchweave.testing.callbacks import check_callback
    >>> set(check_callback("history").values())
    {'passed'}
    """
    descriptor, key = _resolve(key_or_descriptor)
    skips = {**getattr(descriptor.cls, "_conformance_skips", {}), **(skip or {})}
    refuse_unknown_checks(skips, CALLBACK_CHECKS, f"in the skips of callback '{descriptor.id}'")
    ctx = _Context(descriptor=descriptor, key=key)
    results: dict[str, str] = {}
    for name, check in CALLBACK_CHECKS.items():
        if name in skips:
            results[name] = f"skipped: {skips[name]}"
            continue
        run_check(ctx, name, check, f"check_callback for callback '{descriptor.id}'")
        results[name] = "passed"
    return results
