"""Shapes of tensors flowing through a network graph, and inference by tracing.

A shape is a tuple whose first entry is the batch dimension; ``None`` marks an unknown
size (the batch dimension is usually unknown, and any other may be). Output shapes
are found by running the real module on ``meta``-device tensors twice, with each
unknown dimension filled by a different stand-in size each time: a dimension of the
output is known when both runs agree.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from torchweave.errors import ShapeError

__all__ = [
    "Shape",
    "ShapeTarget",
    "as_shape",
    "assert_known_dims",
    "assert_ndim",
    "check_reshape_target",
    "infer_shapes",
    "reshape_output_shape",
    "resolve_dim",
    "shape_to_str",
    "shapes_agree",
]

Shape = tuple[int | None, ...]

# Stand-in sizes for unknown dimensions, one list per trace. Meta tensors allocate
# nothing, so sizes can be large enough for any kernel; they differ between the two
# traces (and from each other) so that a dimension that depends on them shows up.
_FILLERS = ((61, 67, 71, 73, 79, 83), (89, 97, 101, 103, 107, 109))


def as_shape(shape: Any, what: str = "shape") -> Shape:
    """Validate and normalise a shape: a sequence of positive ints or ``None``.

    Raises
    ------
    ShapeError
        If ``shape`` is not such a sequence.
    """
    if isinstance(shape, torch.Size):
        shape = tuple(shape)
    if not isinstance(shape, Sequence) or isinstance(shape, str) or len(shape) == 0:
        raise ShapeError(
            f"Invalid {what}: must be a non-empty tuple of ints or None. Got {shape!r} instead."
        )
    out: list[int | None] = []
    for d in shape:
        if d is None:
            out.append(None)
        elif hasattr(d, "__index__") and not isinstance(d, bool) and int(d) >= 0:
            out.append(int(d))
        else:
            raise ShapeError(f"Invalid {what} {shape_to_str(tuple(shape))}: {d!r} is not a size.")
    return tuple(out)


def shape_to_str(shape: Shape | Sequence[Shape] | None) -> str:
    """``(None, 4)`` for a shape, ``[(None, 2); (2, 3)]`` for several."""
    if shape is None:
        return "(<unknown>)"
    if len(shape) and isinstance(shape[0], tuple | list):
        return "[" + "; ".join(shape_to_str(s) for s in shape) + "]"  # type: ignore[arg-type]
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def shapes_agree(a: Shape, b: Shape) -> bool:
    """Whether two shapes have the same length and agree on every size known in both.

    Examples
    --------
    >>> shapes_agree((None, 3, 8), (None, None, 8)), shapes_agree((None, 3), (None, 4))
    (True, False)
    """
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=True)
    )


def assert_ndim(
    shape: Shape, op_id: str, ndim: int | Sequence[int] | None = None, min: int | None = None
) -> None:
    """Raise a :class:`ShapeError` unless ``shape`` has the required number of dims."""
    n = len(shape)
    if ndim is not None:
        allowed = [ndim] if isinstance(ndim, int) else list(ndim)
        if n not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ShapeError(
                f"PipeOp '{op_id}' requires an input with {want} dimensions (the first one being "
                f"the batch dimension), but got the shape {shape_to_str(shape)}."
            )
    if min is not None and n < min:
        raise ShapeError(
            f"PipeOp '{op_id}' requires an input with at least {min} dimensions, but got the "
            f"shape {shape_to_str(shape)}."
        )


def resolve_dim(dim: int, ndim: int, op_id: str, insert: bool = False) -> int:
    """A 0-based dim index (negative counts from the end); ``insert`` allows ``ndim``."""
    size = ndim + int(insert)
    resolved = dim + size if dim < 0 else dim
    if not 0 <= resolved < size:
        raise ShapeError(
            f"PipeOp '{op_id}': dim {dim} is out of range for an input with {ndim} dimensions."
        )
    return resolved


def assert_known_dims(shape: Shape, dims: Sequence[int], op_id: str, what: str = "") -> None:
    """Raise unless the given (0-based) dims of ``shape`` are known."""
    unknown = [d for d in dims if shape[d] is None]
    if unknown:
        label = what or ("dimension " + ", ".join(str(d) for d in dims))
        raise ShapeError(
            f"PipeOp '{op_id}' requires {label} of the input shape to be known, but got shape "
            f"{shape_to_str(shape)}."
        )


def _filled(shape: Shape, fillers: Sequence[int]) -> tuple[int, ...]:
    it = iter(fillers)
    return tuple(next(it, 113) if d is None else d for d in shape)


def _as_outputs(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, tuple | list) and all(isinstance(o, torch.Tensor) for o in out):
        return list(out)
    raise ShapeError(
        f"A traced module must return a tensor or a tuple of tensors. Got {type(out).__name__}."
    )


def infer_shapes(
    fn: Callable[..., Any],
    shapes_in: Sequence[Shape],
    op_id: str,
    dtypes: Sequence[torch.dtype] | None = None,
) -> list[Shape]:
    """Output shapes of ``fn`` on inputs of ``shapes_in``, found by tracing twice.

    Parameters
    ----------
    fn : callable
        A module (already on the ``meta`` device) or a function of tensors.
    shapes_in : sequence of Shape
        Input shapes; ``None`` marks unknown sizes.
    op_id : str
        Operator id, for error messages.
    dtypes : sequence of torch.dtype, optional
        Input dtypes (default float32).

    Returns
    -------
    list of Shape
        One shape per output; a dim is ``None`` when the two traces disagree.

    Raises
    ------
    ShapeError
        If the function fails on inputs of these shapes.
    """
    dtypes = list(dtypes) if dtypes is not None else [torch.float32] * len(shapes_in)
    traces: list[list[tuple[int, ...]]] = []
    for fillers in _FILLERS:
        args = [
            torch.empty(_filled(s, fillers), dtype=dt, device="meta")
            for s, dt in zip(shapes_in, dtypes, strict=True)
        ]
        try:
            # Warnings about the stand-in sizes (e.g. even kernels with padding="same")
            # say nothing about the user's data: tracing ignores them.
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outs = _as_outputs(fn(*args))
        except ShapeError:
            raise
        except Exception as exc:
            raise ShapeError(
                f"PipeOp '{op_id}' cannot process an input of shape "
                f"{shape_to_str(list(shapes_in))}: {type(exc).__name__}: {exc}"
            ) from exc
        traces.append([tuple(o.shape) for o in outs])
    first, second = traces
    if [len(s) for s in first] != [len(s) for s in second]:
        raise ShapeError(
            f"PipeOp '{op_id}': the number of output dimensions varies with the input."
        )
    return [
        tuple(a if a == b else None for a, b in zip(s1, s2, strict=True))
        for s1, s2 in zip(first, second, strict=True)
    ]


# --- reshaping (shared by nn_reshape and trafo_reshape) ---------------------------------
#: A reshape target: a tuple of sizes (``-1`` inferred) or a function of the input shape.
ShapeTarget = Sequence[int] | Callable[[tuple[Any, ...]], Sequence[Any]]


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def check_reshape_target(target: Sequence[Any], allow_none: bool) -> str | None:
    """What is wrong with a reshape target, or ``None``."""
    if isinstance(target, str | bytes) or not isinstance(target, Sequence) or not target:
        return "a non-empty tuple of ints >= 1 or -1, or a callable of the input shape"
    entries = list(target)
    if not allow_none and any(d is None for d in entries):
        return (
            "a tuple of ints >= 1 or -1 (use -1, not None, for the dimension that is inferred "
            "from the number of elements)"
        )
    if not all((d is None) or (_is_int(d) and (d >= 1 or d == -1)) for d in entries):
        return "a tuple of ints >= 1 or -1 (-1 marks the dimension inferred from the others)"
    if sum(1 for d in entries if d == -1) > 1:
        return "a tuple of ints >= 1 or -1 with at most one -1"
    return None


def _known(dims: Sequence[int | None]) -> list[int] | None:
    """The sizes as ints, or ``None`` if any is unknown."""
    return None if any(d is None for d in dims) else [int(d) for d in dims if d is not None]


def _fill_inferred(
    n_in: int,
    target: Sequence[int],
    shape_in: Shape,
    op_id: str,
    shown: Sequence[int | None] | None = None,
) -> list[int]:
    """Resolve ``-1`` in a fully known ``target`` so that it holds ``n_in`` elements.

    ``shown`` is the target as the error message names it (default: ``target``).
    """
    out = list(target)
    inferred = [i for i, d in enumerate(out) if d == -1]
    known = math.prod(d for d in out if d != -1)
    if (inferred and n_in % known != 0) or (not inferred and n_in != known):
        raise ShapeError(
            f"PipeOp '{op_id}': 'shape' {shape_to_str(tuple(shown or target))} is not compatible "
            f"with the input shape {shape_to_str(shape_in)}."
        )
    for i in inferred:
        out[i] = n_in // known
    return out


def _check_keeps_batch(
    shape_in: Shape, target: Sequence[int | None], rest_in: int, rest_out: int, op_id: str
) -> None:
    if rest_in != rest_out:
        raise ShapeError(
            f"PipeOp '{op_id}': 'shape' {shape_to_str(tuple(target))} changes the batch dimension "
            f"of the input shape {shape_to_str(shape_in)}: it maps {rest_in} elements per "
            f"observation to {rest_out}."
        )


def _resolve_target(shape_in: Shape, shape: ShapeTarget, op_id: str) -> list[int | None]:
    if callable(shape):
        returned = shape(tuple(shape_in))
        problem = check_reshape_target(returned, allow_none=True)
        if problem is not None:
            raise ShapeError(
                f"PipeOp '{op_id}': 'shape' returned {returned!r} for the input shape "
                f"{shape_to_str(shape_in)}, but must return {problem}."
            )
        return list(returned)
    problem = check_reshape_target(shape, allow_none=False)
    if problem is not None:
        raise ShapeError(f"PipeOp '{op_id}': 'shape' must be {problem}. Got {shape!r} instead.")
    return [int(d) for d in shape]


def reshape_output_shape(shape_in: Shape, shape: ShapeTarget, op_id: str = "nn_reshape") -> Shape:
    """The shape of ``x.reshape(shape)`` for an input of shape ``shape_in``.

    The inferred dimension (``-1``) is resolved whenever the number of elements is known;
    when only the batch size is unknown and the target keeps the batch dimension
    (``-1`` or ``None`` first), it is resolved per observation. Otherwise ``-1`` gives
    an unknown size.

    Parameters
    ----------
    shape_in : Shape
        The input shape (``None`` for unknown sizes).
    shape : tuple of int or callable
        The target, or a function of the input shape returning it (it is called here on
        ``shape_in``, which may contain ``None``).
    op_id : str
        Operator id, for error messages.

    Returns
    -------
    Shape
        The output shape.

    Raises
    ------
    ShapeError
        If the target is invalid or cannot hold the input's elements, or if it keeps the
        batch dimension but changes the number of elements per observation.

    Examples
    --------
    >>> reshape_output_shape((None, 3, 4), (-1, 12))
    (None, 12)
    >>> reshape_output_shape((None, 3, 4), lambda s: (s[0], 2, -1))
    (None, 2, 6)
    """
    target = _resolve_target(shape_in, shape, op_id)
    known_in, known_target = _known(shape_in), _known(target)
    if known_in is not None and known_target is not None:
        out = _fill_inferred(math.prod(known_in), known_target, shape_in, op_id)
        if target[0] == -1 or target[0] == shape_in[0]:
            rest_in, rest_out = math.prod(known_in[1:]), math.prod(out[1:])
            _check_keeps_batch(shape_in, target, rest_in, rest_out, op_id)
        return tuple(out)
    known_rest_in, known_rest = _known(shape_in[1:]), _known(target[1:])
    if (
        shape_in[0] is None
        and known_rest_in is not None
        and known_rest is not None
        and target[0] in (None, -1)
    ):
        # Only the batch size is unknown and the target keeps it: resolve per observation.
        rest_in = math.prod(known_rest_in)
        if target[0] == -1:
            _check_keeps_batch(shape_in, target, rest_in, math.prod(known_rest), op_id)
            return (None, *known_rest)
        return (None, *_fill_inferred(rest_in, known_rest, shape_in, op_id, shown=target))
    return tuple(None if d == -1 else d for d in target)
