"""Learning rate schedulers as callbacks: ``t_clbk("lr_step")``, ``"lr_one_cycle"``, ...

Each built-in wraps one of torch's schedulers (``torch.optim.lr_scheduler``), with a
ParamSet that mirrors the scheduler's signature (without ``optimizer``, which is the
learner's). The scheduler is created in ``on_begin`` for the optimizer of the run and
steps at the end of every epoch, except ``lr_one_cycle`` (after every batch) and
``lr_reduce_on_plateau`` (at the end of the epochs that have validation scores).
:func:`as_lr_scheduler` wraps any other scheduler class.

The state (``learner.model.callbacks[id]``, and what checkpoints keep) is the
scheduler's ``state_dict()`` plus the optimizer's learning rates and momenta, so a
resumed run continues the schedule exactly where it stopped.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.optim import lr_scheduler

from torchweave.callbacks.callback_set import CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.params.param import Param, p_dbl, p_fct, p_int, p_lgl, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import callbacks
from torchweave.training.descriptors import infer_param_set, snake_case
from torchweave.utils.text import format_value

__all__ = [
    "CallbackSetLRScheduler",
    "CallbackSetLRSchedulerOneCycle",
    "CallbackSetLRSchedulerReduceOnPlateau",
    "TorchCallbackLRScheduler",
    "as_lr_scheduler",
]

#: Param-group entries that schedulers change and a resumed run must get back.
_GROUP_KEYS = ("lr", "initial_lr", "momentum", "betas")


def _plain(obj: Any) -> Any:
    """Keep what a checkpoint can store: containers, numbers, strings, None, tensors.

    Other values (functions, objects) are dropped from dicts and become None in lists;
    torch's ``LambdaLR`` already stores None for plain functions.
    """
    if obj is None or isinstance(obj, bool | int | float | str | torch.Tensor):
        return obj
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if v is None or _storable(v):
                out[k] = _plain(v)
        return out
    if isinstance(obj, list | tuple):
        return type(obj)(_plain(v) if _storable(v) else None for v in obj)
    return None


def _storable(obj: Any) -> bool:
    return obj is None or isinstance(
        obj, bool | int | float | str | torch.Tensor | Mapping | list | tuple
    )


class CallbackSetLRScheduler(CallbackSet):
    """Steps a torch learning rate scheduler during training.

    Parameters
    ----------
    scheduler_class : callable
        A scheduler class of ``torch.optim.lr_scheduler`` (or any callable taking the
        optimizer first and returning an object with ``step``, ``state_dict`` and
        ``load_state_dict``).
    step_on_epoch : bool, default True
        Step at the end of every epoch (True) or after every batch (False).
    **params
        Arguments of ``scheduler_class``.

    Attributes
    ----------
    scheduler : object or None
        The scheduler of the current (or last) run, created in ``on_begin``.

    State
    -----
    ``{"scheduler": scheduler.state_dict(), "param_groups": [{"lr": ..., ...}]}``:
    the scheduler's state (without functions such as lambdas) and each optimizer param
    group's ``lr``, ``initial_lr``, ``momentum`` and ``betas``. A state loaded before
    ``on_begin`` (resuming) is applied right after the scheduler is created, so the
    schedule continues with the same ``last_epoch`` and learning rates.

    Examples
    --------
    >>> import torch
    >>> from types import SimpleNamespace
    >>> from torchweave.callbacks.lr_scheduler import CallbackSetLRScheduler
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> cb = CallbackSetLRScheduler(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    >>> cb.ctx = SimpleNamespace(optimizer=opt)
    >>> cb.on_begin()
    >>> for epoch in range(2):  # the loop steps the optimizer, then the scheduler
    ...     opt.step(); cb.on_epoch_end()
    >>> opt.param_groups[0]["lr"]
    0.25
    >>> cb.stages
    ['on_begin', 'on_epoch_end']
    """

    def __init__(
        self,
        scheduler_class: Callable[..., Any],
        step_on_epoch: bool = True,
        **params: Any,
    ) -> None:
        super().__init__()
        self.scheduler_class = scheduler_class
        self.step_on_epoch = step_on_epoch
        self.params = params
        self.scheduler: Any = None
        self._loaded: dict[str, Any] | None = None
        # The loop calls only callable stages: hide the one this scheduler does not step in,
        # so that stepping per epoch costs nothing per batch.
        setattr(self, "on_batch_end" if step_on_epoch else "on_epoch_end", None)

    def _create(self) -> Any:
        assert self.ctx is not None
        return self.scheduler_class(self.ctx.optimizer, **self.params)

    def on_begin(self) -> None:
        """Create the scheduler for the run's optimizer, then apply a loaded state."""
        self.scheduler = self._create()
        if self._loaded is not None:
            self._apply(self._loaded)

    def on_epoch_end(self) -> None:
        """Step the scheduler (when stepping per epoch)."""
        self.scheduler.step()

    def on_batch_end(self) -> None:
        """Step the scheduler (when stepping per batch)."""
        self.scheduler.step()

    def _apply(self, state: dict[str, Any]) -> None:
        groups = self.scheduler.optimizer.param_groups
        saved_groups = state.get("param_groups", [])
        if len(saved_groups) != len(groups):
            raise InvalidParameterError(
                f"Cannot load the state of the learning rate scheduler "
                f"<{_name_of(self.scheduler_class)}>: it was saved for {len(saved_groups)} "
                f"optimizer param group(s), this run's optimizer has {len(groups)}."
            )
        # load_state_dict may modify its argument (LambdaLR pops 'lr_lambdas').
        self.scheduler.load_state_dict(copy.deepcopy(state["scheduler"]))
        for group, saved in zip(groups, saved_groups, strict=True):
            for key, value in saved.items():
                group[key] = copy.deepcopy(value)

    def state_dict(self) -> dict[str, Any] | None:
        """The scheduler's state and the param groups' rates (None before any run)."""
        if self.scheduler is None:
            return copy.deepcopy(self._loaded)
        groups = self.scheduler.optimizer.param_groups
        return {
            "scheduler": _plain(self.scheduler.state_dict()),
            "param_groups": [
                {k: _plain(copy.deepcopy(g[k])) for k in _GROUP_KEYS if k in g} for g in groups
            ],
        }

    def load_state_dict(self, state_dict: Any) -> None:
        """Remember a state; ``on_begin`` applies it once the scheduler exists."""
        if state_dict is not None and not (
            isinstance(state_dict, Mapping) and "scheduler" in state_dict
        ):
            raise InvalidTypeError(
                "The state of a learning rate scheduler callback must be a dict with the keys "
                f"'scheduler' and 'param_groups'. Got {format_value(state_dict)} instead."
            )
        self._loaded = None if state_dict is None else copy.deepcopy(dict(state_dict))


class CallbackSetLRSchedulerOneCycle(CallbackSetLRScheduler):
    """The one-cycle policy (``torch.optim.lr_scheduler.OneCycleLR``), stepped per batch.

    ``on_begin`` sets ``epochs`` to the learner's ``epochs`` and ``steps_per_epoch`` to
    the number of training batches, and ignores ``total_steps``: the cycle always spans
    the whole run. A loaded state must come from a run with as many steps.

    Parameters
    ----------
    scheduler_class : callable, default OneCycleLR
        The scheduler class.
    step_on_epoch : bool, default False
        Ignored: the one-cycle policy steps after every batch.
    **params
        Arguments of ``OneCycleLR`` (``max_lr`` is required).
    """

    def __init__(
        self,
        scheduler_class: Callable[..., Any] = lr_scheduler.OneCycleLR,
        step_on_epoch: bool = False,
        **params: Any,
    ) -> None:
        super().__init__(scheduler_class, step_on_epoch=False, **params)

    def _create(self) -> Any:
        assert self.ctx is not None
        params = {k: v for k, v in self.params.items() if k != "total_steps"}
        params["epochs"] = self.ctx.total_epochs
        params["steps_per_epoch"] = len(self.ctx.loader_train)
        return self.scheduler_class(self.ctx.optimizer, **params)

    def _apply(self, state: dict[str, Any]) -> None:
        saved = state["scheduler"].get("total_steps")
        now = self.scheduler.total_steps
        if saved != now:
            raise InvalidParameterError(
                "Cannot load the state of the one cycle learning rate schedule: it was made "
                f"for {saved} steps, but this run has {now} (epochs x batches per epoch). "
                "Resume with the same 'epochs' and batch size."
            )
        super()._apply(state)


class CallbackSetLRSchedulerReduceOnPlateau(CallbackSetLRScheduler):
    """Reduces the learning rate when the first validation measure stops improving.

    Steps ``torch.optim.lr_scheduler.ReduceLROnPlateau`` with the first validation
    score, at the end of each epoch that has validation scores (every ``eval_freq``
    epochs and the last one); without validation it never steps. ``mode`` is not taken
    from the measure: set ``mode="max"`` for measures to maximise.

    Parameters
    ----------
    scheduler_class : callable, default ReduceLROnPlateau
        The scheduler class.
    step_on_epoch : bool, default True
        Ignored: the scheduler steps at the end of epochs with validation scores.
    **params
        Arguments of ``ReduceLROnPlateau``.
    """

    def __init__(
        self,
        scheduler_class: Callable[..., Any] = lr_scheduler.ReduceLROnPlateau,
        step_on_epoch: bool = True,
        **params: Any,
    ) -> None:
        super().__init__(scheduler_class, step_on_epoch=True, **params)

    def on_epoch_end(self) -> None:
        """Step with the first validation score, if this epoch has any."""
        assert self.ctx is not None
        scores = self.ctx.last_scores_valid
        if isinstance(scores, Mapping) and scores:
            self.scheduler.step(next(iter(scores.values())))


class TorchCallbackLRScheduler(TorchCallback):
    """The descriptor of a learning rate scheduler callback.

    Its ParamSet holds the arguments of ``scheduler_class`` (without ``optimizer``);
    ``generate()`` passes them, with ``scheduler_class`` and ``step_on_epoch``, to the
    callback class.

    Parameters
    ----------
    scheduler_class : callable
        The torch scheduler class (its signature is what the ParamSet mirrors).
    step_on_epoch : bool, default True
        Step per epoch (True) or per batch (False).
    id : str
        The callback id.
    param_set : ParamSet, optional
        Default: one untyped parameter per argument of ``scheduler_class``.
    label : str, optional
        Human-readable name.
    callback_class : type, default CallbackSetLRScheduler
        The callback class to build.
    """

    _reserved = ("optimizer",)

    def __init__(
        self,
        scheduler_class: Callable[..., Any],
        step_on_epoch: bool = True,
        id: str = "lr_custom",
        param_set: ParamSet | None = None,
        label: str | None = None,
        callback_class: type[CallbackSetLRScheduler] = CallbackSetLRScheduler,
    ) -> None:
        if not callable(scheduler_class):
            raise InvalidTypeError(
                "A learning rate scheduler callback needs a scheduler class (e.g. "
                "torch.optim.lr_scheduler.StepLR). Got "
                f"{format_value(scheduler_class, 60)} instead."
            )
        if not isinstance(step_on_epoch, bool):
            raise InvalidTypeError(
                f"'step_on_epoch' must be True or False. Got {format_value(step_on_epoch)}."
            )
        if param_set is None:
            param_set = infer_param_set(scheduler_class, exclude=("optimizer", "verbose"))
        self.scheduler_class = scheduler_class
        self.step_on_epoch = step_on_epoch
        super().__init__(callback_class, id=id, param_set=param_set, label=label)

    @property
    def mirrors(self) -> Callable[..., Any]:
        """The callable whose signature the ParamSet mirrors (the scheduler class)."""
        return self.scheduler_class

    def generate(self, **extra: Any) -> CallbackSet:
        """A new callback for the scheduler class, with the parameter values."""
        return super().generate(
            scheduler_class=self.scheduler_class, step_on_epoch=self.step_on_epoch, **extra
        )

    def _repr_lines(self) -> list[str]:
        cls: Any = self.cls
        if issubclass(cls, CallbackSetLRSchedulerReduceOnPlateau):
            when = "steps on validated epochs"
        elif issubclass(cls, CallbackSetLRSchedulerOneCycle) or not self.step_on_epoch:
            when = "steps per batch"
        else:
            when = "steps per epoch"
        return [*super()._repr_lines(), f"* Scheduler: {_name_of(self.scheduler_class)} ({when})"]


def _name_of(x: Any) -> str:
    return str(getattr(x, "__name__", type(x).__name__))


def as_lr_scheduler(
    cls: Callable[..., Any], step_on_epoch: bool = True, id: str | None = None
) -> TorchCallback:
    """Wrap any torch learning rate scheduler class as a callback.

    Parameters
    ----------
    cls : callable
        A scheduler class, e.g. ``torch.optim.lr_scheduler.CyclicLR``: called with the
        optimizer first and its parameters as keyword arguments.
    step_on_epoch : bool, default True
        Step at the end of every epoch (True) or after every batch (False).
        ``ReduceLROnPlateau`` always steps on validated epochs and ``OneCycleLR`` per
        batch (their built-in callbacks' behaviour).
    id : str, optional
        The callback id (default: the class name in snake case, e.g. ``"cyclic_lr"``,
        or ``"lr_custom"`` for a callable without a usable name).

    Returns
    -------
    TorchCallback
        Parameters are the arguments of ``cls`` except ``optimizer`` (untyped; those
        without a default are required).

    Examples
    --------
    >>> import torch
    >>> from torchweave.callbacks.lr_scheduler import as_lr_scheduler
    >>> cb = as_lr_scheduler(torch.optim.lr_scheduler.CyclicLR, step_on_epoch=False)
    >>> cb.id, cb.param_set.ids()[:3]
    ('cyclic_lr', ['base_lr', 'max_lr', 'step_size_up'])
    """
    if not callable(cls):
        raise InvalidTypeError(
            f"as_lr_scheduler needs a scheduler class. Got {format_value(cls, 60)} instead."
        )
    if id is None:
        name = getattr(cls, "__name__", "")
        id = snake_case(name) if isinstance(name, str) and name.isidentifier() else "lr_custom"
    callback_class: type[CallbackSetLRScheduler] = CallbackSetLRScheduler
    if isinstance(cls, type) and issubclass(cls, lr_scheduler.ReduceLROnPlateau):
        callback_class = CallbackSetLRSchedulerReduceOnPlateau
    elif isinstance(cls, type) and issubclass(cls, lr_scheduler.OneCycleLR):
        callback_class = CallbackSetLRSchedulerOneCycle
    return TorchCallbackLRScheduler(
        cls, step_on_epoch=step_on_epoch, id=id, label=_name_of(cls), callback_class=callback_class
    )


# --- the built-in schedulers and their ParamSets --------------------------------------------
_POSITIVE = "a positive number or a list of them (one per param group)"
_NONNEG = "a number >= 0 or a list of them (one per param group)"
_UNIT = "a number in [0, 1] or a list of them (one per param group)"
_LAMBDA = "a function of the epoch or a list of them (one per param group)"


class _NumberOrList:
    """Custom ParamSet check: a finite number (or a non-empty list of them) in a range.

    A class rather than a closure, so that ParamSets holding it pickle.
    """

    _RANGES: dict[str, tuple[float, float, bool, str]] = {
        "positive": (0.0, math.inf, True, _POSITIVE),
        "nonneg": (0.0, math.inf, False, _NONNEG),
        "unit": (0.0, 1.0, False, _UNIT),
    }

    def __init__(self, kind: str) -> None:
        self.kind = kind

    @property
    def expected(self) -> str:
        return self._RANGES[self.kind][3]

    def __call__(self, x: Any) -> str | None:
        lower, upper, lower_open, expected = self._RANGES[self.kind]
        items = list(x) if isinstance(x, list | tuple) else [x]
        good = bool(items) and all(
            isinstance(v, numbers.Real)
            and not isinstance(v, bool)
            and math.isfinite(float(v))
            and (float(v) > lower if lower_open else float(v) >= lower)
            and float(v) <= upper
            for v in items
        )
        return None if good else expected


def _check_lambda(x: Any) -> str | None:
    items = list(x) if isinstance(x, list | tuple) else [x]
    return None if items and all(callable(f) for f in items) else _LAMBDA


def _last_epoch() -> Param:
    return p_int(
        -1,
        default=-1,
        tags="train",
        description="index of the last epoch (-1: start the schedule from the beginning)",
    )


def _lambda() -> Param:
    return p_uty(
        custom_check=_check_lambda,
        expected=_LAMBDA,
        tags={"train", "required"},
        description="function of the epoch giving the factor (or a list, one per group)",
    )


def _numbers(kind: str, default: Any, description: str) -> Param:
    check = _NumberOrList(kind)
    return p_uty(
        custom_check=check,
        expected=check.expected,
        default=default,
        tags="train",
        description=description,
    )


def _spec_step() -> ParamSet:
    return ParamSet(
        step_size=p_int(1, tags={"train", "required"}, description="epochs between decays"),
        gamma=p_dbl(0, default=0.1, tags="train", description="factor of each decay"),
        last_epoch=_last_epoch(),
    )


def _spec_cosine() -> ParamSet:
    return ParamSet(
        T_max=p_int(1, tags={"train", "required"}, description="epochs of half a cosine period"),
        eta_min=p_dbl(0, default=0.0, tags="train", description="minimum learning rate"),
        last_epoch=_last_epoch(),
    )


def _spec_lambda() -> ParamSet:
    return ParamSet(lr_lambda=_lambda(), last_epoch=_last_epoch())


def _spec_exponential() -> ParamSet:
    return ParamSet(
        gamma=p_dbl(0, tags={"train", "required"}, description="factor of each epoch's decay"),
        last_epoch=_last_epoch(),
    )


def _spec_one_cycle() -> ParamSet:
    ignored = "ignored: set from the run (epochs x batches per epoch)"
    return ParamSet(
        max_lr=p_uty(
            custom_check=_NumberOrList("positive"),
            expected=_POSITIVE,
            tags={"train", "required"},
            description="upper learning rate of the cycle",
        ),
        total_steps=p_int(1, default=None, special_vals=[None], tags="train", description=ignored),
        epochs=p_int(1, default=None, special_vals=[None], tags="train", description=ignored),
        steps_per_epoch=p_int(
            1, default=None, special_vals=[None], tags="train", description=ignored
        ),
        pct_start=p_dbl(0, 1, default=0.3, tags="train", description="share of rising steps"),
        anneal_strategy=p_fct(["cos", "linear"], default="cos", tags="train"),
        cycle_momentum=p_lgl(default=True, tags="train", description="cycle the momentum too"),
        base_momentum=_numbers("unit", 0.85, "lower momentum"),
        max_momentum=_numbers("unit", 0.95, "upper momentum"),
        div_factor=p_dbl(
            0, lower_open=True, default=25.0, tags="train", description="max_lr / initial lr"
        ),
        final_div_factor=p_dbl(
            0, lower_open=True, default=1e4, tags="train", description="initial lr / minimum lr"
        ),
        three_phase=p_lgl(default=False, tags="train", description="use three phases"),
        last_epoch=_last_epoch(),
    )


def _spec_plateau() -> ParamSet:
    return ParamSet(
        mode=p_fct(["min", "max"], default="min", tags="train", description="minimise or maximise"),
        factor=p_dbl(
            0, 1, upper_open=True, default=0.1, tags="train", description="factor of each cut"
        ),
        patience=p_int(0, default=10, tags="train", description="evaluations without improvement"),
        threshold=p_dbl(0, default=1e-4, tags="train", description="smallest improvement"),
        threshold_mode=p_fct(["rel", "abs"], default="rel", tags="train"),
        cooldown=p_int(0, default=0, tags="train", description="evaluations to wait after a cut"),
        min_lr=_numbers("nonneg", 0, "lower bound of the learning rate"),
        eps=p_dbl(0, default=1e-8, tags="train", description="smallest change of the lr"),
    )


#: key -> (scheduler class, label, ParamSet factory, step_on_epoch, callback class)
_SPECS: dict[
    str,
    tuple[type[Any], str, Callable[[], ParamSet], bool, type[CallbackSetLRScheduler]],
] = {
    "lr_step": (
        lr_scheduler.StepLR,
        "Step learning rate decay",
        _spec_step,
        True,
        CallbackSetLRScheduler,
    ),
    "lr_cosine_annealing": (
        lr_scheduler.CosineAnnealingLR,
        "Cosine annealing learning rate",
        _spec_cosine,
        True,
        CallbackSetLRScheduler,
    ),
    "lr_lambda": (
        lr_scheduler.LambdaLR,
        "Learning rate as a function of the epoch",
        _spec_lambda,
        True,
        CallbackSetLRScheduler,
    ),
    "lr_multiplicative": (
        lr_scheduler.MultiplicativeLR,
        "Multiplicative learning rate",
        _spec_lambda,
        True,
        CallbackSetLRScheduler,
    ),
    "lr_exponential": (
        lr_scheduler.ExponentialLR,
        "Exponential learning rate decay",
        _spec_exponential,
        True,
        CallbackSetLRScheduler,
    ),
    "lr_one_cycle": (
        lr_scheduler.OneCycleLR,
        "One cycle learning rate",
        _spec_one_cycle,
        False,
        CallbackSetLRSchedulerOneCycle,
    ),
    "lr_reduce_on_plateau": (
        lr_scheduler.ReduceLROnPlateau,
        "Reduce learning rate on plateau",
        _spec_plateau,
        True,
        CallbackSetLRSchedulerReduceOnPlateau,
    ),
}


def _register(key: str) -> None:
    scheduler_class, label, spec, step_on_epoch, callback_class = _SPECS[key]

    def constructor() -> TorchCallback:
        return TorchCallbackLRScheduler(
            scheduler_class,
            step_on_epoch=step_on_epoch,
            id=key,
            param_set=spec(),
            label=label,
            callback_class=callback_class,
        )

    constructor.__name__ = callback_class.__name__
    constructor.__doc__ = f"{label} (torch.optim.lr_scheduler.{scheduler_class.__name__})."
    callbacks.register(key, constructor, description=label)


for _key in _SPECS:
    _register(_key)
