"""``t_clbk("history")``: the scores of every evaluated epoch, as a DataFrame."""

from __future__ import annotations

from typing import Any

import pandas as pd

from torchweave.errors import InvalidTypeError
from torchweave.registry import callbacks
from torchweave.training.callback_set import CallbackSet
from torchweave.training.descriptors import TorchCallback

__all__ = ["CallbackSetHistory"]


class CallbackSetHistory(CallbackSet):
    """Records the training and validation scores of each epoch in which they are computed.

    After training, ``learner.model.callbacks["history"]`` is a DataFrame with the
    column ``epoch``, one column ``train.<measure id>`` per training measure and one
    ``valid.<measure id>`` per validation measure. When both kinds exist, only epochs
    that have both are kept (an inner merge on ``epoch``). Resumed training appends
    to the loaded history.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from torchweave.callbacks.history import CallbackSetHistory
    >>> cb = CallbackSetHistory()
    >>> cb.ctx = SimpleNamespace(epoch=1, last_scores_train={"classif.ce": 0.25},
    ...                          last_scores_valid={"classif.ce": 0.5})
    >>> cb.on_begin(); cb.on_before_valid(); cb.on_epoch_end()
    >>> cb.state_dict()
       epoch  train.classif.ce  valid.classif.ce
    0      1              0.25               0.5
    """

    def __init__(self) -> None:
        super().__init__()
        self.train: list[dict[str, Any]] = []
        self.valid: list[dict[str, Any]] = []
        self.prev_state: pd.DataFrame | None = None

    def on_begin(self) -> None:
        """Start empty records (a loaded previous history is kept)."""
        self.train = []
        self.valid = []

    def on_before_valid(self) -> None:
        """Record the training scores of this epoch, if any were computed."""
        assert self.ctx is not None
        scores = self.ctx.last_scores_train
        if scores:
            self.train.append({"epoch": self.ctx.epoch, **scores})

    def on_epoch_end(self) -> None:
        """Record the validation scores of this epoch, if any were computed."""
        assert self.ctx is not None
        scores = self.ctx.last_scores_valid
        if scores:
            self.valid.append({"epoch": self.ctx.epoch, **scores})

    @staticmethod
    def _frame(rows: list[dict[str, Any]], prefix: str) -> pd.DataFrame:
        frame = pd.DataFrame(rows)
        frame["epoch"] = frame["epoch"].astype("int64")
        return frame.rename(columns={c: f"{prefix}.{c}" for c in frame.columns if c != "epoch"})

    def state_dict(self) -> pd.DataFrame:
        """The history: ``epoch``, ``train.<id>``..., ``valid.<id>``... (one row per epoch)."""
        if self.train and self.valid:
            state = self._frame(self.train, "train").merge(
                self._frame(self.valid, "valid"), on="epoch", how="inner"
            )
        elif self.train:
            state = self._frame(self.train, "train")
        elif self.valid:
            state = self._frame(self.valid, "valid")
        else:
            state = pd.DataFrame({"epoch": pd.Series([], dtype="int64")})
        prev = self.prev_state
        if prev is None or len(prev) == 0:
            return state
        if len(state) == 0:
            return prev.copy()
        return pd.concat([prev, state], ignore_index=True)

    def load_state_dict(self, state_dict: Any) -> None:
        """Keep a previous history: later states append to it (resumed training)."""
        if state_dict is not None and not isinstance(state_dict, pd.DataFrame):
            raise InvalidTypeError(
                "The state of the history callback must be a pandas DataFrame. "
                f"Got {type(state_dict).__name__} instead."
            )
        self.prev_state = None if state_dict is None else state_dict.copy()


def _history() -> TorchCallback:
    """History: the scores of each evaluated epoch."""
    return TorchCallback(CallbackSetHistory, id="history", label="History")


_history.__name__ = CallbackSetHistory.__name__
callbacks.register("history", _history, description="History: the scores of each epoch")
