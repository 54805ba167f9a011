"""``nn("max_pool1d")``, ``nn("max_pool2d")``, ``nn("max_pool3d")``: max pooling.

Also holds the output-extent rule that max and average pooling share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.network.ops.conv import (
    assert_positive_extents,
    p_spatial,
    spatial_tuple,
    with_params_doc,
)
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_ndim
from torchweave.params.param import p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = [
    "PipeOpTorchMaxPool",
    "PipeOpTorchMaxPool1d",
    "PipeOpTorchMaxPool2d",
    "PipeOpTorchMaxPool3d",
]


def pool_extent(
    d: int, param_vals: dict[str, Any], owner: str, dilation: Any = 1
) -> Callable[[int, int], int]:
    """``extent(L, j)``: the output extent of max or average pooling, as torch computes it.

    ``floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1`` (``ceil``
    with ``ceil_mode``, minus one where the last window would start in the right padding).

    Raises
    ------
    InvalidParameterError
        If ``padding`` exceeds half of ``kernel_size`` (torch refuses that).
    """
    kernel = spatial_tuple(param_vals["kernel_size"], d)
    stride_value = param_vals.get("stride")
    stride = kernel if stride_value is None else spatial_tuple(stride_value, d)
    pad = spatial_tuple(param_vals.get("padding", 0), d)
    dil = spatial_tuple(dilation, d)
    ceil = param_vals.get("ceil_mode", False)
    if any(p > k // 2 for p, k in zip(pad, kernel, strict=True)):
        raise InvalidParameterError(
            f"The 'padding' parameter of {owner} must be at most half of 'kernel_size' in each "
            f"dimension. Got padding {param_vals.get('padding')!r} with kernel_size "
            f"{param_vals['kernel_size']!r} instead."
        )

    def extent(size: int, j: int) -> int:
        span = size + 2 * pad[j] - dil[j] * (kernel[j] - 1) - 1
        out = (span + (stride[j] - 1 if ceil else 0)) // stride[j] + 1
        # With ceil_mode, the last window must start inside the input or the left padding.
        if ceil and (out - 1) * stride[j] >= size + pad[j]:
            out -= 1
        return out

    return extent


class PipeOpTorchMaxPool(PipeOpTorch):
    """Base of ``nn_max_pool1d/2d/3d``; ``d`` is the spatial rank.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise; with
    ``return_indices=True`` also ``indices``, the positions of the maxima (same shape).

    State
    -----
    ``shapes_out``: ``(B, C, *spatial)``, one shape per output channel.

    Parameters
    ----------
    See the concrete operators.
    """

    d: ClassVar[int]
    omitted: ClassVar[tuple[str, ...]] = ("return_indices",)

    def __init__(
        self, id: str, param_vals: dict[str, Any] | None = None, return_indices: bool = False
    ) -> None:
        if not isinstance(return_indices, bool):
            raise InvalidTypeError(
                f"The 'return_indices' argument of PipeOp '{id}' must be a bool. "
                f"Got {return_indices!r} instead."
            )
        d = self.d
        param_set = ParamSet(
            kernel_size=p_spatial(d, 1, required=True),
            stride=p_spatial(d, 1, default=None, special_vals=(None,)),
            padding=p_spatial(d, 0, default=0),
            dilation=p_spatial(d, 1, default=1),
            ceil_mode=p_lgl(default=False, tags="train"),
        )
        self.return_indices = return_indices
        outname = ("output", "indices") if return_indices else "output"
        super().__init__(id, param_set=param_set, param_vals=param_vals, outname=outname)

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        return {**param_vals, "return_indices": self.return_indices}

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        shape = shapes_in[0]
        assert_ndim(shape, self.id, ndim=self.d + 2)
        dilation = param_vals.get("dilation", 1)
        extent = pool_extent(self.d, param_vals, self.param_set.owner, dilation)
        assert_positive_extents(shape, self.d, self.id, extent)
        return super()._shapes_out(shapes_in, param_vals, task)


_PARAMS_DOC = """
    Parameters
    ----------
    kernel_size : int or tuple of int
        Size of the window (required).
    stride : int or tuple of int, default None
        Step of the window; ``None`` means ``kernel_size``.
    padding : int or tuple of int, default 0
        Implicit negative-infinity padding on both sides; at most half of ``kernel_size``.
    dilation : int or tuple of int, default 1
        Spacing between window elements.
    ceil_mode : bool, default False
        Round the output extent up instead of down.

    Other Parameters
    ----------------
    return_indices : bool, default False
        Constructor argument: add the output channel ``indices``."""


@with_params_doc(_PARAMS_DOC)
class PipeOpTorchMaxPool1d(PipeOpTorchMaxPool):
    """``torch.nn.MaxPool1d`` on inputs ``(B, C, L)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise; with
    ``return_indices=True`` also ``indices`` (same shape).

    State
    -----
    ``shapes_out``: ``(B, C, L_out)``, ``L_out = floor((L + 2 * padding - dilation *
    (kernel_size - 1) - 1) / stride + 1)`` (``ceil`` with ``ceil_mode``).

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("max_pool1d", kernel_size=2).shapes_out([(None, 3, 9)])
    [(None, 3, 4)]
    """

    d = 1
    module_class = nn.MaxPool1d

    def __init__(
        self,
        id: str = "nn_max_pool1d",
        param_vals: dict[str, Any] | None = None,
        return_indices: bool = False,
    ) -> None:
        super().__init__(id, param_vals, return_indices)


@with_params_doc(_PARAMS_DOC)
class PipeOpTorchMaxPool2d(PipeOpTorchMaxPool):
    """``torch.nn.MaxPool2d`` on inputs ``(B, C, H, W)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise; with
    ``return_indices=True`` also ``indices`` (same shape).

    State
    -----
    ``shapes_out``: ``(B, C, H_out, W_out)``, each extent as for ``nn_max_pool1d``.

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("max_pool2d", kernel_size=2).shapes_out([(None, 4, 6, None)])
    [(None, 4, 3, None)]
    >>> tw.nn("max_pool2d", kernel_size=2, return_indices=True).shapes_out([(None, 1, 4, 4)])
    [(None, 1, 2, 2), (None, 1, 2, 2)]
    """

    d = 2
    module_class = nn.MaxPool2d

    def __init__(
        self,
        id: str = "nn_max_pool2d",
        param_vals: dict[str, Any] | None = None,
        return_indices: bool = False,
    ) -> None:
        super().__init__(id, param_vals, return_indices)


@with_params_doc(_PARAMS_DOC)
class PipeOpTorchMaxPool3d(PipeOpTorchMaxPool):
    """``torch.nn.MaxPool3d`` on inputs ``(B, C, D, H, W)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise; with
    ``return_indices=True`` also ``indices`` (same shape).

    State
    -----
    ``shapes_out``: ``(B, C, D_out, H_out, W_out)``, each extent as for ``nn_max_pool1d``.

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("max_pool3d", kernel_size=(1, 2, 2)).shapes_out([(None, 2, 3, 8, 8)])
    [(None, 2, 3, 4, 4)]
    """

    d = 3
    module_class = nn.MaxPool3d

    def __init__(
        self,
        id: str = "nn_max_pool3d",
        param_vals: dict[str, Any] | None = None,
        return_indices: bool = False,
    ) -> None:
        super().__init__(id, param_vals, return_indices)


pipeops.register("nn_max_pool1d", PipeOpTorchMaxPool1d)
pipeops.register("nn_max_pool2d", PipeOpTorchMaxPool2d)
pipeops.register("nn_max_pool3d", PipeOpTorchMaxPool3d)
