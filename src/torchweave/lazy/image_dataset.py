"""Image files as a torch Dataset: :class:`ImageFileDataset` and :func:`open_images`.

:class:`ImageFileDataset` decodes image files when rows are asked for, so a dataset
over thousands of images holds only their paths. Images decode to ``float32``
tensors of shape ``(channels, height, width)`` with values in ``[0, 1]`` (8-bit
values divided by 255, 16-bit ones by 65535). Pillow decodes them; torchvision's
``decode_image`` is used when asked for (``backend="torchvision"``), or when Pillow is
missing.

This module knows nothing of lazy tensors; :mod:`torchweave.lazy.image` wraps its
datasets in lazy tensors.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from torchweave.errors import (
    InvalidParameterError,
    InvalidTypeError,
    MissingDependencyError,
    ShapeError,
    TaskError,
)
from torchweave.network.shapes import Shape, as_shape, shape_to_str
from torchweave.utils.text import quote_list

__all__ = ["ImageFileDataset", "open_images"]

_MODES = ("L", "LA", "RGB", "RGBA")
_BACKENDS = ("auto", "pil", "torchvision")
# Pillow modes kept as they are (or with their alpha un-premultiplied) when mode=None.
_NATIVE = {"L": "L", "LA": "LA", "La": "LA", "RGB": "RGB", "RGBA": "RGBA", "RGBa": "RGBA", "1": "L"}
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def _check_mode(mode: Any) -> str | None:
    if mode is not None and mode not in _MODES:
        raise InvalidParameterError(
            f"The 'mode' parameter must be None (keep the file's channels) or one of "
            f"{quote_list(_MODES)}. Got {mode!r} instead."
        )
    return mode


def _resolve_backend(backend: Any) -> str:
    if backend not in _BACKENDS:
        raise InvalidParameterError(
            f"The 'backend' parameter must be one of {quote_list(_BACKENDS)}. "
            f"Got {backend!r} instead."
        )
    has_pil = importlib.util.find_spec("PIL") is not None
    if backend == "pil" or (backend == "auto" and has_pil):
        if not has_pil:
            raise MissingDependencyError(
                "Decoding image files with backend='pil' needs Pillow: pip install pillow."
            )
        return "pil"
    if importlib.util.find_spec("torchvision") is None:
        if backend == "torchvision":
            raise MissingDependencyError(
                "Decoding image files with backend='torchvision' needs torchvision: "
                "pip install 'torchweave[vision]'."
            )
        raise MissingDependencyError(
            "Decoding image files needs Pillow or torchvision: pip install pillow, "
            "or pip install 'torchweave[vision]'."
        )
    return "torchvision"


def _as_paths(paths: Any) -> list[str]:
    if isinstance(paths, str | os.PathLike) or not isinstance(paths, Iterable):
        raise InvalidTypeError(
            f"'paths' must be a sequence of image file paths (str or os.PathLike). "
            f"Got {type(paths).__name__} instead."
        )
    out = list(paths)
    bad = [p for p in out if not isinstance(p, str | os.PathLike)]
    if bad:
        raise InvalidTypeError(
            f"'paths' must hold image file paths (str or os.PathLike). "
            f"Got {type(bad[0]).__name__} ({bad[0]!r}) instead."
        )
    return [os.fspath(p) for p in out]


def _channels(gray: torch.Tensor, mode: str) -> torch.Tensor:
    # gray: (1, H, W) in [0, 1]; adds colour copies and an opaque alpha as mode asks.
    colour = gray.expand(3, -1, -1) if mode.startswith("RGB") else gray
    if mode.endswith("A"):
        colour = torch.cat([colour, torch.ones_like(gray)])
    return colour.contiguous()


def _decode_pil(path: str, mode: str | None) -> torch.Tensor:
    from PIL import Image

    with Image.open(path) as img:
        if img.mode in _SIXTEEN_BIT:
            gray = np.asarray(img, dtype=np.float32) / 65535.0
            return _channels(torch.from_numpy(gray)[None], mode or "L")
        if mode is None and img.mode == "F":
            return torch.from_numpy(np.asarray(img, dtype=np.float32).copy())[None]
        target = mode
        if target is None:
            target = _NATIVE.get(img.mode)
        if target is None:
            alpha = img.mode in ("PA", "RGBA") or "transparency" in img.info
            target = "RGBA" if alpha else "RGB"
        converted = img if img.mode == target else img.convert(target)
        array = np.array(converted, dtype=np.uint8)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array)).to(torch.float32).div_(255.0)


def _decode_torchvision(path: str, mode: str | None) -> torch.Tensor:
    from torchvision.io import ImageReadMode, decode_image, read_file

    read_mode = {
        None: ImageReadMode.UNCHANGED,
        "L": ImageReadMode.GRAY,
        "LA": ImageReadMode.GRAY_ALPHA,
        "RGB": ImageReadMode.RGB,
        "RGBA": ImageReadMode.RGB_ALPHA,
    }[mode]
    image = decode_image(read_file(path), mode=read_mode)
    scale = 65535.0 if image.dtype == torch.uint16 else 255.0
    return image.to(torch.float32).div_(scale)


class ImageFileDataset(Dataset[dict[str, torch.Tensor]]):
    """A dataset that decodes image files when its rows are read.

    Each row is ``{key: image}`` with ``image`` a ``float32`` tensor of shape
    ``(channels, height, width)`` and values in ``[0, 1]``. ``__getitems__`` stacks a
    batch, which needs all its images to have one size.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        The image files, one per row.
    mode : {None, "L", "LA", "RGB", "RGBA"}
        Convert every image to this colour mode (grey, grey with alpha, colour, colour
        with alpha). ``None`` keeps each file's channels (palette images become RGB,
        or RGBA when they have transparency).
    shape : tuple, optional
        The expected shape of one image, ``(channels, height, width)``; ``None``
        entries are not checked. Each decoded image is checked against it, and a
        mismatch raises a :class:`~torchweave.errors.ShapeError` naming the file.
    backend : {"auto", "pil", "torchvision"}
        The decoder; ``"auto"`` uses Pillow when it is installed, else torchvision.
    key : str
        The name of the tensor in each row (default ``"x"``).

    Examples
    --------
    >>> ds = ImageFileDataset(["a.png", "b.png"], mode="RGB")  # doctest: +SKIP
    >>> ds[0]["x"].shape  # doctest: +SKIP
    torch.Size([3, 32, 32])
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        mode: str | None = None,
        shape: Sequence[int | None] | None = None,
        backend: str = "auto",
        key: str = "x",
    ) -> None:
        self.paths = _as_paths(paths)
        self.mode = _check_mode(mode)
        self.shape: Shape | None = None if shape is None else as_shape(shape, "image shape")
        if self.shape is not None and len(self.shape) != 3:
            raise ShapeError(
                f"The 'shape' of one image must be (channels, height, width). "
                f"Got {shape_to_str(self.shape)} instead."
            )
        self.backend = _resolve_backend(backend)
        self.key = key

    def __len__(self) -> int:
        return len(self.paths)

    def decode(self, index: int) -> torch.Tensor:
        """Decode the image of row ``index`` to a ``(C, H, W)`` float tensor in ``[0, 1]``."""
        path = self.paths[index]
        decode = _decode_pil if self.backend == "pil" else _decode_torchvision
        try:
            image = decode(path, self.mode)
        except Exception as exc:
            raise TaskError(f"Cannot decode the image file '{path}': {exc}") from exc
        if self.shape is not None and (
            len(self.shape) != image.dim()
            or any(d is not None and d != s for d, s in zip(self.shape, image.shape, strict=True))
        ):
            raise ShapeError(
                f"The image file '{path}' has shape {shape_to_str(tuple(image.shape))}, but its "
                f"lazy tensor declares {shape_to_str((None, *self.shape))}. Give all images one "
                "size, or declare the shape unknown (shape=None)."
            )
        return image

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {self.key: self.decode(int(index))}

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        if len(indices) == 0:
            if self.shape is None or None in self.shape:
                raise ShapeError(
                    "Cannot build an empty batch of images whose shape is not fully known."
                )
            size = [0] + [int(d) for d in self.shape if d is not None]
            return {self.key: torch.empty(size, dtype=torch.float32)}
        images = [self.decode(int(i)) for i in indices]
        shapes: dict[tuple[int, ...], str] = {}
        for i, image in zip(indices, images, strict=True):
            shapes.setdefault(tuple(image.shape), self.paths[int(i)])
        if len(shapes) > 1:
            listed = ", ".join(f"'{p}' {shape_to_str(s)}" for s, p in shapes.items())
            raise ShapeError(
                f"Cannot stack images of different sizes into one batch: {listed}. "
                "Give all images one size (for example with a resizing preprocessing step)."
            )
        return {self.key: torch.stack(images)}

    def __repr__(self) -> str:
        return f"<ImageFileDataset of {len(self)} files, mode={self.mode!r}>"


