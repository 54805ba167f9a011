"""Streaming a task from its data backend: chunks of rows in, batches out.

A task over a database (``task.in_memory`` False) is never loaded as a whole. A
:class:`StreamDataset` reads its rows in chunks of ``task.backend.chunk_rows`` rows
(rounded up to whole batches), turns each chunk into tensors through the ingress
tokens, and a :class:`StreamLoader` serves the chunk's batches as slices. Training
and prediction use the same path.

* Order: chunks follow the task's row order; with ``shuffle=True`` the chunk order
  is permuted every epoch and the rows inside each chunk as well ("shuffling by
  chunk": rows of different chunks never meet in a batch). Without shuffling the
  batches are exactly those of the in-memory path.
* Workers: with ``num_workers > 0`` chunk ``i`` is read by worker ``i % num_workers``
  (each worker opens its own DuckDB connection) and the chunks come back in order.
  Workers are spawned (DuckDB is not fork-safe), once per pass over the data, so the
  task (and its preprocessing) must pickle.
* Memory: one chunk per worker (plus the prefetched ones) at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.training.dataset import TensorDataset, _split_batches, series_target

__all__ = ["StreamDataset", "StreamLoader"]

Batch = dict[str, Any]


class StreamDataset(torch.utils.data.IterableDataset[Batch]):
    """The rows in use of a backend-backed task, read chunk by chunk.

    Iterating yields whole chunks (``{"x", "y", "index"}`` with ``index`` the row
    positions); :class:`StreamLoader` splits them into batches.

    Parameters
    ----------
    task : Task
        The task (its backend is read; nothing is loaded up front).
    ingress_tokens : mapping of str to TorchIngressToken
        Network input names and how to build them.
    target : bool, default True
        Also read the target.
    chunk_rows : int, optional
        Rows per chunk (default: ``task.backend.chunk_rows``).
    """

    def __init__(
        self,
        task: Task,
        ingress_tokens: Mapping[str, TorchIngressToken],
        target: bool = True,
        chunk_rows: int | None = None,
    ) -> None:
        if not ingress_tokens:
            raise InvalidParameterError("A torch learner needs at least one ingress token.")
        self.task = task  # read only (a clone would copy the row ids)
        self.task_id = task.id
        self.tokens = dict(ingress_tokens)
        self.columns = {name: tok.feature_names(task) for name, tok in self.tokens.items()}
        needed = [c for cols in self.columns.values() for c in cols]
        self.target = target
        if target:
            needed += task.target_names
        self.needed = list(dict.fromkeys(needed))
        self.n = task.nrow
        self.chunk_rows = max(1, int(chunk_rows or task.backend.chunk_rows))
        # Set by the loader before each pass: (batch size, shuffle, drop_last, seed).
        self.plan: tuple[int, bool, bool, int] = (1, False, False, 0)

    def __len__(self) -> int:
        return self.n

    def read(self, positions: np.ndarray) -> Batch:
        """The rows at ``positions`` (of the rows in use) as tensors, in that order."""
        order = np.argsort(positions, kind="stable")
        ids = self.task._row_ids[positions[order]]
        frame = self.task.data(rows=ids, cols=self.needed)
        x = {name: self.tokens[name](frame[cols]) for name, cols in self.columns.items()}
        y = series_target(frame[self.task.target_names[0]], self.task) if self.target else None
        back = torch.from_numpy(np.argsort(order, kind="stable"))
        if not bool((order == np.arange(len(order))).all()):
            x = {k: v.index_select(0, back) for k, v in x.items()}
            y = None if y is None else y.index_select(0, back)
        batch: Batch = {"x": x, "index": torch.from_numpy(np.asarray(positions, np.int64))}
        if y is not None:
            batch["y"] = y
        return batch

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        """One batch for the given positions (e.g. an example batch for tracing)."""
        return self.read(np.asarray(indices, dtype=np.int64))

    def chunks(self, batch_size: int, drop_last: bool) -> list[tuple[int, int]]:
        """The (start, stop) positions of every chunk: whole batches, at most one partial."""
        end = (self.n // batch_size) * batch_size if drop_last else self.n
        step = math.ceil(self.chunk_rows / batch_size) * batch_size
        return [(start, min(end, start + step)) for start in range(0, end, step)]

    def __iter__(self) -> Iterator[Batch]:
        batch_size, shuffle, drop_last, seed = self.plan
        chunks = self.chunks(batch_size, drop_last)
        rng = np.random.default_rng(seed)
        if shuffle:
            chunks = [chunks[i] for i in rng.permutation(len(chunks))]
        info = torch.utils.data.get_worker_info()
        mine = range(len(chunks)) if info is None else range(info.id, len(chunks), info.num_workers)
        for i in mine:
            start, stop = chunks[i]
            positions = np.arange(start, stop, dtype=np.int64)
            if shuffle:  # the rows inside the chunk, from a generator of its own
                positions = np.random.default_rng([seed, start]).permutation(positions)
            yield self.read(positions)

    def materialize(self, device: torch.device | str = "cpu") -> TensorDataset:
        """All rows at once (``tensor_dataset=True``): loads the data, chunk by chunk."""
        parts = [self.read(np.arange(a, b)) for a, b in self.chunks(self.chunk_rows, False)]
        x = {k: torch.cat([p["x"][k] for p in parts]).to(device) for k in self.tokens}
        y = torch.cat([p["y"] for p in parts]).to(device) if self.target and parts else None
        return TensorDataset(x, y)


class StreamLoader:
    """Batches of a :class:`StreamDataset`: chunks read in order, split into slices.

    Parameters
    ----------
    dataset : StreamDataset
        The data.
    batch_size : int
        Rows per batch.
    shuffle : bool
        Permute the chunk order, and the rows inside each chunk, every epoch.
    drop_last : bool
        Drop a last incomplete batch.
    generator : torch.Generator
        Source of the per-epoch seeds.
    loader_kwargs : mapping, optional
        Arguments of torch's DataLoader when chunks are read by worker processes
        (``num_workers`` > 0, ``worker_init_fn``, ``pin_memory``, ``timeout``...).
    """

    def __init__(
        self,
        dataset: StreamDataset,
        batch_size: int,
        shuffle: bool,
        drop_last: bool,
        generator: torch.Generator,
        loader_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.loader_kwargs = dict(loader_kwargs or {})

    def __len__(self) -> int:
        n = self.dataset.n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        seed = int(torch.empty((), dtype=torch.int64).random_(generator=self.generator))
        self.dataset.plan = (self.batch_size, self.shuffle, self.drop_last, seed % 2**63)
        if self.loader_kwargs.get("num_workers", 0) > 0:
            kwargs = {k: v for k, v in self.loader_kwargs.items() if k != "collate_fn"}
            # Spawned, not forked: a forked DuckDB (its threads and locks) can hang.
            kwargs.setdefault("multiprocessing_context", "spawn")
            chunks: Any = torch.utils.data.DataLoader(
                self.dataset, batch_size=None, collate_fn=_keep, **kwargs
            )
        else:
            chunks = iter(self.dataset)
        for chunk in chunks:
            yield from _split_batches(chunk["x"], chunk.get("y"), chunk["index"], self.batch_size)


def _keep(chunk: Any) -> Any:
    """Chunks come whole from the dataset: nothing to collate."""
    return chunk
