"""Parameter checks shared by the prebuilt learners."""

from __future__ import annotations

from typing import Any

from torch import nn

from torchweave.network.shapes import as_shape

__all__ = ["check_dict", "check_int_list", "check_module_factory", "check_shape", "is_int"]


def is_int(x: Any) -> bool:
    """Whether ``x`` is an int (not a bool)."""
    return isinstance(x, int) and not isinstance(x, bool)


def check_int_list(x: Any) -> str | None:
    """Accept an int >= 1 or a list of them (possibly empty)."""
    items = x if isinstance(x, list | tuple) else [x]
    if all(is_int(v) and v >= 1 for v in items):
        return None
    return "an int >= 1 or a list of ints >= 1"


def check_module_factory(x: Any) -> str | None:
    """Accept a class (or callable) that builds a ``torch.nn.Module``."""
    if callable(x) and not isinstance(x, nn.Module):
        return None
    return "a torch.nn.Module class (or a callable that builds a module)"


def check_shape(x: Any) -> str | None:
    """Accept None or a shape whose batch dimension is None."""
    if x is None:
        return None
    try:
        shape = as_shape(x)
    except Exception as exc:
        return str(exc)
    return None if shape[0] is None else "a shape whose first (batch) dimension is None"


def check_dict(x: Any) -> str | None:
    """Accept a dict."""
    return None if isinstance(x, dict) else "a dict"
