"""Tasks: a data backend plus the roles of its columns and the rows in use.

A task built from a DataFrame owns a copy of it (in a
:class:`~torchweave.data.backends.DataBackendPandas`), so the user's frame is never
modified; row ids are then positions in the original frame, 0-based. A task can also
read its data from another :class:`~torchweave.data.backends.DataBackend` (DuckDB,
Parquet), whose primary key values are the row ids; see ``docs/data_backends.md``.
``filter`` and ``select`` change which rows and features are in use, in place.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from torchweave.data.backends.base import DataBackend
from torchweave.data.backends.derived import DataBackendCbind, DataBackendMap
from torchweave.data.backends.pandas_backend import DataBackendPandas
from torchweave.data.feature_types import feature_type_of
from torchweave.errors import TaskError
from torchweave.utils.text import did_you_mean, quote_list

__all__ = ["COL_ROLES", "Task", "TaskClassif", "TaskRegr"]

#: The column roles a task knows.
COL_ROLES: tuple[str, ...] = ("feature", "target", "weight", "stratum", "group", "name")


def _as_list(cols: str | Iterable[str]) -> list[str]:
    return [cols] if isinstance(cols, str) else list(cols)


def _spread(values: pd.Series, index: pd.Index) -> pd.Series:
    """Place values (indexed by rows in use) on the full backend index, keeping the dtype.

    Rows not in use cannot be reached through the task any more; they get a
    placeholder of the column's own dtype, so int and bool columns stay int and bool.
    """
    column = values.reindex(index)
    if column.dtype == values.dtype:
        return column
    if len(values):
        return values.reindex(index, fill_value=values.iloc[0])
    zeros = np.zeros(len(index), dtype=values.to_numpy().dtype)
    return pd.Series(zeros, index=index, name=values.name)


class Task(abc.ABC):
    """Abstract base of :class:`TaskClassif` and :class:`TaskRegr`.

    Parameters
    ----------
    data : pandas.DataFrame or DataBackend
        The data. A DataFrame is copied; the caller's frame is never modified. A
        backend (e.g. ``tw.as_data_backend("file.parquet")``) is read as needed.
    target : str
        Name of the target column.
    id : str, optional
        The task id (default ``"data"``).
    """

    task_type: ClassVar[str] = ""

    def __init__(
        self, data: pd.DataFrame | DataBackend, target: str, id: str | None = None
    ) -> None:
        if isinstance(data, DataBackendPandas):
            data = data.frame
        if isinstance(data, DataBackend):
            self._init_backend(data, target, id)
            return
        if not isinstance(data, pd.DataFrame):
            raise TaskError(
                f"The data of a {type(self).__name__} must be a pandas DataFrame. "
                f"Got {type(data).__name__} instead (a DataBackend, such as "
                "tw.as_data_backend('file.parquet'), works too)."
            )
        bad = [c for c in data.columns if not isinstance(c, str)]
        if bad:
            raise TaskError(
                f"Column names of a task must be strings. Got {quote_list(bad)}; "
                "rename them, e.g. df.columns = df.columns.astype(str)."
            )
        dupes = sorted({c for c in data.columns if list(data.columns).count(c) > 1})
        if dupes:
            raise TaskError(
                f"Column names of a task must be unique. Got {quote_list(dupes)} twice."
            )
        if not isinstance(target, str):
            raise TaskError(f"'target' must be a column name (str). Got {target!r} instead.")
        if target not in data.columns:
            raise TaskError(
                f"The target column '{target}' is not in the data."
                f"{did_you_mean(target, data.columns)}"
            )
        self.id = "data" if id is None else str(id)
        frame = data.reset_index(drop=True)
        frame.index.name = "row_id"
        frame[target] = self._prepare_target(frame[target], target)
        self._data = frame
        self._row_ids = np.arange(len(frame), dtype=np.int64)
        self._col_roles: dict[str, list[str]] = {role: [] for role in COL_ROLES}
        self._col_roles["target"] = [target]
        self._col_roles["feature"] = [c for c in frame.columns if c != target]
        self._check_feature_dtypes(self._col_roles["feature"])
        self._internal_valid_task: Task | None = None

    def _init_backend(self, backend: DataBackend, target: str, id: str | None) -> None:
        """Set up a task over a (database) backend: metadata only, no rows are read."""
        if not isinstance(target, str):
            raise TaskError(f"'target' must be a column name (str). Got {target!r} instead.")
        if target not in backend.colnames:
            raise TaskError(
                f"The target column '{target}' is not in the data."
                f"{did_you_mean(target, backend.colnames)}"
            )
        self.id = "data" if id is None else str(id)
        self._backend = self._prepare_target_backend(backend, target)
        self._row_ids = np.array(backend.rownames, dtype=np.int64)
        self._col_roles = {role: [] for role in COL_ROLES}
        self._col_roles["target"] = [target]
        self._col_roles["feature"] = [c for c in backend.colnames if c != target]
        self._check_feature_dtypes(self._col_roles["feature"])
        self._internal_valid_task = None

    # --- hooks for the subclasses -----------------------------------------------------
    @abc.abstractmethod
    def _prepare_target(self, y: pd.Series, name: str) -> pd.Series:
        """Validate and convert the target column (categorical, numeric, ...)."""

    @abc.abstractmethod
    def _prepare_target_backend(self, backend: DataBackend, name: str) -> DataBackend:
        """Validate the target column of a backend (by its metadata and aggregates)."""

    # --- the backend --------------------------------------------------------------------
    @property
    def _data(self) -> pd.DataFrame:
        """The DataFrame of an in-memory task (all rows, in use or not)."""
        backend = self._backend
        if isinstance(backend, DataBackendPandas):
            return backend.frame
        raise TaskError(
            f"Task '{self.id}' reads its data from a {type(backend).__name__}; this "
            "operation needs the data in memory. Use task.data(rows, cols) for the part you "
            "need."
        )

    @_data.setter
    def _data(self, frame: pd.DataFrame) -> None:
        self._backend = DataBackendPandas(frame)

    @property
    def backend(self) -> DataBackend:
        """The data backend (shared by clones; tasks never change it in place)."""
        return self._backend

    @property
    def in_memory(self) -> bool:
        """Whether the data is a DataFrame in memory (False for database backends)."""
        return self._backend.in_memory

    def _dtype(self, col: str) -> Any:
        if self._backend.in_memory:
            return self._data[col].dtype
        return self._backend.dtypes[col]

    def _rows_arg(self) -> np.ndarray | None:
        """The rows in use for a backend call: None when they are all rows, in order."""
        return None if self._backend.is_all_rows(self._row_ids) else self._row_ids

    # --- basic facts ------------------------------------------------------------------
    @property
    def row_ids(self) -> np.ndarray:
        """The row ids in use (a copy)."""
        return self._row_ids.copy()

    @property
    def nrow(self) -> int:
        """Number of rows in use."""
        return len(self._row_ids)

    @property
    def ncol(self) -> int:
        """Number of features plus targets."""
        return len(self._col_roles["feature"]) + len(self._col_roles["target"])

    @property
    def feature_names(self) -> list[str]:
        """Names of the feature columns."""
        return list(self._col_roles["feature"])

    @property
    def target_names(self) -> list[str]:
        """Names of the target columns."""
        return list(self._col_roles["target"])

    @property
    def col_roles(self) -> dict[str, list[str]]:
        """Columns by role (a copy): feature, target, weight, stratum, group, name."""
        return {role: list(cols) for role, cols in self._col_roles.items()}

    @property
    def feature_types(self) -> dict[str, str]:
        """Feature type of each feature: numeric, integer, factor, ordered, logical, ..."""
        out = {}
        for col in self._col_roles["feature"]:
            ftype = feature_type_of(self._dtype(col))
            out[col] = ftype if ftype is not None else "unsupported"
        return out

    @property
    def properties(self) -> set[str]:
        """Task properties: ``twoclass``/``multiclass``, ``weights``, ``groups``, ``strata``."""
        props = set()
        if self._col_roles["weight"]:
            props.add("weights")
        if self._col_roles["group"]:
            props.add("groups")
        if self._col_roles["stratum"]:
            props.add("strata")
        return props

    @property
    def backend_nrow(self) -> int:
        """Number of rows stored, in use or not."""
        return self._backend.nrow

    # --- data access ------------------------------------------------------------------
    def _check_rows(self, rows: Any) -> np.ndarray:
        ids = np.asarray(rows)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise TaskError(f"Row ids must be a 1-d sequence of integers. Got {rows!r} instead.")
        ids = ids.astype(np.int64, copy=False)
        if not self.in_memory:
            unknown = ids[~self._backend.has_rows(ids)]
            if unknown.size:
                raise TaskError(
                    f"Task '{self.id}' has no rows with ids "
                    f"{quote_list(unknown.tolist(), limit=5)} (its backend has no such "
                    "primary key values)."
                )
            return ids
        bad = ids[(ids < 0) | (ids >= len(self._data))]
        if bad.size:
            raise TaskError(
                f"Task '{self.id}' has no rows with ids {quote_list(bad.tolist(), limit=5)}. "
                f"Row ids run from 0 to {len(self._data) - 1}."
            )
        return ids

    def _check_cols(self, cols: str | Iterable[str]) -> list[str]:
        cols = _as_list(cols)
        names = self._backend.colnames
        known = set(names)
        missing = [c for c in cols if c not in known]
        if missing:
            raise TaskError(
                f"Task '{self.id}' has no column(s) {quote_list(missing)}."
                f"{did_you_mean(missing[0], names)}"
            )
        return cols

    def data(
        self,
        rows: Sequence[int] | np.ndarray | None = None,
        cols: str | Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """The data of some rows and columns, indexed by row id.

        Parameters
        ----------
        rows : sequence of int, optional
            Row ids (default: the rows in use).
        cols : str or iterable of str, optional
            Columns (default: targets then features).

        Returns
        -------
        pandas.DataFrame
            A new frame; changing it never changes the task.
        """
        ids = self._row_ids if rows is None else self._check_rows(rows)
        columns = self.target_names + self.feature_names if cols is None else self._check_cols(cols)
        if not self.in_memory:
            return self._backend.data(ids, columns)
        return self._data.iloc[ids][columns]

    def head(self, n: int = 6) -> pd.DataFrame:
        """The first ``n`` rows in use."""
        return self.data(rows=self._row_ids[:n])

    def truth(self, rows: Sequence[int] | np.ndarray | None = None) -> pd.Series:
        """The target values of some rows (default: the rows in use)."""
        ids = self._row_ids if rows is None else self._check_rows(rows)
        if not self.in_memory:
            return self._backend.data(ids, self.target_names)[self.target_names[0]]
        return self._data[self.target_names[0]].iloc[ids]

    def missings(self, cols: str | Iterable[str] | None = None) -> dict[str, int]:
        """Number of missing values per column, over the rows in use."""
        columns = self.target_names + self.feature_names if cols is None else self._check_cols(cols)
        if not self.in_memory:
            return self._backend.missings(columns, rows=self._rows_arg())
        sub = self._data.iloc[self._row_ids][columns]
        return {str(c): int(n) for c, n in sub.isna().sum().items()}

    def _nonfinite_counts(self, cols: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
        """Missing and infinite values per column over the rows in use.

        Returns two dicts (missing, infinite) that hold only the columns with some.
        The numpy float columns are checked as one block per dtype (a view of the
        backend's block when it is consolidated), with a single ``isfinite`` pass and
        counts only when something is not finite; other columns go through ``isna``
        column by column (numpy int and bool columns cannot hold either).
        """
        cols = list(cols)
        if not self.in_memory:
            rows = self._rows_arg()
            na_counts = self._backend.missings(cols, rows=rows)
            inf_counts = self._backend.infinites(cols, rows=rows)
            return (
                {c: na_counts[c] for c in cols if na_counts[c]},
                {c: inf_counts[c] for c in cols if inf_counts[c]},
            )
        data, ids = self._data, self._row_ids
        all_rows = len(ids) == len(data) and np.array_equal(ids, np.arange(len(data)))
        groups: dict[Any, list[str]] = {}
        others: list[str] = []
        for col in cols:
            dtype = data[col].dtype
            if isinstance(dtype, np.dtype) and dtype.kind == "f":
                groups.setdefault(dtype, []).append(col)
            elif not (isinstance(dtype, np.dtype) and dtype.kind in "iub"):
                others.append(col)
        missing: dict[str, int] = {}
        infinite: dict[str, int] = {}
        for names in groups.values():
            block = data[names].to_numpy()
            if not all_rows:
                block = block[ids]
            if np.isfinite(block).all():
                continue
            n_nan = np.isnan(block).sum(axis=0)
            n_inf = np.isinf(block).sum(axis=0)
            missing.update({c: int(n) for c, n in zip(names, n_nan, strict=True) if n})
            infinite.update({c: int(n) for c, n in zip(names, n_inf, strict=True) if n})
        for col in others:
            column = data[col] if all_rows else data[col].iloc[ids]
            n_na = int(column.isna().sum())
            if n_na:
                missing[col] = n_na
            if ptypes.is_float_dtype(column.dtype):  # nullable Float32/Float64
                values = column.to_numpy(dtype=np.float64, na_value=np.nan)
                n_inf = int(np.isinf(values).sum())
                if n_inf:
                    infinite[col] = n_inf
        order = {c: i for i, c in enumerate(cols)}
        return (
            dict(sorted(missing.items(), key=lambda kv: order.get(kv[0], 0))),
            dict(sorted(infinite.items(), key=lambda kv: order.get(kv[0], 0))),
        )

    @property
    def weights(self) -> pd.Series | None:
        """The weight column over the rows in use, or ``None``."""
        if not self._col_roles["weight"]:
            return None
        if not self.in_memory:
            return self.data(cols=self._col_roles["weight"])[self._col_roles["weight"][0]]
        return self._data[self._col_roles["weight"][0]].iloc[self._row_ids]

    # --- statistics (computed by the backend: SQL for a database) --------------------
    def col_stats(self, cols: str | Iterable[str], stat: str) -> dict[str, Any]:
        """A statistic of each column over the rows in use (repeated rows count again).

        Parameters
        ----------
        cols : str or iterable of str
            Columns.
        stat : str
            One of ``mean``, ``median``, ``std`` (ddof=1), ``mad`` (median absolute
            deviation, unscaled), ``min``, ``max`` and ``mode`` (ties: first level of a
            factor, else the smallest value). Missing values are skipped; a column
            without values gives ``None``.

        Returns
        -------
        dict
            Column name to value. A database backend computes it in SQL.
        """
        return self._backend.stats(self._check_cols(cols), stat, rows=self._rows_arg())

    def distinct_values(self, cols: str | Iterable[str]) -> dict[str, list[Any]]:
        """The distinct non-missing values of each column over the rows in use.

        Sorted; a factor's values come in level order (unused levels are left out).
        """
        return self._backend.distinct(self._check_cols(cols), rows=self._rows_arg())

    def levels(self, cols: str | Iterable[str] | None = None) -> dict[str, list[Any]]:
        """The levels of the factor (and ordered) columns among ``cols`` (default: features).

        Read from the column metadata (the categories), not from the rows; other
        columns are left out.
        """
        names = self.feature_names if cols is None else self._check_cols(cols)
        out = {}
        for col in names:
            dtype = self._dtype(col)
            if isinstance(dtype, pd.CategoricalDtype):
                out[col] = list(dtype.categories)
        return out

    def with_levels(self, reference: Task) -> Task:
        """A clone whose factor features have the levels (and codes) of ``reference``.

        Values outside the reference's levels read as missing; check for them first
        (learners refuse unseen levels with a clear error before calling this).
        """
        new = self.clone()
        ref = reference.levels([c for c in self.feature_names if c in reference.feature_names])
        mine = self.levels()
        changed = {
            col: pd.CategoricalDtype(levels, ordered=self._dtype(col).ordered)
            for col, levels in ref.items()
            if col in mine and mine[col] != levels
        }
        if changed:
            new._backend = self._backend.with_dtypes(changed)
        return new

    def group_codes(self, cols: str | Iterable[str]) -> np.ndarray:
        """One int64 code per row in use: the rank of its combination of values.

        Combinations are ranked in sorted order with missing values last; used by
        resampling for strata and groups (a database computes them in SQL).
        """
        return self._backend.group_codes(self._check_cols(cols), rows=self._row_ids)

    # --- mutation (in place, returns self) --------------------------------------------
    def filter(self, rows: Sequence[int] | np.ndarray) -> Task:
        """Keep only the given rows (ids of rows in use; order and repeats are kept)."""
        ids = self._check_rows(rows)
        unused = np.setdiff1d(ids, self._row_ids)
        if unused.size:
            raise TaskError(
                f"Cannot filter task '{self.id}' to rows that are not in use: "
                f"{quote_list(unused.tolist(), limit=5)}."
            )
        self._row_ids = ids.copy()
        return self

    def select(self, cols: str | Iterable[str]) -> Task:
        """Keep only the given features (a subset of the current features)."""
        cols = _as_list(cols)
        unknown = [c for c in cols if c not in self._col_roles["feature"]]
        if unknown:
            raise TaskError(
                f"Cannot select {quote_list(unknown)}: not feature(s) of task '{self.id}'."
                f"{did_you_mean(unknown[0], self._col_roles['feature'])}"
            )
        keep = set(cols)
        self._col_roles["feature"] = [c for c in self._col_roles["feature"] if c in keep]
        return self

    def set_col_roles(self, cols: str | Iterable[str], roles: str | Iterable[str]) -> Task:
        """Give columns new roles, replacing the roles they had.

        Parameters
        ----------
        cols : str or iterable of str
            Column names.
        roles : str or iterable of str
            Roles among feature, target, weight, stratum, group and name
            (an empty list removes the columns from every role).
        """
        cols = self._check_cols(cols)
        roles = _as_list(roles)
        bad = [r for r in roles if r not in COL_ROLES]
        if bad:
            raise TaskError(
                f"Unknown column role(s) {quote_list(bad)}. Roles are {quote_list(COL_ROLES)}."
            )
        new = {
            role: [c for c in members if c not in cols] for role, members in self.col_roles.items()
        }
        for role in roles:
            new[role].extend(cols)
        self._check_roles(new)
        self._col_roles = new
        return self

    def _check_roles(self, roles: Mapping[str, list[str]]) -> None:
        if len(roles["target"]) != 1:
            raise TaskError(
                f"Task '{self.id}' must have exactly one target column. "
                f"Got {quote_list(roles['target']) or 'none'} instead."
            )
        if roles["target"] != self._col_roles["target"]:
            raise TaskError(
                "The target of a task cannot be changed with set_col_roles; "
                "create a new task with the new target instead."
            )
        for role in ("weight", "name"):
            if len(roles[role]) > 1:
                raise TaskError(f"A task can have at most one '{role}' column. Got {roles[role]}.")
        for col in roles["weight"]:
            dtype = self._dtype(col)
            if not ptypes.is_numeric_dtype(dtype) or ptypes.is_bool_dtype(dtype):
                raise TaskError(f"The weight column '{col}' must be numeric.")
        self._check_feature_dtypes(roles["feature"])

    def _check_feature_dtypes(self, cols: Iterable[str]) -> None:
        for col in cols:
            if feature_type_of(self._dtype(col)) is None:
                raise TaskError(
                    f"Column '{col}' has dtype {self._dtype(col)}, which is not a supported "
                    "feature type (numeric, integer, factor, ordered, logical, character). "
                    f"Convert it, or remove it from the features with "
                    f"task.set_col_roles('{col}', [])."
                )

    def cbind(self, data: pd.DataFrame) -> Task:
        """Add columns (as features), one row per row in use, in the task's row order."""
        if not isinstance(data, pd.DataFrame):
            raise TaskError(f"cbind needs a pandas DataFrame. Got {type(data).__name__} instead.")
        if len(data) != self.nrow:
            raise TaskError(
                f"cbind needs {self.nrow} rows (one per row in use of task '{self.id}'). "
                f"Got {len(data)} instead."
            )
        known = set(self._backend.colnames)
        clash = [c for c in data.columns if c in known]
        if clash:
            raise TaskError(f"cbind: task '{self.id}' already has column(s) {quote_list(clash)}.")
        if len(set(self._row_ids.tolist())) != len(self._row_ids):
            raise TaskError("cbind is not possible on a task whose rows in use contain repeats.")
        if not self.in_memory:
            frame = data.set_axis(pd.Index(self._row_ids, name="row_id"), axis=0)
            self._set_backend(DataBackendCbind(self._backend, frame), data.columns)
            self._col_roles["feature"] = self._col_roles["feature"] + list(data.columns)
            return self
        added = data.set_axis(self._row_ids, axis=0).reindex(self._data.index)
        for col in data.columns:
            if isinstance(data[col].dtype, pd.CategoricalDtype):
                added[col] = added[col].astype(data[col].dtype)
        frame = pd.concat([self._data, added], axis=1)
        frame.index.name = "row_id"
        old = self._data
        self._data = frame
        try:
            self._check_feature_dtypes(data.columns)
        except TaskError:
            self._data = old
            raise
        self._col_roles["feature"] = self._col_roles["feature"] + list(data.columns)
        return self

    def replace_features(self, data: pd.DataFrame, remove: Iterable[str] = ()) -> Task:
        """Replace or add feature columns, and drop others, in one step (in place).

        Parameters
        ----------
        data : pandas.DataFrame
            New feature columns, one row per row in use, in the task's row order.
            Columns that are features already are overwritten; others are added.
        remove : iterable of str
            Features to drop (unless ``data`` brings them back).

        Returns
        -------
        Task
            ``self``.
        """
        if len(data) != self.nrow:
            raise TaskError(
                f"replace_features needs {self.nrow} rows (one per row in use of task "
                f"'{self.id}'). Got {len(data)} instead."
            )
        protected = set(self.target_names) | {
            c for role in ("weight", "stratum", "group", "name") for c in self._col_roles[role]
        }
        clash = [c for c in data.columns if c in protected]
        if clash:
            raise TaskError(
                f"replace_features cannot overwrite the non-feature column(s) {quote_list(clash)}."
            )
        ids = self._row_ids
        if not self.in_memory:
            aligned = data.set_axis(pd.Index(ids, name="row_id"), axis=0)
            # A repeated row (bootstrap) gets one value: the first of its repeats.
            aligned = aligned[~aligned.index.duplicated()]
            self._set_backend(DataBackendCbind(self._backend, aligned), data.columns)
            self._keep_features(data.columns, remove)
            return self
        if len(np.unique(ids)) != len(ids):
            # Rows in use repeat (a bootstrap sample): materialise them as new rows first.
            self._data = self._data.iloc[ids].reset_index(drop=True)
            self._data.index.name = "row_id"
            ids = self._row_ids = np.arange(len(ids), dtype=np.int64)
        aligned = data.set_axis(pd.Index(ids, name="row_id"), axis=0)
        spread = {col: _spread(aligned[col], self._data.index) for col in data.columns}
        columns = {c: spread[c] if c in spread else self._data[c] for c in self._data.columns}
        columns.update((c, spread[c]) for c in data.columns if c not in columns)
        # One constructor call: setting or inserting hundreds of columns one by one
        # fragments the frame (pandas' PerformanceWarning) and is slower.
        frame = pd.DataFrame(columns, index=self._data.index)
        kept = [c for c in self._col_roles["feature"] if c not in set(remove) or c in data.columns]
        added = [c for c in data.columns if c not in kept]
        old = self._data
        self._data = frame
        try:
            self._check_feature_dtypes(data.columns)
        except TaskError:
            self._data = old
            raise
        self._col_roles["feature"] = kept + added
        return self

    def _keep_features(self, new: Iterable[str], remove: Iterable[str]) -> None:
        new, removed = list(new), set(remove)
        kept = [c for c in self._col_roles["feature"] if c not in removed or c in new]
        self._col_roles["feature"] = kept + [c for c in new if c not in kept]

    def _set_backend(self, backend: DataBackend, checked: Iterable[str]) -> None:
        """Use ``backend`` if the columns ``checked`` have supported feature types."""
        old = self._backend
        self._backend = backend
        try:
            self._check_feature_dtypes(checked)
        except TaskError:
            self._backend = old
            raise

    def transform_features(
        self, fn: Any, cols: Sequence[str], remove: Iterable[str] | None = None
    ) -> Task:
        """Replace features by a row-wise transform of some columns (in place).

        An in-memory task applies ``fn`` at once (as :meth:`replace_features`). A task
        over a database records it instead: ``fn`` runs on each chunk of rows as they
        are read, so the result never sits in memory as a whole.

        Parameters
        ----------
        fn : callable
            ``fn(frame) -> frame``: the new feature columns for the rows of ``frame``
            (the columns ``cols``), one row per row; it must treat rows independently
            and pickle (streamed data is read in worker processes).
        cols : sequence of str
            The columns ``fn`` reads.
        remove : iterable of str, optional
            Features to drop unless ``fn`` returns them (default: ``cols``).

        Returns
        -------
        Task
            ``self``.
        """
        cols = self._check_cols(cols)
        remove = cols if remove is None else list(remove)
        if self.in_memory:
            new = fn(self.data(cols=cols))
            return self.replace_features(new.set_axis(range(len(new))), remove=remove)
        sample = fn(self.data(rows=self._row_ids[:64], cols=cols))
        protected = set(self.target_names) | {
            c for role in ("weight", "stratum", "group", "name") for c in self._col_roles[role]
        }
        clash = [c for c in sample.columns if c in protected]
        if clash:
            raise TaskError(
                f"transform_features cannot overwrite the non-feature column(s) "
                f"{quote_list(clash)}."
            )
        backend = DataBackendMap(self._backend, fn, cols, sample.dtypes.to_dict())
        self._set_backend(backend, list(sample.columns))
        self._keep_features(list(sample.columns), remove)
        return self

    def rbind(self, data: pd.DataFrame) -> Task:
        """Append rows (new ids follow the largest id); they are put in use."""
        if not self.in_memory:
            raise TaskError(
                f"rbind: task '{self.id}' reads its data from a {type(self._backend).__name__}, "
                "which cannot take new rows; append them to the table (or Parquet folder) "
                "and create the task again."
            )
        if not isinstance(data, pd.DataFrame):
            raise TaskError(f"rbind needs a pandas DataFrame. Got {type(data).__name__} instead.")
        needed = self.target_names + self.feature_names
        missing = [c for c in needed if c not in data.columns]
        if missing:
            raise TaskError(f"rbind: the new rows lack column(s) {quote_list(missing)}.")
        new = data.reset_index(drop=True).copy()
        target = self.target_names[0]
        new[target] = self._conform_target(new[target], target)
        # Columns outside the target and features may be absent: concat fills them with NA.
        base = self._data.copy()  # copy-on-write: cheap, and keeps self intact on error
        new = new[[c for c in base.columns if c in new.columns]]
        for col in new.columns:
            old_dtype = base[col].dtype
            if isinstance(old_dtype, pd.CategoricalDtype) and col != target:
                extra = [v for v in pd.unique(new[col].dropna()) if v not in old_dtype.categories]
                cats = list(old_dtype.categories) + extra
                dtype = pd.CategoricalDtype(cats, ordered=old_dtype.ordered)
                new[col] = new[col].astype(dtype)
                base[col] = base[col].astype(dtype)
        frame = pd.concat([base, new], axis=0, ignore_index=True)
        frame.index.name = "row_id"
        changed = [
            c
            for c in needed
            if feature_type_of(frame[c].dtype) != feature_type_of(self._data[c].dtype)
        ]
        if changed:
            raise TaskError(
                f"rbind: column(s) {quote_list(changed)} of the new rows have another type "
                "than the task's columns."
            )
        start = len(self._data)
        self._data = frame
        self._row_ids = np.concatenate([self._row_ids, np.arange(start, len(frame))])
        return self

    def _conform_target(self, y: pd.Series, name: str) -> pd.Series:
        return self._prepare_target(y, name)

    # --- internal validation ----------------------------------------------------------
    @property
    def internal_valid_task(self) -> Task | None:
        """A task with the same columns, used by learners for internal validation."""
        return self._internal_valid_task

    @internal_valid_task.setter
    def internal_valid_task(self, value: Task | Sequence[int] | np.ndarray | None) -> None:
        if value is None:
            self._internal_valid_task = None
            return
        if isinstance(value, Task):
            self._check_compatible(value, "internal_valid_task")
            valid = value.clone()
            valid._internal_valid_task = None
            self._internal_valid_task = valid
            return
        ids = self._check_rows(value)
        in_use = set(self._row_ids.tolist())
        not_in_use = [int(i) for i in ids if int(i) not in in_use]
        if not_in_use:
            raise TaskError(
                f"internal_valid_task: row ids {quote_list(not_in_use, limit=5)} are not in use "
                f"in task '{self.id}'."
            )
        valid = self.clone()
        valid._internal_valid_task = None
        valid._row_ids = ids.copy()
        self._row_ids = self._row_ids[~np.isin(self._row_ids, ids)]
        self._internal_valid_task = valid

    def _check_compatible(self, other: Task, what: str) -> None:
        if other.task_type != self.task_type:
            raise TaskError(
                f"{what} must be a {type(self).__name__}. Got a {type(other).__name__} instead."
            )
        if other.target_names != self.target_names:
            raise TaskError(
                f"{what} must have the target {self.target_names}. Got {other.target_names}."
            )
        missing = [c for c in self.feature_names if c not in other.feature_names]
        if missing:
            raise TaskError(
                f"{what} lacks the feature(s) {quote_list(missing)} of task '{self.id}'."
            )

    # --- copying ----------------------------------------------------------------------
    def clone(self) -> Task:
        """An independent copy.

        The data is a shallow pandas copy: with copy-on-write (always on from pandas 3),
        the first write to either frame copies the written columns, so the copy is cheap
        and still independent.
        """
        new = copy.copy(self)
        if self.in_memory:
            new._data = self._data.copy(deep=False)
        new._row_ids = self._row_ids.copy()
        new._col_roles = self.col_roles
        if self._internal_valid_task is not None:
            new._internal_valid_task = self._internal_valid_task.clone()
        return new

    def _prototype(self) -> Task:
        """A zero-row copy with only the target and feature columns (cheap to pickle)."""
        new = copy.copy(self)
        if self.in_memory:
            new._data = self._data.iloc[:0][self.target_names + self.feature_names]
        else:  # an empty in-memory frame with the backend's dtypes (factor levels)
            empty = self._backend.data(
                np.arange(0, dtype=np.int64), self.target_names + self.feature_names
            )
            new._data = empty.reset_index(drop=True).rename_axis("row_id")
        new._row_ids = np.arange(0, dtype=np.int64)
        new._col_roles = {role: [] for role in COL_ROLES}
        new._col_roles["target"] = self.target_names
        new._col_roles["feature"] = self.feature_names
        new._internal_valid_task = None
        return new

    def _empty_like(self, data: pd.DataFrame) -> Task:
        """A task of the same kind over new data (used for predicting on new data).

        The data must hold every feature. A missing target column is filled with NA,
        and factor levels unseen in training are appended (with a warning from the
        operators that care), so prediction never fails on them here.
        """
        missing = [c for c in self.feature_names if c not in data.columns]
        if missing:
            raise TaskError(f"The new data lacks the feature(s) {quote_list(missing)}.")
        frame = data.reset_index(drop=True).copy()
        frame.index.name = "row_id"
        target = self.target_names[0]
        if target in frame.columns:
            frame[target] = self._conform_target(frame[target], target)
        else:
            frame[target] = self._na_target(len(frame))
        for col in self.feature_names:
            frame[col] = self._conform_feature(frame[col], self._dtype(col), col)
        new = copy.copy(self)
        new._data = frame[[target, *self.feature_names]]
        new._row_ids = np.arange(len(frame), dtype=np.int64)
        new._col_roles = {role: [] for role in COL_ROLES}
        new._col_roles["target"] = [target]
        new._col_roles["feature"] = self.feature_names
        new._internal_valid_task = None
        return new

    @staticmethod
    def _conform_feature(col: pd.Series, dtype: Any, name: str) -> pd.Series:
        if isinstance(dtype, pd.CategoricalDtype):
            # pandas calls unordered categoricals with the same categories in another
            # order equal; their codes differ, so compare the order explicitly.
            if (
                isinstance(col.dtype, pd.CategoricalDtype)
                and list(col.dtype.categories) == list(dtype.categories)
                and col.dtype.ordered == dtype.ordered
            ):
                return col
            extra = [v for v in pd.unique(col.dropna()) if v not in dtype.categories]
            cats = list(dtype.categories) + extra
            if isinstance(col.dtype, pd.CategoricalDtype):
                return col.cat.set_categories(cats, ordered=dtype.ordered)
            return col.astype(pd.CategoricalDtype(cats, ordered=dtype.ordered))
        if col.dtype == dtype:
            return col
        trained, given = feature_type_of(dtype), feature_type_of(col.dtype)
        if trained in ("numeric", "integer") and given in ("numeric", "integer"):
            return Task._conform_number(col, dtype, name, trained)
        if given == trained:
            return col
        raise TaskError(
            f"Column '{name}' of the new data has dtype {col.dtype} ({given or 'unsupported'}); "
            f"the task was trained with {dtype} ({trained}). Convert the column to {dtype}."
        )

    @staticmethod
    def _conform_number(col: pd.Series, dtype: Any, name: str, trained: str | None) -> pd.Series:
        """A numeric column in the training dtype, if that keeps every value.

        Floats (numpy or nullable) for a float column are cast to its dtype. For an
        integer column the values must be whole numbers: they get the training dtype,
        or nullable ``Int64`` when some are missing (pandas turns an int column with a
        NaN into float64); a fractional value is refused.
        """
        if trained == "numeric":
            return col.astype(dtype)
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        present = values[~np.isnan(values)]
        fractional = present[np.isfinite(present) & (present != np.round(present))]
        if fractional.size or np.isinf(present).any():
            shown = float(fractional[0] if fractional.size else present[np.isinf(present)][0])
            raise TaskError(
                f"Column '{name}' of the new data has dtype {col.dtype} with the value "
                f"{shown}, which is not a whole number; the task was trained with the "
                f"integer dtype {dtype}. Round or convert the column first."
            )
        target = pd.Int64Dtype() if present.size < values.size else dtype
        try:
            converted = col.astype(target)
            kept = np.array_equal(
                converted.to_numpy(dtype=np.float64, na_value=np.nan), values, equal_nan=True
            )
        except (TypeError, ValueError, OverflowError):
            kept = False
        if not kept:  # numpy wraps out-of-range integers silently
            raise TaskError(
                f"Column '{name}' of the new data has dtype {col.dtype} with values outside "
                f"the range of the integer dtype {dtype} the task was trained with."
            )
        return converted

    def _na_target(self, n: int) -> pd.Series:
        return pd.Series(np.full(n, np.nan))

    def __repr__(self) -> str:
        types: dict[str, list[str]] = {}
        for name, ftype in self.feature_types.items():
            types.setdefault(ftype, []).append(name)
        lines = [
            f"<{type(self).__name__}:{self.id}> ({self.nrow} x {self.ncol})",
            f"* Target: {', '.join(self.target_names)}",
        ]
        if self.properties:
            lines.append(f"* Properties: {', '.join(sorted(self.properties))}")
        lines.append(f"* Features ({len(self.feature_names)}):")
        for ftype, names in types.items():
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            lines.append(f"  - {ftype} ({len(names)}): {shown}")
        return "\n".join(lines)

    def __len__(self) -> int:
        return self.nrow


class TaskClassif(Task):
    """A classification task.

    The target becomes a categorical column. Its level order (the class order used
    by ``prob`` columns and class indices) is the sorted unique values, unless the
    column is already categorical, whose categories are kept.

    Parameters
    ----------
    data : pandas.DataFrame or DataBackend
        The data (a DataFrame is copied, never modified).
    target : str
        Name of the target column.
    id : str, optional
        Task id.
    positive : optional
        The positive class of a binary task (default: the first level).

    Examples
    --------
    >>> import pandas as pd
    >>> from torchweave import TaskClassif
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["b", "a", "b", "a"]})
    >>> task = TaskClassif(df, "y")
    >>> task.class_names, task.positive
    (['a', 'b'], 'a')
    """

    task_type: ClassVar[str] = "classif"

    def __init__(
        self,
        data: pd.DataFrame | DataBackend,
        target: str,
        id: str | None = None,
        positive: Any = None,
    ) -> None:
        super().__init__(data, target, id)
        self._positive: Any = None
        if len(self.class_names) == 2:
            self.positive = self.class_names[0] if positive is None else positive
        elif positive is not None:
            raise TaskError(
                f"'positive' can only be set for a binary task; task '{self.id}' has "
                f"{len(self.class_names)} classes."
            )

    def _prepare_target(self, y: pd.Series, name: str) -> pd.Series:
        if y.isna().any():
            raise TaskError(
                f"The target column '{name}' has {int(y.isna().sum())} missing value(s); "
                "a task's target must be complete."
            )
        if isinstance(y.dtype, pd.CategoricalDtype):
            out = y
        else:
            try:
                levels = sorted(pd.unique(y).tolist())
            except TypeError as exc:
                raise TaskError(
                    f"The classes of target column '{name}' cannot be sorted ({exc}); "
                    "make it a pandas Categorical to fix their order."
                ) from exc
            out = pd.Series(pd.Categorical(y, categories=levels), index=y.index, name=name)
        if out.nunique() < 2:
            raise TaskError(
                f"The target column '{name}' of a classification task needs at least 2 classes. "
                f"Got {out.nunique()}: {quote_list(pd.unique(out).tolist())}."
            )
        return out

    def _prepare_target_backend(self, backend: DataBackend, name: str) -> DataBackend:
        n_missing = backend.missings([name])[name]
        if n_missing:
            raise TaskError(
                f"The target column '{name}' has {n_missing} missing value(s); "
                "a task's target must be complete."
            )
        present = backend.distinct([name])[name]
        dtype = backend.dtypes[name]
        if not isinstance(dtype, pd.CategoricalDtype):
            dtype = pd.CategoricalDtype(present)
        if len(present) < 2:
            raise TaskError(
                f"The target column '{name}' of a classification task needs at least 2 classes. "
                f"Got {len(present)}: {quote_list(present)}."
            )
        return backend.with_dtypes({name: dtype})

    def _conform_target(self, y: pd.Series, name: str) -> pd.Series:
        dtype = self._dtype(name)
        assert isinstance(dtype, pd.CategoricalDtype)
        unknown = [v for v in pd.unique(y.dropna()) if v not in dtype.categories]
        if unknown:
            raise TaskError(
                f"The target column '{name}' has unknown class(es) {quote_list(unknown)}; "
                f"the classes are {quote_list(dtype.categories)}."
            )
        return y.astype(dtype)

    def _na_target(self, n: int) -> pd.Series:
        return pd.Series(pd.Categorical([None] * n, categories=self.class_names))

    @property
    def class_names(self) -> list[Any]:
        """The classes, in level order."""
        return list(self._dtype(self.target_names[0]).categories)

    @property
    def positive(self) -> Any:
        """The positive class of a binary task (``None`` for multiclass)."""
        return self._positive

    @positive.setter
    def positive(self, value: Any) -> None:
        classes = self.class_names
        if len(classes) != 2:
            raise TaskError(f"'positive' can only be set for a binary task. Got {value!r}.")
        if value not in classes:
            raise TaskError(
                f"'positive' must be one of the classes {quote_list(classes)}. "
                f"Got {value!r} instead."
            )
        self._positive = value

    @property
    def negative(self) -> Any:
        """The negative class of a binary task (``None`` for multiclass)."""
        if self._positive is None:
            return None
        return next(c for c in self.class_names if c != self._positive)

    @property
    def properties(self) -> set[str]:  # noqa: D102
        kind = "twoclass" if len(self.class_names) == 2 else "multiclass"
        return super().properties | {kind}


class TaskRegr(Task):
    """A regression task with a numeric target.

    Examples
    --------
    >>> import pandas as pd
    >>> from torchweave import TaskRegr
    >>> TaskRegr(pd.DataFrame({"x": [1.0, 2.0], "y": [0.5, 1.5]}), "y").nrow
    2
    """

    task_type: ClassVar[str] = "regr"

    def _prepare_target(self, y: pd.Series, name: str) -> pd.Series:
        if not ptypes.is_numeric_dtype(y.dtype) or ptypes.is_bool_dtype(y.dtype):
            raise TaskError(
                f"The target column '{name}' of a regression task must be numeric. "
                f"Got dtype {y.dtype} instead."
            )
        if y.isna().any():
            raise TaskError(
                f"The target column '{name}' has {int(y.isna().sum())} missing value(s); "
                "a task's target must be complete."
            )
        return y

    def _prepare_target_backend(self, backend: DataBackend, name: str) -> DataBackend:
        dtype = backend.dtypes[name]
        if not ptypes.is_numeric_dtype(dtype) or ptypes.is_bool_dtype(dtype):
            raise TaskError(
                f"The target column '{name}' of a regression task must be numeric. "
                f"Got dtype {dtype} instead."
            )
        n_missing = backend.missings([name])[name]
        if n_missing:
            raise TaskError(
                f"The target column '{name}' has {n_missing} missing value(s); "
                "a task's target must be complete."
            )
        return backend

    def _conform_target(self, y: pd.Series, name: str) -> pd.Series:
        if not ptypes.is_numeric_dtype(y.dtype) or ptypes.is_bool_dtype(y.dtype):
            raise TaskError(f"The target column '{name}' must be numeric. Got dtype {y.dtype}.")
        return y
