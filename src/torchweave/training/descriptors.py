"""Descriptors of what training builds: TorchLoss and TorchOptimizer (and their base).

The callback descriptor, ``TorchCallback``, lives with the callback machinery in
:mod:`torchweave.callbacks.descriptor`.

A descriptor holds a torch class (or a factory), a ParamSet mirroring its constructor,
an id and a label. ``generate()`` builds the object with the values set, when
training starts. Losses also say which task types they support.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Self

import torch
from torch import nn

from torchweave.data.task import Task, TaskClassif
from torchweave.errors import InvalidParameterError, InvalidTypeError, TaskError
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet
from torchweave.utils.text import format_value, quote_list

__all__ = ["TorchDescriptor", "TorchLoss", "TorchOptimizer"]

_UPPER_AFTER_LOWER = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_UPPER_BEFORE_WORD = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """``"CrossEntropyLoss"`` -> ``"cross_entropy_loss"``, ``"MSELoss"`` -> ``"mse_loss"``."""
    name = _UPPER_BEFORE_WORD.sub("_", _UPPER_AFTER_LOWER.sub("_", name))
    return name.lower()


def _name_of(x: Any) -> str:
    return str(getattr(x, "__name__", type(x).__name__))


def infer_param_set(
    fn: Callable[..., Any], exclude: Iterable[str] = (), owner: str = "ParamSet"
) -> ParamSet:
    """One untyped parameter per keyword argument of ``fn`` (tag ``"train"``).

    Arguments with a default document it; those without are tagged ``"required"``.
    ``*args``, ``**kwargs``, positional-only arguments and ``exclude`` are skipped.

    Examples
    --------
    >>> def f(a, b=2, *, c=None): ...
    >>> ps = infer_param_set(f)
    >>> ps.ids(), ps.default, sorted(ps.tags["a"])
    (['a', 'b', 'c'], {'b': 2, 'c': None}, ['required', 'train'])
    """
    excluded = set(exclude)
    ps = ParamSet(owner=owner)
    for name, par in inspect.signature(fn).parameters.items():
        if name in excluded or par.kind in (
            par.VAR_POSITIONAL,
            par.VAR_KEYWORD,
            par.POSITIONAL_ONLY,
        ):
            continue
        if par.default is par.empty:
            ps.add(name, p_uty(tags={"train", "required"}))
        else:
            ps.add(name, p_uty(default=par.default, tags="train"))
    return ps


class TorchDescriptor:
    """What to build when training starts: a torch class with its parameters.

    Parameters
    ----------
    cls : callable
        A class or factory; ``generate()`` calls it with the parameter values.
    id : str, optional
        Identifier (default: the class name in snake case).
    param_set : ParamSet, optional
        The parameters (default: inferred from ``inspect.signature(cls)``, one untyped
        parameter per keyword argument, tagged ``"train"``).
    label : str, optional
        Human-readable name (default: the id).
    omitted : sequence of str, optional
        Arguments of ``cls`` deliberately not offered as parameters (performance
        internals, deprecated arguments); the inferred ParamSet skips them.

    Attributes
    ----------
    kind : str
        ``"loss"``, ``"optimizer"`` or ``"callback"`` (used in messages).
    """

    kind: ClassVar[str] = "descriptor"
    #: Argument names that ``cls`` receives from ``generate`` itself, never from parameters.
    _reserved: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        cls: Callable[..., Any],
        id: str | None = None,
        param_set: ParamSet | None = None,
        label: str | None = None,
        *,
        omitted: Sequence[str] = (),
    ) -> None:
        if not callable(cls):
            raise InvalidTypeError(
                f"A {type(self).__name__} needs a class or a function to call. "
                f"Got {type(cls).__name__} ({format_value(cls, 40)}) instead."
            )
        self.cls = cls
        self.omitted: tuple[str, ...] = tuple(omitted)
        if param_set is None:
            param_set = infer_param_set(cls, exclude=(*self._reserved, *self.omitted))
        elif not isinstance(param_set, ParamSet):
            raise InvalidTypeError(
                f"The param_set of a {type(self).__name__} must be a ParamSet. "
                f"Got {type(param_set).__name__} instead."
            )
        self.param_set = param_set
        self.id = id if id is not None else self._default_id(cls)
        self.label = label if label is not None else self.id

    @classmethod
    def _default_id(cls, x: Callable[..., Any]) -> str:
        return snake_case(_name_of(x))

    @property
    def id(self) -> str:
        """The identifier; setting it also renames the ParamSet's owner in messages."""
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise InvalidParameterError(
                f"The id of a {type(self).__name__} must be a non-empty string. "
                f"Got {format_value(value)} instead."
            )
        self._id = value
        self.param_set.owner = f"{self.kind} '{value}'"

    def _values(self) -> dict[str, Any]:
        return self.param_set.get_values(check_required=True)

    def generate(self, **extra: Any) -> Any:
        """Build the object: ``cls(**param values, **extra)``.

        Raises
        ------
        InvalidParameterError
            If a required parameter is not set.
        """
        return self.cls(**self._values(), **extra)

    def clone(self) -> Self:
        """A deep copy with an independent ParamSet."""
        return copy.deepcopy(self)

    def _repr_lines(self) -> list[str]:
        values = self.param_set.values
        shown = ", ".join(f"{k}={format_value(v, 40)}" for k, v in values.items()) or "-"
        return [f"* Generator: {_name_of(self.cls)}", f"* Parameters: {shown}"]

    def __repr__(self) -> str:
        head = f"<{type(self).__name__}:{self.id}> {self.label}"
        return "\n".join([head, *self._repr_lines()])


