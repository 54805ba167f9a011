"""Pickling user functions: lambdas and local functions pickle by value with cloudpickle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import cloudpickle

__all__ = ["ByValue"]

_F = TypeVar("_F", bound=Callable[..., Any])


class ByValue(Generic[_F]):
    """Holds a function that pickles even when pickle cannot find it by name.

    Pickle stores a function by its module and name, so a lambda, a function defined
    inside another one or in an interactive session cannot be saved. ``ByValue`` pickles
    its function with cloudpickle (as joblib does), which stores importable functions by
    name as well and all others by value. Copies (``copy.copy``, ``copy.deepcopy``) share
    the function, as copies of a plain function attribute do.

    Parameters
    ----------
    fn : callable
        The function (or any callable object) to hold.

    Examples
    --------
    >>> import pickle
    >>> held = ByValue(lambda x: x * 2)
    >>> pickle.loads(pickle.dumps(held)).fn(21)
    42
    """

    __slots__ = ("fn",)

    def __init__(self, fn: _F) -> None:
        self.fn = fn

    def __reduce__(self) -> tuple[Callable[[bytes], ByValue[Any]], tuple[bytes]]:
        return _load, (cloudpickle.dumps(self.fn),)

    def __copy__(self) -> ByValue[_F]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ByValue[_F]:
        return self

    def __repr__(self) -> str:
        return f"ByValue({self.fn!r})"


def _load(data: bytes) -> ByValue[Any]:
    return ByValue(cloudpickle.loads(data))
