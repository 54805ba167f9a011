"""DataBackend: where a task's data lives, behind one small interface.

A :class:`~torchweave.data.task.Task` asks its backend for rows by id, for columns,
for the distinct values, missing counts and statistics of columns, and for the column
metadata (one pandas dtype per column, which fixes the feature types and factor
levels). :class:`~torchweave.data.backends.pandas_backend.DataBackendPandas` holds a
DataFrame in memory (the default); the DuckDB backend answers the same questions with
SQL, so a task can be larger than memory.

Row ids are integers. Every method that takes ``rows`` takes a 1-d int64 array of
row ids (order and repeats kept where rows come back) or ``None`` for all rows.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from torchweave.errors import TaskError
from torchweave.utils.text import did_you_mean, quote_list

__all__ = ["STATISTICS", "DataBackend", "check_columns"]

#: The column statistics a backend computes (:meth:`DataBackend.stats`).
#:
#: ``mean``, ``median``, ``std`` (ddof=1), ``mad`` (median absolute deviation from the
#: median, unscaled), ``min``, ``max`` and ``mode`` (most frequent value; ties go to
#: the first level of a factor, else to the smallest value). Missing values are
#: skipped; a column without any value gives ``None``.
STATISTICS: tuple[str, ...] = ("mean", "median", "std", "mad", "min", "max", "mode")


def check_columns(cols: Sequence[str], known: Sequence[str], where: str) -> list[str]:
    """``cols`` as a list, or a :class:`TaskError` naming the ones ``known`` lacks."""
    cols = list(cols)
    missing = [c for c in cols if c not in set(known)]
    if missing:
        raise TaskError(
            f"{where} has no column(s) {quote_list(missing)}.{did_you_mean(missing[0], known)}"
        )
    return cols


class DataBackend(abc.ABC):
    """The data of a task: rows by id, columns, and questions about them.

    Attributes
    ----------
    in_memory : bool
        Whether the data is a pandas DataFrame in this process (tasks then use it
        directly); False for database backends, whose data is read as needed.
    chunk_rows : int
        Rows per chunk when training and prediction stream the data (see
        ``docs/data_backends.md``); a multiple of the batch size is read at once.
    """

    in_memory: ClassVar[bool] = False
    chunk_rows: int = 1 << 16
    _dtype_overrides: dict[str, Any] = {}

    @property
    @abc.abstractmethod
    def colnames(self) -> list[str]:
        """The column names (without a primary key column)."""

    @property
    @abc.abstractmethod
    def nrow(self) -> int:
        """Number of rows stored."""

    @property
    def ncol(self) -> int:
        """Number of columns (without a primary key column)."""
        return len(self.colnames)

    @property
    @abc.abstractmethod
    def rownames(self) -> np.ndarray:
        """All row ids, in storage order (an int64 array)."""

    @property
    @abc.abstractmethod
    def dtypes(self) -> dict[str, Any]:
        """Column metadata: the pandas dtype of every column (a new dict)."""

    @abc.abstractmethod
    def data(self, rows: np.ndarray | None, cols: Sequence[str]) -> pd.DataFrame:
        """The given rows (by id, in order, repeats kept) and columns, indexed by row id."""

    def head(self, n: int = 6) -> pd.DataFrame:
        """The first ``n`` rows of every column."""
        return self.data(self.rownames[:n], self.colnames)

    @abc.abstractmethod
    def distinct(self, cols: Sequence[str], rows: np.ndarray | None = None) -> dict[str, list[Any]]:
        """The distinct non-missing values of each column, sorted (factors: level order)."""

    @abc.abstractmethod
    def missings(self, cols: Sequence[str], rows: np.ndarray | None = None) -> dict[str, int]:
        """Number of missing values per column (NaN counts as missing)."""

    @abc.abstractmethod
    def infinites(self, cols: Sequence[str], rows: np.ndarray | None = None) -> dict[str, int]:
        """Number of infinite values per column (0 for non-float columns)."""

    @abc.abstractmethod
    def stats(
        self, cols: Sequence[str], stat: str, rows: np.ndarray | None = None
    ) -> dict[str, Any]:
        """One statistic of :data:`STATISTICS` per column, missing values skipped."""

    @abc.abstractmethod
    def group_codes(self, cols: Sequence[str], rows: np.ndarray | None = None) -> np.ndarray:
        """One int64 code per row: the rank of its value combination (missing last)."""

    def is_all_rows(self, ids: np.ndarray) -> bool:
        """Whether ``ids`` are all row ids, once each, in storage order."""
        return len(ids) == self.nrow and np.array_equal(ids, self.rownames)

    @abc.abstractmethod
    def has_rows(self, ids: np.ndarray) -> np.ndarray:
        """A boolean mask: which of ``ids`` are row ids of this backend."""

    def with_dtypes(self, dtypes: Mapping[str, Any]) -> DataBackend:
        """A copy (sharing the data) that reads the given columns in other dtypes.

        Used by tasks for the factor levels of a target or of prediction data; the
        dtype must fit the values (a factor column gets a CategoricalDtype).
        """
        check_columns(list(dtypes), self.colnames, type(self).__name__)
        new = copy.copy(self)
        new._dtype_overrides = {**getattr(self, "_dtype_overrides", {}), **dict(dtypes)}
        return new

    def _check_stat(self, stat: str) -> None:
        if stat not in STATISTICS:
            raise TaskError(
                f"Unknown statistic {stat!r}; the statistics are {quote_list(STATISTICS)}."
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}> ({self.nrow} x {self.ncol})"
