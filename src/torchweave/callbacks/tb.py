"""``t_clbk("tb")``: TensorBoard event files of the scores (and the training loss)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torchweave.callbacks._params import p_path
from torchweave.callbacks.callback_set import CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.errors import InvalidParameterError, MissingDependencyError
from torchweave.params.param import p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import callbacks
from torchweave.utils.text import quote_list

__all__ = ["CallbackSetTB"]

_EVENT_PREFIX = "events.out.tfevents."


def _summary_writer() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise MissingDependencyError(
            "The 'tb' callback writes TensorBoard event files and needs the tensorboard "
            "package: pip install torchweave[tb]"
        ) from exc
    return SummaryWriter


def check_log_dir(path: str | os.PathLike[str]) -> None:
    """Raise unless ``path`` is new, an empty directory, or holds only event files."""
    folder = Path(path)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise InvalidParameterError(
            f"The 'path' parameter of callback 'tb' must be a directory. '{folder}' is a file."
        )
    other = sorted(p.name for p in folder.iterdir() if not p.name.startswith(_EVENT_PREFIX))
    if other:
        raise InvalidParameterError(
            f"The 'path' parameter of callback 'tb' must be a new or empty directory, or one "
            f"holding only TensorBoard event files ({_EVENT_PREFIX}*). '{folder}' also holds "
            f"{quote_list(other, limit=5)}."
        )


class CallbackSetTB(CallbackSet):
    """Writes the scores of each evaluated epoch to TensorBoard event files.

    In each epoch with scores, logs ``train.<measure id>`` and ``valid.<measure id>``
    with ``step = epoch``; with ``log_train_loss``, logs ``train.loss`` after every
    batch with ``step = global step`` (counted across epochs and resumed runs). Uses
    ``torch.utils.tensorboard`` (install ``torchweave[tb]``). Read the files with
    ``tensorboard --logdir <path>``.

    Parameters
    ----------
    path : str or os.PathLike
        The log directory: new, empty, or holding only TensorBoard event files (so a
        resumed run adds to its earlier files). Created when training starts.
    log_train_loss : bool, default False
        Also log the training loss of every batch.

    State
    -----
    None: the event files are the record.
    """

    def __init__(self, path: str | os.PathLike[str], log_train_loss: bool = False) -> None:
        super().__init__()
        self.path = path
        self.log_train_loss = log_train_loss
        self.writer: Any = None
        if not log_train_loss:
            # The loop calls only callable stages: no per-batch call when the loss is not logged.
            setattr(self, "on_batch_end", None)  # noqa: B010

    def on_begin(self) -> None:
        """Check the directory and open the event writer."""
        check_log_dir(self.path)
        self.writer = _summary_writer()(log_dir=str(self.path))

    def on_batch_end(self) -> None:
        """Log ``train.loss`` at the global step (when ``log_train_loss``)."""
        assert self.ctx is not None
        self.writer.add_scalar("train.loss", self.ctx.last_loss, self.ctx.global_step)

    def on_epoch_end(self) -> None:
        """Log this epoch's training and validation scores, if it has any."""
        assert self.ctx is not None
        for prefix, scores in (
            ("train", self.ctx.last_scores_train),
            ("valid", self.ctx.last_scores_valid),
        ):
            if isinstance(scores, Mapping):
                for measure_id, value in scores.items():
                    self.writer.add_scalar(f"{prefix}.{measure_id}", value, self.ctx.epoch)
        self.writer.flush()

    def on_exit(self) -> None:
        """Close the writer (also when training failed)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _tb() -> TorchCallback:
    """TensorBoard: scores per epoch and, optionally, the loss per batch."""
    ps = ParamSet(
        path=p_path("log directory (new, empty, or holding only event files)"),
        log_train_loss=p_lgl(
            default=False, tags="train", description="also log the training loss of every batch"
        ),
    )
    return TorchCallback(CallbackSetTB, id="tb", param_set=ps, label="TensorBoard")


_tb.__name__ = CallbackSetTB.__name__
callbacks.register("tb", _tb, description="TensorBoard event files of scores and loss")
