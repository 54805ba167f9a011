"""Merge layers: ``nn("merge_sum")``, ``nn("merge_prod")``, ``nn("merge_cat")``.

They combine several inputs (a residual connection is ``[po("nop"), layers] >>
nn("merge_sum")``). Shapes are computed by rule rather than traced: tracing fills each
input's unknown sizes independently and would make up mismatches between inputs.
"""

from __future__ import annotations

import abc
import functools
import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, shape_to_str
from torchweave.params.param import p_int
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.pipeop import VARARG
from torchweave.registry import pipeops

__all__ = [
    "MergeCat",
    "MergeProd",
    "MergeSum",
    "PipeOpTorchMerge",
    "PipeOpTorchMergeCat",
    "PipeOpTorchMergeProd",
    "PipeOpTorchMergeSum",
    "broadcast_shapes",
    "cat_shapes",
]


# --- modules ---------------------------------------------------------------------------------
class MergeSum(nn.Module):
    """The sum of all inputs (broadcasting)."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Add the inputs."""
        return functools.reduce(torch.add, inputs)


class MergeProd(nn.Module):
    """The elementwise product of all inputs (broadcasting)."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Multiply the inputs."""
        return functools.reduce(torch.mul, inputs)


class MergeCat(nn.Module):
    """The inputs concatenated along ``dim`` (no broadcasting).

    Parameters
    ----------
    dim : int, default -1
        The dimension to concatenate along.
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = int(dim)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Concatenate the inputs."""
        return torch.cat(inputs, dim=self.dim)

    def extra_repr(self) -> str:
        """The arguments shown in the module's repr."""
        return f"dim={self.dim}"


# --- shape rules -------------------------------------------------------------------------------
def _assert_same_ndim(shapes: Sequence[Shape], op_id: str) -> None:
    ndims = [len(s) for s in shapes]
    if len(set(ndims)) > 1:
        raise ShapeError(
            f"PipeOp '{op_id}' requires all its inputs to have the same number of dimensions, "
            f"but got the shapes {shape_to_str(list(shapes))} (with "
            f"{', '.join(str(n) for n in ndims)} dimensions)."
        )


def broadcast_shapes(shapes: Sequence[Shape], op_id: str) -> Shape:
    """Broadcast shapes of equal ndim, with unknown sizes (no leading 1s are added).

    Per dimension a known size other than 1 wins (several different ones are an
    error); when every size is 1 or unknown, the result is unknown if any is unknown,
    else 1.

    Raises
    ------
    ShapeError
        For different numbers of dimensions or incompatible sizes.
    """
    _assert_same_ndim(shapes, op_id)
    out: list[int | None] = []
    for i, sizes in enumerate(zip(*shapes, strict=True)):
        non1 = sorted({s for s in sizes if s is not None and s != 1})
        if len(non1) > 1:
            raise ShapeError(
                f"PipeOp '{op_id}' cannot broadcast its input shapes {shape_to_str(list(shapes))}: "
                f"dimension {i} has the incompatible sizes {' and '.join(map(str, non1))}. "
                "Dimensions must be equal or 1."
            )
        out.append(non1[0] if non1 else (None if None in sizes else 1))
    return tuple(out)


def cat_shapes(shapes: Sequence[Shape], dim: int, op_id: str) -> Shape:
    """The shape of ``torch.cat(inputs, dim)``: other dims equal, ``dim`` summed.

    Raises
    ------
    ShapeError
        For different numbers of dimensions, ``dim`` out of range, or known sizes
        that differ outside ``dim``.
    """
    _assert_same_ndim(shapes, op_id)
    ndim = len(shapes[0])
    resolved = dim + ndim if dim < 0 else dim
    if not 0 <= resolved < ndim:
        raise ShapeError(
            f"PipeOp '{op_id}' cannot use 'dim' {dim} for the input shapes "
            f"{shape_to_str(list(shapes))}, which have {ndim} dimension(s)."
        )
    out: list[int | None] = []
    for i, sizes in enumerate(zip(*shapes, strict=True)):
        if i == resolved:
            out.append(None if None in sizes else sum(s for s in sizes if s is not None))
            continue
        known = list(dict.fromkeys(s for s in sizes if s is not None))
        if len(known) > 1:
            raise ShapeError(
                f"PipeOp '{op_id}' cannot concatenate its input shapes "
                f"{shape_to_str(list(shapes))}: dimension {i} has the sizes "
                f"{' and '.join(map(str, known))}. All dimensions except the concatenated "
                f"dimension {resolved} must be equal."
            )
        out.append(known[0] if known else None)
    return tuple(out)


