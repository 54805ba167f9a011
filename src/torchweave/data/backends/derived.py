"""Backends over another backend: added columns in memory, and lazily mapped columns.

When a task over a database gets new features, the database is not changed:

* :class:`DataBackendCbind` adds (or overrides) columns held in a DataFrame indexed by
  row id (``cbind``, ``replace_features``);
* :class:`DataBackendMap` computes columns from others on demand, rows at a time
  (``Task.transform_features``: what a trained preprocessing operator does to a
  database task), so that streaming reads stay out of core.

Questions about the base's own columns go to the base (SQL for a database); derived
columns are read chunk by chunk, one column set at a time, and answered in pandas.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.backends.base import DataBackend, check_columns
from torchweave.data.backends.pandas_backend import DataBackendPandas

__all__ = ["DataBackendCbind", "DataBackendMap"]


class _Derived(DataBackend):
    """A backend with some columns of its own over a base backend."""

    base: DataBackend
    _own: list[str]

    @property
    def chunk_rows(self) -> int:  # type: ignore[override]
        return self.base.chunk_rows

    @property
    def colnames(self) -> list[str]:
        return [*self.base.colnames, *(c for c in self._own if c not in self.base.colnames)]

    @property
    def nrow(self) -> int:
        return self.base.nrow

    @property
    def rownames(self) -> np.ndarray:
        return self.base.rownames

    def has_rows(self, ids: np.ndarray) -> np.ndarray:
        return self.base.has_rows(ids)

    @abc.abstractmethod
    def _own_data(self, rows: np.ndarray, cols: list[str]) -> pd.DataFrame:
        """The own columns ``cols`` of ``rows`` (indexed by row id)."""

    def data(self, rows: np.ndarray | None, cols: Sequence[str]) -> pd.DataFrame:
        cols = check_columns(cols, self.colnames, type(self).__name__)
        ids = self.rownames if rows is None else np.asarray(rows, dtype=np.int64)
        own = [c for c in cols if c in self._own]
        base_cols = [c for c in cols if c not in own]
        parts = []
        if base_cols or not own:
            parts.append(self.base.data(ids, base_cols))
        if own:
            mine = self._own_data(ids, own)
            mine.index = pd.Index(ids, name="row_id")
            parts.append(mine)
        frame = parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)
        return frame[cols]

    def _load(self, cols: list[str], rows: np.ndarray | None) -> DataBackendPandas:
        """Own columns of ``rows`` read chunk by chunk, as an in-memory backend."""
        ids = self.rownames if rows is None else np.asarray(rows, dtype=np.int64)
        step = max(1, self.chunk_rows)
        chunks = [self.data(ids[i : i + step], cols) for i in range(0, len(ids), step)]
        frame = pd.concat(chunks) if chunks else self.data(ids[:0], cols)
        return DataBackendPandas(frame.reset_index(drop=True))

    def _split(
        self, cols: Sequence[str], rows: np.ndarray | None, method: str, *args: Any
    ) -> dict[str, Any]:
        cols = check_columns(cols, self.colnames, type(self).__name__)
        own = [c for c in cols if c in self._own]
        rest = [c for c in cols if c not in own]
        out: dict[str, Any] = {}
        if rest:
            out.update(getattr(self.base, method)(rest, *args, rows=rows))
        if own:
            out.update(getattr(self._load(own, rows), method)(own, *args))
        return {c: out[c] for c in cols}

    def distinct(self, cols: Sequence[str], rows: np.ndarray | None = None) -> dict[str, list[Any]]:
        return self._split(cols, rows, "distinct")

    def missings(self, cols: Sequence[str], rows: np.ndarray | None = None) -> dict[str, int]:
        return self._split(cols, rows, "missings")

    def infinites(self, cols: Sequence[str], rows: np.ndarray | None = None) -> dict[str, int]:
        return self._split(cols, rows, "infinites")

    def stats(
        self, cols: Sequence[str], stat: str, rows: np.ndarray | None = None
    ) -> dict[str, Any]:
        self._check_stat(stat)
        return self._split(cols, rows, "stats", stat)

    def group_codes(self, cols: Sequence[str], rows: np.ndarray | None = None) -> np.ndarray:
        cols = check_columns(cols, self.colnames, type(self).__name__)
        if not any(c in self._own for c in cols):
            return self.base.group_codes(cols, rows)
        return self._load(list(cols), rows).group_codes(list(cols))

    def with_dtypes(self, dtypes: Any) -> DataBackend:
        check_columns(list(dtypes), self.colnames, type(self).__name__)
        new = copy.copy(self)
        new.base = self.base.with_dtypes({c: d for c, d in dtypes.items() if c not in self._own})
        new._dtype_overrides = {
            **getattr(self, "_dtype_overrides", {}),
            **{c: d for c, d in dtypes.items() if c in self._own},
        }
        return new


class DataBackendCbind(_Derived):
    """A base backend plus columns held in memory, indexed by row id.

    Parameters
    ----------
    base : DataBackend
        The backend whose other columns are used.
    frame : pandas.DataFrame
        The added columns; its index holds row ids (each once), and covers every row
        that is read. Its columns override base columns of the same name.
    """

    def __init__(self, base: DataBackend, frame: pd.DataFrame) -> None:
        self.base = base
        self.frame = frame
        self._own = [str(c) for c in frame.columns]
        self._dtype_overrides: dict[str, Any] = {}

    @property
    def dtypes(self) -> dict[str, Any]:  # noqa: D102
        return {
            **self.base.dtypes,
            **{str(c): d for c, d in self.frame.dtypes.items()},
            **self._dtype_overrides,
        }

    def _own_data(self, rows: np.ndarray, cols: list[str]) -> pd.DataFrame:
        out = self.frame.loc[rows, cols]
        if self._dtype_overrides:
            out = out.astype({c: d for c, d in self._dtype_overrides.items() if c in cols})
        return out


class DataBackendMap(_Derived):
    """A base backend plus columns computed from some of its columns, rows at a time.

    Parameters
    ----------
    base : DataBackend
        The backend with the input columns.
    fn : callable
        ``fn(frame) -> frame``: the output columns for the rows of ``frame`` (the input
        columns), one output row per input row, in order; it must treat rows
        independently (each chunk is mapped on its own). Picklable for workers.
    inputs : sequence of str
        The columns ``fn`` reads.
    dtypes : mapping of str to dtype
        The output columns and their dtypes (outputs are cast to them).
    """

    def __init__(
        self,
        base: DataBackend,
        fn: Callable[[pd.DataFrame], pd.DataFrame],
        inputs: Sequence[str],
        dtypes: dict[str, Any],
    ) -> None:
        self.base = base
        self.fn = fn
        self.inputs = check_columns(inputs, base.colnames, type(base).__name__)
        self._out_dtypes = dict(dtypes)
        self._own = list(dtypes)
        self._dtype_overrides: dict[str, Any] = {}

    @property
    def dtypes(self) -> dict[str, Any]:  # noqa: D102
        return {**self.base.dtypes, **self._out_dtypes, **self._dtype_overrides}

    def _own_data(self, rows: np.ndarray, cols: list[str]) -> pd.DataFrame:
        inputs = self.base.data(rows, self.inputs)
        out = self.fn(inputs)
        dtypes = self.dtypes
        frame = pd.DataFrame({c: out[c].reset_index(drop=True) for c in cols})
        changed = {c: dtypes[c] for c in cols if frame[c].dtype != dtypes[c]}
        return frame.astype(changed) if changed else frame
