"""Image files as lazy tensors, and classification tasks from a folder per class.

:func:`lazy_tensor_from_images` wraps an :class:`ImageFileDataset` (see
:mod:`torchweave.lazy.image_dataset`: decoding happens when rows are asked for) in a
lazy tensor, and :func:`task_from_image_folder` builds a classification task from a
folder laid out as torchvision's ``ImageFolder`` expects (``root/<class>/<image>``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from torchweave.errors import InvalidParameterError, InvalidTypeError, TaskError
from torchweave.lazy.image_dataset import ImageFileDataset, open_images
from torchweave.lazy.lazy_tensor import as_lazy_tensor
from torchweave.utils.text import quote_list

if TYPE_CHECKING:
    from torchweave.data.task import TaskClassif

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageFileDataset",
    "lazy_tensor_from_images",
    "task_from_image_folder",
]

#: File name endings that :func:`task_from_image_folder` reads by default.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
)


def lazy_tensor_from_images(
    paths: Sequence[str | os.PathLike[str]],
    shape: str | Sequence[int | None] | None = "infer",
    mode: str | None = None,
    backend: str = "auto",
) -> Any:
    """A lazy tensor over image files: one row per file, decoded when materialized.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        The image files.
    shape : "infer", None or tuple
        The shape of the lazy tensor. ``"infer"`` decodes the first image and takes
        its shape (``(None, C, H, W)``); a tuple ``(None, C, H, W)`` or ``(C, H, W)``
        declares it (``None`` entries are unknown); ``None`` leaves it unknown, for
        images of different sizes. Images are checked against a declared shape when
        they are decoded.
    mode : {None, "L", "LA", "RGB", "RGBA"}
        The colour mode (see :class:`ImageFileDataset`).
    backend : {"auto", "pil", "torchvision"}
        The decoder (see :class:`ImageFileDataset`).

    Returns
    -------
    LazyTensorArray
        A lazy tensor whose rows are ``float32`` images in ``[0, 1]``.
    """
    dataset, declared = open_images(paths, shape=shape, mode=mode, backend=backend)
    return as_lazy_tensor(dataset, dataset_shapes={"x": declared})


def _normalise_extensions(extensions: Any) -> tuple[str, ...]:
    if isinstance(extensions, str):
        extensions = (extensions,)
    if not isinstance(extensions, Iterable):
        raise InvalidParameterError(
            f"The 'extensions' parameter must be a sequence of file endings such as '.png'. "
            f"Got {extensions!r} instead."
        )
    out = []
    for ext in extensions:
        if not isinstance(ext, str) or not ext.strip("."):
            raise InvalidParameterError(
                f"The 'extensions' parameter must hold file endings such as '.png'. "
                f"Got {ext!r} instead."
            )
        out.append("." + ext.lower().lstrip("."))
    if not out:
        raise InvalidParameterError("The 'extensions' parameter must name at least one ending.")
    return tuple(out)


def _scan_class(folder: Path, extensions: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for current, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            os.path.join(current, f)
            for f in sorted(files)
            if not f.startswith(".") and f.lower().endswith(extensions)
        )
    return found


def task_from_image_folder(
    path: str | os.PathLike[str],
    id: str | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    mode: str | None = None,
    shape: str | Sequence[int | None] | None = "infer",
) -> TaskClassif:
    """A classification task from a folder with one subfolder of images per class.

    The layout is torchvision's ``ImageFolder``: ``path/<class>/<image>`` (images may
    sit in nested folders below their class folder). Classes are the class folders'
    names, sorted; hidden files and folders (names starting with ``.``) are skipped.

    Parameters
    ----------
    path : str or os.PathLike
        The root folder.
    id : str, optional
        The task id (default: the folder's name).
    extensions : sequence of str
        File endings to read, compared case-insensitively (default
        :data:`IMAGE_EXTENSIONS`).
    mode : {None, "L", "LA", "RGB", "RGBA"}
        The colour mode every image is converted to (see :class:`ImageFileDataset`).
    shape : "infer", None or tuple
        The shape of the image column (see :func:`lazy_tensor_from_images`).

    Returns
    -------
    TaskClassif
        A task with the lazy tensor feature ``image`` and the target ``class``, one row
        per image file, rows ordered by class and then by path.

    Raises
    ------
    TaskError
        If the folder does not exist, holds no class folders, a class folder holds no
        images, or there are fewer than 2 classes.
    """
    from torchweave.data.task import TaskClassif

    if not isinstance(path, str | os.PathLike):
        raise InvalidTypeError(
            f"'path' must be a folder path (str or os.PathLike). Got {type(path).__name__} instead."
        )
    exts = _normalise_extensions(extensions)
    root = Path(path).expanduser()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise TaskError(f"The image folder '{root}' {what}.")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise TaskError(
            f"The image folder '{root}' has no class folders: it must hold one folder of "
            "images per class (path/<class>/<image>)."
        )
    files = {c: _scan_class(root / c, exts) for c in classes}
    empty = [c for c in classes if not files[c]]
    if len(empty) == len(classes):
        raise TaskError(
            f"The image folder '{root}' holds no image files with the endings "
            f"{quote_list(exts)} in its class folders {quote_list(classes)}."
        )
    if empty:
        raise TaskError(
            f"The class folder(s) {quote_list(empty)} of '{root}' hold no image files with the "
            f"endings {quote_list(exts)}; remove them or add images."
        )
    if len(classes) < 2:
        raise TaskError(
            f"A classification task needs at least 2 class folders; '{root}' has 1: "
            f"{quote_list(classes)}."
        )
    paths = [p for c in classes for p in files[c]]
    labels = [c for c in classes for _ in files[c]]
    images = lazy_tensor_from_images(paths, shape=shape, mode=mode)
    frame = pd.DataFrame(
        {
            "image": pd.Series(images),
            "class": pd.Categorical(labels, categories=classes),
        }
    )
    task_id = id if id is not None else (root.resolve().name or "images")
    return TaskClassif(frame, target="class", id=task_id)
