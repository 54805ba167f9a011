"""Resuming a run from a checkpoint folder (the learner's ``resume`` parameter).

Before ``on_begin``, the learner loads the newest complete checkpoint: network and
optimizer states, the callbacks' states, the epoch, the global step, the last
validation scores and the random number generator states. With a fixed seed the
resumed run therefore continues exactly where the interrupted one stopped: training
4 epochs and resuming to 8 gives the weights of 8 epochs in one go, with or without
shuffling.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from torchweave._version import __version__
from torchweave.callbacks.callback_set import CallbackSet, ContextTorch
from torchweave.errors import InvalidParameterError, TaskError
from torchweave.training.checkpoint_io import (
    foreign_files,
    latest_checkpoint,
    load_checkpoint,
    read_run,
    restore_rng_states,
)

__all__ = ["check_resume", "resume_folder", "resume_training"]


def check_resume(x: Any) -> str | None:
    """ParamSet check of ``resume``: a bool or a path."""
    if isinstance(x, bool | str | os.PathLike):
        return None
    return "True, False or the path of a checkpoint folder"


def resume_folder(resume: Any, callbacks: dict[str, CallbackSet], learner_id: str) -> Path | None:
    """The folder to resume from: ``resume`` itself, or the checkpoint callback's path."""
    if resume is False or resume is None:
        return None
    if resume is True:
        paths = [getattr(cb, "path") for cb in callbacks.values() if cb.saves_checkpoints]  # noqa: B009
        if not paths:
            raise InvalidParameterError(
                f"Learner '{learner_id}' has resume=True but no checkpoint callback: add "
                "t_clbk('checkpoint', path=..., freq=...) or set resume to a folder."
            )
        return Path(paths[0])
    return Path(resume)


def resume_training(ctx: ContextTorch, callbacks: dict[str, CallbackSet], folder: Path) -> None:
    """Load the newest complete checkpoint of ``folder`` into a fresh run.

    A folder that does not exist, or holds no complete checkpoint, trains from scratch;
    a folder with other files is an error.
    """
    epoch = latest_checkpoint(folder)
    if epoch is None:
        other = foreign_files(folder)
        if other:
            raise InvalidParameterError(
                f"No checkpoint to resume from in '{folder}': it holds no checkpoint written by "
                f"t_clbk('checkpoint'), but other files ({', '.join(other[:5])})."
            )
        return  # nothing saved yet: train from scratch
    if epoch > ctx.total_epochs:
        raise InvalidParameterError(
            f"The checkpoint in '{folder}' was already trained for {epoch} epochs, but "
            f"'epochs' is {ctx.total_epochs}. Set epochs to at least {epoch}."
        )
    _check_task(ctx, folder)
    saved = load_checkpoint(folder, epoch)
    state = saved["state"]
    if state.get("torchweave_version") != __version__:
        warnings.warn(
            f"The checkpoint in '{folder}' was written by torchweave "
            f"{state.get('torchweave_version')}; this is {__version__}.",
            UserWarning,
            stacklevel=2,
        )
    ctx.network.load_state_dict(saved["network"])
    ctx.optimizer.load_state_dict(saved["optimizer"])
    if ctx.grad_scaler is not None and state.get("grad_scaler"):
        ctx.grad_scaler.load_state_dict(state["grad_scaler"])
    _load_callback_states(callbacks, state, folder)
    ctx.epoch = int(state["epoch"])
    ctx.global_step = int(state["global_step"])
    ctx.last_scores_valid = state.get("valid_scores")
    restore_rng_states(ctx, state.get("rng", {}))


def _check_task(ctx: ContextTorch, folder: Path) -> None:
    run = read_run(folder)
    if run is None:
        return
    if run["task_id"] != ctx.task_train.id:
        raise TaskError(
            f"The checkpoint in '{folder}' was written for task '{run['task_id']}', not for "
            f"task '{ctx.task_train.id}'."
        )
    saved_valid = run.get("valid_row_ids")
    task_valid = ctx.task_valid
    if (saved_valid is None) != (task_valid is None):
        had = "had" if saved_valid is not None else "had no"
        has = "has" if task_valid is not None else "has no"
        raise TaskError(
            f"The checkpoint in '{folder}' {had} validation data, but this run {has}; resume "
            "with the same validate setting."
        )
    if task_valid is not None and sorted(saved_valid or []) != sorted(
        int(i) for i in task_valid.row_ids
    ):
        raise TaskError(
            f"The checkpoint in '{folder}' was validated on other rows than this run; resume "
            "with the same validation split (a fixed 'seed' makes a validate ratio reproducible)."
        )


def _load_callback_states(
    callbacks: dict[str, CallbackSet], state: dict[str, Any], folder: Path
) -> None:
    classes = state.get("callback_classes", {})
    for cb_id, cb_state in state.get("callbacks", {}).items():
        cb = callbacks.get(cb_id)
        if cb is None:
            warnings.warn(
                f"The checkpoint in '{folder}' has a state for callback '{cb_id}', which this "
                "run does not have; the state is ignored.",
                UserWarning,
                stacklevel=3,
            )
            continue
        if classes.get(cb_id, type(cb).__name__) != type(cb).__name__:
            raise InvalidParameterError(
                f"Callback '{cb_id}' was a <{classes[cb_id]}> in the checkpoint in '{folder}' "
                f"and is a <{type(cb).__name__}> now."
            )
        cb.load_checkpoint_state(cb_state)
