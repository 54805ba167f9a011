"""Shape-changing layers: ``nn("reshape")``, ``nn("flatten")``, ``nn("(un)squeeze")``.

Dimensions are 0-based as in PyTorch (R's ``start_dim = 2`` is ``start_dim = 1`` here) and
the batch dimension is dimension 0, part of every target shape as in ``torch.reshape``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import (
    Shape,
    ShapeTarget,
    check_reshape_target,
    reshape_output_shape,
    shape_to_str,
)
from torchweave.params.param import p_int, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = [
    "PipeOpTorchFlatten",
    "PipeOpTorchReshape",
    "PipeOpTorchSqueeze",
    "PipeOpTorchUnsqueeze",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
]


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


# --- modules ---------------------------------------------------------------------------------
class Reshape(nn.Module):
    """``x.reshape(shape)``; ``shape`` may be a function of ``tuple(x.shape)``.

    Parameters
    ----------
    shape : tuple of int or callable
        The target shape, batch dimension included (``-1`` is inferred), or a function
        returning it from the input shape.
    """

    def __init__(self, shape: ShapeTarget) -> None:
        super().__init__()
        self.shape = shape if callable(shape) else tuple(int(d) for d in shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reshape ``x``."""
        shape = self.shape(tuple(x.shape)) if callable(self.shape) else self.shape
        return x.reshape(tuple(shape))

    def extra_repr(self) -> str:
        """The arguments shown in the module's repr."""
        return f"shape={self.shape!r}"


class Unsqueeze(nn.Module):
    """``x.unsqueeze(dim)``: insert a dimension of size 1 at ``dim``.

    Parameters
    ----------
    dim : int
        Position of the new dimension (negative counts from the end).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = int(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unsqueeze ``x``."""
        return x.unsqueeze(self.dim)

    def extra_repr(self) -> str:
        """The arguments shown in the module's repr."""
        return f"dim={self.dim}"


class Squeeze(nn.Module):
    """``x.squeeze(dim)`` for the given dimensions (none: the input is returned as is).

    Parameters
    ----------
    dim : int or tuple of int
        The dimensions to remove; each must have size 1 at run time.
    """

    def __init__(self, dim: int | Sequence[int]) -> None:
        super().__init__()
        self.dim = tuple(int(d) for d in dim) if isinstance(dim, Sequence) else (int(dim),)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Squeeze ``x``."""
        return x.squeeze(self.dim) if self.dim else x

    def extra_repr(self) -> str:
        """The arguments shown in the module's repr."""
        return f"dim={self.dim}"


# --- shape helpers -----------------------------------------------------------------------------
def _dim_in_range(dim: int, shape: Shape, op_id: str, param: str, insert: bool = False) -> int:
    """Resolve a 0-based ``dim`` (negative counts from the end) against ``shape``."""
    size = len(shape) + int(insert)
    resolved = dim + size if dim < 0 else dim
    if 0 <= resolved < size:
        return resolved
    if insert:
        raise ShapeError(
            f"PipeOp '{op_id}' cannot use '{param}' {dim} for the input shape "
            f"{shape_to_str(shape)}: a new dimension can be inserted at positions "
            f"{-size} to {size - 1}."
        )
    raise ShapeError(
        f"PipeOp '{op_id}' cannot use '{param}' {dim} for the input shape {shape_to_str(shape)}, "
        f"which has {len(shape)} dimension(s) (valid: {-size} to {size - 1})."
    )


def _check_shape_param(x: Any) -> str | None:
    if callable(x):
        return None
    return check_reshape_target(x, allow_none=False)


