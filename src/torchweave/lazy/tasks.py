"""Built-in tasks with a lazy tensor feature: ``lazy_iris``, ``digits``, ``mnist``, ``cifar10``.

``lazy_iris`` and ``digits`` need no network (their data ship with scikit-learn).
``mnist`` and ``cifar10`` download their files into the cache (see
:mod:`torchweave.lazy.download`) on first use, check their MD5 checksums, parse them
into ``uint8`` arrays saved as ``.npy`` files, and read images from those files only
when rows are materialized (memory-mapped). Images are ``float32`` in ``[0, 1]``.

The downloadable tasks have every row, training rows first, as mlr3torch's do, and a
``split`` column (``"train"`` / ``"test"``, no column role) that tells the original
split apart: ``task.filter(np.flatnonzero(task.data(cols="split")["split"] == "test"))``.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import io
import json
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from torchweave import registry
from torchweave.data.task import TaskClassif
from torchweave.errors import TaskError
from torchweave.lazy import download as _download
from torchweave.lazy.lazy_tensor import as_lazy_tensor
from torchweave.tasks.builtin import _sklearn_dataset

__all__ = [
    "CIFAR10_MD5",
    "CIFAR10_URLS",
    "MNIST_MIRRORS",
    "MNIST_RESOURCES",
    "task_cifar10",
    "task_digits",
    "task_lazy_iris",
    "task_mnist",
]

#: Base URLs tried in turn for the MNIST files (torchvision's mirrors).
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: The MNIST files and their MD5 checksums, as torchvision lists them.
MNIST_RESOURCES: tuple[tuple[str, str], ...] = (
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
)
#: Where the CIFAR-10 python tarball comes from, and its MD5 checksum.
CIFAR10_URLS: tuple[str, ...] = ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"

_IMAGES, _LABELS, _META = "images.npy", "labels.npy", "meta.json"
_DIGIT_CLASSES = pd.CategoricalDtype([str(d) for d in range(10)])


class _ArrayImageDataset(Dataset[dict[str, torch.Tensor]]):
    """Rows ``{"image": float32 (C, H, W) in [0, 1]}`` read from a memory-mapped uint8 .npy."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._array: np.ndarray | None = None

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        return self._array

    def __getstate__(self) -> dict[str, Any]:
        # The memory map is reopened after unpickling (e.g. in a DataLoader worker).
        return {"path": self.path, "_array": None}

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def _convert(self, values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(values, dtype=np.float32)).div_(255.0)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"image": self._convert(self.array[int(index)])}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return {"image": self._convert(self.array[np.asarray(indices, dtype=np.int64)])}


def _lazy_images(folder: Path) -> Any:
    dataset = _ArrayImageDataset(folder / _IMAGES)
    shape = (None, *(int(d) for d in dataset.array.shape[1:]))
    return as_lazy_tensor(dataset, dataset_shapes={"image": shape})


def _download_task(name: str, folder: Path, id: str) -> TaskClassif:
    meta = json.loads((folder / _META).read_text(encoding="utf-8"))
    labels = np.load(folder / _LABELS)
    classes: list[str] = meta["classes"]
    n_train, n_test = int(meta["n_train"]), int(meta["n_test"])
    if len(labels) != n_train + n_test or (len(labels) and int(labels.max()) >= len(classes)):
        raise TaskError(
            f"The cached data of task '{name}' in '{folder}' are inconsistent; delete that "
            "folder to download them again."
        )
    frame = pd.DataFrame(
        {
            "class": pd.Categorical.from_codes(
                labels.astype(np.int64), dtype=pd.CategoricalDtype(classes)
            ),
            "image": pd.Series(_lazy_images(folder)),
            "split": pd.Categorical(
                ["train"] * n_train + ["test"] * n_test, categories=["train", "test"]
            ),
        }
    )
    task = TaskClassif(frame, target="class", id=id)
    task.set_col_roles("split", [])
    return task


def _save(folder: Path, images: np.ndarray, labels: np.ndarray, meta: dict[str, Any]) -> None:
    np.save(folder / _IMAGES, np.ascontiguousarray(images, dtype=np.uint8))
    np.save(folder / _LABELS, np.asarray(labels, dtype=np.uint8))
    (folder / _META).write_text(json.dumps(meta), encoding="utf-8")


# --- lazy_iris and digits --------------------------------------------------------------------
def task_lazy_iris() -> TaskClassif:
    """Iris flowers with the 4 features as one lazy tensor ``x`` of shape ``(None, 4)``."""
    features, codes, classes = _sklearn_dataset("load_iris")
    x = as_lazy_tensor(np.array(features.to_numpy(dtype=np.float32), copy=True))
    frame = pd.DataFrame(
        {
            "species": pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(classes)),
            "x": pd.Series(x),
        }
    )
    return TaskClassif(frame, target="species", id="lazy_iris")


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    return images, bunch.target.astype(np.int64)


def task_digits() -> TaskClassif:
    """Handwritten digits (scikit-learn): 1797 8x8 images as a lazy tensor, 10 classes."""
    images, codes = _digits()
    frame = pd.DataFrame(
        {
            "class": pd.Categorical.from_codes(codes, dtype=_DIGIT_CLASSES),
            "image": pd.Series(as_lazy_tensor(torch.from_numpy(images.copy()))),
        }
    )
    return TaskClassif(frame, target="class", id="digits")


