"""``t_clbk("csv")``: the history, appended to a CSV file as training goes."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torchweave.callbacks._params import p_path
from torchweave.callbacks.callback_set import CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.errors import InvalidParameterError
from torchweave.params.param_set import ParamSet
from torchweave.registry import callbacks
from torchweave.utils.text import quote_list

__all__ = ["CallbackSetCSV"]


class CallbackSetCSV(CallbackSet):
    """Appends one row per evaluated epoch to a CSV file, as soon as the epoch ends.

    The columns are those of ``t_clbk("history")``: ``epoch``, ``train.<measure id>``
    per training measure and ``valid.<measure id>`` per validation measure (when the
    run validates). Rows are written at the end of each epoch that has scores, and the
    file is flushed and closed after each row, so it can be read (or plotted with
    :func:`~torchweave.callbacks.history.plot_history`) while training runs.

    A new or empty file gets the header first. An existing file is appended to (a
    resumed run continues its file); its header must be the same. Delete the file to
    start afresh.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (its directory must exist).

    State
    -----
    None: the file is the record.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = path
        self.columns: list[str] = []
        self._train: dict[str, float] = {}

    def on_begin(self) -> None:
        """Fix the columns from the run's measures and write the header if the file is new."""
        assert self.ctx is not None
        ctx = self.ctx
        path = Path(self.path)
        if not path.parent.is_dir():
            raise InvalidParameterError(
                f"The 'path' parameter of callback 'csv' must be a file in an existing "
                f"directory. '{path.parent}' does not exist."
            )
        columns = ["epoch"] + [f"train.{m.id}" for m in ctx.measures_train]
        if ctx.loader_valid is not None:
            columns += [f"valid.{m.id}" for m in ctx.measures_valid]
        self.columns = columns
        if path.exists() and path.stat().st_size > 0:
            with path.open(newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), [])
            if header != columns:
                raise InvalidParameterError(
                    f"The CSV file '{path}' of callback 'csv' has the columns "
                    f"{quote_list(header)}, but this run writes {quote_list(columns)}. "
                    "Use another path or delete the file."
                )
            return
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(columns)

    def on_before_valid(self) -> None:
        """Keep this epoch's training scores."""
        assert self.ctx is not None
        scores = self.ctx.last_scores_train
        self._train = dict(scores) if isinstance(scores, Mapping) else {}

    def on_epoch_end(self) -> None:
        """Append this epoch's row, if it has scores."""
        assert self.ctx is not None
        valid = self.ctx.last_scores_valid
        values = {f"train.{k}": v for k, v in self._train.items()}
        if isinstance(valid, Mapping):
            values.update({f"valid.{k}": v for k, v in valid.items()})
        if not values or len(self.columns) == 1:
            return
        row = [str(self.ctx.epoch)] + [_cell(values.get(c)) for c in self.columns[1:]]
        with Path(self.path).open("a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(row)
            handle.flush()


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value))


def _csv() -> TorchCallback:
    """CSV: the history appended to a file after each evaluated epoch."""
    ps = ParamSet(path=p_path("the CSV file to append to"))
    return TorchCallback(CallbackSetCSV, id="csv", param_set=ps, label="CSV logger")


_csv.__name__ = CallbackSetCSV.__name__
callbacks.register("csv", _csv, description="The history, appended to a CSV file")
