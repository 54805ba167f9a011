"""``nn("conv_transpose1d")`` ... ``nn("conv_transpose3d")``: transposed convolutions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from torchweave.errors import InvalidParameterError
from torchweave.network.ops.conv import PipeOpTorchConv, p_spatial, spatial_tuple, with_params_doc
from torchweave.params.param import p_fct, p_int, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = [
    "PipeOpTorchConvTranspose",
    "PipeOpTorchConvTranspose1d",
    "PipeOpTorchConvTranspose2d",
    "PipeOpTorchConvTranspose3d",
]


class PipeOpTorchConvTranspose(PipeOpTorchConv):
    """Base of ``nn_conv_transpose1d/2d/3d``; ``d`` is the spatial rank.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, out_channels, *spatial)``.

    Parameters
    ----------
    See the concrete operators.
    """

    def _conv_param_set(self) -> ParamSet:
        d = self.d
        return ParamSet(
            out_channels=p_int(1, tags={"train", "required"}),
            kernel_size=p_spatial(d, 1, required=True),
            stride=p_spatial(d, 1, default=1),
            padding=p_spatial(d, 0, default=0),
            output_padding=p_spatial(d, 0, default=0),
            groups=p_int(1, default=1, tags="train"),
            bias=p_lgl(default=True, tags="train"),
            dilation=p_spatial(d, 1, default=1),
            # torch's transposed convolutions only support zero padding.
            padding_mode=p_fct(["zeros"], default="zeros", tags="train"),
        )

    def _extent(self, param_vals: dict[str, Any]) -> Callable[[int, int], int]:
        d = self.d
        kernel = spatial_tuple(param_vals["kernel_size"], d)
        stride = spatial_tuple(param_vals.get("stride", 1), d)
        pad = spatial_tuple(param_vals.get("padding", 0), d)
        out_pad = spatial_tuple(param_vals.get("output_padding", 0), d)
        dilation = spatial_tuple(param_vals.get("dilation", 1), d)
        if any(o >= max(s, dil) for o, s, dil in zip(out_pad, stride, dilation, strict=True)):
            raise InvalidParameterError(
                f"The 'output_padding' parameter of {self.param_set.owner} must be smaller than "
                f"either 'stride' or 'dilation' in each dimension. Got output_padding "
                f"{param_vals.get('output_padding')!r} with stride {param_vals.get('stride', 1)!r} "
                f"and dilation {param_vals.get('dilation', 1)!r} instead."
            )

        def extent(size: int, j: int) -> int:
            return (
                (size - 1) * stride[j] - 2 * pad[j] + dilation[j] * (kernel[j] - 1) + out_pad[j] + 1
            )

        return extent


_PARAMS_DOC = """
    Parameters
    ----------
    out_channels : int
        Number of output channels (required).
    kernel_size : int or tuple of int
        Size of the kernel (required).
    stride : int or tuple of int, default 1
        Step of the kernel.
    padding : int or tuple of int, default 0
        ``dilation * (kernel_size - 1) - padding`` zeros are added to both sides of the input.
    output_padding : int or tuple of int, default 0
        Extra size added to one side of the output; smaller than ``stride`` or ``dilation``.
    groups : int, default 1
        Blocked connections from input to output channels; must divide both.
    bias : bool, default True
        Learn an additive bias.
    dilation : int or tuple of int, default 1
        Spacing between kernel elements.
    padding_mode : {"zeros"}, default "zeros"
        Only zero padding is supported by torch."""


@with_params_doc(_PARAMS_DOC)
class PipeOpTorchConvTranspose1d(PipeOpTorchConvTranspose):
    """``torch.nn.ConvTranspose1d`` on inputs ``(B, C, L)``; ``in_channels`` is ``C``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, out_channels, L_out)``, with ``L_out = (L - 1) * stride -
    2 * padding + dilation * (kernel_size - 1) + output_padding + 1``.

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("conv_transpose1d", out_channels=2, kernel_size=3, stride=2).shapes_out(
    ...     [(None, 4, 10)]
    ... )
    [(None, 2, 21)]
    """

    d = 1
    module_class = nn.ConvTranspose1d

    def __init__(
        self, id: str = "nn_conv_transpose1d", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals)


@with_params_doc(_PARAMS_DOC)
class PipeOpTorchConvTranspose2d(PipeOpTorchConvTranspose):
    """``torch.nn.ConvTranspose2d`` on inputs ``(B, C, H, W)``; ``in_channels`` is ``C``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, out_channels, H_out, W_out)``, each extent as for
    ``nn_conv_transpose1d``.

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> op = tw.nn("conv_transpose2d", out_channels=1, kernel_size=2, stride=2)
    >>> op.shapes_out([(None, 8, 4, None)])
    [(None, 1, 8, None)]
    """

    d = 2
    module_class = nn.ConvTranspose2d

    def __init__(
        self, id: str = "nn_conv_transpose2d", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals)


@with_params_doc(_PARAMS_DOC)
class PipeOpTorchConvTranspose3d(PipeOpTorchConvTranspose):
    """``torch.nn.ConvTranspose3d`` on inputs ``(B, C, D, H, W)``; ``in_channels`` is ``C``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, out_channels, D_out, H_out, W_out)``, each extent as for
    ``nn_conv_transpose1d``.

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("conv_transpose3d", out_channels=2, kernel_size=3).shapes_out([(None, 1, 2, 4, 4)])
    [(None, 2, 4, 6, 6)]
    """

    d = 3
    module_class = nn.ConvTranspose3d

    def __init__(
        self, id: str = "nn_conv_transpose3d", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals)


pipeops.register("nn_conv_transpose1d", PipeOpTorchConvTranspose1d)
pipeops.register("nn_conv_transpose2d", PipeOpTorchConvTranspose2d)
pipeops.register("nn_conv_transpose3d", PipeOpTorchConvTranspose3d)
