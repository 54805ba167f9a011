"""Data-parallel training of one torch learner with ``torch.distributed`` (DDP).

:func:`train_distributed` trains a torch learner on several processes: each process
(a *rank*) holds a copy of the network wrapped in
:class:`~torch.nn.parallel.DistributedDataParallel`, trains on its shard of every
batch, and the gradients are averaged across ranks after each backward pass, so all
copies stay equal. It starts the processes itself (``nprocs=2``, through
:func:`torch.multiprocessing.start_processes`) or, in a script launched by
``torchrun``, trains on the processes torchrun started.

How the loop changes (:func:`distributed_loop`, a subclass of the learner's
``loop_class`` with the ``wrap_network`` hook):

- **Data**: the training rows are sharded by a
  :class:`~torch.utils.data.DistributedSampler` seeded with the learner's seed (the
  same on every rank; ``seed="random"`` is drawn once on rank 0 and broadcast). Each
  rank draws ``batch_size`` rows per step, so one step sees ``batch_size x world size``
  rows (the *global batch*). Rank ``r`` takes the rows ``r, r + W, r + 2W, ...`` of
  each epoch's order, so the global batches are consecutive runs of that order: with
  ``shuffle=False``, global batch ``k`` holds the same rows as batch ``k`` of a single
  process with ``batch_size x W``, and the weights equal that run's (up to float
  rounding).
- **Validation**: the validation rows are sharded too; the outputs of all ranks are
  gathered before scoring, so every rank gets the scores over all rows (the same
  scores, hence the same early-stopping decision). Training measures likewise.
- **Callbacks**: they run on every rank, except those that write files or print:
  the checkpoint, CSV logger, TensorBoard and progress callbacks (and any callback
  class with ``rank_zero_only = True``) run on rank 0 only. ``ctx.terminate`` is
  synchronised after every epoch (any rank stopping stops all).
- **Result**: every rank ends with the same weights; the learner returned to the
  caller holds rank 0's model.
"""

from __future__ import annotations

import os
import pickle
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.training.dataset import identity_collate
from torchweave.training.learner_torch import LearnerTorch, torch_learners
from torchweave.training.loop import TrainLoop

__all__ = ["distributed_loop", "shard_loader", "train_distributed"]

#: Callbacks that write files or print run on rank 0 only (by class name: no imports).
_RANK_ZERO_CALLBACKS = frozenset({"CallbackSetCSV", "CallbackSetTB", "CallbackSetProgress"})
_BACKENDS = ("gloo", "nccl")


def shard_loader(
    dataset: Any,
    batch_size: int,
    *,
    shuffle: bool,
    drop_last: bool,
    seed: int,
    rank: int,
    world_size: int,
) -> DataLoader[Any]:
    """The batches of one rank: a DataLoader over a seeded ``DistributedSampler``.

    Parameters
    ----------
    dataset : TaskDataset or TensorDataset
        The learner's data (batches come from its ``__getitems__``).
    batch_size : int
        Rows per batch on this rank.
    shuffle, drop_last : bool
        The learner's parameters (``drop_last`` also drops the rows that do not divide
        evenly among the ranks; otherwise the sampler repeats a few rows).
    seed : int
        Seeds the permutation (epoch ``e`` uses ``seed + e``; see ``set_epoch``).
    rank, world_size : int
        This process and the number of processes.
    """
    sampler: DistributedSampler[Any] = DistributedSampler(
        dataset,
        num_replicas=world_size,
        rank=rank,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
    )
    loader: DataLoader[Any] = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        collate_fn=identity_collate,  # type: ignore[arg-type]  # batches come whole
    )
    return loader


def _rank_zero_only(cb: Any) -> bool:
    return bool(
        getattr(cb, "saves_checkpoints", False)
        or getattr(cb, "rank_zero_only", False)
        or type(cb).__name__ in _RANK_ZERO_CALLBACKS
    )