# --- operators ---------------------------------------------------------------------------------
def _input_names(innum: Any, op_id: str) -> list[str]:
    if not isinstance(innum, numbers.Integral) or isinstance(innum, bool) or innum < 0:
        raise InvalidParameterError(
            f"The 'innum' argument of PipeOp '{op_id}' must be an integer >= 0. "
            f"Got {innum!r} instead."
        )
    return [VARARG] if innum == 0 else [f"input{i}" for i in range(1, int(innum) + 1)]


class PipeOpTorchMerge(PipeOpTorch):
    """Abstract base of the merge layers: several inputs, one output.

    Parameters
    ----------
    id : str
        Operator id.
    param_set : ParamSet, optional
        Parameters of the merge module.
    param_vals : mapping, optional
        Initial values.
    innum : int, default 0
        Number of inputs: ``0`` gives one vararg channel ``"..."`` taking any number,
        ``n`` the channels ``input1`` ... ``input<n>``.
    """

    def __init__(
        self,
        id: str,
        param_set: ParamSet | None = None,
        param_vals: dict[str, Any] | None = None,
        innum: int = 0,
    ) -> None:
        inname = _input_names(innum, id)
        self.innum = int(innum)
        super().__init__(id, param_set=param_set, param_vals=param_vals, inname=inname)

    @abc.abstractmethod
    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        """The merged output shape (computed by rule, not traced)."""


def _broadcast_shapes_out(
    self: PipeOpTorchMerge, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
) -> list[Shape]:
    """``_shapes_out`` of the elementwise merges (sum, product): the broadcast shape."""
    return [broadcast_shapes(shapes_in, self.id)]


class PipeOpTorchMergeSum(PipeOpTorchMerge):
    """Elementwise sum of the inputs (``torch.add``, broadcasting).

    Input and output channels
    -------------------------
    ``...`` (vararg, default) or ``input1`` ... ``input<innum>``: ModelDescriptors at
    train, Tasks at predict. output : likewise.

    State
    -----
    ``shapes_out``: the broadcast shape. Inputs need the same number of dimensions; per
    dimension known sizes other than 1 must agree.

    Parameters
    ----------
    None.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("merge_sum").shapes_out([(None, 1), (None, 6)])
    [(None, 6)]
    >>> tw.nn("merge_sum", innum=2).shapes_out([(None, None, 4), (None, 3, 4)])
    [(None, 3, 4)]
    """

    module_class = MergeSum

    def __init__(
        self, id: str = "nn_merge_sum", param_vals: dict[str, Any] | None = None, innum: int = 0
    ) -> None:
        super().__init__(id, param_vals=param_vals, innum=innum)

    _shapes_out = _broadcast_shapes_out


class PipeOpTorchMergeProd(PipeOpTorchMerge):
    """Elementwise product of the inputs (``torch.mul``, broadcasting).

    Input and output channels
    -------------------------
    ``...`` (vararg, default) or ``input1`` ... ``input<innum>``: ModelDescriptors at
    train, Tasks at predict. output : likewise.

    State
    -----
    ``shapes_out``: the broadcast shape (the rule of ``nn_merge_sum``).

    Parameters
    ----------
    None.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("merge_prod").shapes_out([(None, 3, 1), (None, 3, 5)])
    [(None, 3, 5)]
    """

    module_class = MergeProd

    def __init__(
        self, id: str = "nn_merge_prod", param_vals: dict[str, Any] | None = None, innum: int = 0
    ) -> None:
        super().__init__(id, param_vals=param_vals, innum=innum)

    _shapes_out = _broadcast_shapes_out


class PipeOpTorchMergeCat(PipeOpTorchMerge):
    """Concatenate the inputs along ``dim`` (``torch.cat``, no broadcasting).

    Input and output channels
    -------------------------
    ``...`` (vararg, default) or ``input1`` ... ``input<innum>``: ModelDescriptors at
    train, Tasks at predict. output : likewise.

    State
    -----
    ``shapes_out``: the inputs' common shape with ``dim`` summed (unknown if any
    input's is). Inputs need the same number of dimensions and equal known sizes
    outside ``dim``.

    Parameters
    ----------
    dim : int, default -1
        The dimension to concatenate along (0-based; negative counts from the end).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("merge_cat", dim=1).shapes_out([(None, 4, None), (None, 4, 6)])
    [(None, 8, 6)]
    """

    module_class = MergeCat

    def __init__(
        self, id: str = "nn_merge_cat", param_vals: dict[str, Any] | None = None, innum: int = 0
    ) -> None:
        param_set = ParamSet(dim=p_int(default=-1, tags="train"))
        super().__init__(id, param_set=param_set, param_vals=param_vals, innum=innum)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        return [cat_shapes(shapes_in, param_vals.get("dim", -1), self.id)]


pipeops.register("nn_merge_sum", PipeOpTorchMergeSum)
pipeops.register("nn_merge_prod", PipeOpTorchMergeProd)
pipeops.register("nn_merge_cat", PipeOpTorchMergeCat)