# --- losses ------------------------------------------------------------------------------
_TASK_PROPERTIES = ("twoclass", "multiclass")


def as_float_tensor(value: Any) -> torch.Tensor:
    """A sequence of numbers (or a tensor) as a float32 tensor."""
    if isinstance(value, torch.Tensor):
        return value.to(torch.float32)
    return torch.tensor(list(value), dtype=torch.float32)


class TorchLoss(TorchDescriptor):
    """A loss function to build for a task.

    Parameters
    ----------
    cls : callable
        A ``torch.nn.Module`` class or a factory returning a module. If it takes an
        argument ``task``, ``generate`` passes the training task.
    task_types : sequence of str, default ("classif", "regr")
        Task types the loss works for.
    id, param_set, label, omitted
        See :class:`TorchDescriptor` (``task`` is never a parameter).
    properties : sequence of str, default ("twoclass", "multiclass")
        For classification: whether binary (``"twoclass"``) and multiclass tasks are
        supported.
    tensor_params : sequence of str, optional
        Parameters given as sequences of numbers that the torch class wants as
        tensors (class weights); ``generate`` converts them.

    Examples
    --------
    >>> import torchweave as tw
    >>> from torch import nn
    >>> from torchweave.training.descriptors import TorchLoss
    >>> loss = TorchLoss(nn.L1Loss, task_types=["regr"], omitted=["size_average", "reduce"])
    >>> loss.id, loss.param_set.ids()
    ('l1_loss', ['reduction'])
    >>> loss.generate(tw.tsk("mtcars"))
    L1Loss()
    """

    kind = "loss"
    _reserved = ("task",)

    def __init__(
        self,
        cls: Callable[..., Any],
        task_types: Sequence[str] = ("classif", "regr"),
        id: str | None = None,
        param_set: ParamSet | None = None,
        label: str | None = None,
        *,
        omitted: Sequence[str] = (),
        properties: Sequence[str] = _TASK_PROPERTIES,
        tensor_params: Sequence[str] = (),
    ) -> None:
        super().__init__(cls, id=id, param_set=param_set, label=label, omitted=omitted)
        if isinstance(task_types, str):
            task_types = [task_types]
        self.task_types: tuple[str, ...] = tuple(task_types)
        unknown = [p for p in properties if p not in _TASK_PROPERTIES]
        if unknown:
            raise InvalidParameterError(
                f"The properties of loss '{self.id}' must be among "
                f"{quote_list(_TASK_PROPERTIES)}. Got {quote_list(unknown)} instead."
            )
        self.properties: tuple[str, ...] = tuple(properties)
        self.tensor_params: tuple[str, ...] = tuple(tensor_params)
        try:
            self._takes_task = "task" in inspect.signature(cls).parameters
        except (TypeError, ValueError):  # builtins without a signature
            self._takes_task = False

    def check_task(self, task: Task) -> None:
        """Raise a TaskError if the loss does not work for ``task``."""
        if task.task_type not in self.task_types:
            raise TaskError(
                f"The loss '{self.id}' is for {quote_list(self.task_types)} tasks, "
                f"not {task.task_type} tasks (task '{task.id}')."
            )
        if isinstance(task, TaskClassif):
            k = len(task.class_names)
            needed = "twoclass" if k == 2 else "multiclass"
            if needed not in self.properties:
                kind = "binary" if k == 2 else "multiclass"
                supported = " or ".join(
                    "binary" if p == "twoclass" else "multiclass" for p in self.properties
                )
                raise TaskError(
                    f"The loss '{self.id}' is for {supported} tasks; task '{task.id}' is a "
                    f"{kind} task with {k} classes."
                )

    def generate(self, task: Task | None = None, **extra: Any) -> nn.Module:
        """Build the loss module, for ``task`` (checked against the task types).

        Raises
        ------
        TaskError
            If the loss does not support the task, or needs a task and got none.
        InvalidParameterError
            If a required parameter is not set.
        """
        if task is not None:
            self.check_task(task)
        values = self._values()
        for name in self.tensor_params:
            if values.get(name) is not None:
                values[name] = as_float_tensor(values[name])
        if self._takes_task:
            if task is None:
                raise TaskError(f"The loss '{self.id}' is built for a task; pass generate(task).")
            extra = {"task": task, **extra}
        return self.cls(**values, **extra)

    def _repr_lines(self) -> list[str]:
        return [*super()._repr_lines(), f"* Task Types: {', '.join(self.task_types)}"]


