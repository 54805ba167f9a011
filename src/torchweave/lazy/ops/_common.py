"""Parameter declarations shared by the ``trafo_*`` and ``augment_*`` operators.

Each operator is made by :func:`~torchweave.lazy.preproc.pipeop_preproc_torch` from a
function of :mod:`torchweave.lazy.transforms` and its shape rule; its class docstring is
built here from the function's docstring, so the two cannot drift apart.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from torchweave.lazy import transforms as tf
from torchweave.lazy.preproc import PipeOpTaskPreprocTorch, pipeop_preproc_torch
from torchweave.params.param import ParamUty, p_fct, p_lgl, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = [
    "REQUIRED",
    "document",
    "p_check",
    "p_interpolation",
    "p_padding_mode",
    "p_size",
    "preproc_op",
]

#: The tags of a required train parameter.
REQUIRED = frozenset({"train", "required"})
_REQUIRED = REQUIRED
_INTRO = ">>> import torchweave as tw\n>>> import torchweave.lazy\n"


def p_check(
    check: Callable[[Any], str | None],
    *,
    default: Any = None,
    required: bool = False,
    allow_none: bool = False,
) -> ParamUty:
    """An untyped train parameter validated by one of the ``check_*`` functions.

    Parameters
    ----------
    check : callable
        Returns ``None`` for a valid value, else the expectation.
    default : Any
        The function's default (ignored when ``required``).
    required : bool, default False
        Tag ``"required"`` (no default).
    allow_none : bool, default False
        ``None`` is also valid (the function's "not given").
    """
    expected = check(object()) or "a valid value"
    if required:
        return p_uty(custom_check=check, expected=expected, tags=_REQUIRED)
    return p_uty(
        custom_check=check,
        expected=expected,
        default=default,
        tags="train",
        special_vals=(None,) if allow_none else (),
    )


def p_size(required: bool = True) -> ParamUty:
    """``size``: an int >= 1 or one or two of them."""
    return p_check(tf.check_size, required=required)


def p_interpolation(levels: tuple[str, ...] = tf.INTERPOLATIONS, default: str = "bilinear") -> Any:
    """``interpolation``: one of the mode names."""
    return p_fct(levels, default=default, tags="train")


def p_padding_mode() -> Any:
    """``padding_mode``: constant, edge, reflect or symmetric."""
    return p_fct(tf.PADDING_MODES, default="constant", tags="train")


def p_antialias() -> Any:
    """``antialias``: low-pass filter when downsizing."""
    return p_lgl(default=True, tags="train")


def _parameters_section(fn: Callable[..., Any]) -> str:
    """The numpydoc "Parameters" entries of ``fn`` without the first (the batch)."""
    doc = inspect.getdoc(fn) or ""
    match = re.search(r"Parameters\n-+\n(.*?)(?:\n\n[A-Z][a-z]+\n-+\n|\Z)", doc, re.S)
    if match is None:
        return ""
    entries = re.split(r"\n(?=\S)", match.group(1).strip())
    kept = [e for e in entries if not e.startswith("x :")]
    return "\n".join(kept)


def document(cls: type, fn: Callable[..., Any], key: str, example: str) -> None:
    """Give the operator class a numpydoc docstring built from ``fn``'s.

    Parameters
    ----------
    cls : type
        The operator class (its ``__doc__`` is replaced).
    fn : callable
        The transformation in :mod:`torchweave.lazy.transforms`.
    key : str
        The registry key.
    example : str
        Doctest lines for the "Examples" section.
    """
    doc = inspect.getdoc(fn) or ""
    summary = doc.split("\n\n", 1)[0].strip()
    stages = "both" if key.startswith("trafo_") else "train"
    own = _parameters_section(fn)
    lines = [
        summary,
        "",
        f"Made with ``pipeop_preproc_torch`` from ``torchweave.lazy.transforms.{fn.__name__}``",
        f"(shape rule ``{fn.__name__}_shape``); the step runs once per batch when the lazy",
        "column is materialized.",
        "",
        "Input and output channels",
        "-------------------------",
        "input : Task. output : Task, its lazy tensor columns with one more preprocessing step.",
        "",
        "State",
        "-----",
        "``param_vals`` (the values bound at train time, used at predict time too), ``stages``,",
        "``affected_cols`` and ``shapes`` (per column, the shapes at train and at predict time).",
        "",
        "Parameters",
        "----------",
    ]
    if own:
        lines += [own]
    lines += [
        f'stages : {{"train", "predict", "both"}}, init "{stages}"',
        "    When the step applies; at the other stage the column passes unchanged.",
        "affect_columns : selector",
        "    Which lazy tensor columns to transform (default: all).",
        "",
        "Examples",
        "--------",
        example.strip("\n"),
    ]
    cls.__doc__ = "\n".join(lines) + "\n"


def preproc_op(
    key: str,
    fn: Callable[..., Any],
    param_set: ParamSet | None = None,
    random: bool = False,
    example: str = "",
) -> type[PipeOpTaskPreprocTorch]:
    """Make, document and register the operator ``key`` around a transformation.

    Parameters
    ----------
    key : str
        Registry key and default id (``trafo_*`` or ``augment_*``).
    fn : callable
        The function in :mod:`torchweave.lazy.transforms`; its shape rule is
        ``<name>_shape`` in the same module.
    param_set : ParamSet, optional
        The operator's parameters (default: none).
    random : bool, default False
        Whether ``fn`` draws random numbers (a preloaded dataset would freeze them).
    example : str
        Doctest lines for the class docstring (after the imports).

    Returns
    -------
    type
        The operator class, registered in ``tw.registry.pipeops``.
    """
    cls = pipeop_preproc_torch(
        key,
        fn,
        shapes_out=getattr(tf, f"{fn.__name__}_shape"),
        param_set=param_set if param_set is not None else ParamSet(),
        random=random,
    )
    document(cls, fn, key, _INTRO + example)
    pipeops.register(key, cls)
    return cls
