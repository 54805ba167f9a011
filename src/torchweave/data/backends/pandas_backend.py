"""DataBackendPandas: a task's data as a pandas DataFrame in memory (the default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from torchweave.data.backends.base import DataBackend, check_columns
from torchweave.errors import TaskError

__all__ = ["DataBackendPandas", "series_stat"]


def series_stat(column: pd.Series, stat: str) -> Any:
    """One statistic of a column (see :data:`~torchweave.data.backends.base.STATISTICS`)."""
    present = column.dropna()
    if isinstance(column.dtype, pd.CategoricalDtype):
        if stat != "mode":
            raise TaskError(
                f"The statistic '{stat}' needs a numeric column; '{column.name}' is a factor."
            )
        tally = present.value_counts(sort=False).reindex(column.cat.categories)
        return None if present.empty else tally.idxmax()
    if present.empty:
        return None
    if stat == "mode":
        counts = present.value_counts()
        tied = counts.index[counts == counts.max()].tolist()
        return _plain(min(tied))
    values = present.astype(np.float64)
    if stat == "mad":
        return float((values - values.median()).abs().median())
    if stat == "std":
        return float(values.std(ddof=1)) if len(values) > 1 else None
    return float(getattr(values, stat)())


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class DataBackendPandas(DataBackend):
    """A DataFrame in memory; row ids are the positions 0..n-1.

    Parameters
    ----------
    data : pandas.DataFrame
        The data, used as is (a task copies the user's frame before wrapping it).
    """

    in_memory: ClassVar[bool] = True

    def __init__(self, data: pd.DataFrame) -> None:
        if not isinstance(data, pd.DataFrame):
            raise TaskError(
                f"DataBackendPandas needs a pandas DataFrame. Got {type(data).__name__} instead."
            )
        self.frame = data

    @property
    def colnames(self) -> list[str]:  # noqa: D102
        return [str(c) for c in self.frame.columns]

    @property
    def nrow(self) -> int:  # noqa: D102
        return len(self.frame)

    @property
    def rownames(self) -> np.ndarray:  # noqa: D102
        return np.arange(len(self.frame), dtype=np.int64)

    @property
    def dtypes(self) -> dict[str, Any]:  # noqa: D102
        return {str(c): d for c, d in self.frame.dtypes.items()}

    def _rows(self, rows: np.ndarray | None) -> pd.DataFrame:
        return self.frame if rows is None else self.frame.iloc[rows]

    def data(self, rows: np.ndarray | None, cols: Sequence[str]) -> pd.DataFrame:  # noqa: D102
        cols = check_columns(cols, self.colnames, "DataBackendPandas")
        return self._rows(rows)[cols]

    def distinct(  # noqa: D102
        self, cols: Sequence[str], rows: np.ndarray | None = None
    ) -> dict[str, list[Any]]:
        frame = self.data(rows, cols)
        out = {}
        for col in cols:
            column = frame[col]
            present = set(column.dropna().tolist())
            if isinstance(column.dtype, pd.CategoricalDtype):
                out[col] = [v for v in column.cat.categories if v in present]
            else:
                out[col] = sorted(present)
        return out

    def missings(  # noqa: D102
        self, cols: Sequence[str], rows: np.ndarray | None = None
    ) -> dict[str, int]:
        return {str(c): int(n) for c, n in self.data(rows, cols).isna().sum().items()}

    def infinites(  # noqa: D102
        self, cols: Sequence[str], rows: np.ndarray | None = None
    ) -> dict[str, int]:
        frame = self.data(rows, cols)
        out = {}
        for col in cols:
            column = frame[col]
            if pd.api.types.is_float_dtype(column.dtype):
                values = column.to_numpy(dtype=np.float64, na_value=np.nan)
                out[col] = int(np.isinf(values).sum())
            else:
                out[col] = 0
        return out

    def stats(  # noqa: D102
        self, cols: Sequence[str], stat: str, rows: np.ndarray | None = None
    ) -> dict[str, Any]:
        self._check_stat(stat)
        frame = self.data(rows, cols)
        return {col: series_stat(frame[col], stat) for col in cols}

    def group_codes(  # noqa: D102
        self, cols: Sequence[str], rows: np.ndarray | None = None
    ) -> np.ndarray:
        frame = self.data(rows, cols)
        grouped = frame.groupby(list(cols), dropna=False, observed=True, sort=True)
        return grouped.ngroup().to_numpy(dtype=np.int64)

    def has_rows(self, ids: np.ndarray) -> np.ndarray:  # noqa: D102
        ids = np.asarray(ids, dtype=np.int64)
        return (ids >= 0) & (ids < len(self.frame))

    def with_dtypes(self, dtypes: Any) -> DataBackendPandas:  # noqa: D102
        check_columns(list(dtypes), self.colnames, "DataBackendPandas")
        return DataBackendPandas(self.frame.astype(dict(dtypes)))
