"""Parameter declarations shared by the built-in callbacks."""

from __future__ import annotations

import os
from typing import Any

from torchweave.params.param import ParamUty, p_uty

__all__ = ["p_path"]

_PATH = "a path (str or os.PathLike)"
_PATH_OR_FUNCTION = f"{_PATH} or a function returning one"


def _check_path(x: Any) -> str | None:
    return None if isinstance(x, str | os.PathLike) and str(x) else _PATH


def _check_path_or_function(x: Any) -> str | None:
    return None if callable(x) or _check_path(x) is None else _PATH_OR_FUNCTION


def p_path(description: str, allow_function: bool = False) -> ParamUty:
    """A required train parameter holding a path (or, optionally, a function returning one).

    The checks are module-level functions, so that learners holding the callback pickle.

    Parameters
    ----------
    description : str
        What the path is for (shown in the ParamSet table).
    allow_function : bool, default False
        Also accept a function called once when training starts.
    """
    return p_uty(
        custom_check=_check_path_or_function if allow_function else _check_path,
        expected=_PATH_OR_FUNCTION if allow_function else _PATH,
        tags={"train", "required"},
        description=description,
    )