def _gather_outputs(
    outputs: list[torch.Tensor], indices: list[torch.Tensor], world_size: int
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The outputs and row positions of all ranks, each row once (padding dropped)."""
    if not outputs:
        return outputs, indices
    out = torch.cat(outputs).float()
    idx = torch.cat(indices).to(out.device)
    # The sampler gives every rank the same number of rows, so the shapes agree.
    all_out = [torch.empty_like(out) for _ in range(world_size)]
    all_idx = [torch.empty_like(idx) for _ in range(world_size)]
    dist.all_gather(all_out, out)
    dist.all_gather(all_idx, idx)
    merged, positions = torch.cat(all_out), torch.cat(all_idx).cpu()
    _, first = np.unique(positions.numpy(), return_index=True)
    keep = torch.from_numpy(first)
    return [merged[keep.to(merged.device)]], [positions[keep]]


class _DistributedMixin:
    """The distributed parts of the loop; combined with a learner's loop class."""

    ctx: Any
    callbacks: dict[str, Any]
    stage_calls: dict[str, list[Callable[[], None]]]
    collect: bool
    outputs: list[torch.Tensor]
    indices: list[torch.Tensor]

    def __init__(self, ctx: Any, callbacks: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(ctx, callbacks, *args, **kwargs)  # type: ignore[call-arg]
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        if self.rank != 0:
            skip = {id(cb) for cb in callbacks.values() if _rank_zero_only(cb)}
            self.stage_calls = {
                stage: [fn for fn in fns if id(getattr(fn, "__self__", None)) not in skip]
                for stage, fns in self.stage_calls.items()
            }
        pv = ctx.learner.param_set.values
        seed = pv["seed"]
        train_dataset = ctx.loader_train.dataset
        ctx.loader_train = shard_loader(
            train_dataset,
            pv["batch_size"],
            shuffle=bool(pv.get("shuffle", True)),
            drop_last=bool(pv.get("drop_last", False)),
            seed=seed,
            rank=self.rank,
            world_size=self.world_size,
        )
        self.sampler = ctx.loader_train.sampler
        if ctx.loader_valid is not None:
            ctx.loader_valid = shard_loader(
                ctx.loader_valid.dataset,
                pv.get("batch_size_predict") or pv["batch_size"],
                shuffle=False,
                drop_last=False,
                seed=seed,
                rank=self.rank,
                world_size=self.world_size,
            )

    def wrap_network(self, network: nn.Module) -> Callable[..., Any]:
        """``DistributedDataParallel`` around the network, then the base loop's wrapping."""
        device = self.ctx.device
        device_ids = [torch.cuda.current_device()] if device.type == "cuda" else None
        ddp = nn.parallel.DistributedDataParallel(network, device_ids=device_ids)
        return super().wrap_network(ddp)  # type: ignore[misc]

    def train_epoch(self) -> None:
        """One epoch on this rank's shard (the sampler reshuffles per epoch)."""
        self.sampler.set_epoch(self.ctx.epoch)
        super().train_epoch()  # type: ignore[misc]

    def gather_outputs(
        self, outputs: list[torch.Tensor], indices: list[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Training and validation scores over the outputs of all ranks."""
        return _gather_outputs(outputs, indices, self.world_size)

    def call(self, stage: str) -> None:
        """Run a stage's callbacks; after ``on_epoch_end``, any rank stopping stops all."""
        super().call(stage)  # type: ignore[misc]
        if stage == "on_epoch_end":
            ctx = self.ctx
            flag = torch.tensor([1.0 if ctx.terminate else 0.0], device=_collective_device())
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            ctx.terminate = bool(flag.item())


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def distributed_loop(base: type[TrainLoop]) -> type[TrainLoop]:
    """The learner's loop class made data-parallel (see the module docstring)."""
    if not (isinstance(base, type) and issubclass(base, TrainLoop)):
        raise InvalidTypeError(
            f"The loop_class of a distributed learner must be a TrainLoop subclass. Got {base!r}."
        )
    return type(f"Distributed{base.__name__}", (_DistributedMixin, base), {})


def _torch_learners(learner: Any) -> list[LearnerTorch]:
    """The torch learners that train (see ``torch_learners``); an error if there are none."""
    found = torch_learners(learner)
    if not found:
        raise InvalidTypeError(
            "train_distributed needs a torch learner (a LearnerTorch such as "
            "lrn('classif.mlp') or LearnerTorchModel, or a graph learner ending in "
            f"po('torch_model_classif' / 'torch_model_regr')). Got {type(learner).__name__} "
            "instead."
        )
    return found


def _check_learner(learner: Any) -> list[LearnerTorch]:
    targets = _torch_learners(learner)
    for target in targets:
        pv = target.param_set.values
        for name in ("sampler", "batch_sampler"):
            if pv.get(name) is not None:
                raise InvalidParameterError(
                    f"Learner '{target.id}': train_distributed shards the data with a "
                    f"DistributedSampler, so the parameter '{name}' cannot be used. Unset it."
                )
        if pv.get("batch_size") is None:
            raise InvalidParameterError(
                f"Learner '{target.id}': set 'batch_size' (rows per step on each process)."
            )
    return targets


def _train_on_this_rank(learner: Any, task: Task, row_ids: Any) -> Any:
    """Train ``learner`` on this rank of the initialised process group.

    The torch learners in it get the distributed loop and one seed for all ranks
    (drawn on rank 0 where the seed is ``"random"``); both are restored afterwards.
    """
    targets = _torch_learners(learner)
    saved = []
    for target in targets:
        seed = target.param_set.values.get("seed")
        shared = [seed if isinstance(seed, int) and not isinstance(seed, bool) else None]
        if shared[0] is None:  # "random" or None: one seed drawn on rank 0 for all ranks
            shared = [int(np.random.randint(0, 2**31 - 1))]
        dist.broadcast_object_list(shared, src=0)
        saved.append((target, seed, "loop_class" in vars(target), target.loop_class))
        target.loop_class = distributed_loop(target.loop_class)
        target.param_set.set_values(seed=shared[0])
    try:
        learner.train(task, row_ids=row_ids)
    finally:
        for target, seed, had_own_loop, base in saved:
            target.param_set.set_values(seed=seed)
            if had_own_loop:
                target.loop_class = base
            else:
                del target.loop_class
    return learner


def _rank_main(
    rank: int,
    world_size: int,
    backend: str,
    address: str,
    learner: Any,
    task: Task,
    row_ids: Any,
    result: str,
) -> None:
    """The body of one spawned rank; rank 0 writes the trained learner's state."""
    if backend == "nccl":
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, init_method=address, rank=rank, world_size=world_size)
    try:
        trained = _train_on_this_rank(learner, task, row_ids)
        if rank == 0:
            Path(result).write_bytes(pickle.dumps(trained.state))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _default_backend(targets: list[LearnerTorch]) -> str:
    device = targets[0].param_set.values.get("device", "auto")
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    return "nccl" if cuda else "gloo"


def train_distributed(
    learner: Any,
    task: Task,
    nprocs: int | None = None,
    backend: str | None = None,
    row_ids: Any = None,
) -> Any:
    """Train a torch learner data-parallel on several processes (DDP).

    Started from a normal Python process, it spawns ``nprocs`` processes that train
    together and returns ``learner`` trained (holding rank 0's model, which every rank
    shares). Inside a script launched by ``torchrun`` (``RANK`` and ``WORLD_SIZE`` are
    set), leave ``nprocs`` unset: every launched process trains its rank, and each
    returns the trained learner. See docs/scaling_out.md.

    Parameters
    ----------
    learner : LearnerTorch or GraphLearner
        A torch learner, or a graph learner with a torch model (``po("torch_model_*")``);
        ``batch_size`` counts the rows per step on each process (the global batch is
        ``batch_size x nprocs``).
    task : Task
        The training task.
    nprocs : int, optional
        Processes to start. Without torchrun it must be set, except with ``nccl``,
        where it defaults to the number of CUDA devices (one process per GPU).
    backend : {"gloo", "nccl"}, optional
        ``torch.distributed`` backend: ``"gloo"`` for the CPU, ``"nccl"`` for CUDA
        devices. Default: ``"nccl"`` when the learner trains on CUDA, else ``"gloo"``.
    row_ids : array-like, optional
        Train on these rows only.

    Returns
    -------
    Learner
        ``learner`` itself, trained.

    Raises
    ------
    InvalidParameterError
        For an unknown backend, a bad ``nprocs``, ``nccl`` without enough CUDA devices,
        or a learner with a ``sampler`` / ``batch_sampler`` or without ``batch_size``.
    """
    targets = _check_learner(learner)
    if not isinstance(task, Task):
        raise InvalidTypeError(f"train_distributed needs a Task. Got {type(task).__name__}.")
    backend = _default_backend(targets) if backend is None else backend
    if backend not in _BACKENDS:
        raise InvalidParameterError(f"'backend' must be 'gloo' or 'nccl'. Got {backend!r} instead.")
    under_torchrun = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    if nprocs is None and under_torchrun:
        return _train_launched(learner, task, backend, row_ids)
    if nprocs is None and backend == "nccl":
        nprocs = torch.cuda.device_count()
    if not isinstance(nprocs, int) or isinstance(nprocs, bool) or nprocs < 1:
        raise InvalidParameterError(
            "'nprocs' must be a positive integer (the processes to start; leave it unset "
            f"under torchrun). Got {nprocs!r} instead."
        )
    if backend == "nccl" and torch.cuda.device_count() < nprocs:
        raise InvalidParameterError(
            f"backend='nccl' runs one process per CUDA device: nprocs={nprocs}, but "
            f"{torch.cuda.device_count()} CUDA device(s) are available."
        )
    import torch.multiprocessing as mp

    address = f"tcp://127.0.0.1:{_free_port()}"
    with tempfile.TemporaryDirectory(prefix="torchweave-ddp-") as folder:
        result = str(Path(folder) / "state.pkl")
        mp.start_processes(
            _rank_main,
            args=(nprocs, backend, address, learner, task, row_ids, result),
            nprocs=nprocs,
            join=True,
            start_method="spawn",
        )
        learner.state = pickle.loads(Path(result).read_bytes())  # our own file
    return learner


def _train_launched(learner: Any, task: Task, backend: str, row_ids: Any) -> Any:
    """Train on the processes torchrun launched (the group is set up here if need be)."""
    own_group = not dist.is_initialized()
    if own_group:
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, init_method="env://")
    try:
        return _train_on_this_rank(learner, task, row_ids)
    finally:
        if own_group:
            dist.destroy_process_group()