class ModuleCopier:
    """A loss factory that returns a deep copy of one ``nn.Module`` instance."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.__name__ = type(module).__name__

    def __call__(self) -> nn.Module:
        """A fresh deep copy of the module."""
        return copy.deepcopy(self.module)


# --- optimizers --------------------------------------------------------------------------
def check_param_groups(value: Any) -> str | None:
    """Custom check of ``param_groups``: a function of the named parameters."""
    if callable(value):
        return None
    return "a function of the named parameters returning a list of param-group dicts"


def param_groups_param() -> Any:
    """The ``param_groups`` parameter every optimizer has."""
    return p_uty(
        custom_check=check_param_groups,
        expected="a function of the named parameters returning a list of param-group dicts",
        default=None,
        special_vals=(None,),
        tags="train",
        description="f(named_parameters) -> list of dicts with 'params' and group options",
    )


class TorchOptimizer(TorchDescriptor):
    """An optimizer to build for a network's parameters.

    Every optimizer has the parameter ``param_groups`` (default None): a function
    taking the list of ``(name, parameter)`` pairs and returning torch param groups
    (dicts with ``"params"`` and per-group options that override the optimizer's).

    Parameters
    ----------
    cls : callable
        A ``torch.optim.Optimizer`` class (or a factory taking the parameters first).
    id, param_set, label, omitted
        See :class:`TorchDescriptor` (the id defaults to the lower-case class name;
        ``params`` is never a parameter; ``param_groups`` is added when missing).

    Examples
    --------
    >>> import torch
    >>> from torchweave.training.descriptors import TorchOptimizer
    >>> opt = TorchOptimizer(torch.optim.SGD, omitted=["foreach", "differentiable", "fused"])
    >>> opt.id
    'sgd'
    >>> _ = opt.param_set.set_values(lr=0.5)
    >>> opt.generate(torch.nn.Linear(2, 1).named_parameters()).param_groups[0]["lr"]
    0.5
    """

    kind = "optimizer"
    _reserved = ("params",)

    def __init__(
        self,
        cls: Callable[..., Any],
        id: str | None = None,
        param_set: ParamSet | None = None,
        label: str | None = None,
        *,
        omitted: Sequence[str] = (),
    ) -> None:
        super().__init__(cls, id=id, param_set=param_set, label=label, omitted=omitted)
        if "params" in self.param_set:
            raise InvalidParameterError(
                f"The parameter name 'params' of optimizer '{self.id}' is reserved: "
                "generate() passes the network's parameters."
            )
        if "param_groups" not in self.param_set:
            self.param_set.add("param_groups", param_groups_param())

    @classmethod
    def _default_id(cls, x: Callable[..., Any]) -> str:
        return _name_of(x).lower()

    def generate(  # type: ignore[override]
        self, params: Iterable[Any], **extra: Any
    ) -> torch.optim.Optimizer:
        """Build the optimizer for ``params``.

        Parameters
        ----------
        params : iterable
            The network's ``named_parameters()`` (pairs of name and tensor), or plain
            tensors.

        Raises
        ------
        InvalidParameterError
            If a required parameter is not set, or ``param_groups`` returns no list
            of dicts with ``"params"``.
        """
        values = self._values()
        groups_fn = values.pop("param_groups", None)
        named = list(params)
        if groups_fn is not None:
            groups = groups_fn(named)
            problem = _param_groups_problem(groups)
            if problem is not None:
                raise InvalidParameterError(
                    f"The 'param_groups' function of optimizer '{self.id}' must return "
                    f"{problem}. Got {format_value(groups)} instead."
                )
            arg: Any = groups
        else:
            arg = [p[1] if isinstance(p, tuple) else p for p in named]
        return self.cls(arg, **values, **extra)


def _param_groups_problem(groups: Any) -> str | None:
    ok = (
        isinstance(groups, list | tuple)
        and len(groups) > 0
        and all(isinstance(g, dict) and "params" in g for g in groups)
    )
    return None if ok else "a non-empty list of dicts, each with the key 'params'"
