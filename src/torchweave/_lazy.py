"""Lazy public names: a package's names load their defining module on first use.

The torch subpackages (``network``, ``training``, ``callbacks``, ``lazy``) each keep one
torch-free list of their public names, ``<package>/_names.py``, mapping each name to the
module that defines it. The package's ``__init__`` and ``import torchweave`` both read
it, so importing either does not import torch; a name's module is imported when the
name is first used.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["LazyPackage", "import_modules", "lazy_exports"]


class LazyPackage(types.ModuleType):
    """A package whose public names load lazily (set by :func:`lazy_exports`).

    A public name may equal the name of the submodule defining it (the function
    ``materialize`` of :mod:`torchweave.lazy.materialize`). Importing the submodule
    binds it to the package, which would hide the name; here the name wins.
    """

    _lazy_names: Mapping[str, str]

    def __setattr__(self, key: str, value: Any) -> None:
        names = self.__dict__.get("_lazy_names", {})
        if (
            isinstance(value, types.ModuleType)
            and value.__name__ == f"{self.__name__}.{key}"
            and names.get(key) == value.__name__
        ):
            value = getattr(value, key)
        super().__setattr__(key, value)


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package`` for lazy ``names``.

    Parameters
    ----------
    package : str
        The module that serves the names (its ``__name__``).
    names : mapping of str to str
        Public name to the module defining it.

    Returns
    -------
    tuple of callables
        ``__getattr__(name)`` imports the defining module, caches the value in
        ``package`` and returns it (``AttributeError`` for other names);
        ``__dir__()`` lists the module's attributes and the lazy names. The package
        becomes a :class:`LazyPackage`, so that a name equal to a submodule's name is
        not hidden by the submodule.
    """
    module_object = sys.modules[package]
    module_object.__class__ = LazyPackage
    module_object.__dict__["_lazy_names"] = names

    def module_getattr(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def module_dir() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return module_getattr, module_dir


def import_modules(modules: Iterable[str]) -> None:
    """Import each module once, in sorted order (importing an operator's module registers it)."""
    for module in sorted(set(modules)):
        importlib.import_module(module)
