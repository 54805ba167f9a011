"""``nn("avg_pool1d")``, ``nn("avg_pool2d")``, ``nn("avg_pool3d")``: average pooling."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from torchweave.data.task import Task
from torchweave.network.ops.conv import assert_positive_extents, p_spatial, with_params_doc
from torchweave.network.ops.max_pool import pool_extent
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_ndim
from torchweave.params.param import p_int, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = [
    "PipeOpTorchAvgPool",
    "PipeOpTorchAvgPool1d",
    "PipeOpTorchAvgPool2d",
    "PipeOpTorchAvgPool3d",
]


class PipeOpTorchAvgPool(PipeOpTorch):
    """Base of ``nn_avg_pool1d/2d/3d``; ``d`` is the spatial rank.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, C, *spatial)``.

    Parameters
    ----------
    See the concrete operators.
    """

    d: ClassVar[int]
    omitted: ClassVar[tuple[str, ...]] = ()

    def __init__(self, id: str, param_vals: dict[str, Any] | None = None) -> None:
        d = self.d
        param_set = ParamSet(
            kernel_size=p_spatial(d, 1, required=True),
            stride=p_spatial(d, 1, default=None, special_vals=(None,)),
            padding=p_spatial(d, 0, default=0),
            ceil_mode=p_lgl(default=False, tags="train"),
            count_include_pad=p_lgl(default=True, tags="train"),
        )
        if d > 1:  # torch's AvgPool1d has no divisor_override
            param_set.add(
                "divisor_override", p_int(1, default=None, special_vals=(None,), tags="train")
            )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        shape = shapes_in[0]
        assert_ndim(shape, self.id, ndim=self.d + 2)
        extent = pool_extent(self.d, param_vals, self.param_set.owner)
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
        Implicit zero padding on both sides; at most half of ``kernel_size``.
    ceil_mode : bool, default False
        Round the output extent up instead of down.
    count_include_pad : bool, default True
        Count the padding zeros in the average."""

_DIVISOR_DOC = """
    divisor_override : int, default None
        Divide by this instead of the window size."""


@with_params_doc(_PARAMS_DOC)
class PipeOpTorchAvgPool1d(PipeOpTorchAvgPool):
    """``torch.nn.AvgPool1d`` on inputs ``(B, C, L)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, C, L_out)``, ``L_out = floor((L + 2 * padding - kernel_size) /
    stride + 1)`` (``ceil`` with ``ceil_mode``).

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("avg_pool1d", kernel_size=3, stride=1).shapes_out([(None, 2, 5)])
    [(None, 2, 3)]
    """

    d = 1
    module_class = nn.AvgPool1d

    def __init__(self, id: str = "nn_avg_pool1d", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)


@with_params_doc(_PARAMS_DOC + _DIVISOR_DOC)
class PipeOpTorchAvgPool2d(PipeOpTorchAvgPool):
    """``torch.nn.AvgPool2d`` on inputs ``(B, C, H, W)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, C, H_out, W_out)``, each extent as for ``nn_avg_pool1d``.

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("avg_pool2d", kernel_size=2, ceil_mode=True).shapes_out([(None, 3, 5, 5)])
    [(None, 3, 3, 3)]
    """

    d = 2
    module_class = nn.AvgPool2d

    def __init__(self, id: str = "nn_avg_pool2d", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)


@with_params_doc(_PARAMS_DOC + _DIVISOR_DOC)
class PipeOpTorchAvgPool3d(PipeOpTorchAvgPool):
    """``torch.nn.AvgPool3d`` on inputs ``(B, C, D, H, W)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, C, D_out, H_out, W_out)``, each extent as for ``nn_avg_pool1d``.

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("avg_pool3d", kernel_size=2).shapes_out([(None, 1, 4, None, 6)])
    [(None, 1, 2, None, 3)]
    """

    d = 3
    module_class = nn.AvgPool3d

    def __init__(self, id: str = "nn_avg_pool3d", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)


pipeops.register("nn_avg_pool1d", PipeOpTorchAvgPool1d)
pipeops.register("nn_avg_pool2d", PipeOpTorchAvgPool2d)
pipeops.register("nn_avg_pool3d", PipeOpTorchAvgPool3d)
