"""``t_clbk("history")``: the scores of every evaluated epoch, as a DataFrame.

:func:`plot_history` draws the learning curves of a history (or of a trained learner).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from torchweave.callbacks.callback_set import CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.errors import InvalidTypeError, MissingDependencyError, PlotError
from torchweave.registry import callbacks

__all__ = ["CallbackSetHistory", "plot_history"]


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


# --- plotting ------------------------------------------------------------------------------
_PREFIXES = ("train", "valid")


def _find_history(x: Any, depth: int = 0) -> list[pd.DataFrame]:
    """The history frames held by ``x``: a frame, a TorchModel, a learner or a graph's model."""
    if isinstance(x, pd.DataFrame):
        return [x]
    if depth > 4 or x is None:
        return []
    callbacks_state = getattr(x, "callbacks", None)
    if isinstance(callbacks_state, Mapping) and isinstance(
        callbacks_state.get("history"), pd.DataFrame
    ):
        return [callbacks_state["history"]]
    if isinstance(x, Mapping):
        return [h for v in x.values() for h in _find_history(v, depth + 1)]
    model = getattr(x, "model", None)
    return _find_history(model, depth + 1) if model is not None else []


def _as_history(x: Any) -> pd.DataFrame:
    if isinstance(x, str | os.PathLike):
        try:
            return pd.read_csv(x)
        except (OSError, ValueError) as exc:
            raise PlotError(f"plot_history cannot read the CSV history '{x}': {exc}") from exc
    found = _find_history(x)
    if len(found) == 1:
        return found[0]
    what = type(x).__name__
    if not found:
        raise PlotError(
            "plot_history needs a history DataFrame (learner.model.callbacks['history']), a "
            "trained torch learner with the 'history' callback (or a graph learner holding "
            f"one), or the path of a CSV written by t_clbk('csv'). Got {what} without a history."
        )
    raise PlotError(
        f"plot_history found {len(found)} histories in the {what}; pass the one to plot."
    )


def _measure_ids(history: pd.DataFrame) -> list[str]:
    ids: list[str] = []
    for column in history.columns:
        prefix, _, measure_id = str(column).partition(".")
        if prefix in _PREFIXES and measure_id and measure_id not in ids:
            ids.append(measure_id)
    return ids


def plot_history(
    history: Any,
    path: str | os.PathLike[str] | None = None,
    ax: Any = None,
) -> Any:
    """Draw the learning curves: training and validation scores of each measure by epoch.

    One axes per measure, with a line for ``train.<id>`` and one for ``valid.<id>``
    (whichever exist) over ``epoch``, and a legend.

    Parameters
    ----------
    history : DataFrame, learner, TorchModel or path
        A history as kept in ``learner.model.callbacks["history"]``; a trained torch
        learner (or graph learner) whose model holds one; or the path of a CSV file
        written by ``t_clbk("csv")``.
    path : str or os.PathLike, optional
        Also save the figure there; the extension picks the format (``.png``,
        ``.pdf``, ``.svg``, ...).
    ax : matplotlib Axes or sequence of Axes, optional
        Draw into these (one per measure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (shown inline in notebooks). New figures are not registered with
        ``pyplot``, so nothing opens a window.

    Raises
    ------
    PlotError
        If there is no history, it has no ``epoch`` or no measure columns, or ``ax``
        does not hold one axes per measure.
    MissingDependencyError
        If matplotlib is not installed (``pip install torchweave[plot]``).

    Examples
    --------
    >>> import pandas as pd
    >>> from torchweave.callbacks.history import plot_history
    >>> history = pd.DataFrame({"epoch": [1, 2, 3], "train.classif.ce": [0.5, 0.3, 0.2],
    ...                         "valid.classif.ce": [0.6, 0.4, 0.35]})
    >>> fig = plot_history(history)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['train', 'valid']
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependencyError(
            "plot_history draws with matplotlib: pip install torchweave[plot]"
        ) from exc
    frame = _as_history(history)
    if "epoch" not in frame.columns:
        raise PlotError(
            f"The history to plot needs an 'epoch' column. Got the columns "
            f"{[str(c) for c in frame.columns]}."
        )
    measure_ids = _measure_ids(frame)
    if not measure_ids:
        raise PlotError(
            "The history has no 'train.<measure>' or 'valid.<measure>' columns to plot (set "
            "the learner's measures_train or measures_valid). Got the columns "
            f"{[str(c) for c in frame.columns]}."
        )
    if ax is None:
        fig = Figure(figsize=(4.5 * len(measure_ids), 3.5), layout="constrained")
        axes = list(fig.subplots(1, len(measure_ids), squeeze=False)[0])
    else:
        axes = list(ax) if isinstance(ax, Sequence) else [ax]
        if len(axes) != len(measure_ids):
            raise PlotError(
                f"plot_history draws one axes per measure ({len(measure_ids)}: "
                f"{measure_ids}). Got {len(axes)} axes."
            )
        fig = axes[0].figure
    frame = frame.sort_values("epoch")
    for axes_i, measure_id in zip(axes, measure_ids, strict=True):
        for prefix in _PREFIXES:
            column = f"{prefix}.{measure_id}"
            if column in frame.columns:
                axes_i.plot(frame["epoch"], frame[column], marker="o", label=prefix)
        axes_i.set_title(measure_id)
        axes_i.set_xlabel("epoch")
        axes_i.set_ylabel(measure_id)
        axes_i.legend()
    if path is not None:
        fig.savefig(os.fspath(path))
    return fig
