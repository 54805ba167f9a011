"""``nn("conv1d")``, ``nn("conv2d")``, ``nn("conv3d")``: convolutions; ``in_channels`` is inferred.

The module also holds the small helpers that the convolution and pooling families
share: the check of size arguments (an int or one int per spatial dimension) and the
check that every known output extent is positive.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, assert_ndim, shape_to_str
from torchweave.params.param import ParamUty, p_fct, p_int, p_lgl, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops
from torchweave.utils.docs import with_params_doc

__all__ = [
    "PipeOpTorchConv",
    "PipeOpTorchConv1d",
    "PipeOpTorchConv2d",
    "PipeOpTorchConv3d",
]


def _is_size(value: Any, lower: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= lower


@dataclass(frozen=True)
class _SpatialCheck:
    """The custom check of a size argument (a class, so that operators pickle)."""

    d: int
    lower: int
    none_entries: bool
    strings: tuple[str, ...]
    expected: str

    def __call__(self, value: Any) -> str | None:
        if _is_size(value, self.lower) or (isinstance(value, str) and value in self.strings):
            return None
        if isinstance(value, tuple | list) and len(value) == self.d:
            entries_ok = (
                _is_size(v, self.lower) or (self.none_entries and v is None) for v in value
            )
            if all(entries_ok):
                return None
        return self.expected


def p_spatial(
    d: int,
    lower: int,
    *,
    default: Any = None,
    required: bool = False,
    none_entries: bool = False,
    strings: Sequence[str] = (),
    special_vals: Sequence[Any] = (),
) -> ParamUty:
    """Declare a size argument: an int ``>= lower`` or a tuple of ``d`` of them.

    Parameters
    ----------
    d : int
        Number of spatial dimensions (1, 2 or 3).
    lower : int
        Smallest allowed entry.
    default : Any
        The torch default (documentation only); ignored for required arguments.
    required : bool, default False
        Tag the parameter ``"required"`` (it then has no default).
    none_entries : bool, default False
        Tuple entries may be ``None`` (``output_size`` of adaptive pooling).
    strings : sequence of str
        String values also allowed (``padding="same"``).
    special_vals : sequence
        Values always allowed (``None`` for ``stride`` of pooling).
    """
    entry = f"integers >= {lower}" + (" or None" if none_entries else "")
    expected = f"an integer >= {lower} or a tuple of {d} {entry}"
    if strings:
        expected += " or one of {" + ", ".join(f"'{s}'" for s in strings) + "}"
    check = _SpatialCheck(d, lower, none_entries, tuple(strings), expected)
    if required:
        return p_uty(custom_check=check, expected=expected, tags={"train", "required"})
    return p_uty(
        custom_check=check,
        expected=expected,
        default=default,
        tags="train",
        special_vals=special_vals,
    )


def spatial_tuple(value: Any, d: int) -> tuple[Any, ...]:
    """``value`` as one entry per spatial dimension (an int is repeated ``d`` times)."""
    if isinstance(value, tuple | list):
        return tuple(value)
    return (value,) * d


def assert_positive_extents(
    shape: Shape, d: int, op_id: str, size: Callable[[int, int], int]
) -> None:
    """Raise unless every known spatial output extent is positive.

    Parameters
    ----------
    shape : Shape
        The input shape; its last ``d`` dimensions are the spatial ones.
    d : int
        Number of spatial dimensions.
    op_id : str
        Operator id, for the message.
    size : callable
        ``size(L, j)``: the output extent for input extent ``L`` in spatial dimension ``j``.

    Raises
    ------
    ShapeError
        Naming the operator, the output size, the dimension (0-based) and the input shape.
    """
    for j in range(d):
        dim = len(shape) - d + j
        extent = shape[dim]
        if extent is None:
            continue
        out = size(extent, j)
        if out <= 0:
            raise ShapeError(
                f"PipeOp '{op_id}' would produce an output of size {out} in dimension {dim} for "
                f"input shape {shape_to_str(shape)}, which no tensor can have."
            )


class PipeOpTorchConv(PipeOpTorch):
    """Base of ``nn_conv1d``, ``nn_conv2d`` and ``nn_conv3d``; ``d`` is the spatial rank.

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

    d: ClassVar[int]
    inferred = ("in_channels",)
    omitted: ClassVar[tuple[str, ...]] = ("device", "dtype")

    def __init__(self, id: str, param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_set=self._conv_param_set(), param_vals=param_vals)

    def _conv_param_set(self) -> ParamSet:
        """The parameters, mirroring the torch constructor."""
        d = self.d
        return ParamSet(
            out_channels=p_int(1, tags={"train", "required"}),
            kernel_size=p_spatial(d, 1, required=True),
            stride=p_spatial(d, 1, default=1),
            padding=p_spatial(d, 0, default=0, strings=("valid", "same")),
            dilation=p_spatial(d, 1, default=1),
            groups=p_int(1, default=1, tags="train"),
            bias=p_lgl(default=True, tags="train"),
            padding_mode=p_fct(
                ["zeros", "reflect", "replicate", "circular"], default="zeros", tags="train"
            ),
        )

    def _extent(self, param_vals: dict[str, Any]) -> Callable[[int, int], int]:
        """``extent(L, j)``: the output extent for input extent ``L`` in spatial dim ``j``."""
        d = self.d
        kernel = spatial_tuple(param_vals["kernel_size"], d)
        stride = spatial_tuple(param_vals.get("stride", 1), d)
        dilation = spatial_tuple(param_vals.get("dilation", 1), d)
        padding = param_vals.get("padding", 0)
        if padding == "same" and any(s != 1 for s in stride):
            raise InvalidParameterError(
                f"The 'padding' parameter of {self.param_set.owner} can only be 'same' when every "
                f"stride is 1. Got stride {param_vals.get('stride')!r} instead."
            )
        pad = spatial_tuple(0 if padding == "valid" else padding, d)

        def extent(size: int, j: int) -> int:
            if padding == "same":
                return size
            return (size + 2 * pad[j] - dilation[j] * (kernel[j] - 1) - 1) // stride[j] + 1

        return extent

    def _check_input(self, shape: Shape) -> int:
        assert_ndim(shape, self.id, ndim=self.d + 2)
        assert_known_dims(shape, [1], self.id, "the channel dimension (1)")
        assert shape[1] is not None
        return shape[1]

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        return {"in_channels": self._check_input(shapes_in[0]), **param_vals}

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        shape = shapes_in[0]
        in_channels = self._check_input(shape)
        groups = param_vals.get("groups", 1)
        if param_vals["out_channels"] % groups:
            raise InvalidParameterError(
                f"The 'out_channels' parameter of {self.param_set.owner} must be divisible by "
                f"'groups' ({groups}). Got {param_vals['out_channels']} instead."
            )
        if in_channels % groups:
            raise ShapeError(
                f"PipeOp '{self.id}' needs a number of input channels divisible by 'groups' "
                f"({groups}), but got the shape {shape_to_str(shape)}."
            )
        assert_positive_extents(shape, self.d, self.id, self._extent(param_vals))
        with warnings.catch_warnings():
            # Tracing is not the user's computation: torch's hint that padding="same" with an
            # even kernel copies the input would surface here (and fail under -W error).
            warnings.simplefilter("ignore", UserWarning)
            return super()._shapes_out(shapes_in, param_vals, task)


