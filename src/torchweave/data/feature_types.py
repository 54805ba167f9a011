"""Feature types: how a pandas dtype maps to an mlr3 feature type.

The mapping is an extension point. A higher layer (lazy tensors) registers its own
pandas extension dtype with :func:`register_feature_type`, so this module never
needs to know about torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from pandas.api import types as ptypes

__all__ = [
    "FEATURE_TYPES",
    "feature_type_of",
    "register_feature_type",
]

#: Every feature type a task can report, in mlr3's vocabulary.
FEATURE_TYPES: list[str] = [
    "numeric",
    "integer",
    "factor",
    "ordered",
    "logical",
    "character",
]

# Extension detectors, tried before the built-in rules: (type name, predicate on a dtype).
_EXTENSIONS: list[tuple[str, Callable[[object], bool]]] = []


def register_feature_type(name: str, predicate: Callable[[object], bool]) -> None:
    """Teach tasks a new feature type, recognised by a predicate on the column dtype.

    Parameters
    ----------
    name : str
        The feature type (e.g. ``"lazy_tensor"``).
    predicate : callable
        Called with a column's dtype; returns True for columns of this type.
    """
    global _EXTENSIONS
    _EXTENSIONS = [(n, p) for n, p in _EXTENSIONS if n != name] + [(name, predicate)]
    if name not in FEATURE_TYPES:
        FEATURE_TYPES.append(name)


def feature_type_of(dtype: Any) -> str | None:
    """The feature type of a column dtype, or ``None`` if tasks do not support it.

    ``float`` is ``"numeric"``, ``int`` (also nullable ``Int64``) is ``"integer"``,
    an unordered category is ``"factor"``, an ordered one ``"ordered"``, ``bool`` is
    ``"logical"`` and string or object columns are ``"character"``.
    """
    for name, predicate in _EXTENSIONS:
        if predicate(dtype):
            return name
    if isinstance(dtype, pd.CategoricalDtype):
        return "ordered" if dtype.ordered else "factor"
    if ptypes.is_bool_dtype(dtype):
        return "logical"
    if ptypes.is_integer_dtype(dtype):
        return "integer"
    if ptypes.is_float_dtype(dtype):
        return "numeric"
    if ptypes.is_string_dtype(dtype) or ptypes.is_object_dtype(dtype):
        return "character"
    return None
