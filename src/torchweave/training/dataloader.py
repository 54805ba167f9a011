"""The batch iterable of a dataset: a factory over the learner's data-loading parameters.

:func:`make_dataloader` returns a :class:`~torchweave.training.dataset.SliceLoader` for
preloaded tensors with plain settings, and torch's ``DataLoader`` otherwise (over
worker processes, a loader that turns the numpy batch positions back into tensors).
:func:`preload_automatically` is the rule of ``tensor_dataset="auto"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from torchweave.errors import InvalidParameterError
from torchweave.training.dataset import SliceLoader, TaskDataset, TensorDataset, identity_collate
from torchweave.training.stream import StreamDataset, StreamLoader

__all__ = ["PRELOAD_BUDGET_BYTES", "make_dataloader", "preload_automatically"]

#: Parameters that need torch's DataLoader (a SliceLoader has none of them).
_LOADER_ONLY = (
    "num_workers",
    "collate_fn",
    "pin_memory",
    "worker_init_fn",
    "timeout",
    "persistent_workers",
)

#: Parameters that need torch's DataLoader for any dataset: ``tensor_dataset="auto"``
#: keeps the loader when one of them is set.
_NEEDS_DATALOADER = (
    *_LOADER_ONLY,
    "sampler",
    "batch_sampler",
    "worker_globals",
    "worker_packages",
)

#: The most data ``tensor_dataset="auto"`` preloads: the network inputs and the target
#: of every row, as tensors (rows x features x 4 bytes for float32 features), 1 GiB.
PRELOAD_BUDGET_BYTES = 1 << 30


def preload_automatically(dataset: TaskDataset, pv: Mapping[str, Any]) -> bool:
    """Whether ``tensor_dataset="auto"`` preloads ``dataset`` (the rule of docs/training.md).

    It does when every ingress is in memory already (each token converted all rows
    once, with a row-wise built-in batchgetter: no lazy tensor column and no
    per-batch, possibly random, preprocessing), the tensors take at most
    :data:`PRELOAD_BUDGET_BYTES`, and no parameter needs torch's DataLoader (a
    sampler, a batch sampler, workers, a collate function, pinned memory...).
    Both paths give the same batches, so the choice changes speed, not results.

    Parameters
    ----------
    dataset : TaskDataset
        The data, before preloading.
    pv : mapping
        The learner's parameter values.
    """
    if dataset.frames or any(pv.get(k) for k in _NEEDS_DATALOADER):
        return False
    tensors = [*dataset.cached.values(), *([] if dataset.y is None else [dataset.y])]
    size = sum(t.numel() * t.element_size() for t in tensors)
    return size <= PRELOAD_BUDGET_BYTES


def make_dataloader(
    dataset: TaskDataset | TensorDataset | StreamDataset,
    pv: Mapping[str, Any],
    train: bool,
    owner: str,
) -> Any:
    """The batches of ``dataset`` under the learner's parameter values ``pv``.

    Parameters
    ----------
    dataset : TaskDataset, TensorDataset or StreamDataset
        The data (a StreamDataset, for a task over a database, gets a
        :class:`~torchweave.training.stream.StreamLoader`).
    pv : mapping
        The learner's parameter values (``batch_size``, ``shuffle``, ``sampler``, ...).
    train : bool
        Training batches (sampler, shuffling and ``drop_last`` apply), or prediction /
        validation batches (``batch_size_predict``, in order).
    owner : str
        The learner id, for error messages.

    Raises
    ------
    InvalidParameterError
        If both a sampler and a batch sampler are given, no batch size is set, or
        ``persistent_workers`` is set without workers.
    """
    sampler = pv.get("sampler") if train else None
    batch_sampler = pv.get("batch_sampler") if train else None
    if sampler is not None and batch_sampler is not None:
        raise InvalidParameterError(
            "Providing both a 'sampler' and a 'batch_sampler' is not supported, set only one."
        )
    batch_size = (
        pv.get("batch_size") if train else pv.get("batch_size_predict", pv.get("batch_size"))
    )
    if batch_size is None and batch_sampler is None:
        which = "'batch_size'" if train else "'batch_size' or 'batch_size_predict'"
        phase = "training" if train else "prediction (this includes the validation data)"
        raise InvalidParameterError(
            f"Learner '{owner}': parameter {which} must be set for {phase}, unless a "
            "'batch_sampler' is provided."
        )
    shuffle = bool(pv.get("shuffle", False)) and train and sampler is None
    drop_last = bool(pv.get("drop_last", False)) and train
    # One generator per loader, seeded from torch's RNG: the permutations are
    # reproducible under the learner's seed and consume no global randomness later.
    generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, ()).item()))
    if isinstance(dataset, StreamDataset):
        if sampler is not None or batch_sampler is not None:
            raise InvalidParameterError(
                f"Learner '{owner}': a task over a database is streamed in chunks, which "
                "takes no 'sampler' or 'batch_sampler'; use shuffle=True (chunk shuffling)."
            )
        workers = pv.get("num_workers", 0) > 0
        kwargs = _loader_kwargs(pv, owner) if workers else None
        return StreamLoader(dataset, int(batch_size or 1), shuffle, drop_last, generator, kwargs)
    plain = not any(pv.get(k) for k in _LOADER_ONLY)
    if isinstance(dataset, TensorDataset) and plain and sampler is None and batch_sampler is None:
        return SliceLoader(
            dataset, int(batch_size or 1), shuffle=shuffle, drop_last=drop_last, generator=generator
        )
    kwargs = _loader_kwargs(pv, owner)
    # Batches from worker processes carry their positions as numpy (see TaskDataset).
    loader_class = _WorkerDataLoader if kwargs["num_workers"] > 0 else DataLoader
    if batch_sampler is not None:
        return loader_class(dataset, batch_sampler=batch_sampler(dataset), **kwargs)
    if sampler is not None:
        kwargs["sampler"] = sampler(dataset)
    return loader_class(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=generator,
        **kwargs,
    )


def _loader_kwargs(pv: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """Arguments of torch's DataLoader: collation, workers and their set-up."""
    kwargs: dict[str, Any] = {
        "collate_fn": pv.get("collate_fn") or identity_collate,
        "num_workers": pv.get("num_workers", 0),
        "pin_memory": pv.get("pin_memory", False),
        "timeout": pv.get("timeout", 0.0),
    }
    if pv.get("persistent_workers"):
        if kwargs["num_workers"] == 0:
            raise InvalidParameterError(
                f"Learner '{owner}': persistent_workers=True keeps DataLoader worker "
                "processes alive between epochs, so it needs num_workers > 0. Got "
                "num_workers=0."
            )
        kwargs["persistent_workers"] = True
    if kwargs["num_workers"] > 0:
        kwargs["worker_init_fn"] = WorkerInit(
            pv.get("worker_init_fn"), pv.get("worker_globals"), pv.get("worker_packages")
        )
    return kwargs


class WorkerInit:
    """Runs in each DataLoader worker: imports packages, sets globals, calls the user fn."""

    def __init__(
        self,
        fn: Callable[[int], None] | None,
        globals_: Mapping[str, Any] | None,
        packages: Sequence[str] | None,
    ) -> None:
        self.fn, self.globals, self.packages = fn, dict(globals_ or {}), list(packages or [])

    def __call__(self, worker_id: int) -> None:
        import builtins

        for name in self.packages:
            importlib.import_module(name)
        for name, value in self.globals.items():
            setattr(builtins, name, value)
        if self.fn is not None:
            self.fn(worker_id)


class _WorkerDataLoader(DataLoader):
    """A DataLoader over worker processes that turns numpy batch positions into tensors.

    Positions leave a worker as a numpy array (a tensor would need a shared-memory
    segment of its own per batch); callbacks and scoring get a tensor as always.
    """

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        for batch in super().__iter__():
            if isinstance(batch, dict) and isinstance(batch.get("index"), np.ndarray):
                batch["index"] = torch.from_numpy(batch["index"])
            yield batch