# --- mnist -----------------------------------------------------------------------------------
def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes with ``ndim`` dimensions."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    header = 4 + 4 * ndim
    if len(data) < header or data[:3] != b"\x00\x00\x08" or data[3] != ndim:
        raise TaskError(
            f"'{path.name}' is not an IDX file of unsigned bytes with {ndim} dimension(s)."
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    values = np.frombuffer(data, dtype=np.uint8, offset=header)
    if values.size != int(np.prod(dims)):
        raise TaskError(
            f"'{path.name}' declares {dims} values but holds {values.size}: it is truncated."
        )
    return values.reshape(dims)


def _build_mnist(folder: Path) -> None:
    raw = folder / "raw"
    files = {}
    for filename, md5 in MNIST_RESOURCES:
        urls = [mirror + filename for mirror in MNIST_MIRRORS]
        files[filename] = _download.download(urls, raw / filename, md5=md5)
    parts = []
    for prefix in ("train", "t10k"):
        images = _read_idx(files[f"{prefix}-images-idx3-ubyte.gz"], 3)
        labels = _read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"], 1)
        if len(images) != len(labels):
            raise TaskError(
                f"The MNIST {prefix} files hold {len(images)} images but {len(labels)} labels."
            )
        parts.append((images, labels))
    (train_x, train_y), (test_x, test_y) = parts
    meta = {
        "classes": list(_DIGIT_CLASSES.categories),
        "n_train": len(train_y),
        "n_test": len(test_y),
    }
    _save(
        folder, np.concatenate([train_x, test_x])[:, None], np.concatenate([train_y, test_y]), meta
    )
    for path in files.values():
        path.unlink()
    raw.rmdir()


def task_mnist() -> TaskClassif:
    """MNIST handwritten digits: 70,000 28x28 images (60,000 train, then 10,000 test); downloads.

    The first call downloads the four IDX files (about 11 MB) into the cache.
    """
    return _download_task("mnist", _download.cached("mnist", _build_mnist), id="mnist")


# --- cifar10 ---------------------------------------------------------------------------------
def _numpy_attr(name: str, *modules: str) -> Any:
    """``name`` from the first of ``modules`` that has it (numpy 2 renamed ``numpy.core``)."""
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"This numpy version has no '{name}' in {list(modules)}.")


def _reconstruct() -> Any:
    return _numpy_attr("_reconstruct", "numpy._core.multiarray", "numpy.core.multiarray")


def _frombuffer() -> Any:
    return _numpy_attr("_frombuffer", "numpy._core.numeric", "numpy.core.numeric")


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays, and nothing else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.numeric", "_frombuffer"): _frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _frombuffer,
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        ("_codecs", "encode"): lambda: __import__("codecs").encode,
    }

    def find_class(self, module: str, name: str) -> Any:
        loader = self._ALLOWED.get((module, name))
        if loader is None:
            raise pickle.UnpicklingError(
                f"The CIFAR file refers to '{module}.{name}', which is not allowed: only numpy "
                "arrays and plain containers are unpickled."
            )
        return loader()


def _unpickle(data: bytes, member: str) -> dict[Any, Any]:
    try:
        content = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise TaskError(f"Cannot read the CIFAR member '{member}': {exc}") from exc
    if not isinstance(content, dict):
        raise TaskError(f"The CIFAR member '{member}' is not a dictionary.")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in content.items()}


def _read_cifar_tar(path: Path, batches: list[str], meta_name: str) -> dict[str, dict[Any, Any]]:
    wanted = {*batches, meta_name}
    found: dict[str, dict[Any, Any]] = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            base = member.name.rsplit("/", 1)[-1]
            if base in wanted and member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None
                found[base] = _unpickle(handle.read(), member.name)
    missing = sorted(wanted - set(found))
    if missing:
        raise TaskError(f"The CIFAR archive '{path.name}' lacks the member(s) {missing}.")
    return found


def _build_cifar10(folder: Path) -> None:
    archive = _download.download(
        list(CIFAR10_URLS), folder / "cifar-10-python.tar.gz", md5=CIFAR10_MD5
    )
    batches = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    members = _read_cifar_tar(archive, batches, "batches.meta")
    images, labels, sizes = [], [], []
    for name in batches:
        data = np.asarray(members[name]["data"], dtype=np.uint8)
        rows = np.asarray(members[name]["labels"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(rows) != len(data):
            raise TaskError(
                f"The CIFAR batch '{name}' has data of shape {data.shape} and {len(rows)} "
                "labels; expected (n, 3072) and n labels."
            )
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(rows)
        sizes.append(len(rows))
    names = members["batches.meta"]["label_names"]
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    meta = {"classes": classes, "n_train": sum(sizes[:-1]), "n_test": sizes[-1]}
    _save(folder, np.concatenate(images), np.concatenate(labels), meta)
    archive.unlink()


def task_cifar10() -> TaskClassif:
    """CIFAR-10: 60,000 32x32 colour images (50,000 train, then 10,000 test); downloads.

    The first call downloads the python version of the data (about 163 MB) into the cache.
    """
    return _download_task("cifar10", _download.cached("cifar10", _build_cifar10), id="cifar10")


registry.tasks.register("lazy_iris", task_lazy_iris)
registry.tasks.register("digits", task_digits)
registry.tasks.register("mnist", task_mnist)
registry.tasks.register("cifar10", task_cifar10)
