"""Batches for the training loop: a task dataset fetched batch-wise, and preloaded tensors.

:class:`TaskDataset` builds one whole batch per fetch (``__getitems__``), so torch's
DataLoader never indexes item by item. :class:`TensorDataset` holds the whole task as
tensors (``tensor_dataset=True``), and :class:`SliceLoader` serves its batches as
slices, with no per-batch machinery beyond indexing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from torchweave.data.task import Task, TaskClassif
from torchweave.errors import InvalidParameterError, TaskError
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.utils.text import quote_list

__all__ = [
    "SliceLoader",
    "TaskDataset",
    "TensorDataset",
    "check_levels",
    "series_target",
    "target_tensor",
]

Batch = dict[str, Any]


def target_tensor(task: Task) -> torch.Tensor:
    """The training target: float (N, 1) for regression and binary tasks, int64 (N,) else.

    For a binary task 1 means the positive class; multiclass targets are 0-based class
    indices in level order.
    """
    return series_target(task.truth(), task)


def series_target(truth: pd.Series, task: Task) -> torch.Tensor:
    """:func:`target_tensor` of some target values of ``task`` (e.g. one chunk of rows)."""
    if isinstance(task, TaskClassif):
        if truth.isna().any():
            raise TaskError(f"Task '{task.id}' has missing target values; they cannot be learned.")
        if len(task.class_names) == 2:
            values = np.array(truth == task.positive, dtype=np.float32)
            return torch.from_numpy(values).unsqueeze(1)
        return torch.from_numpy(np.array(truth.cat.codes, dtype=np.int64))
    return torch.from_numpy(np.array(truth, dtype=np.float32)).unsqueeze(1)


class TaskDataset(torch.utils.data.Dataset[Batch]):
    """The rows of a task as network inputs (via the ingress tokens) and targets.

    Parameters
    ----------
    task : Task
        The task; its rows in use, in order, are the dataset.
    ingress_tokens : mapping of str to TorchIngressToken
        Network input names and how to build them.
    target : bool, default True
        Also return the target (False for prediction on data without truth).
    """

    def __init__(
        self, task: Task, ingress_tokens: Mapping[str, TorchIngressToken], target: bool = True
    ) -> None:
        if not ingress_tokens:
            raise InvalidParameterError("A torch learner needs at least one ingress token.")
        self.task_id = task.id
        self.tokens = dict(ingress_tokens)
        # One frame per token, fetched once; batches take rows of it (no task access).
        # Cacheable tokens (row-wise batchgetters) convert all rows once instead, so a
        # batch is a tensor index: no pandas work inside the training loop.
        self.frames: dict[str, Any] = {}
        self.cached: dict[str, torch.Tensor] = {}
        # Batchgetters that take a per-batch cache (lazy tensors): columns over one
        # dataset then read it once per batch.
        self.cache_takers = {
            name
            for name, token in self.tokens.items()
            if getattr(token.batchgetter, "takes_cache", False)
        }
        # Batchgetters with a ``rows`` attribute (lazy tensors) build a batch from row
        # positions: ``rows(frame)`` once, then the result per batch, with no pandas
        # slicing inside the training loop.
        self.row_getters: dict[str, Any] = {}
        for name, token in self.tokens.items():
            frame = task.data(cols=token.feature_names(task))
            if token.cacheable:
                self.cached[name] = token(frame)
            else:
                self.frames[name] = frame
                rows = getattr(token.batchgetter, "rows", None)
                if rows is not None:
                    self.row_getters[name] = rows(frame)
        self.y = target_tensor(task) if target else None
        self.n = task.nrow

    def __len__(self) -> int:
        return self.n

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        """One whole batch for the given positions (used by torch's DataLoader)."""
        idx = np.asarray(indices, dtype=np.int64)
        index = torch.from_numpy(idx)
        x = {}
        # Only columns that share a dataset gain from a shared cache: with one lazy
        # column, each batch's steps keep their own memo.
        cache: dict[Any, Any] | None = {} if len(self.cache_takers) > 1 else None
        for name in self.tokens:
            if name in self.cached:
                x[name] = self.cached[name].index_select(0, index)
            elif name in self.row_getters:
                x[name] = self.row_getters[name](idx, cache=cache)
            elif name in self.cache_takers:
                x[name] = self.tokens[name].batchgetter(  # type: ignore[call-arg]
                    self.frames[name].iloc[idx], cache=cache
                )
            else:
                x[name] = self.tokens[name](self.frames[name].iloc[idx])
        # In a DataLoader worker every tensor travels through its own shared-memory
        # segment; the positions travel as numpy instead (the loop makes them a tensor).
        in_worker = torch.utils.data.get_worker_info() is not None
        batch: Batch = {"x": x, "index": idx if in_worker else index}
        if self.y is not None:
            batch["y"] = self.y.index_select(0, index)
        return batch

    def __getitem__(self, index: int) -> Batch:
        batch = self.__getitems__([index])
        return {
            "x": {k: v[0] for k, v in batch["x"].items()},
            "y": None if self.y is None else batch["y"][0],
            "index": batch["index"][0],
        }

    def materialize(self, device: torch.device | str = "cpu") -> TensorDataset:
        """All rows at once, as a :class:`TensorDataset` on ``device``."""
        whole = self.__getitems__(range(self.n))
        return TensorDataset(
            {k: v.to(device) for k, v in whole["x"].items()},
            None if self.y is None else whole["y"].to(device),
        )


class TensorDataset(torch.utils.data.Dataset[Batch]):
    """Preloaded network inputs and targets; batches are row slices."""

    def __init__(self, x: dict[str, torch.Tensor], y: torch.Tensor | None) -> None:
        self.x = x
        self.y = y
        self.n = len(next(iter(x.values())))

    def __len__(self) -> int:
        return self.n

    def __getitems__(self, indices: Sequence[int] | torch.Tensor) -> Batch:
        """One batch for the given positions."""
        idx = torch.as_tensor(indices, dtype=torch.int64)
        batch: Batch = {"x": {k: v[idx] for k, v in self.x.items()}, "index": idx}
        if self.y is not None:
            batch["y"] = self.y[idx]
        return batch

    def __getitem__(self, index: int) -> Batch:
        return {
            "x": {k: v[index] for k, v in self.x.items()},
            "y": None if self.y is None else self.y[index],
            "index": torch.tensor(index),
        }


class SliceLoader:
    """Batches of a :class:`TensorDataset` as slices of (shuffled) row positions.

    With ``shuffle``, the rows are gathered in permuted order once per chunk of
    ``chunk_bytes`` (the whole epoch for data up to that size) and each batch is a
    view into the gathered chunk: one ``index_select`` per tensor and chunk instead of
    one per batch. This is what a hand-written loop over pre-built tensors does, and it
    bounds the extra memory to one chunk.

    Parameters
    ----------
    dataset : TensorDataset
        Preloaded tensors.
    batch_size : int
        Rows per batch.
    shuffle : bool
        Draw a new permutation (from torch's RNG) every epoch.
    drop_last : bool
        Drop a last incomplete batch.
    generator : torch.Generator, optional
        Source of the permutations (default: torch's global RNG).
    chunk_bytes : int, default 64 MiB
        Most bytes of rows gathered at once when shuffling (at least one batch).
    """

    def __init__(
        self,
        dataset: TensorDataset,
        batch_size: int,
        shuffle: bool,
        drop_last: bool,
        generator: torch.Generator | None = None,
        chunk_bytes: int = 2**26,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.chunk_bytes = chunk_bytes

    def __len__(self) -> int:
        n = self.dataset.n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _chunk_rows(self) -> int:
        """Rows gathered at once: a multiple of the batch size, at most ``chunk_bytes``."""
        data = self.dataset
        tensors = [*data.x.values(), *([] if data.y is None else [data.y])]
        row_bytes = sum(t[:1].numel() * t.element_size() for t in tensors) or 1
        return max(1, self.chunk_bytes // (row_bytes * self.batch_size)) * self.batch_size

    def __iter__(self) -> Iterator[Batch]:
        data, n, bs = self.dataset, self.dataset.n, self.batch_size
        x, y = data.x, data.y
        device = next(iter(x.values())).device
        end = len(self) * bs if self.drop_last else n
        if self.generator is not None:
            # Draw what torch's DataLoader draws per epoch (its worker base seed), so that
            # preloaded and lazily loaded data see the same permutations under one seed.
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        if not self.shuffle:
            yield from _split_batches(
                {k: v[:end] for k, v in x.items()},
                None if y is None else y[:end],
                torch.arange(end, device=device),
                bs,
            )
            return
        order = torch.randperm(n, generator=self.generator).to(device)
        if self.generator is not None:
            # torch's RandomSampler draws a second (empty-sliced) permutation per epoch.
            torch.randperm(n, generator=self.generator)
        chunk = self._chunk_rows()
        for first in range(0, end, chunk):
            positions = order[first : min(end, first + chunk)]
            # index_select gathers rows faster than advanced indexing (v[idx]).
            yield from _split_batches(
                {k: v.index_select(0, positions) for k, v in x.items()},
                None if y is None else y.index_select(0, positions),
                positions,
                bs,
            )


def _split_batches(
    x: dict[str, torch.Tensor], y: torch.Tensor | None, index: torch.Tensor, batch_size: int
) -> Iterator[Batch]:
    """Batches as views of ``x``, ``y`` and ``index`` (``split`` makes all views at once)."""
    if len(index) == 0:  # split would give one empty batch
        return
    names = list(x)
    xs = [v.split(batch_size) for v in x.values()]
    ys = y.split(batch_size) if y is not None else None
    for i, idx in enumerate(index.split(batch_size)):
        batch: Batch = {"x": {k: v[i] for k, v in zip(names, xs, strict=True)}, "index": idx}
        if ys is not None:
            batch["y"] = ys[i]
        yield batch


def identity_collate(batch: Batch) -> Batch:
    """Batches come whole from ``__getitems__``: nothing to collate."""
    return batch


def check_ingress_tokens(tokens: Any, owner: str) -> dict[str, TorchIngressToken]:
    """Validate a mapping of ingress tokens (non-empty, all TorchIngressTokens)."""
    if not isinstance(tokens, Mapping) or not tokens:
        raise InvalidParameterError(
            f"{owner} needs ingress_tokens: a dict from network input names to "
            f"TorchIngressTokens. Got {tokens!r} instead."
        )
    bad = [k for k, v in tokens.items() if not isinstance(v, TorchIngressToken)]
    if bad:
        raise InvalidParameterError(
            f"{owner}: the ingress tokens {quote_list(bad)} are not TorchIngressTokens."
        )
    return dict(tokens)


def check_levels(trained: Task, task: Task, owner: str) -> None:
    """Refuse factor values the training task did not have (no embedding row for them).

    Raises
    ------
    TaskError
        Naming the column, the unseen levels and the known ones.
    """
    # Plain dicts: a pandas Series lookup per column costs more than the whole check.
    trained_dtypes, dtypes = trained.backend.dtypes, task.backend.dtypes
    for col in task.feature_names:
        known, now = trained_dtypes.get(col), dtypes[col]
        if not isinstance(known, pd.CategoricalDtype) or not isinstance(now, pd.CategoricalDtype):
            continue
        if not task.in_memory:  # the levels of a database come from its own values
            if list(now.categories) == list(known.categories):
                continue
            present = task.distinct_values([col])[col]  # SQL
            unseen = [v for v in present if v not in set(known.categories)]
        elif len(now.categories) == len(known.categories):
            continue  # same levels (Task keeps the training levels first)
        else:
            values = task.data(cols=[col])[col]
            unseen = [v for v in pd.unique(values.dropna()) if v not in known.categories]
        if unseen:
            raise TaskError(
                f"Learner '{owner}': factor column '{col}' has the level(s) "
                f"{quote_list([str(v) for v in unseen])}, which the training data did not "
                f"have (known: {quote_list([str(v) for v in known.categories])}). Map them "
                'to known levels, or put po("fixfactors") (unseen levels become '
                'missing) and an imputation such as po("imputemode") before the '
                "network in the graph."
            )
