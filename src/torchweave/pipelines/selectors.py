"""Selectors: pick feature columns of a task by type, name or pattern.

A selector is a small picklable callable ``selector(task) -> list[str]`` that
preprocessing operators take as ``affect_columns`` (and ``po("select")`` as
``selector``). They combine with ``selector_invert`` and ``selector_union``.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from typing import Any

from torchweave.data.feature_types import FEATURE_TYPES
from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, TaskError
from torchweave.utils.text import quote_list

__all__ = [
    "Selector",
    "selector_all",
    "selector_grep",
    "selector_intersect",
    "selector_invert",
    "selector_name",
    "selector_none",
    "selector_type",
    "selector_union",
]


class Selector(abc.ABC):
    """A function of a task returning the names of some of its features."""

    def __call__(self, task: Task) -> list[str]:
        """The selected features, in the task's feature order."""
        chosen = set(self._select(task))
        return [f for f in task.feature_names if f in chosen]

    @abc.abstractmethod
    def _select(self, task: Task) -> Iterable[str]:
        """The selected feature names (any order)."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))


class _All(Selector):
    def _select(self, task: Task) -> Iterable[str]:
        return task.feature_names

    def __repr__(self) -> str:
        return "selector_all()"


class _None(Selector):
    def _select(self, task: Task) -> Iterable[str]:
        return []

    def __repr__(self) -> str:
        return "selector_none()"


class _Type(Selector):
    def __init__(self, types: list[str]) -> None:
        unknown = [t for t in types if t not in FEATURE_TYPES]
        if unknown:
            raise InvalidParameterError(
                f"selector_type: unknown feature type(s) {quote_list(unknown)}. "
                f"Feature types are {quote_list(FEATURE_TYPES)}."
            )
        self.types = types

    def _select(self, task: Task) -> Iterable[str]:
        return [f for f, t in task.feature_types.items() if t in self.types]

    def __repr__(self) -> str:
        return f"selector_type({self.types!r})"


class _Name(Selector):
    def __init__(self, names: list[str], assert_present: bool) -> None:
        self.names = names
        self.assert_present = assert_present

    def _select(self, task: Task) -> Iterable[str]:
        if self.assert_present:
            missing = [n for n in self.names if n not in task.feature_names]
            if missing:
                raise TaskError(
                    f"selector_name: task '{task.id}' has no feature(s) {quote_list(missing)}."
                )
        return self.names

    def __repr__(self) -> str:
        return f"selector_name({self.names!r})"


class _Grep(Selector):
    def __init__(self, pattern: str, ignore_case: bool) -> None:
        self.pattern = pattern
        self.ignore_case = ignore_case
        re.compile(pattern)

    def _select(self, task: Task) -> Iterable[str]:
        regex = re.compile(self.pattern, re.IGNORECASE if self.ignore_case else 0)
        return [f for f in task.feature_names if regex.search(f)]

    def __repr__(self) -> str:
        return f"selector_grep({self.pattern!r})"


class _Invert(Selector):
    def __init__(self, selector: Selector) -> None:
        self.selector = selector

    def _select(self, task: Task) -> Iterable[str]:
        chosen = set(self.selector(task))
        return [f for f in task.feature_names if f not in chosen]

    def __repr__(self) -> str:
        return f"selector_invert({self.selector!r})"


class _Union(Selector):
    def __init__(self, selectors: list[Selector], intersect: bool) -> None:
        self.selectors = selectors
        self.intersect = intersect

    def _select(self, task: Task) -> Iterable[str]:
        sets = [set(s(task)) for s in self.selectors]
        if not sets:
            return []
        return set.intersection(*sets) if self.intersect else set.union(*sets)

    def __repr__(self) -> str:
        name = "selector_intersect" if self.intersect else "selector_union"
        return f"{name}({', '.join(repr(s) for s in self.selectors)})"


def _check_selector(x: Any, who: str) -> Selector:
    if not isinstance(x, Selector):
        raise InvalidParameterError(f"{who} takes selectors. Got {type(x).__name__} instead.")
    return x


def selector_all() -> Selector:
    """Select every feature."""
    return _All()


def selector_none() -> Selector:
    """Select no feature."""
    return _None()


def selector_type(types: str | Iterable[str]) -> Selector:
    """Select features of the given types (``"numeric"``, ``"factor"``, ...)."""
    return _Type([types] if isinstance(types, str) else list(types))


def selector_name(names: str | Iterable[str], assert_present: bool = False) -> Selector:
    """Select features by name (with ``assert_present``, a missing name is an error)."""
    return _Name([names] if isinstance(names, str) else list(names), assert_present)


def selector_grep(pattern: str, ignore_case: bool = False) -> Selector:
    """Select features whose name matches a regular expression (``re.search``)."""
    return _Grep(pattern, ignore_case)


def selector_invert(selector: Selector) -> Selector:
    """Select the features that ``selector`` does not."""
    return _Invert(_check_selector(selector, "selector_invert"))


def selector_union(*selectors: Selector) -> Selector:
    """Select the features that any of the selectors selects."""
    return _Union([_check_selector(s, "selector_union") for s in selectors], intersect=False)


def selector_intersect(*selectors: Selector) -> Selector:
    """Select the features that all of the selectors select."""
    return _Union([_check_selector(s, "selector_intersect") for s in selectors], intersect=True)
