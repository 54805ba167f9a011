"""Registries: one dictionary of constructors per kind of object.

``tw.registry.tasks``, ``learners``, ``measures`` and ``resamplings`` live here; the
pipeline and torch layers add ``pipeops``, ``losses``, ``optimizers`` and
``callbacks``. Each maps a key to a constructor, lists its keys, prints a table and
answers an unknown key with a "did you mean".
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import pandas as pd

from torchweave.callbacks._names import NAMES as _CALLBACK_NAMES
from torchweave.errors import UnknownKeyError
from torchweave.utils.text import did_you_mean

__all__ = [
    "Registry",
    "callbacks",
    "learners",
    "losses",
    "measures",
    "optimizers",
    "pipeops",
    "resamplings",
    "tasks",
    "terminators",
    "tuners",
]

T = TypeVar("T")


def _first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


class Registry(Generic[T]):
    """A named dictionary of constructors.

    Parameters
    ----------
    kind : str
        What the registry holds, for messages (``"learner"``, ``"measure"``, ...).
    name : str, optional
        Its attribute name in ``tw.registry`` (default: ``kind + "s"``).
    """

    def __init__(self, kind: str, name: str | None = None) -> None:
        self.kind = kind
        self.name = name or f"{kind}s"
        self._items: dict[str, tuple[Callable[..., T], str]] = {}
        self._lazy_modules: list[str] = []

    def add_lazy_module(self, module: str) -> None:
        """Import ``module`` (which registers more entries) the first time it is needed.

        This keeps ``import torchweave`` free of torch: the torch operators register
        themselves when a key, the key list or the table is first asked for.
        """
        self._lazy_modules.append(module)

    def _load(self) -> None:
        while self._lazy_modules:
            importlib.import_module(self._lazy_modules.pop(0))

    def register(
        self,
        key: str,
        constructor: Callable[..., T] | None = None,
        description: str | None = None,
    ) -> Any:
        """Register ``constructor`` under ``key``; usable as a decorator.

        Parameters
        ----------
        key : str
            The key (unique within the registry).
        constructor : callable, optional
            A class or function returning a new object. Omit it to use the call as a
            class decorator.
        description : str, optional
            One line for the table (default: the first line of the docstring).
        """
        if constructor is None:

            def decorate(obj: Callable[..., T]) -> Callable[..., T]:
                self.register(key, obj, description)
                return obj

            return decorate
        self._items[key] = (constructor, description or _first_line(constructor))
        return constructor

    def get(self, key: str, **kwargs: Any) -> T:
        """Construct the object registered under ``key`` with ``kwargs``.

        Raises
        ------
        UnknownKeyError
            If the key is unknown (a ``KeyError``), with the closest keys suggested.
        """
        return self.constructor(key)(**kwargs)

    def constructor(self, key: str) -> Callable[..., T]:
        """The constructor registered under ``key``."""
        if not isinstance(key, str):
            raise UnknownKeyError(
                f"A {self.kind} key must be a string. Got {type(key).__name__} instead."
            )
        if key not in self._items:
            self._load()
        if key not in self._items:
            raise UnknownKeyError(
                f"'{key}' is not a registered {self.kind}.{did_you_mean(key, self._items)} "
                f"See tw.registry.{self.name}.keys() for all keys."
            )
        return self._items[key][0]

    def keys(self) -> list[str]:
        """All keys, sorted."""
        self._load()
        return sorted(self._items)

    def table(self) -> pd.DataFrame:
        """One row per entry: ``key``, ``class`` and ``description``."""
        self._load()
        rows = [
            {
                "key": key,
                "class": getattr(ctor, "__name__", type(ctor).__name__),
                "description": desc,
            }
            for key, (ctor, desc) in sorted(self._items.items())
        ]
        return pd.DataFrame(rows, columns=["key", "class", "description"])

    def __contains__(self, key: object) -> bool:
        if key not in self._items:
            self._load()
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        self._load()
        return len(self._items)

    def __repr__(self) -> str:
        return f"<Registry of {len(self)} {self.name}>\n{self.table().to_string(index=False)}"


# The torch layers register their entries when a registry first needs them: each lazy
# module below registers on import (so that ``import torchweave`` never imports torch).
tasks: Registry[Any] = Registry("task")
tasks.add_lazy_module("torchweave.lazy.tasks")
learners: Registry[Any] = Registry("learner")
learners.add_lazy_module("torchweave.training.learner_torch_model")
learners.add_lazy_module("torchweave.prebuilt.registered")
measures: Registry[Any] = Registry("measure")
measures.add_lazy_module("torchweave.measures")
resamplings: Registry[Any] = Registry("resampling")
pipeops: Registry[Any] = Registry("pipeop")
pipeops.add_lazy_module("torchweave.network.ops")
pipeops.add_lazy_module("torchweave.network.module_graph")
pipeops.add_lazy_module("torchweave.training.ops")
pipeops.add_lazy_module("torchweave.training.pipeop_torch_model")
pipeops.add_lazy_module("torchweave.lazy.ops")
pipeops.add_lazy_module("torchweave.lazy.preproc")
losses: Registry[Any] = Registry("loss", "losses")
losses.add_lazy_module("torchweave.training.losses")
optimizers: Registry[Any] = Registry("optimizer")
optimizers.add_lazy_module("torchweave.training.optimizers")
callbacks: Registry[Any] = Registry("callback")
# Every module that defines a public callback name registers its keys on import: a new
# built-in callback is its file plus its names in callbacks/_names.py (torch-free).
for _module in sorted(set(_CALLBACK_NAMES.values())):
    callbacks.add_lazy_module(_module)
# Tuning (torch-free; Optuna is imported only when tnr("optuna") is built).
tuners: Registry[Any] = Registry("tuner")
tuners.add_lazy_module("torchweave.tuning")
terminators: Registry[Any] = Registry("terminator")
terminators.add_lazy_module("torchweave.tuning")