_PARAMS_DOC = """
    Parameters
    ----------
    out_channels : int
        Number of output channels (required).
    kernel_size : int or tuple of int
        Size of the kernel (required).
    stride : int or tuple of int, default 1
        Step of the kernel.
    padding : int, tuple of int, "valid" or "same", default 0
        Zero (or ``padding_mode``) padding added to both sides.
    dilation : int or tuple of int, default 1
        Spacing between kernel elements.
    groups : int, default 1
        Blocked connections from input to output channels; must divide both.
    bias : bool, default True
        Learn an additive bias.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}, default "zeros"
        How the input is padded."""


@with_params_doc(_PARAMS_DOC)
class PipeOpTorchConv1d(PipeOpTorchConv):
    """``torch.nn.Conv1d`` on inputs ``(B, C, L)``; ``in_channels`` is ``C``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, out_channels, L_out)``, with
    ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1)``.

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("conv1d", out_channels=4, kernel_size=3, padding=1).shapes_out([(None, 2, 10)])
    [(None, 4, 10)]
    """

    d = 1
    module_class = nn.Conv1d

    def __init__(self, id: str = "nn_conv1d", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)


@with_params_doc(_PARAMS_DOC)
class PipeOpTorchConv2d(PipeOpTorchConv):
    """``torch.nn.Conv2d`` on inputs ``(B, C, H, W)``; ``in_channels`` is ``C``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, out_channels, H_out, W_out)``, each extent as for ``nn_conv1d``.

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("conv2d", out_channels=4, kernel_size=3).shapes_out([(None, 1, 8, 8)])
    [(None, 4, 6, 6)]
    >>> tw.nn("conv2d", out_channels=4, kernel_size=3, stride=2).shapes_out([(None, 1, None, 9)])
    [(None, 4, None, 4)]
    """

    d = 2
    module_class = nn.Conv2d

    def __init__(self, id: str = "nn_conv2d", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)


@with_params_doc(_PARAMS_DOC)
class PipeOpTorchConv3d(PipeOpTorchConv):
    """``torch.nn.Conv3d`` on inputs ``(B, C, D, H, W)``; ``in_channels`` is ``C``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(B, out_channels, D_out, H_out, W_out)``, each extent as for
    ``nn_conv1d``.

    {params}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("conv3d", out_channels=2, kernel_size=(1, 3, 3)).shapes_out([(None, 3, 4, 8, 8)])
    [(None, 2, 4, 6, 6)]
    """

    d = 3
    module_class = nn.Conv3d

    def __init__(self, id: str = "nn_conv3d", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)


pipeops.register("nn_conv1d", PipeOpTorchConv1d)
pipeops.register("nn_conv2d", PipeOpTorchConv2d)
pipeops.register("nn_conv3d", PipeOpTorchConv3d)
