"""Batch-wise image and tensor transformations behind the ``trafo_*`` and ``augment_*`` operators.

Every function takes a **batch**: a tensor whose first dimension indexes observations,
and returns a new batch (the input is never modified in place; a crop may return a view).
The layouts are

* ``(N, ..., H, W)`` for the geometric operations (flips, crops, padding, resizing,
  rotation): the last two dimensions are height and width, any dimensions in between
  (channels, time) are carried along;
* ``(N, ..., C, H, W)`` with ``C == 3`` (RGB) for the colour operations (grayscale, hue,
  saturation, colour jitter); the channel dimension is the third from the end, as in
  torchvision;
* ``(N, C, ...)`` for :func:`normalize`, whose channel dimension is the one after the
  batch dimension (so it also works on tabular ``(N, C)`` input).

Float images are taken to lie in ``[0, 1]``; integer images (``uint8``) in
``[0, max of the dtype]``. The colour operations compute in float and convert integer
input back (rounded and clipped); geometric operations keep the dtype.

Random augmentations draw their parameters **per observation** from torch's global
(CPU) random number generator, vectorised over the batch, so ``torch.manual_seed`` (and
hence a learner's ``seed``) makes them reproducible, and data-loader workers get torch's
per-worker seeds.

Each operation ``<name>`` comes with a shape rule ``<name>_shape(shape, **params)`` that
returns the output shape for an input shape (``None`` for the batch dimension and for
unknown extents; a whole shape of ``None`` is unknown) and raises
:class:`~torchweave.errors.ShapeError` for inputs the operation cannot take.

Conventions that differ from mlr3torch (which wraps R's torchvision):

* positions are 0-based: ``crop(x, top=0, left=0, ...)`` starts at the first pixel;
* ``padding`` follows Python's torchvision: an int pads all sides, a pair is
  ``(left/right, top/bottom)`` and four values are ``(left, top, right, bottom)``
  (mlr3torch's four values are ``(left, right, top, bottom)``);
* ``interpolation`` is a name (``"nearest"``, ``"nearest-exact"``, ``"bilinear"``,
  ``"bicubic"``), not a PIL constant, and ``resample`` / ``fillcolor`` of R's
  ``random_affine`` are ``interpolation`` / ``fill``;
* the target shape of :func:`reshape` includes the batch dimension (``(-1, 784)``), as
  for ``nn("reshape")``.

When torchvision (the ``vision`` extra) is importable, the deterministic colour
operations and :func:`normalize` on float input call ``torchvision.transforms.v2.functional``
(whose results are the same); everything works with torch alone.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.nn import functional

from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.shapes import Shape, reshape_output_shape, shape_to_str

__all__ = [
    "INTERPOLATIONS",
    "PADDING_MODES",
    "adjust_brightness",
    "adjust_brightness_shape",
    "adjust_gamma",
    "adjust_gamma_shape",
    "adjust_hue",
    "adjust_hue_shape",
    "adjust_saturation",
    "adjust_saturation_shape",
    "center_crop",
    "center_crop_shape",
    "color_jitter",
    "color_jitter_shape",
    "crop",
    "crop_shape",
    "grayscale",
    "grayscale_shape",
    "hflip",
    "hflip_shape",
    "nop",
    "nop_shape",
    "normalize",
    "normalize_shape",
    "pad",
    "pad_shape",
    "random_affine",
    "random_affine_shape",
    "random_choice",
    "random_choice_shape",
    "random_crop",
    "random_crop_shape",
    "random_horizontal_flip",
    "random_horizontal_flip_shape",
    "random_order",
    "random_order_shape",
    "random_resized_crop",
    "random_resized_crop_shape",
    "random_vertical_flip",
    "random_vertical_flip_shape",
    "reshape",
    "reshape_shape",
    "resize",
    "resize_shape",
    "resized_crop",
    "resized_crop_shape",
    "rotate",
    "rotate_shape",
    "vflip",
    "vflip_shape",
]

Tensor = torch.Tensor
Transform = Callable[[Tensor], Tensor]

INTERPOLATIONS = ("nearest", "nearest-exact", "bilinear", "bicubic")
"""Names accepted by ``interpolation`` of the resizing operations."""

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")
"""Names accepted by ``padding_mode``."""

_LUMA = (0.2989, 0.587, 0.114)  # ITU-R 601-2, as torchvision's rgb_to_grayscale

# --- torchvision dispatch ------------------------------------------------------------------

_TV_ENABLED = True  # tests switch this off to compare both paths


@functools.lru_cache(maxsize=1)
def _tv_functional() -> Any:
    try:
        from torchvision.transforms.v2 import functional as tv_functional
    except ImportError:
        return None
    return tv_functional


def _torchvision(name: str, x: Tensor) -> Callable[..., Tensor] | None:
    """``torchvision.transforms.v2.functional.<name>`` for float image batches, else ``None``.

    Only float input of at least four dimensions is handed over: there both
    implementations agree to floating-point precision (integer images are rounded
    differently).
    """
    if not _TV_ENABLED or not x.is_floating_point() or x.ndim < 4:
        return None
    module = _tv_functional()
    return None if module is None else getattr(module, name, None)


# --- parameter checks (shared with the operators' ParamSets) -------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_num(value: Any) -> bool:
    if type(value) is float or type(value) is int:  # the common case, without the ABC check
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_seq(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def check_size(value: Any) -> str | None:
    """``None`` if ``value`` is an int >= 1 or a sequence of one or two of them."""
    if _is_int(value) and value >= 1:
        return None
    if _is_seq(value) and len(value) in (1, 2) and all(_is_int(v) and v >= 1 for v in value):
        return None
    return "an integer >= 1 or a sequence of one or two integers >= 1 (height, width)"


def check_padding(value: Any) -> str | None:
    """``None`` if ``value`` is an int >= 0 or a sequence of 1, 2 or 4 of them."""
    if _is_int(value) and value >= 0:
        return None
    if _is_seq(value) and len(value) in (1, 2, 4) and all(_is_int(v) and v >= 0 for v in value):
        return None
    return (
        "an integer >= 0 or a sequence of 1, 2 (left/right, top/bottom) or 4 "
        "(left, top, right, bottom) integers >= 0"
    )


def check_mean(value: Any) -> str | None:
    """``None`` if ``value`` is a number or a non-empty sequence of numbers."""
    if _is_num(value) or (_is_seq(value) and len(value) > 0 and all(map(_is_num, value))):
        return None
    return "a number or a non-empty sequence of numbers (one per channel)"


def check_std(value: Any) -> str | None:
    """``None`` if ``value`` is a number > 0 or a non-empty sequence of them."""
    values = list(value) if _is_seq(value) else [value]
    if values and all(_is_num(v) and v > 0 for v in values):
        return None
    return "a number > 0 or a non-empty sequence of numbers > 0 (one per channel)"


def check_range(value: Any) -> str | None:
    """``None`` if ``value`` is a pair ``(low, high)`` with ``0 < low <= high``."""
    if _is_seq(value) and len(value) == 2 and all(map(_is_num, value)) and 0 < value[0] <= value[1]:
        return None
    return "a pair (low, high) of numbers with 0 < low <= high"


def check_jitter(value: Any) -> str | None:
    """``None`` for a number >= 0 or a pair ``(low, high)`` with ``0 <= low <= high``."""
    if _is_num(value) and value >= 0:
        return None
    if (
        _is_seq(value)
        and len(value) == 2
        and all(map(_is_num, value))
        and 0 <= value[0] <= value[1]
    ):
        return None
    return "a number >= 0 or a pair (low, high) with 0 <= low <= high"


def check_hue_jitter(value: Any) -> str | None:
    """``None`` for a number in [0, 0.5] or a pair within [-0.5, 0.5]."""
    if _is_num(value) and 0 <= value <= 0.5:
        return None
    pair = _is_seq(value) and len(value) == 2 and all(map(_is_num, value))
    if pair and -0.5 <= value[0] <= value[1] <= 0.5:
        return None
    return "a number in [0, 0.5] or a pair (low, high) with -0.5 <= low <= high <= 0.5"


def check_degrees(value: Any) -> str | None:
    """``None`` for a number >= 0 (the range ``(-value, value)``) or a pair ``low <= high``."""
    if _is_num(value) and value >= 0:
        return None
    if _is_seq(value) and len(value) == 2 and all(map(_is_num, value)) and value[0] <= value[1]:
        return None
    return "a number >= 0 or a pair (low, high) of numbers with low <= high"


def check_translate(value: Any) -> str | None:
    """``None`` for a pair of fractions in [0, 1] (horizontal, vertical)."""
    if _is_seq(value) and len(value) == 2 and all(_is_num(v) and 0 <= v <= 1 for v in value):
        return None
    return "a pair (horizontal, vertical) of fractions in [0, 1]"


def check_point(value: Any) -> str | None:
    """``None`` for a pair of numbers ``(x, y)``."""
    if _is_seq(value) and len(value) == 2 and all(map(_is_num, value)):
        return None
    return "a pair (x, y) of numbers in pixel coordinates"


def check_transforms(value: Any) -> str | None:
    """``None`` for a non-empty sequence of callables."""
    if _is_seq(value) and len(value) > 0 and all(callable(t) for t in value):
        return None
    return "a non-empty list of callables, each mapping a batch to a batch"


def check_probabilities(value: Any) -> str | None:
    """``None`` for a non-empty sequence of numbers >= 0 with a positive sum."""
    valid = _is_seq(value) and len(value) > 0 and all(_is_num(v) and v >= 0 for v in value)
    if valid and sum(value) > 0:
        return None
    return "a non-empty sequence of numbers >= 0 with a positive sum"


def check_reshape_target(value: Any) -> str | None:
    """``None`` for a callable or a tuple of ints >= 1 or -1 (at most one -1)."""
    if callable(value):
        return None
    entries = list(value) if _is_seq(value) else []
    valid = len(entries) > 0 and all(_is_int(v) and (v >= 1 or v == -1) for v in entries)
    if valid and entries.count(-1) <= 1:
        return None
    return (
        "a tuple of integers >= 1 or -1 (at most one -1; the batch dimension included), "
        "or a callable of the input shape"
    )


def _validate(check: Callable[[Any], str | None], value: Any, name: str, op: str) -> None:
    problem = check(value)
    if problem is not None:
        raise InvalidParameterError(
            f"The '{name}' parameter of {op} must be {problem}. Got {value!r} instead."
        )


def _choice(value: Any, levels: Sequence[str], name: str, op: str) -> None:
    if value not in levels:
        wanted = ", ".join(f"'{v}'" for v in levels)
        raise InvalidParameterError(
            f"The '{name}' parameter of {op} must be one of {{{wanted}}}. Got {value!r} instead."
        )


# --- small helpers -------------------------------------------------------------------------


def _need_dims(shape: Shape, op: str, min_dims: int, layout: str) -> None:
    if len(shape) < min_dims:
        raise ShapeError(
            f"'{op}' needs an input of at least {min_dims} dimensions {layout} (the first being "
            f"the batch dimension), but got the shape {shape_to_str(shape)}."
        )


def _need_rgb(shape: Shape, op: str) -> None:
    _need_dims(shape, op, 4, "(N, ..., 3, H, W)")
    if shape[-3] is not None and shape[-3] != 3:
        raise ShapeError(
            f"'{op}' needs RGB images with 3 channels in the third dimension from the end, "
            f"but got the shape {shape_to_str(shape)}."
        )


def _shape_of(x: Tensor) -> Shape:
    return tuple(x.shape)  # torch.Size holds ints


def _int_pair(value: int | Sequence[int]) -> tuple[int, int]:
    """An int or a sequence of one or two ints as ``(first, second)``."""
    if isinstance(value, Sequence):
        values = [int(v) for v in value]
        return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])
    return int(value), int(value)


def _padding_ltrb(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """Padding as ``(left, top, right, bottom)`` (torchvision's order)."""
    if isinstance(padding, Sequence):
        p = [int(v) for v in padding]
        if len(p) == 1:
            return p[0], p[0], p[0], p[0]
        if len(p) == 2:
            return p[0], p[1], p[0], p[1]
        return p[0], p[1], p[2], p[3]
    return (int(padding),) * 4


def _bounds(
    value: float | Sequence[float], center: float, low: float | None
) -> tuple[float, float]:
    """``(center - v, center + v)`` (clipped at ``low``) for a number, the pair itself else."""
    if isinstance(value, Sequence):
        return float(value[0]), float(value[1])
    lo = center - float(value)
    return (lo if low is None else max(low, lo)), center + float(value)


def _uniform(n: int, low: float, high: float) -> Tensor:
    """``n`` draws from U(low, high) with the global CPU generator."""
    return low + (high - low) * torch.rand(n, dtype=torch.float64)


def _per_sample(values: Tensor, x: Tensor) -> Tensor:
    """A ``(N,)`` tensor shaped to broadcast against ``x`` (``(N, 1, ..., 1)``)."""
    return values.to(device=x.device, dtype=x.dtype).reshape(-1, *([1] * (x.ndim - 1)))


def _max_value(dtype: torch.dtype) -> float:
    if dtype == torch.bool:
        return 1.0
    return float(torch.iinfo(dtype).max)


def _to_unit_float(x: Tensor) -> Tensor:
    """Float image in [0, 1] (integer images are divided by their dtype's maximum)."""
    if x.is_floating_point():
        return x
    return x.to(torch.float32) / _max_value(x.dtype)


def _from_unit_float(y: Tensor, dtype: torch.dtype) -> Tensor:
    if dtype.is_floating_point:
        return y
    top = _max_value(dtype)
    return (y * top).round_().clamp_(0, top).to(dtype)


def _cast_like(y: Tensor, dtype: torch.dtype) -> Tensor:
    """``y`` (computed in float) back in ``dtype``, rounded and clipped for integers."""
    if dtype.is_floating_point:
        return y
    if dtype == torch.bool:
        return y.round() > 0
    info = torch.iinfo(dtype)
    return y.round().clamp(info.min, info.max).to(dtype)


def _as_4d(x: Tensor) -> Tensor:
    """``(N, ..., H, W)`` as ``(N, M, H, W)``."""
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    return x.reshape(n, -1, h, w)


def _luma(x: Tensor) -> Tensor:
    """The grayscale of an RGB batch in float, with a channel dimension of 1."""
    r, g, b = x.unbind(-3)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(-3)


def _blend(x: Tensor, other: Tensor, factor: Tensor | float) -> Tensor:
    return (factor * x + (1.0 - factor) * other).clamp(0.0, 1.0)


# --- nop and reshape -----------------------------------------------------------------------


def nop(x: Tensor) -> Tensor:
    """Return ``x`` unchanged (``trafo_nop``).

    Parameters
    ----------
    x : Tensor
        A batch of any shape.

    Returns
    -------
    Tensor
        ``x`` itself.
    """
    return x


def nop_shape(shape: Shape | None) -> Shape | None:
    """The input shape (``trafo_nop``)."""
    return shape


def reshape(x: Tensor, shape: Sequence[int] | Callable[[tuple[int, ...]], Sequence[int]]) -> Tensor:
    """``x.reshape(shape)`` (``trafo_reshape``).

    Parameters
    ----------
    x : Tensor
        A batch.
    shape : tuple of int or callable
        The target **including the batch dimension** (``(-1, 784)`` flattens images;
        one ``-1`` is inferred), or a function of the input shape returning it.

    Returns
    -------
    Tensor
        The reshaped batch.
    """
    target = shape(tuple(x.shape)) if callable(shape) else shape
    return x.reshape(tuple(int(d) for d in target))


def reshape_shape(
    shape_in: Shape | None,
    /,
    shape: Sequence[int] | Callable[[tuple[Any, ...]], Sequence[Any]],
) -> Shape | None:
    """The shape of :func:`reshape` (``nn("reshape")``'s rule; ``-1`` resolved when possible).

    Parameters
    ----------
    shape_in : Shape or None
        The input shape (positional; ``shape`` is the target, as for the operator).
    shape : tuple of int or callable
        The target shape.

    Returns
    -------
    Shape or None
        The output shape.
    """
    if shape_in is None:
        return None
    return reshape_output_shape(shape_in, shape, op_id="trafo_reshape")


# --- resize ----------------------------------------------------------------------------------


def _resize_hw(h: int, w: int, size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    short = int(size[0]) if isinstance(size, Sequence) else int(size)
    if w <= h:
        return int(short * h / w), short
    return short, int(short * w / h)


def resize(
    x: Tensor,
    size: int | Sequence[int],
    interpolation: str = "bilinear",
    antialias: bool = True,
) -> Tensor:
    """Resize the last two dimensions with ``torch.nn.functional.interpolate`` (``trafo_resize``).

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., H, W)``.
    size : int or sequence of int
        ``(height, width)``; a single int sets the shorter side, the longer one keeps the
        aspect ratio (``int(size * long / short)``), as in torchvision.
    interpolation : {"nearest", "nearest-exact", "bilinear", "bicubic"}, default "bilinear"
        The interpolation mode.
    antialias : bool, default True
        Low-pass filter when downsizing (bilinear and bicubic only; ignored otherwise).

    Returns
    -------
    Tensor
        The resized batch, in the dtype of ``x`` (integers rounded and clipped).
    """
    op = "trafo_resize"
    _validate(check_size, size, "size", op)
    _choice(interpolation, INTERPOLATIONS, "interpolation", op)
    _need_dims(_shape_of(x), op, 3, "(N, ..., H, W)")
    h, w = x.shape[-2], x.shape[-1]
    out_h, out_w = _resize_hw(h, w, size)
    if (out_h, out_w) == (h, w):
        return x
    smooth = interpolation in ("bilinear", "bicubic")
    src = _as_4d(x)
    y = functional.interpolate(
        src if src.is_floating_point() else src.to(torch.float32),
        size=(out_h, out_w),
        mode=interpolation,
        align_corners=False if smooth else None,
        antialias=bool(antialias) and smooth,
    )
    return _cast_like(y, x.dtype).reshape(*x.shape[:-2], out_h, out_w)


def resize_shape(
    shape: Shape | None,
    size: int | Sequence[int],
    interpolation: str = "bilinear",
    antialias: bool = True,
) -> Shape | None:
    """The shape of :func:`resize`: at least 3 dims; the last two follow ``size``.

    With a single ``size`` the output extents are unknown when an input extent is.
    """
    if shape is None:
        return None
    _need_dims(shape, "trafo_resize", 3, "(N, ..., H, W)")
    h, w = shape[-2], shape[-1]
    if isinstance(size, Sequence) and len(size) == 2:
        return (*shape[:-2], int(size[0]), int(size[1]))
    if h is None or w is None:
        return (*shape[:-2], None, None)
    return (*shape[:-2], *_resize_hw(h, w, size))


# --- normalize -------------------------------------------------------------------------------


def _channel_values(values: float | Sequence[float]) -> list[float]:
    return [float(v) for v in values] if isinstance(values, Sequence) else [float(values)]


def normalize(x: Tensor, mean: float | Sequence[float], std: float | Sequence[float]) -> Tensor:
    """``(x - mean) / std`` per channel (``trafo_normalize``).

    Parameters
    ----------
    x : Tensor
        A batch ``(N, C, ...)``; the channel dimension is the one after the batch
        dimension. Integer input is converted to float32 (not rescaled).
    mean : float or sequence of float
        One value for all channels or one per channel.
    std : float or sequence of float
        Likewise; every value must be positive.

    Returns
    -------
    Tensor
        The normalised batch (float).
    """
    op = "trafo_normalize"
    _validate(check_mean, mean, "mean", op)
    _validate(check_std, std, "std", op)
    normalize_shape(_shape_of(x), mean, std)
    tv = _torchvision("normalize", x)
    if tv is not None and x.ndim == 4:
        means, stds = _channel_values(mean), _channel_values(std)
        channels = x.shape[1]
        return tv(
            x,
            means * channels if len(means) == 1 else means,
            stds * channels if len(stds) == 1 else stds,
        )
    xf = x if x.is_floating_point() else x.to(torch.float32)
    if _is_num(mean) and _is_num(std) and xf.dtype in (torch.float32, torch.float64):
        # One value for every channel: scalars broadcast as the (1, 1, ...) tensors
        # would, with the same float results and no tensors built per batch.
        return (xf - float(mean)) / float(std)  # type: ignore[arg-type]
    view = (1, -1, *([1] * (x.ndim - 2)))
    m = torch.tensor(_channel_values(mean), dtype=xf.dtype, device=xf.device).view(view)
    s = torch.tensor(_channel_values(std), dtype=xf.dtype, device=xf.device).view(view)
    return (xf - m) / s


_FLOATS = (torch.float32, torch.float64)


def _normalize_scalar(x: Tensor, mean: float, std: float) -> Tensor:
    """:func:`normalize` with one checked mean and std for every channel (the fast path)."""
    if x.ndim < 2 or x.dtype not in _FLOATS:
        return normalize(x, mean, std)  # the checks, with their messages
    return (x - mean) / std


def _prepare_normalize(
    mean: float | Sequence[float], std: float | Sequence[float]
) -> Callable[[Tensor], Tensor] | None:
    """The per-batch step of ``trafo_normalize`` with its parameters checked once.

    Scalar ``mean`` and ``std`` skip the per-batch parameter checks (``None``, the
    checked :func:`normalize`, otherwise, and whenever torchvision handles the batch).
    """
    if not (_is_num(mean) and _is_num(std)) or check_std(std) is not None:
        return None
    if _TV_ENABLED and _tv_functional() is not None:
        return None
    return functools.partial(_normalize_scalar, mean=float(mean), std=float(std))  # type: ignore[arg-type]


normalize.prepare = _prepare_normalize  # type: ignore[attr-defined]


def normalize_shape(
    shape: Shape | None, mean: float | Sequence[float], std: float | Sequence[float]
) -> Shape | None:
    """The shape of :func:`normalize`: at least 2 dims; unchanged.

    Per-channel ``mean`` and ``std`` must match a known channel extent (dimension 1).
    """
    if shape is None:
        return None
    op = "trafo_normalize"
    _need_dims(shape, op, 2, "(N, C, ...)")
    for name, values in (("mean", mean), ("std", std)):
        n = len(_channel_values(values))
        if n > 1 and shape[1] is not None and n != shape[1]:
            raise ShapeError(
                f"'{op}' got {n} values for '{name}', but the input of shape "
                f"{shape_to_str(shape)} has {shape[1]} channels (dimension 1)."
            )
    return shape


# --- pad -------------------------------------------------------------------------------------


def _pad_index(n: int, before: int, after: int, mode: str, device: torch.device) -> Tensor:
    """Source index along one dimension for each padded position."""
    i = torch.arange(-before, n + after, device=device)
    if mode == "edge":
        return i.clamp(0, n - 1)
    if mode == "reflect":
        if n == 1:
            return torch.zeros_like(i)
        period = 2 * n - 2
        j = i.remainder(period)
        return torch.where(j >= n, period - j, j)
    # symmetric: the edge pixel is repeated (abc -> cba|abc|cba)
    period = 2 * n
    j = i.remainder(period)
    return torch.where(j >= n, period - 1 - j, j)


def pad(
    x: Tensor,
    padding: int | Sequence[int],
    fill: float = 0.0,
    padding_mode: str = "constant",
) -> Tensor:
    """Pad the last two dimensions (``trafo_pad``).

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., H, W)``.
    padding : int or sequence of int
        An int pads all four sides; ``(lr, tb)`` pads left and right by ``lr`` and top and
        bottom by ``tb``; ``(left, top, right, bottom)`` pads each side (torchvision's
        order; mlr3torch's four values are ``(left, right, top, bottom)``).
    fill : float, default 0.0
        The value of constant padding.
    padding_mode : {"constant", "edge", "reflect", "symmetric"}, default "constant"
        ``"edge"`` repeats the border pixel, ``"reflect"`` mirrors without repeating it
        (``dcb|abcd|cba``), ``"symmetric"`` mirrors with it (``cba|abcd|dcb``). Paddings
        wider than the image continue the mirroring.

    Returns
    -------
    Tensor
        The padded batch.
    """
    op = "trafo_pad"
    _validate(check_padding, padding, "padding", op)
    _choice(padding_mode, PADDING_MODES, "padding_mode", op)
    _need_dims(_shape_of(x), op, 3, "(N, ..., H, W)")
    left, top, right, bottom = _padding_ltrb(padding)
    if padding_mode == "constant":
        return functional.pad(x, (left, right, top, bottom), value=float(fill))
    h, w = x.shape[-2], x.shape[-1]
    if h == 0 or w == 0:
        raise ShapeError(
            f"'{op}' cannot pad an empty image with mode '{padding_mode}': got the shape "
            f"{shape_to_str(_shape_of(x))}."
        )
    rows = _pad_index(h, top, bottom, padding_mode, x.device)
    cols = _pad_index(w, left, right, padding_mode, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def pad_shape(
    shape: Shape | None,
    padding: int | Sequence[int],
    fill: float = 0.0,
    padding_mode: str = "constant",
) -> Shape | None:
    """The shape of :func:`pad`: at least 3 dims; height and width grow by the padding."""
    if shape is None:
        return None
    _need_dims(shape, "trafo_pad", 3, "(N, ..., H, W)")
    left, top, right, bottom = _padding_ltrb(padding)
    h, w = shape[-2], shape[-1]
    return (
        *shape[:-2],
        None if h is None else h + top + bottom,
        None if w is None else w + left + right,
    )


# --- colour ----------------------------------------------------------------------------------


def grayscale(x: Tensor, num_output_channels: int = 1) -> Tensor:
    """Convert RGB to grayscale with the ITU-R 601-2 luma weights (``trafo_grayscale``).

    ``L = 0.2989 R + 0.587 G + 0.114 B``, repeated ``num_output_channels`` times.

    Parameters
    ----------
    x : Tensor
        A batch of RGB images ``(N, ..., 3, H, W)``.
    num_output_channels : int, default 1
        Number of (identical) output channels, 1 to 3.

    Returns
    -------
    Tensor
        The batch ``(N, ..., num_output_channels, H, W)`` in the dtype of ``x``.
    """
    op = "trafo_grayscale"
    if not (_is_int(num_output_channels) and 1 <= num_output_channels <= 3):
        raise InvalidParameterError(
            f"The 'num_output_channels' parameter of {op} must be an integer in [1, 3]. "
            f"Got {num_output_channels!r} instead."
        )
    _need_rgb(_shape_of(x), op)
    tv = _torchvision("rgb_to_grayscale", x)
    if tv is not None and num_output_channels in (1, 3):
        return tv(x, num_output_channels=num_output_channels)
    y = _luma(_to_unit_float(x))
    if num_output_channels > 1:
        y = y.expand(*y.shape[:-3], num_output_channels, *y.shape[-2:]).contiguous()
    return _from_unit_float(y, x.dtype)


def grayscale_shape(shape: Shape | None, num_output_channels: int = 1) -> Shape | None:
    """The shape of :func:`grayscale`: RGB input; the channel extent becomes the output's."""
    if shape is None:
        return None
    _need_rgb(shape, "trafo_grayscale")
    return (*shape[:-3], num_output_channels, *shape[-2:])


def adjust_brightness(x: Tensor, brightness_factor: float) -> Tensor:
    """Multiply by ``brightness_factor`` and clip to the image range (``trafo_adjust_brightness``).

    Parameters
    ----------
    x : Tensor
        A batch of images (float in [0, 1] or integers), any shape.
    brightness_factor : float
        Non-negative; 0 gives black, 1 the input, 2 doubles the brightness.

    Returns
    -------
    Tensor
        The adjusted batch in the dtype of ``x``.
    """
    op = "trafo_adjust_brightness"
    if not (_is_num(brightness_factor) and brightness_factor >= 0):
        raise InvalidParameterError(
            f"The 'brightness_factor' parameter of {op} must be a float >= 0. "
            f"Got {brightness_factor!r} instead."
        )
    tv = _torchvision("adjust_brightness", x)
    if tv is not None:
        return tv(x, brightness_factor=float(brightness_factor))
    y = (_to_unit_float(x) * float(brightness_factor)).clamp(0.0, 1.0)
    return _from_unit_float(y, x.dtype)


def adjust_brightness_shape(shape: Shape | None, brightness_factor: float) -> Shape | None:
    """The shape of :func:`adjust_brightness`: unchanged."""
    return shape


def adjust_gamma(x: Tensor, gamma: float, gain: float = 1.0) -> Tensor:
    """Gamma correction ``gain * x ** gamma``, clipped to [0, 1] (``trafo_adjust_gamma``).

    Parameters
    ----------
    x : Tensor
        A batch of images (float in [0, 1] or integers), any shape.
    gamma : float
        Non-negative exponent; below 1 brightens dark regions, above 1 darkens them.
    gain : float, default 1.0
        The multiplier.

    Returns
    -------
    Tensor
        The adjusted batch in the dtype of ``x``.
    """
    op = "trafo_adjust_gamma"
    if not (_is_num(gamma) and gamma >= 0):
        raise InvalidParameterError(
            f"The 'gamma' parameter of {op} must be a float >= 0. Got {gamma!r} instead."
        )
    tv = _torchvision("adjust_gamma", x)
    if tv is not None:
        return tv(x, gamma=float(gamma), gain=float(gain))
    y = (float(gain) * _to_unit_float(x).pow(float(gamma))).clamp(0.0, 1.0)
    return _from_unit_float(y, x.dtype)


def adjust_gamma_shape(shape: Shape | None, gamma: float, gain: float = 1.0) -> Shape | None:
    """The shape of :func:`adjust_gamma`: unchanged."""
    return shape


def _rgb_to_hsv(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r, g, b = x.unbind(-3)
    value = x.amax(dim=-3)
    delta = value - x.amin(dim=-3)
    saturation = delta / torch.where(value > 0, value, torch.ones_like(value))
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue = torch.where(
        value == r,
        (g - b) / safe,
        torch.where(value == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0),
    )
    hue = torch.where(delta > 0, (hue / 6.0).remainder(1.0), torch.zeros_like(hue))
    return hue, saturation, value


def _hsv_to_rgb(hue: Tensor, saturation: Tensor, value: Tensor) -> Tensor:
    # Each channel is v - v s clip(min(k, 4 - k), 0, 1) with k = (n + 6 h) mod 6,
    # n = 5, 3, 1 for red, green, blue: the piecewise-linear HSV hexcone, vectorised.
    n = torch.tensor([5.0, 3.0, 1.0], dtype=hue.dtype, device=hue.device).view(3, 1, 1)
    k = (n + 6.0 * hue.unsqueeze(-3)).remainder(6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    return value.unsqueeze(-3) - (value * saturation).unsqueeze(-3) * ramp


def _shift_hue(x: Tensor, shift: Tensor | float) -> Tensor:
    """Shift the hue of a float RGB batch; ``shift`` broadcasts against ``(N, ..., H, W)``."""
    hue, saturation, value = _rgb_to_hsv(x)
    if isinstance(shift, Tensor):
        shift = shift.squeeze(-3)
    return _hsv_to_rgb((hue + shift).remainder(1.0), saturation, value)


def adjust_hue(x: Tensor, hue_factor: float) -> Tensor:
    """Shift the hue in HSV space by ``hue_factor`` turns (``trafo_adjust_hue``).

    Parameters
    ----------
    x : Tensor
        A batch of RGB images ``(N, ..., 3, H, W)`` (float in [0, 1] or integers).
    hue_factor : float
        In [-0.5, 0.5]; 0 keeps the image, 0.5 (or -0.5) gives the complementary hues.

    Returns
    -------
    Tensor
        The adjusted batch in the dtype of ``x``.
    """
    op = "trafo_adjust_hue"
    if not (_is_num(hue_factor) and -0.5 <= hue_factor <= 0.5):
        raise InvalidParameterError(
            f"The 'hue_factor' parameter of {op} must be a float in [-0.5, 0.5]. "
            f"Got {hue_factor!r} instead."
        )
    _need_rgb(_shape_of(x), op)
    tv = _torchvision("adjust_hue", x)
    if tv is not None:
        return tv(x, hue_factor=float(hue_factor))
    y = _shift_hue(_to_unit_float(x), float(hue_factor))
    return _from_unit_float(y, x.dtype)


def adjust_hue_shape(shape: Shape | None, hue_factor: float) -> Shape | None:
    """The shape of :func:`adjust_hue`: RGB input (at least 4 dims); unchanged."""
    if shape is None:
        return None
    _need_rgb(shape, "trafo_adjust_hue")
    return (*shape[:-3], 3, *shape[-2:])


def adjust_saturation(x: Tensor, saturation_factor: float) -> Tensor:
    """Blend with the grayscale image (``trafo_adjust_saturation``).

    ``factor * x + (1 - factor) * grayscale(x)``, clipped to [0, 1].

    Parameters
    ----------
    x : Tensor
        A batch of RGB images ``(N, ..., 3, H, W)`` (float in [0, 1] or integers).
    saturation_factor : float
        Non-negative; 0 gives the grayscale image, 1 the input, 2 doubles the saturation.

    Returns
    -------
    Tensor
        The adjusted batch in the dtype of ``x``.
    """
    op = "trafo_adjust_saturation"
    if not (_is_num(saturation_factor) and saturation_factor >= 0):
        raise InvalidParameterError(
            f"The 'saturation_factor' parameter of {op} must be a float >= 0. "
            f"Got {saturation_factor!r} instead."
        )
    _need_rgb(_shape_of(x), op)
    tv = _torchvision("adjust_saturation", x)
    if tv is not None:
        return tv(x, saturation_factor=float(saturation_factor))
    xf = _to_unit_float(x)
    return _from_unit_float(_blend(xf, _luma(xf), float(saturation_factor)), x.dtype)


def adjust_saturation_shape(shape: Shape | None, saturation_factor: float) -> Shape | None:
    """The shape of :func:`adjust_saturation`: RGB input (at least 4 dims); unchanged."""
    if shape is None:
        return None
    _need_rgb(shape, "trafo_adjust_saturation")
    return (*shape[:-3], 3, *shape[-2:])


def _contrast(x: Tensor, factor: Tensor | float) -> Tensor:
    """Blend a float batch ``(N, ..., C, H, W)`` with the mean of its grayscale."""
    gray = _luma(x) if x.shape[-3] == 3 else x
    mean = gray.mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(x, mean, factor)


def color_jitter(
    x: Tensor,
    brightness: float | Sequence[float] = 0.0,
    contrast: float | Sequence[float] = 0.0,
    saturation: float | Sequence[float] = 0.0,
    hue: float | Sequence[float] = 0.0,
) -> Tensor:
    """Random brightness, contrast, saturation and hue, per image (``augment_color_jitter``).

    Each image gets its own factors, drawn uniformly, and its own random order of the
    four adjustments. A number ``b`` for ``brightness``, ``contrast`` or ``saturation``
    draws the factor from ``[max(0, 1 - b), 1 + b]``; a number ``h`` for ``hue`` draws the
    shift from ``[-h, h]``; a pair gives the range itself. 0 (the default) leaves that
    property alone.

    Parameters
    ----------
    x : Tensor
        A batch of images ``(N, ..., C, H, W)``; RGB (``C == 3``) when ``saturation`` or
        ``hue`` is used, 1 or 3 channels for ``contrast``.
    brightness : float or (float, float), default 0.0
        Brightness jitter (a number >= 0 or a range of non-negative factors).
    contrast : float or (float, float), default 0.0
        Contrast jitter (blend with the mean gray level).
    saturation : float or (float, float), default 0.0
        Saturation jitter (blend with the grayscale image).
    hue : float or (float, float), default 0.0
        Hue jitter, a number in [0, 0.5] or a range within [-0.5, 0.5].

    Returns
    -------
    Tensor
        The jittered batch in the dtype of ``x``.
    """
    op = "augment_color_jitter"
    for name, value in (
        ("brightness", brightness),
        ("contrast", contrast),
        ("saturation", saturation),
    ):
        _validate(check_jitter, value, name, op)
    _validate(check_hue_jitter, hue, "hue", op)
    color_jitter_shape(_shape_of(x), brightness, contrast, saturation, hue)
    n = x.shape[0]
    steps: list[tuple[Callable[[Tensor, Tensor], Tensor], Tensor]] = []
    ranges = (
        (_bounds(brightness, 1.0, 0.0), 1.0, lambda v, f: (v * f).clamp(0.0, 1.0)),
        (_bounds(contrast, 1.0, 0.0), 1.0, _contrast),
        (_bounds(saturation, 1.0, 0.0), 1.0, lambda v, f: _blend(v, _luma(v), f)),
        (_bounds(hue, 0.0, None), 0.0, _shift_hue),
    )
    for (low, high), neutral, fn in ranges:
        if (low, high) != (neutral, neutral):
            steps.append((fn, _uniform(n, low, high)))
    if not steps:
        return x
    xf = _to_unit_float(x)
    order = torch.rand(n, len(steps)).argsort(dim=1).to(x.device)
    out = xf.clone()
    for position in range(len(steps)):
        for k, (fn, factors) in enumerate(steps):
            rows = (order[:, position] == k).nonzero().squeeze(1)
            if rows.numel():
                sub = out.index_select(0, rows)
                out[rows] = fn(sub, _per_sample(factors.index_select(0, rows.cpu()), sub))
    return _from_unit_float(out, x.dtype)


def color_jitter_shape(
    shape: Shape | None,
    brightness: float | Sequence[float] = 0.0,
    contrast: float | Sequence[float] = 0.0,
    saturation: float | Sequence[float] = 0.0,
    hue: float | Sequence[float] = 0.0,
) -> Shape | None:
    """The shape of :func:`color_jitter`: unchanged; RGB input when saturation or hue is used."""
    if shape is None:
        return None
    op = "augment_color_jitter"
    if _bounds(saturation, 1.0, 0.0) != (1.0, 1.0) or _bounds(hue, 0.0, None) != (0.0, 0.0):
        _need_rgb(shape, op)
        return (*shape[:-3], 3, *shape[-2:])
    if _bounds(contrast, 1.0, 0.0) != (1.0, 1.0):
        _need_dims(shape, op, 4, "(N, ..., C, H, W)")
        if shape[-3] is not None and shape[-3] not in (1, 3):
            raise ShapeError(
                f"'{op}' needs images with 1 or 3 channels for 'contrast', but got the shape "
                f"{shape_to_str(shape)}."
            )
    return shape


# --- flips -----------------------------------------------------------------------------------


def hflip(x: Tensor) -> Tensor:
    """Mirror left to right: ``x.flip(-1)`` (``augment_hflip``)."""
    _need_dims(_shape_of(x), "augment_hflip", 2, "(N, ..., W)")
    return x.flip(-1)


def hflip_shape(shape: Shape | None) -> Shape | None:
    """The shape of :func:`hflip`: at least 2 dims; unchanged."""
    if shape is not None:
        _need_dims(shape, "augment_hflip", 2, "(N, ..., W)")
    return shape


def vflip(x: Tensor) -> Tensor:
    """Mirror top to bottom: ``x.flip(-2)`` (``augment_vflip``)."""
    _need_dims(_shape_of(x), "augment_vflip", 3, "(N, ..., H, W)")
    return x.flip(-2)


def vflip_shape(shape: Shape | None) -> Shape | None:
    """The shape of :func:`vflip`: at least 3 dims; unchanged."""
    if shape is not None:
        _need_dims(shape, "augment_vflip", 3, "(N, ..., H, W)")
    return shape


def _random_flip(x: Tensor, p: float, dim: int, op: str) -> Tensor:
    if not (_is_num(p) and 0 <= p <= 1):
        raise InvalidParameterError(
            f"The 'p' parameter of {op} must be a float in [0, 1]. Got {p!r} instead."
        )
    _need_dims(_shape_of(x), op, -dim + 1, "(N, ..., H, W)" if dim == -2 else "(N, ..., W)")
    chosen = (torch.rand(x.shape[0]) < p).to(x.device)
    return torch.where(chosen.view(-1, *([1] * (x.ndim - 1))), x.flip(dim), x)


def _random_flip_checked(x: Tensor, p: float, dim: int, op: str) -> Tensor:
    """:func:`_random_flip` with ``p`` checked once (the per-batch fast path)."""
    if x.ndim < -dim + 1:
        return _random_flip(x, p, dim, op)  # the shape error, with its message
    chosen = torch.rand(x.shape[0]) < p
    if x.device.type != "cpu":
        chosen = chosen.to(x.device)
    return torch.where(chosen.view(-1, *([1] * (x.ndim - 1))), x.flip(dim), x)


def _flip_preparer(dim: int, op: str) -> Callable[..., Callable[[Tensor], Tensor] | None]:
    def prepare(p: float = 0.5) -> Callable[[Tensor], Tensor] | None:
        if not (_is_num(p) and 0 <= p <= 1):
            return None  # the checked function raises its error per batch
        return functools.partial(_random_flip_checked, p=p, dim=dim, op=op)

    return prepare


def random_horizontal_flip(x: Tensor, p: float = 0.5) -> Tensor:
    """Mirror each image left to right with probability ``p`` (``augment_random_horizontal_flip``).

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., W)``.
    p : float, default 0.5
        Probability that an image is flipped (one draw per image).

    Returns
    -------
    Tensor
        The batch with the chosen images flipped.
    """
    return _random_flip(x, p, -1, "augment_random_horizontal_flip")


random_horizontal_flip.prepare = _flip_preparer(  # type: ignore[attr-defined]
    -1, "augment_random_horizontal_flip"
)


def random_horizontal_flip_shape(shape: Shape | None, p: float = 0.5) -> Shape | None:
    """The shape of :func:`random_horizontal_flip`: at least 2 dims; unchanged."""
    if shape is not None:
        _need_dims(shape, "augment_random_horizontal_flip", 2, "(N, ..., W)")
    return shape


def random_vertical_flip(x: Tensor, p: float = 0.5) -> Tensor:
    """Mirror each image top to bottom with probability ``p`` (``augment_random_vertical_flip``).

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., H, W)``.
    p : float, default 0.5
        Probability that an image is flipped (one draw per image).

    Returns
    -------
    Tensor
        The batch with the chosen images flipped.
    """
    return _random_flip(x, p, -2, "augment_random_vertical_flip")


random_vertical_flip.prepare = _flip_preparer(-2, "augment_random_vertical_flip")  # type: ignore[attr-defined]


def random_vertical_flip_shape(shape: Shape | None, p: float = 0.5) -> Shape | None:
    """The shape of :func:`random_vertical_flip`: at least 3 dims; unchanged."""
    if shape is not None:
        _need_dims(shape, "augment_random_vertical_flip", 3, "(N, ..., H, W)")
    return shape


# --- crops -----------------------------------------------------------------------------------


def _check_box(
    shape: Shape, top: int, left: int, height: int, width: int, op: str
) -> tuple[int | None, int | None]:
    _need_dims(shape, op, 3, "(N, ..., H, W)")
    h, w = shape[-2], shape[-1]
    if (h is not None and top + height > h) or (w is not None and left + width > w):
        raise ShapeError(
            f"'{op}' cannot crop rows {top} to {top + height - 1} and columns {left} to "
            f"{left + width - 1} from an input of shape {shape_to_str(shape)}: the crop leaves "
            "the image."
        )
    return h, w


def _check_crop_args(top: int, left: int, height: int, width: int, op: str) -> None:
    for name, value, low in (("top", top, 0), ("left", left, 0), ("height", height, 1)):
        if not (_is_int(value) and value >= low):
            raise InvalidParameterError(
                f"The '{name}' parameter of {op} must be an integer >= {low}. "
                f"Got {value!r} instead."
            )
    if not (_is_int(width) and width >= 1):
        raise InvalidParameterError(
            f"The 'width' parameter of {op} must be an integer >= 1. Got {width!r} instead."
        )


def crop(x: Tensor, top: int, left: int, height: int, width: int) -> Tensor:
    """Cut the box of ``height`` x ``width`` pixels at ``(top, left)`` (``augment_crop``).

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., H, W)``.
    top, left : int
        0-based row and column of the box's upper-left pixel (mlr3torch counts from 1).
    height, width : int
        Size of the box, which must lie inside the image.

    Returns
    -------
    Tensor
        ``x[..., top:top + height, left:left + width]``.
    """
    op = "augment_crop"
    _check_crop_args(top, left, height, width, op)
    _check_box(_shape_of(x), top, left, height, width, op)
    return x[..., top : top + height, left : left + width]


def crop_shape(shape: Shape | None, top: int, left: int, height: int, width: int) -> Shape | None:
    """The shape of :func:`crop`: ``(..., height, width)``; error if the box leaves the image."""
    if shape is None:
        return None
    _check_box(shape, top, left, height, width, "augment_crop")
    return (*shape[:-2], height, width)


def center_crop(x: Tensor, size: int | Sequence[int]) -> Tensor:
    """Cut the central ``size`` box (``augment_center_crop``).

    As in torchvision, an image smaller than ``size`` is first padded with zeros (evenly,
    the odd pixel at the bottom / right), and the box's offset is
    ``round((H - height) / 2)``, ``round((W - width) / 2)``.

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., H, W)``.
    size : int or sequence of int
        ``(height, width)``; an int gives a square.

    Returns
    -------
    Tensor
        The batch ``(N, ..., height, width)``.
    """
    op = "augment_center_crop"
    _validate(check_size, size, "size", op)
    _need_dims(_shape_of(x), op, 3, "(N, ..., H, W)")
    height, width = _int_pair(size)
    h, w = x.shape[-2], x.shape[-1]
    if height > h or width > w:
        dh, dw = max(height - h, 0), max(width - w, 0)
        x = functional.pad(x, (dw // 2, (dw + 1) // 2, dh // 2, (dh + 1) // 2))
        h, w = x.shape[-2], x.shape[-1]
    top, left = round((h - height) / 2.0), round((w - width) / 2.0)
    return x[..., top : top + height, left : left + width]


def center_crop_shape(shape: Shape | None, size: int | Sequence[int]) -> Shape | None:
    """The shape of :func:`center_crop`: at least 3 dims; ``(..., height, width)``."""
    if shape is None:
        return None
    _need_dims(shape, "augment_center_crop", 3, "(N, ..., H, W)")
    return (*shape[:-2], *_int_pair(size))


def _gather_boxes(x: Tensor, tops: Tensor, lefts: Tensor, height: int, width: int) -> Tensor:
    """One ``height`` x ``width`` box per image, at per-image offsets, vectorised."""
    n = x.shape[0]
    src = _as_4d(x)
    m, w = src.shape[1], src.shape[-1]
    rows = tops.to(x.device).view(n, 1) + torch.arange(height, device=x.device)
    cols = lefts.to(x.device).view(n, 1) + torch.arange(width, device=x.device)
    src = src.gather(2, rows.view(n, 1, height, 1).expand(n, m, height, w))
    src = src.gather(3, cols.view(n, 1, 1, width).expand(n, m, height, width))
    return src.reshape(*x.shape[:-2], height, width)


def _random_crop_padding(
    h: int | None,
    w: int | None,
    size: int | Sequence[int],
    padding: int | Sequence[int] | None,
    pad_if_needed: bool,
) -> tuple[int, int, int, int]:
    left, top, right, bottom = (0, 0, 0, 0) if padding is None else _padding_ltrb(padding)
    height, width = _int_pair(size)
    if pad_if_needed:
        if h is not None and h + top + bottom < height:
            extra = height - (h + top + bottom)
            top, bottom = top + extra, bottom + extra
        if w is not None and w + left + right < width:
            extra = width - (w + left + right)
            left, right = left + extra, right + extra
    return left, top, right, bottom


def random_crop(
    x: Tensor,
    size: int | Sequence[int],
    padding: int | Sequence[int] | None = None,
    pad_if_needed: bool = False,
    fill: float = 0.0,
    padding_mode: str = "constant",
) -> Tensor:
    """Cut a ``size`` box at a random position per image (``augment_random_crop``).

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., H, W)``.
    size : int or sequence of int
        ``(height, width)`` of the box; an int gives a square.
    padding : int or sequence of int, optional
        Padding applied first (see :func:`pad` for the order of the values).
    pad_if_needed : bool, default False
        Pad (by the missing extent on both sides, as torchvision) an image smaller than
        ``size``; otherwise such an image is an error.
    fill : float, default 0.0
        Value of constant padding.
    padding_mode : {"constant", "edge", "reflect", "symmetric"}, default "constant"
        See :func:`pad`.

    Returns
    -------
    Tensor
        The batch ``(N, ..., height, width)``; offsets drawn uniformly per image.
    """
    op = "augment_random_crop"
    _validate(check_size, size, "size", op)
    if padding is not None:
        _validate(check_padding, padding, "padding", op)
    _choice(padding_mode, PADDING_MODES, "padding_mode", op)
    random_crop_shape(_shape_of(x), size, padding, pad_if_needed, fill, padding_mode)
    pads = _random_crop_padding(x.shape[-2], x.shape[-1], size, padding, pad_if_needed)
    if any(pads):
        x = pad(x, pads, fill=fill, padding_mode=padding_mode)
    height, width = _int_pair(size)
    h, w = x.shape[-2], x.shape[-1]
    n = x.shape[0]
    tops = torch.randint(0, h - height + 1, (n,))
    lefts = torch.randint(0, w - width + 1, (n,))
    return _gather_boxes(x, tops, lefts, height, width)


def random_crop_shape(
    shape: Shape | None,
    size: int | Sequence[int],
    padding: int | Sequence[int] | None = None,
    pad_if_needed: bool = False,
    fill: float = 0.0,
    padding_mode: str = "constant",
) -> Shape | None:
    """The shape of :func:`random_crop`: ``(..., height, width)``; error if the image is smaller."""
    if shape is None:
        return None
    op = "augment_random_crop"
    _need_dims(shape, op, 3, "(N, ..., H, W)")
    h, w = shape[-2], shape[-1]
    left, top, right, bottom = _random_crop_padding(h, w, size, padding, pad_if_needed)
    height, width = _int_pair(size)
    if (h is not None and h + top + bottom < height) or (
        w is not None and w + left + right < width
    ):
        raise ShapeError(
            f"'{op}' cannot crop {height} x {width} pixels from an input of shape "
            f"{shape_to_str(shape)} (after padding); set 'pad_if_needed' or 'padding'."
        )
    return (*shape[:-2], height, width)


def resized_crop(
    x: Tensor,
    top: int,
    left: int,
    height: int,
    width: int,
    size: int | Sequence[int],
    interpolation: str = "bilinear",
    antialias: bool = True,
) -> Tensor:
    """Crop a fixed box, then resize it to ``size`` (``augment_resized_crop``).

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., H, W)``.
    top, left, height, width : int
        The box, as for :func:`crop`.
    size : int or sequence of int
        The output size, as for :func:`resize`.
    interpolation : {"nearest", "nearest-exact", "bilinear", "bicubic"}, default "bilinear"
        The interpolation mode.
    antialias : bool, default True
        Low-pass filter when downsizing (bilinear and bicubic).

    Returns
    -------
    Tensor
        The resized crops.
    """
    return resize(crop(x, top, left, height, width), size, interpolation, antialias)


def resized_crop_shape(
    shape: Shape | None,
    top: int,
    left: int,
    height: int,
    width: int,
    size: int | Sequence[int],
    interpolation: str = "bilinear",
    antialias: bool = True,
) -> Shape | None:
    """The shape of :func:`resized_crop`: the crop rule, then the resize rule."""
    cropped = crop_shape(shape, top, left, height, width)
    return resize_shape(cropped, size, interpolation, antialias)


def _random_boxes(
    n: int, h: int, w: int, scale: Sequence[float], ratio: Sequence[float]
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Torchvision's RandomResizedCrop box sampling, vectorised: ten tries, then a fallback."""
    tries = 10
    area = h * w
    target = area * _uniform(n * tries, float(scale[0]), float(scale[1])).view(n, tries)
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(_uniform(n * tries, log_lo, log_hi)).view(n, tries)
    widths = torch.sqrt(target * aspect).round().long()
    heights = torch.sqrt(target / aspect).round().long()
    ok = (widths > 0) & (widths <= w) & (heights > 0) & (heights <= h)
    first = ok.long().argmax(dim=1, keepdim=True)
    found = ok.any(dim=1)
    # Fallback: the largest central box whose aspect ratio lies within `ratio`.
    in_ratio = w / h
    if in_ratio < min(ratio):
        fb_w, fb_h = w, round(w / min(ratio))
    elif in_ratio > max(ratio):
        fb_w, fb_h = round(h * max(ratio)), h
    else:
        fb_w, fb_h = w, h
    bw = torch.where(found, widths.gather(1, first).squeeze(1), torch.tensor(fb_w))
    bh = torch.where(found, heights.gather(1, first).squeeze(1), torch.tensor(fb_h))
    u_top, u_left = torch.rand(n, dtype=torch.float64), torch.rand(n, dtype=torch.float64)
    tops = torch.where(found, (u_top * (h - bh + 1)).floor().long(), torch.tensor((h - fb_h) // 2))
    lefts = torch.where(
        found, (u_left * (w - bw + 1)).floor().long(), torch.tensor((w - fb_w) // 2)
    )
    return tops, lefts, bh, bw


def random_resized_crop(
    x: Tensor,
    size: int | Sequence[int],
    scale: Sequence[float] = (0.08, 1.0),
    ratio: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
    interpolation: str = "bilinear",
    antialias: bool = True,
) -> Tensor:
    """Crop a random box per image and resize it to ``size`` (``augment_random_resized_crop``).

    The box covers a fraction of the image area drawn from ``scale`` and has an aspect
    ratio (width / height) drawn log-uniformly from ``ratio``; as in torchvision, ten
    draws are tried and a central box is the fallback.

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., H, W)``.
    size : int or sequence of int
        Output ``(height, width)``; an int gives a square (unlike :func:`resize`).
    scale : (float, float), default (0.08, 1.0)
        Range of the area fraction.
    ratio : (float, float), default (3/4, 4/3)
        Range of the aspect ratio.
    interpolation : {"nearest", "nearest-exact", "bilinear", "bicubic"}, default "bilinear"
        The interpolation mode.
    antialias : bool, default True
        Low-pass filter when downsizing (bilinear and bicubic).

    Returns
    -------
    Tensor
        The batch ``(N, ..., height, width)``.

    Notes
    -----
    Each image's box has its own size, so the boxes are resized one image at a time.
    """
    op = "augment_random_resized_crop"
    _validate(check_size, size, "size", op)
    _validate(check_range, scale, "scale", op)
    _validate(check_range, ratio, "ratio", op)
    _choice(interpolation, INTERPOLATIONS, "interpolation", op)
    _need_dims(_shape_of(x), op, 3, "(N, ..., H, W)")
    height, width = _int_pair(size)
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    if n == 0:
        return x.new_empty((*x.shape[:-2], height, width))
    if h == 0 or w == 0:
        raise ShapeError(
            f"'{op}' cannot crop from empty images: got the shape {shape_to_str(_shape_of(x))}."
        )
    tops, lefts, bhs, bws = _random_boxes(n, h, w, scale, ratio)
    pieces = []
    for i, (t, l_, bh, bw) in enumerate(
        zip(tops.tolist(), lefts.tolist(), bhs.tolist(), bws.tolist(), strict=True)
    ):
        box = x[i : i + 1, ..., t : t + bh, l_ : l_ + bw]
        pieces.append(resize(box, (height, width), interpolation, antialias))
    return torch.cat(pieces, dim=0)


def random_resized_crop_shape(
    shape: Shape | None,
    size: int | Sequence[int],
    scale: Sequence[float] = (0.08, 1.0),
    ratio: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
    interpolation: str = "bilinear",
    antialias: bool = True,
) -> Shape | None:
    """The shape of :func:`random_resized_crop`: at least 3 dims; ``(..., height, width)``."""
    if shape is None:
        return None
    _need_dims(shape, "augment_random_resized_crop", 3, "(N, ..., H, W)")
    return (*shape[:-2], *_int_pair(size))


# --- affine transformations ------------------------------------------------------------------


def _affine_sample(
    x: Tensor,
    matrix: Tensor,
    offset: Tensor,
    out_hw: tuple[int, int],
    interpolation: str,
    fill: float,
) -> Tensor:
    """Sample ``x`` at ``p_in = matrix @ p_out + offset`` per image.

    Points are ``(x, y)`` pixel coordinates (x to the right, y down) measured from the
    image centre, for the input and the output canvas alike. ``matrix`` is ``(N, 2, 2)``
    and ``offset`` is ``(N, 2)``.
    """
    n = x.shape[0]
    h, w = x.shape[-2], x.shape[-1]
    out_h, out_w = out_hw
    # grid_sample works in coordinates normalised to [-1, 1] over each image's extent
    # (align_corners=False): pixel = normalised * size / 2.
    to_norm_in = torch.tensor([2.0 / w, 2.0 / h], dtype=torch.float64)
    from_norm_out = torch.tensor([out_w / 2.0, out_h / 2.0], dtype=torch.float64)
    theta = torch.cat(
        [
            to_norm_in.view(1, 2, 1) * matrix * from_norm_out.view(1, 1, 2),
            (to_norm_in.view(1, 2) * offset).unsqueeze(2),
        ],
        dim=2,
    )
    src = _as_4d(x)
    work = src if src.is_floating_point() else src.to(torch.float32)
    theta = theta.to(device=x.device, dtype=work.dtype)
    grid = functional.affine_grid(theta, [n, work.shape[1], out_h, out_w], align_corners=False)
    y = functional.grid_sample(
        work, grid, mode=interpolation, padding_mode="zeros", align_corners=False
    )
    if fill != 0:
        inside = functional.grid_sample(
            torch.ones_like(work[:, :1]), grid, mode=interpolation, align_corners=False
        )
        y = y + (1.0 - inside) * float(fill)
    return _cast_like(y, x.dtype).reshape(*x.shape[:-2], out_h, out_w)


def _inverse_rotation(angles: Tensor, scales: Tensor) -> Tensor:
    """Inverse of "rotate counter-clockwise by ``angles`` degrees, then scale" (y axis down)."""
    rad = torch.deg2rad(angles)
    cos, sin = torch.cos(rad) / scales, torch.sin(rad) / scales
    return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)


def _expanded_size(h: int, w: int, angle: float) -> tuple[int, int]:
    """The smallest canvas ``(height, width)`` that holds the image rotated by ``angle``.

    The rotated extents are rounded first (``cos(90 deg)`` is not exactly 0 in floating
    point) and a 1e-4 tolerance absorbs what remains, so that multiples of 90 degrees
    swap or keep the sizes exactly.
    """
    rad = math.radians(angle)
    cos, sin = abs(math.cos(rad)), abs(math.sin(rad))
    height = round(w * sin + h * cos, 9)
    width = round(w * cos + h * sin, 9)
    return max(1, math.ceil(height - 1e-4)), max(1, math.ceil(width - 1e-4))


def _check_interpolation_affine(interpolation: str, op: str) -> None:
    _choice(interpolation, ("nearest", "bilinear"), "interpolation", op)


def rotate(
    x: Tensor,
    angle: float,
    interpolation: str = "nearest",
    expand: bool = False,
    center: Sequence[float] | None = None,
    fill: float = 0.0,
) -> Tensor:
    """Rotate counter-clockwise by ``angle`` degrees (``augment_rotate``).

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., H, W)``.
    angle : float
        Degrees, counter-clockwise.
    interpolation : {"nearest", "bilinear"}, default "nearest"
        How pixels between grid points are read.
    expand : bool, default False
        Enlarge the output to the smallest canvas that holds the whole rotated image,
        centred (rotation about the centre; cannot be combined with ``center``).
        torchvision follows PIL, whose canvas can be one pixel larger when height and
        width differ in parity.
    center : (float, float), optional
        Centre of rotation ``(x, y)`` in pixel coordinates, the image spanning
        ``[0, W] x [0, H]``; default the image centre.
    fill : float, default 0.0
        Value of pixels outside the rotated image.

    Returns
    -------
    Tensor
        The rotated batch (same size unless ``expand``).
    """
    op = "augment_rotate"
    if not _is_num(angle):
        raise InvalidParameterError(
            f"The 'angle' parameter of {op} must be a float. Got {angle!r} instead."
        )
    _check_interpolation_affine(interpolation, op)
    if center is not None:
        _validate(check_point, center, "center", op)
    rotate_shape(_shape_of(x), angle, interpolation, expand, center, fill)
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    angles = torch.full((n,), float(angle), dtype=torch.float64)
    matrix = _inverse_rotation(angles, torch.ones(n, dtype=torch.float64))
    if center is None:
        offset = torch.zeros(n, 2, dtype=torch.float64)
    else:
        pivot = torch.tensor([center[0] - w / 2.0, center[1] - h / 2.0], dtype=torch.float64)
        offset = pivot - matrix @ pivot
    out_hw = _expanded_size(h, w, float(angle)) if expand else (h, w)
    return _affine_sample(x, matrix, offset, out_hw, interpolation, fill)


def rotate_shape(
    shape: Shape | None,
    angle: float,
    interpolation: str = "nearest",
    expand: bool = False,
    center: Sequence[float] | None = None,
    fill: float = 0.0,
) -> Shape | None:
    """The shape of :func:`rotate`: unchanged, or the enlarged canvas with ``expand``."""
    op = "augment_rotate"
    if expand and center is not None:
        raise InvalidParameterError(
            f"The 'center' parameter of {op} cannot be combined with 'expand' = True (the "
            "enlarged canvas assumes rotation about the image centre)."
        )
    if shape is None:
        return None
    _need_dims(shape, op, 3, "(N, ..., H, W)")
    h, w = shape[-2], shape[-1]
    if not expand:
        return shape
    if h is None or w is None:
        return (*shape[:-2], None, None)
    return (*shape[:-2], *_expanded_size(h, w, float(angle)))


def random_affine(
    x: Tensor,
    degrees: float | Sequence[float],
    translate: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
    interpolation: str = "nearest",
    fill: float = 0.0,
) -> Tensor:
    """Random rotation, shift and scaling about the centre, per image (``augment_random_affine``).

    Parameters
    ----------
    x : Tensor
        A batch ``(N, ..., H, W)``.
    degrees : float or (float, float)
        Rotation range in degrees (counter-clockwise); a number ``d`` means ``(-d, d)``.
    translate : (float, float), optional
        Largest horizontal and vertical shift as fractions of the width and height; each
        shift is drawn uniformly and rounded to whole pixels. Default: none.
    scale : (float, float), optional
        Range of the scale factor. Default: 1.
    interpolation : {"nearest", "bilinear"}, default "nearest"
        How pixels between grid points are read.
    fill : float, default 0.0
        Value of pixels outside the transformed image.

    Returns
    -------
    Tensor
        The transformed batch (same size).
    """
    op = "augment_random_affine"
    _validate(check_degrees, degrees, "degrees", op)
    if translate is not None:
        _validate(check_translate, translate, "translate", op)
    if scale is not None:
        _validate(check_range, scale, "scale", op)
    _check_interpolation_affine(interpolation, op)
    _need_dims(_shape_of(x), op, 3, "(N, ..., H, W)")
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    low, high = _bounds(degrees, 0.0, None)
    angles = _uniform(n, low, high)
    if translate is not None:
        dx, dy = float(translate[0]) * w, float(translate[1]) * h
        shifts = torch.stack([_uniform(n, -dx, dx), _uniform(n, -dy, dy)], dim=1).round()
    else:
        shifts = torch.zeros(n, 2, dtype=torch.float64)
    if scale is not None:
        scales = _uniform(n, float(scale[0]), float(scale[1]))
    else:
        scales = torch.ones(n, dtype=torch.float64)
    matrix = _inverse_rotation(angles, scales)
    offset = -(matrix @ shifts.unsqueeze(2)).squeeze(2)
    return _affine_sample(x, matrix, offset, (h, w), interpolation, fill)


def random_affine_shape(
    shape: Shape | None,
    degrees: float | Sequence[float],
    translate: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
    interpolation: str = "nearest",
    fill: float = 0.0,
) -> Shape | None:
    """The shape of :func:`random_affine`: at least 3 dims; unchanged."""
    if shape is not None:
        _need_dims(shape, "augment_random_affine", 3, "(N, ..., H, W)")
    return shape


# --- random choice and order -----------------------------------------------------------------


def _apply_grouped(x: Tensor, groups: Tensor, transforms: Sequence[Transform], op: str) -> Tensor:
    """Apply ``transforms[k]`` to the images whose group is ``k``; reassemble the batch."""
    if x.shape[0] == 0:
        return transforms[0](x)
    parts: list[tuple[Tensor, Tensor]] = []
    for k, transform in enumerate(transforms):
        rows = (groups == k).nonzero().squeeze(1)
        if rows.numel():
            parts.append((rows, transform(x.index_select(0, rows.to(x.device)))))
    shapes = {tuple(y.shape[1:]) for _, y in parts}
    if len(shapes) > 1:
        raise ShapeError(
            f"'{op}' needs transforms that give images of one shape, but they returned "
            f"shapes {sorted(shapes)} (batch dimension dropped) for the same input."
        )
    dtype = parts[0][1].dtype
    for _, y in parts[1:]:
        dtype = torch.promote_types(dtype, y.dtype)
    first = parts[0][1]
    out = first.new_empty((x.shape[0], *first.shape[1:]), dtype=dtype)
    for rows, y in parts:
        out[rows.to(out.device)] = y.to(dtype)
    return out


def random_choice(
    x: Tensor, transforms: Sequence[Transform], p: Sequence[float] | None = None
) -> Tensor:
    """Apply one of ``transforms``, chosen at random per image (``augment_random_choice``).

    Parameters
    ----------
    x : Tensor
        A batch.
    transforms : list of callable
        Functions from a batch to a batch (e.g. ``functools.partial(hflip)`` or a lambda);
        each is called on the sub-batch of images that chose it, and all must give
        images of one shape.
    p : sequence of float, optional
        Weights of the transforms (normalised); default equal.

    Returns
    -------
    Tensor
        The transformed batch.
    """
    op = "augment_random_choice"
    _validate(check_transforms, transforms, "transforms", op)
    k = len(transforms)
    if p is not None:
        _validate(check_probabilities, p, "p", op)
        if len(p) != k:
            raise InvalidParameterError(
                f"The 'p' parameter of {op} must have one weight per transform ({k}). "
                f"Got {len(p)} weights instead."
            )
    weights = torch.ones(k, dtype=torch.float64) if p is None else torch.tensor(p).double()
    edges = (weights.cumsum(0) / weights.sum())[:-1]
    groups = torch.bucketize(torch.rand(x.shape[0], dtype=torch.float64), edges, right=True)
    return _apply_grouped(x, groups, list(transforms), op)


def random_choice_shape(
    shape: Shape | None, transforms: Sequence[Transform], p: Sequence[float] | None = None
) -> Shape | None:
    """The shape of :func:`random_choice`: unknown (``None``)."""
    return None


def random_order(x: Tensor, transforms: Sequence[Transform]) -> Tensor:
    """Apply all ``transforms`` in a random order per image (``augment_random_order``).

    Parameters
    ----------
    x : Tensor
        A batch.
    transforms : list of callable
        Functions from a batch to a batch; at each step every transform is called on the
        sub-batch of images whose order puts it there, so at each step all must give
        images of one shape (shape-preserving transforms always do).

    Returns
    -------
    Tensor
        The transformed batch.
    """
    op = "augment_random_order"
    _validate(check_transforms, transforms, "transforms", op)
    k = len(transforms)
    order = torch.rand(x.shape[0], k).argsort(dim=1)
    out = x
    for position in range(k):
        out = _apply_grouped(out, order[:, position], list(transforms), op)
    return out


def random_order_shape(shape: Shape | None, transforms: Sequence[Transform]) -> Shape | None:
    """The shape of :func:`random_order`: unknown (``None``)."""
    return None
