"""``nn("fn", fn)``: any function of a tensor as a layer; its keyword arguments are parameters."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidTypeError, ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops
from torchweave.utils.pickling import ByValue

__all__ = ["FnModule", "PipeOpTorchFn", "function_params"]

ShapesOutFn = Callable[[list[Shape], dict[str, Any], Task | None], Any]


class FnModule(nn.Module):
    """Calls ``fn(x, **kwargs)``.

    The module pickles even when ``fn`` is a lambda or a local function (see
    :class:`~torchweave.utils.pickling.ByValue`).

    Parameters
    ----------
    fn : callable
        A function of a tensor (its first argument) returning a tensor.
    kwargs : mapping, optional
        Keyword arguments passed on every call.
    """

    def __init__(self, fn: Callable[..., Any], kwargs: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._fn = ByValue(fn)
        self.kwargs = dict(kwargs or {})

    @property
    def fn(self) -> Callable[..., Any]:
        """The function."""
        return self._fn.fn

    def forward(self, x: torch.Tensor) -> Any:
        """Apply the function."""
        return self.fn(x, **self.kwargs)

    def extra_repr(self) -> str:
        """The arguments shown in the module's repr."""
        name = getattr(self.fn, "__qualname__", None) or type(self.fn).__name__
        args = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"fn={name}{args}"


def function_params(fn: Callable[..., Any], op_id: str = "nn_fn") -> ParamSet:
    """Untyped parameters for the arguments of ``fn`` after the first (the tensor).

    Arguments with a default get it as ``default`` (documentation, not set); the others
    are tagged ``required``. Variadic, positional-only and private (``_name``) arguments
    are left out, as is everything of a function without an inspectable signature
    (such as ``torch.exp``).

    Raises
    ------
    InvalidTypeError
        If ``fn`` is not callable or takes no argument for the tensor.
    """
    if not callable(fn):
        raise InvalidTypeError(
            f"PipeOp '{op_id}' needs a callable 'fn' (a function of a tensor). "
            f"Got {type(fn).__name__}."
        )
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins like torch.exp have no signature
        return ParamSet()
    params = list(signature.parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or (
        params[0].kind not in positional and params[0].kind != params[0].VAR_POSITIONAL
    ):
        raise InvalidTypeError(
            f"PipeOp '{op_id}' needs a function that takes the tensor as its first positional "
            "argument. "
            f"Got {getattr(fn, '__qualname__', fn)!r} with the signature {signature}."
        )
    param_set = ParamSet()
    for p in params[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY) or p.name.startswith("_"):
            continue
        if p.default is p.empty:
            param_set.add(p.name, p_uty(tags={"train", "required"}))
        else:
            param_set.add(p.name, p_uty(default=p.default, tags="train"))
    return param_set


class PipeOpTorchFn(PipeOpTorch):
    """Apply any tensor function ``fn(x, **params)``; its keyword arguments are parameters.

    Output shapes come from ``shapes_out`` when given, else from tracing ``fn`` on
    ``meta`` tensors (which works for torch functions).

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the output shape.

    Parameters
    ----------
    One untyped parameter per keyword argument of ``fn`` after the first, with the
    function's default as ``default`` (required when there is none). Builtins without
    an inspectable signature (``torch.flatten``) have none: pass ``param_set`` to
    declare them, or wrap the builtin in a ``def``.

    Notes
    -----
    Constructor arguments: ``fn`` (the function), ``id``, ``param_vals``, ``shapes_out`` (optional
    ``(shapes_in, param_vals, task) -> list of shapes``) and ``param_set`` (optional,
    replaces the parameters inferred from ``fn``).

    The operator, graphs holding it and the networks it builds pickle even when ``fn``
    or ``shapes_out`` is a lambda or a local function: those are pickled by value with
    cloudpickle (as joblib does); importable functions are stored by name.

    Examples
    --------
    >>> import torch
    >>> import torchweave as tw
    >>> op = tw.nn("fn", torch.nn.functional.softmax, dim=-1)
    >>> op.param_set.ids()
    ['dim', 'dtype']
    >>> op.shapes_out([(None, 3)])
    [(None, 3)]
    >>> tw.nn("fn", torch.exp).shapes_out([(None, 2, 5)])
    [(None, 2, 5)]
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        id: str = "nn_fn",
        param_vals: dict[str, Any] | None = None,
        shapes_out: ShapesOutFn | None = None,
        param_set: ParamSet | None = None,
    ) -> None:
        if shapes_out is not None and not callable(shapes_out):
            raise InvalidTypeError(
                f"The 'shapes_out' argument of PipeOp '{id}' must be a callable "
                f"(shapes_in, param_vals, task) -> list of shapes, or None. "
                f"Got {type(shapes_out).__name__}."
            )
        if param_set is None:
            param_set = function_params(fn, id)
        elif not callable(fn):
            raise InvalidTypeError(
                f"PipeOp '{id}' needs a callable 'fn' (a function of a tensor). "
                f"Got {type(fn).__name__}."
            )
        self._fn = ByValue(fn)
        self._shapes_out_fn = None if shapes_out is None else ByValue(shapes_out)
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    @property
    def fn(self) -> Callable[..., Any]:
        """The tensor function."""
        return self._fn.fn

    @property
    def shapes_out_fn(self) -> ShapesOutFn | None:
        """The ``shapes_out`` function, or None (shapes are traced)."""
        return None if self._shapes_out_fn is None else self._shapes_out_fn.fn

    def _make_module(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> nn.Module:
        return FnModule(self.fn, param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        if self.shapes_out_fn is None:
            return super()._shapes_out(shapes_in, param_vals, task)
        out = self.shapes_out_fn(list(shapes_in), dict(param_vals), task)
        if isinstance(out, tuple | list) and out and (out[0] is None or isinstance(out[0], int)):
            out = [out]  # a single shape
        if not isinstance(out, tuple | list):
            raise ShapeError(
                f"PipeOp '{self.id}': 'shapes_out' must return a list of shapes. "
                f"Got {type(out).__name__}."
            )
        return [tuple(s) for s in out]


pipeops.register("nn_fn", PipeOpTorchFn)
