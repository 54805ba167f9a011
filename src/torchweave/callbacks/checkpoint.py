"""``t_clbk("checkpoint")``: save the network, optimizer and run state as training goes."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from torchweave._version import __version__
from torchweave.callbacks._params import p_path
from torchweave.callbacks.callback_set import CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.params.param import p_fct, p_int
from torchweave.params.param_set import ParamSet
from torchweave.registry import callbacks
from torchweave.training.checkpoint_io import (
    complete_checkpoints,
    encode_state,
    foreign_files,
    rng_states,
    save_atomic,
    write_run,
)
from torchweave.utils.text import quote_list

__all__ = ["CallbackSetCheckpoint"]


class CallbackSetCheckpoint(CallbackSet):
    """Saves checkpoints every ``freq`` epochs (or steps) and after the last epoch.

    A checkpoint of epoch ``n`` is ``network<n>.pt``, ``optimizer<n>.pt`` and
    ``state<n>.pt`` in ``path`` (see :mod:`torchweave.training.checkpoint_io`); every
    file loads with ``torch.load(..., weights_only=True)``. The callback runs last
    (weight ``inf``), so every other callback has finished the epoch when it saves.

    Safety rules: the folder must be new, empty, or hold only checkpoint files; a run
    never overwrites complete checkpoints that another run wrote (it refuses to start
    instead); an epoch that fails halfway is never saved; a crash while saving leaves
    an incomplete checkpoint that resuming ignores.

    Parameters
    ----------
    path : str, os.PathLike or callable
        The folder, or a function returning it (called once, when training starts).
    freq : int
        Save every ``freq`` epochs (or steps).
    freq_type : {"epoch", "step"}, default "epoch"
        What ``freq`` counts. Step checkpoints (``network_step<global step>.pt`` ...)
        are for inspection; resuming starts from epoch checkpoints.
    """

    weight: ClassVar[float] = math.inf
    saves_checkpoints: ClassVar[bool] = True

    def __init__(
        self,
        path: str | os.PathLike[str] | Callable[[], str | os.PathLike[str]],
        freq: int,
        freq_type: str = "epoch",
    ) -> None:
        super().__init__()
        folder = path() if callable(path) else path
        if not isinstance(folder, str | os.PathLike):
            raise InvalidTypeError(
                "The 'path' function of the checkpoint callback must return a path. "
                f"Got {type(folder).__name__} instead."
            )
        self.path = Path(folder)
        self.freq = freq
        self.freq_type = freq_type
        if self.path.exists() and not self.path.is_dir():
            raise InvalidParameterError(
                f"The checkpoint path '{self.path}' exists and is not a folder."
            )
        other = foreign_files(self.path)
        if other:
            raise InvalidParameterError(
                f"The checkpoint folder '{self.path}' already exists and holds files that are "
                f"not checkpoints ({quote_list(other[:5])}). Use a new or empty folder."
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self.start_epoch = 0
        self.saved: set[str] = set()

    def on_begin(self) -> None:
        """Refuse to overwrite another run's checkpoints; record the run's task."""
        ctx = self.ctx
        assert ctx is not None
        self.start_epoch = ctx.epoch
        self.saved = set()
        complete, _ = complete_checkpoints(self.path)
        if ctx.epoch < ctx.total_epochs:
            clash = [n for n in complete if n > ctx.epoch]
            if clash:
                raise InvalidParameterError(
                    f"The checkpoint folder '{self.path}' holds checkpoints of epoch(s) {clash} "
                    f"written by another run; this run (epochs {ctx.epoch + 1} to "
                    f"{ctx.total_epochs}) would overwrite them. Resume from them "
                    "(resume=True) or use a new folder."
                )
        task_valid = ctx.task_valid
        valid_ids = None if task_valid is None else [int(i) for i in task_valid.row_ids]
        write_run(self.path, ctx.task_train.id, valid_ids)

    def on_epoch_end(self) -> None:
        """Save every ``freq`` epochs."""
        assert self.ctx is not None
        if self.freq_type == "epoch" and self.ctx.epoch % self.freq == 0:
            self._save(str(self.ctx.epoch), self.ctx.epoch)

    def on_batch_end(self) -> None:
        """Save every ``freq`` steps (with ``freq_type="step"``)."""
        assert self.ctx is not None
        if self.freq_type == "step" and self.ctx.global_step % self.freq == 0:
            self._save(f"_step{self.ctx.global_step}", self.ctx.epoch)

    def on_end(self) -> None:
        """Save the last epoch, unless it is saved already or nothing was trained."""
        ctx = self.ctx
        assert ctx is not None
        if ctx.epoch > self.start_epoch and str(ctx.epoch) not in self.saved:
            self._save(str(ctx.epoch), ctx.epoch)

    def _save(self, suffix: str, epoch: int) -> None:
        ctx = self.ctx
        assert ctx is not None
        files = {part: self.path / f"{part}{suffix}.pt" for part in ("network", "optimizer")}
        state_file = self.path / f"state{suffix}.pt"
        if state_file.exists():  # complete, and not written by this run
            raise InvalidParameterError(
                f"The checkpoint '{state_file}' appeared while training (another run writes to "
                f"'{self.path}'); it is not overwritten."
            )
        states, classes = {}, {}
        for cb_id, cb in ctx.callbacks.items():
            if cb is self:
                continue
            state = cb.checkpoint_state()
            if state is not None:
                states[cb_id] = encode_state(state, f"callback '{cb_id}'")
                classes[cb_id] = type(cb).__name__
        state = {
            "format": 1,
            "torchweave_version": __version__,
            "epoch": epoch,
            "global_step": ctx.global_step,
            "valid_scores": encode_state(ctx.last_scores_valid, "the validation scores"),
            "callbacks": states,
            "callback_classes": classes,
            "rng": rng_states(ctx),
        }
        if ctx.grad_scaler is not None:  # precision="16-mixed": resuming restores the scale
            state["grad_scaler"] = ctx.grad_scaler.state_dict()
        save_atomic(ctx.network.state_dict(), files["network"])
        save_atomic(ctx.optimizer.state_dict(), files["optimizer"])
        save_atomic(state, state_file)
        self.saved.add(suffix)

    def state_dict(self) -> dict[str, str]:
        """The folder (the result of a path function is visible here)."""
        return {"path": str(self.path)}

    def load_state_dict(self, state_dict: Any) -> None:
        """Nothing to restore: the folder is a parameter."""


def _checkpoint() -> TorchCallback:
    """Checkpoint: save network, optimizer and run state every ``freq`` epochs."""
    param_set = ParamSet(
        path=p_path(
            "the checkpoint folder (new, empty, or holding checkpoints)", allow_function=True
        ),
        freq=p_int(1, tags={"train", "required"}),
        freq_type=p_fct(["epoch", "step"], default="epoch", tags={"train"}),
    )
    return TorchCallback(
        CallbackSetCheckpoint, id="checkpoint", param_set=param_set, label="Checkpoint"
    )


_checkpoint.__name__ = CallbackSetCheckpoint.__name__
callbacks.register("checkpoint", _checkpoint, description="Checkpoint: save the run as it trains")