def _as_image_shape(shape: Any) -> Shape:
    full = as_shape(shape, "image shape")
    if len(full) == 3:
        full = (None, *full)
    if len(full) != 4 or full[0] is not None:
        raise ShapeError(
            f"The 'shape' of an image lazy tensor must be (None, channels, height, width) or "
            f"(channels, height, width). Got {shape_to_str(full)} instead."
        )
    return full


def open_images(
    paths: Sequence[str | os.PathLike[str]],
    shape: str | Sequence[int | None] | None = "infer",
    mode: str | None = None,
    backend: str = "auto",
) -> tuple[ImageFileDataset, Shape | None]:
    """An :class:`ImageFileDataset` over ``paths`` and the shape of its rows.

    Parameters are those of :func:`~torchweave.lazy.image.lazy_tensor_from_images`.

    Returns
    -------
    tuple of ImageFileDataset and shape
        The dataset and its shape ``(None, C, H, W)`` (``None`` when unknown).
    """
    files = _as_paths(paths)
    declared: Shape | None
    if isinstance(shape, str):
        if shape != "infer":
            raise InvalidParameterError(
                f"The 'shape' parameter must be 'infer', None or a tuple. Got {shape!r} instead."
            )
        if not files:
            raise InvalidParameterError(
                "Cannot infer the shape of an image lazy tensor without images: 'paths' is "
                "empty. Give the shape, e.g. shape=(None, 3, 32, 32)."
            )
        probe = ImageFileDataset(files[:1], mode=mode, backend=backend)
        declared = (None, *probe.decode(0).shape)
    else:
        declared = None if shape is None else _as_image_shape(shape)
    dataset = ImageFileDataset(
        files, mode=mode, shape=None if declared is None else declared[1:], backend=backend
    )
    return dataset, declared