# --- operators ---------------------------------------------------------------------------------
class PipeOpTorchReshape(PipeOpTorch):
    """Reshape a tensor (``x.reshape(shape)``); the batch dimension is part of the target.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the output shape; ``-1`` is resolved when the element counts are
    known (per observation when only the batch size is unknown).

    Parameters
    ----------
    shape : tuple of int or callable
        The target shape, batch dimension first; ``-1`` (at most one) is inferred from
        the number of elements, so ``(-1, 12)`` keeps the batch. Or a function of the
        input shape (a tuple, which holds ``None`` for unknown sizes during shape
        inference and the real sizes at run time) returning the target (required).
        Use a module-level function rather than a lambda for a network that pickles.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("reshape", shape=(-1, 12)).shapes_out([(None, 3, 4)])
    [(None, 12)]
    >>> tw.nn("reshape", shape=lambda s: (s[0], s[1], 2, 4)).shapes_out([(None, None, 8)])
    [(None, None, 2, 4)]
    """

    module_class = Reshape

    def __init__(self, id: str = "nn_reshape", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            shape=p_uty(
                custom_check=_check_shape_param,
                expected="a tuple of ints >= 1 or -1, or a callable of the input shape",
                tags={"train", "required"},
            )
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        return [reshape_output_shape(shapes_in[0], param_vals["shape"], self.id)]


class PipeOpTorchFlatten(PipeOpTorch):
    """``torch.nn.Flatten``: merge the dimensions ``start_dim`` to ``end_dim`` into one.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the output shape; the merged size is unknown if any merged one is.

    Parameters
    ----------
    start_dim : int, default 1
        First dimension to flatten (0-based; R's ``start_dim = 2``).
    end_dim : int, default -1
        Last dimension to flatten (negative counts from the end).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("flatten").shapes_out([(None, 3, 8, 8)])
    [(None, 192)]
    >>> tw.nn("flatten", start_dim=2).shapes_out([(None, 3, None, 8)])
    [(None, 3, None)]
    """

    module_class = nn.Flatten

    def __init__(self, id: str = "nn_flatten", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            start_dim=p_int(default=1, tags="train"),
            end_dim=p_int(default=-1, tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        shape = shapes_in[0]
        start = _dim_in_range(param_vals.get("start_dim", 1), shape, self.id, "start_dim")
        end = _dim_in_range(param_vals.get("end_dim", -1), shape, self.id, "end_dim")
        if end < start:
            raise ShapeError(
                f"PipeOp '{self.id}' requires 'end_dim' (dimension {end}) to be at least "
                f"'start_dim' (dimension {start}) for the input shape {shape_to_str(shape)}."
            )
        return super()._shapes_out(shapes_in, param_vals, task)


class PipeOpTorchUnsqueeze(PipeOpTorch):
    """Insert a dimension of size 1 (``x.unsqueeze(dim)``).

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape with a 1 inserted at ``dim``.

    Parameters
    ----------
    dim : int
        Position of the new dimension, ``0`` to ``ndim`` (negative counts from the end:
        ``-1`` appends a last dimension) (required).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("unsqueeze", dim=1).shapes_out([(None, 4)])
    [(None, 1, 4)]
    >>> tw.nn("unsqueeze", dim=-1).shapes_out([(None, 4)])
    [(None, 4, 1)]
    """

    module_class = Unsqueeze

    def __init__(self, id: str = "nn_unsqueeze", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(dim=p_int(tags={"train", "required"}))
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        _dim_in_range(param_vals["dim"], shapes_in[0], self.id, "dim", insert=True)
        return super()._shapes_out(shapes_in, param_vals, task)


def _check_squeeze_dim(x: Any) -> str | None:
    if _is_int(x):
        return None
    if isinstance(x, tuple | list) and x and all(_is_int(d) for d in x):
        return None
    return "an int or a non-empty tuple of ints"


class PipeOpTorchSqueeze(PipeOpTorch):
    """Remove dimensions of size 1 (``x.squeeze(dim)``), those known to be 1 only.

    A dimension whose size is unknown is kept (it may be larger at run time); the
    module squeezes exactly the dimensions that are known to be 1 when it is built.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape without the squeezed dimensions.

    Parameters
    ----------
    dim : int or tuple of int
        The dimensions to squeeze (negative counts from the end) (required).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("squeeze", dim=(1, 2)).shapes_out([(None, 1, None, 4)])
    [(None, None, 4)]
    """

    module_class = Squeeze

    def __init__(self, id: str = "nn_squeeze", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            dim=p_uty(
                custom_check=_check_squeeze_dim,
                expected="an int or a non-empty tuple of ints",
                tags={"train", "required"},
            )
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _squeezed(self, shape: Shape, dim: int | Sequence[int]) -> tuple[int, ...]:
        dims = list(dim) if isinstance(dim, Sequence) else [dim]
        resolved = sorted({_dim_in_range(d, shape, self.id, "dim") for d in dims})
        squeezed = tuple(d for d in resolved if shape[d] == 1)
        if len(squeezed) == len(shape):
            raise ShapeError(
                f"PipeOp '{self.id}' would squeeze every dimension of the input shape "
                f"{shape_to_str(shape)}; a network tensor needs at least one dimension."
            )
        return squeezed

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        return {**param_vals, "dim": self._squeezed(shapes_in[0], param_vals["dim"])}

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        self._squeezed(shapes_in[0], param_vals["dim"])  # range check before tracing
        return super()._shapes_out(shapes_in, param_vals, task)


pipeops.register("nn_reshape", PipeOpTorchReshape)
pipeops.register("nn_flatten", PipeOpTorchFlatten)
pipeops.register("nn_unsqueeze", PipeOpTorchUnsqueeze)
pipeops.register("nn_squeeze", PipeOpTorchSqueeze)
