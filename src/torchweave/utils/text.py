"""Helpers that build the sentences of error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["did_you_mean", "format_value", "quote_list"]


def did_you_mean(key: str, candidates: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest candidate, or ``""``.

    Parameters
    ----------
    key : str
        The unknown key.
    candidates : iterable of str
        The known keys.

    Returns
    -------
    str
        A sentence starting with a space, or the empty string when nothing is close.
    """
    matches = difflib.get_close_matches(str(key), [str(c) for c in candidates], n=3, cutoff=0.6)
    if not matches:
        return ""
    if len(matches) == 1:
        return f" Did you mean '{matches[0]}'?"
    return " Did you mean one of " + quote_list(matches) + "?"


def quote_list(items: Iterable[Any], limit: int = 20) -> str:
    """Quote and join items: ``'a', 'b', 'c'`` (shortened after ``limit``)."""
    items = list(items)
    shown = ", ".join(repr(x) if not isinstance(x, str) else f"'{x}'" for x in items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items) - limit} more)"
    return shown


def format_value(value: Any, limit: int = 80) -> str:
    """A short ``repr`` of a value for an error message."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
