"""``nn("adaptive_avg_pool1d")`` ... ``nn("adaptive_avg_pool3d")``: pooling to a fixed size."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from torchweave.data.task import Task
from torchweave.network.ops.conv import p_spatial
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_ndim
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = [
    "PipeOpTorchAdaptiveAvgPool",
    "PipeOpTorchAdaptiveAvgPool1d",
    "PipeOpTorchAdaptiveAvgPool2d",
    "PipeOpTorchAdaptiveAvgPool3d",
]


class PipeOpTorchAdaptiveAvgPool(PipeOpTorch):
    """Base of ``nn_adaptive_avg_pool1d/2d/3d``; ``d`` is the spatial rank.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, C, *output_size)``.

    Parameters
    ----------
    output_size : int or tuple
        The spatial extents of the output (required).
    """

    d: ClassVar[int]
    omitted: ClassVar[tuple[str, ...]] = ()

    def __init__(self, id: str, param_vals: dict[str, Any] | None = None) -> None:
        # torch keeps the input extent for a None entry, except in the 1d variant.
        output_size = p_spatial(self.d, 1, required=True, none_entries=self.d > 1)
        param_set = ParamSet(output_size=output_size)
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        assert_ndim(shapes_in[0], self.id, ndim=self.d + 2)
        return super()._shapes_out(shapes_in, param_vals, task)


class PipeOpTorchAdaptiveAvgPool1d(PipeOpTorchAdaptiveAvgPool):
    """``torch.nn.AdaptiveAvgPool1d`` on inputs ``(B, C, L)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, C, output_size)``, known even when ``L`` is not.

    Parameters
    ----------
    output_size : int or tuple of 1 int
        The output extent (required).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("adaptive_avg_pool1d", output_size=4).shapes_out([(None, 3, None)])
    [(None, 3, 4)]
    """

    d = 1
    module_class = nn.AdaptiveAvgPool1d

    def __init__(
        self, id: str = "nn_adaptive_avg_pool1d", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals)


class PipeOpTorchAdaptiveAvgPool2d(PipeOpTorchAdaptiveAvgPool):
    """``torch.nn.AdaptiveAvgPool2d`` on inputs ``(B, C, H, W)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, C, H_out, W_out)`` from ``output_size``, known even when the
    input extents are not; a ``None`` entry keeps the input extent.

    Parameters
    ----------
    output_size : int or tuple of 2 (int or None)
        The output extents (required).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("adaptive_avg_pool2d", output_size=(1, None)).shapes_out([(None, 3, None, 7)])
    [(None, 3, 1, 7)]
    """

    d = 2
    module_class = nn.AdaptiveAvgPool2d

    def __init__(
        self, id: str = "nn_adaptive_avg_pool2d", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals)


class PipeOpTorchAdaptiveAvgPool3d(PipeOpTorchAdaptiveAvgPool):
    """``torch.nn.AdaptiveAvgPool3d`` on inputs ``(B, C, D, H, W)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, C, D_out, H_out, W_out)`` from ``output_size``, known even when
    the input extents are not; a ``None`` entry keeps the input extent.

    Parameters
    ----------
    output_size : int or tuple of 3 (int or None)
        The output extents (required).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("adaptive_avg_pool3d", output_size=2).shapes_out([(None, 5, None, None, 9)])
    [(None, 5, 2, 2, 2)]
    """

    d = 3
    module_class = nn.AdaptiveAvgPool3d

    def __init__(
        self, id: str = "nn_adaptive_avg_pool3d", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals)


pipeops.register("nn_adaptive_avg_pool1d", PipeOpTorchAdaptiveAvgPool1d)
pipeops.register("nn_adaptive_avg_pool2d", PipeOpTorchAdaptiveAvgPool2d)
pipeops.register("nn_adaptive_avg_pool3d", PipeOpTorchAdaptiveAvgPool3d)
