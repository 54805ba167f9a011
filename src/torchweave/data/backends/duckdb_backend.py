"""DataBackendDuckDB: a task's data in a DuckDB table or view, read with SQL as needed.

Rows are fetched by primary key (zone maps and Parquet row-group statistics skip what a
range of keys does not touch), through Arrow; statistics, distinct values, missing
counts and group codes are SQL aggregates, so nothing loads the whole table. The
backend pickles as a recipe (database file or Parquet files, and the SQL that sets the
view up), so that DataLoader worker processes open connections of their own.

``duckdb`` and ``pyarrow`` are imported when a backend is created (extra ``db``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.backends.base import DataBackend, check_columns
from torchweave.errors import TaskError
from torchweave.utils.text import did_you_mean, quote_list

__all__ = ["DataBackendDuckDB", "duckdb_dtype", "quote_ident"]

_INTS = {
    "tinyint": "int8",
    "smallint": "int16",
    "integer": "int32",
    "bigint": "int64",
    "utinyint": "uint8",
    "usmallint": "uint16",
    "uinteger": "uint32",
    "ubigint": "uint64",
    "hugeint": "int64",
}


def quote_ident(name: str) -> str:
    """A SQL identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def _import_duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - the extra is installed in development
        raise TaskError(
            "Database backends need the 'duckdb' and 'pyarrow' packages: "
            "pip install 'torchweave[db]'."
        ) from exc
    return duckdb


def duckdb_dtype(dbtype: Any, nullable: bool) -> Any:
    """The pandas dtype of a DuckDB column type (``nullable``: it holds NULLs).

    FLOAT and DOUBLE are float32 / float64 (NULL reads as NaN), integers keep their
    width (nullable ``Int*`` when NULLs occur), BOOLEAN is bool (or ``boolean``), an
    ENUM is a factor with the ENUM's levels, VARCHAR is a character column, and
    anything else is read as object (an unsupported feature type).
    """
    kind = str(dbtype.id)
    if kind == "float":
        return np.dtype("float32")
    if kind in ("double", "decimal"):
        return np.dtype("float64")
    if kind in _INTS:
        name = _INTS[kind]
        if not nullable:
            return np.dtype(name)
        return pd.api.types.pandas_dtype(
            "UInt" + name[4:] if name.startswith("uint") else "Int" + name[3:]
        )
    if kind == "boolean":
        return pd.BooleanDtype() if nullable else np.dtype(bool)
    if kind == "enum":
        levels = dict(dbtype.children)["values"]
        return pd.CategoricalDtype(list(levels), ordered=False)
    if kind == "varchar":
        return pd.Series([], dtype="str").dtype
    return np.dtype(object)


def _convert(values: Any, dtype: Any) -> Any:
    """An Arrow (chunked) array as a pandas-ready array of ``dtype``."""
    if isinstance(dtype, pd.CategoricalDtype):
        plain = values.to_pandas()
        if isinstance(plain.dtype, pd.CategoricalDtype):
            plain = plain.astype(object)
        return pd.Categorical(plain, dtype=dtype)
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        if dtype.kind != "f" and values.null_count:
            raise TaskError(
                f"Column values of dtype {dtype} hold NULLs; the backend's "
                "metadata is stale (was the table changed?)."
            )
        return values.to_numpy().astype(dtype, copy=False)
    return values.to_pandas().astype(dtype)


class DataBackendDuckDB(DataBackend):
    """A DuckDB table or view as task data.

    Parameters
    ----------
    source : duckdb.DuckDBPyConnection or str or pathlib.Path
        An open connection, or the path of a DuckDB database file (opened read-only,
        so that several processes may read it).
    table : str
        The table or view.
    primary_key : str, optional
        An integer column with a unique value per row: the row ids. Default: the
        ``rowid`` of a base table (a view needs a primary key).
    factors : sequence of str, optional
        VARCHAR columns to read as factors (levels: the sorted distinct values); ENUM
        columns are factors anyway.

    Raises
    ------
    TaskError
        If the file, the table or the primary key column is missing, or the primary
        key is not an integer column, has duplicates or NULLs.

    Examples
    --------
    >>> import duckdb
    >>> import torchweave as tw
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE t AS SELECT range AS id, range * 0.5 AS x, "
    ...                 "range % 3 AS y FROM range(10)")
    >>> backend = tw.DataBackendDuckDB(con, table="t", primary_key="id")
    >>> backend.nrow, backend.colnames
    (10, ['x', 'y'])
    """

    def __init__(
        self,
        source: Any,
        table: str,
        primary_key: str | None = None,
        factors: Sequence[str] = (),
        _setup: Sequence[str] = (),
        _check_key: bool = True,
    ) -> None:
        duckdb = _import_duckdb()
        self._database: str | None = None
        self._setup = list(_setup)
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            if not path.is_file():
                raise TaskError(f"DataBackendDuckDB: the database file '{path}' does not exist.")
            self._database = str(path)
            con = duckdb.connect(self._database, read_only=True)
        elif isinstance(source, duckdb.DuckDBPyConnection):
            con = source
        else:
            raise TaskError(
                "DataBackendDuckDB needs a DuckDB connection or the path of a database file "
                f"as 'source'. Got {type(source).__name__} instead."
            )
        self._reopenable = self._database is not None or bool(self._setup)
        self._con, self._pid = con, os.getpid()
        self.table = str(table)
        tables = [
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        ]
        if self.table not in tables:
            raise TaskError(
                f"DataBackendDuckDB: no table or view '{self.table}' in the database "
                f"(it has {quote_list(tables) or 'none'}).{did_you_mean(self.table, tables)}"
            )
        relation = con.sql(f"SELECT * FROM {quote_ident(self.table)} LIMIT 0")
        types = dict(zip(relation.columns, relation.types, strict=True))
        if primary_key is None:
            base = con.execute(
                "SELECT table_type FROM information_schema.tables WHERE table_name = ?",
                [self.table],
            ).fetchall()
            if not base or base[0][0] != "BASE TABLE":
                raise TaskError(
                    f"DataBackendDuckDB: '{self.table}' is a view; name an integer column with "
                    "unique values as its primary_key."
                )
            self.primary_key, self._pk = "rowid", "rowid"
        else:
            if primary_key not in types:
                raise TaskError(
                    f"DataBackendDuckDB: the primary key column '{primary_key}' is not in "
                    f"table '{self.table}'.{did_you_mean(primary_key, list(types))}"
                )
            if str(types[primary_key].id) not in _INTS:
                raise TaskError(
                    f"DataBackendDuckDB: the primary key '{primary_key}' must be an integer "
                    f"column. Got {types[primary_key]} instead."
                )
            self.primary_key, self._pk = primary_key, quote_ident(primary_key)
        self._colnames = [c for c in types if c != primary_key]
        stats = con.execute(
            f"SELECT count(*), min({self._pk}), max({self._pk})"
            + (f", count(DISTINCT {self._pk}), count({self._pk})" if _check_key else "")
            + f" FROM {quote_ident(self.table)}"
        ).fetchall()[0]
        self._nrow = int(stats[0])
        if _check_key and primary_key is not None:
            if stats[4] != self._nrow:
                raise TaskError(
                    f"DataBackendDuckDB: the primary key '{primary_key}' has "
                    f"{self._nrow - stats[4]} NULL value(s); every row needs an id."
                )
            if stats[3] != self._nrow:
                raise TaskError(
                    f"DataBackendDuckDB: the primary key '{primary_key}' has duplicate values "
                    f"({self._nrow - stats[3]} row(s) repeat an id); row ids must be unique."
                )
        self._min = int(stats[1]) if self._nrow else 0
        self._contiguous = self._nrow == 0 or int(stats[2]) - self._min + 1 == self._nrow
        self._rownames: np.ndarray | None = None
        self._dtype_overrides: dict[str, Any] = {}
        self._dtypes = self._read_dtypes(types, list(factors))

    # --- connections -------------------------------------------------------------------
    def _connection(self) -> Any:
        """The connection of this process (reopened from the recipe in a new process)."""
        if self._con is not None and self._pid == os.getpid():
            return self._con
        if not self._reopenable:
            raise TaskError(
                "DataBackendDuckDB: this backend reads from a DuckDB connection of another "
                "process (an in-memory database cannot be shared). Give a database file or "
                "Parquet files instead, or use num_workers=0."
            )
        duckdb = _import_duckdb()
        con = (
            duckdb.connect(self._database, read_only=True)
            if self._database is not None
            else duckdb.connect()
        )
        for statement in self._setup:
            con.execute(statement)
        self._con, self._pid = con, os.getpid()
        return con

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self._reopenable:
            state["_con"] = None
        elif self._pid == os.getpid():
            state["_con"] = None  # pickled (e.g. for a worker): the copy cannot read
        return state

    # --- metadata ----------------------------------------------------------------------
    def _read_dtypes(self, types: Mapping[str, Any], factors: list[str]) -> dict[str, Any]:
        check_columns(factors, self._colnames, f"Table '{self.table}'")
        cols = [c for c in self._colnames if str(types[c].id) in (*_INTS, "boolean")]
        nulls: dict[str, int] = {}
        if cols:
            counts = (
                self._connection()
                .execute(
                    "SELECT "
                    + ", ".join(f"count(*) - count({quote_ident(c)})" for c in cols)
                    + f" FROM {quote_ident(self.table)}"
                )
                .fetchall()[0]
            )
            nulls = dict(zip(cols, (int(n) for n in counts), strict=True))
        dtypes = {c: duckdb_dtype(types[c], nulls.get(c, 0) > 0) for c in self._colnames}
        if factors:
            levels = self.distinct(factors)
            for col in factors:
                dtypes[col] = pd.CategoricalDtype(levels[col], ordered=False)
        return dtypes

    @property
    def colnames(self) -> list[str]:  # noqa: D102
        return list(self._colnames)

    @property
    def nrow(self) -> int:  # noqa: D102
        return self._nrow

    @property
    def rownames(self) -> np.ndarray:  # noqa: D102
        if self._contiguous:  # not cached: 80 MB per 10M rows
            return np.arange(self._min, self._min + self._nrow, dtype=np.int64)
        if self._rownames is None:
            ids = (
                self._connection()
                .sql(f"SELECT {self._pk} FROM {quote_ident(self.table)} ORDER BY 1")
                .fetchnumpy()
            )
            self._rownames = np.asarray(next(iter(ids.values())), dtype=np.int64)
        return self._rownames

    @property
    def dtypes(self) -> dict[str, Any]:  # noqa: D102
        return {**self._dtypes, **self._dtype_overrides}

    def is_all_rows(self, ids: np.ndarray) -> bool:  # noqa: D102
        if len(ids) != self._nrow or not self._contiguous:
            return len(ids) == self._nrow and np.array_equal(ids, self.rownames)
        step = 1 << 20  # compared in slices, without a full-size temporary
        for start in range(0, len(ids), step):
            part = ids[start : start + step]
            first = self._min + start
            if part[0] != first or not np.array_equal(part, np.arange(first, first + len(part))):
                return False
        return True

    def has_rows(self, ids: np.ndarray) -> np.ndarray:  # noqa: D102
        ids = np.asarray(ids, dtype=np.int64)
        if self._contiguous:
            return (ids >= self._min) & (ids < self._min + self._nrow)
        return np.isin(ids, self.rownames)

    # --- row selection -----------------------------------------------------------------
    def _from(self, rows: np.ndarray | None) -> tuple[str, bool]:
        """The FROM clause over ``rows``; True when it joins the registered id table."""
        table = quote_ident(self.table)
        if rows is None:
            return f"FROM {table} t", False
        if not len(rows):
            return f"FROM {table} t WHERE false", False
        lo, hi = int(rows.min()), int(rows.max())
        if hi - lo + 1 == len(rows) and (len(rows) == 1 or bool((np.diff(rows) == 1).all())):
            return f"FROM {table} t WHERE t.{self._pk} BETWEEN {lo} AND {hi}", False
        import pyarrow as pa

        ids = pa.table({"__pk": rows, "__pos": np.arange(len(rows), dtype=np.int64)})
        self._connection().register("__tw_rows", ids)
        return (
            f"FROM {table} t JOIN __tw_rows i ON t.{self._pk} = i.__pk "
            f"WHERE t.{self._pk} BETWEEN {lo} AND {hi}",
            True,
        )

    def _run(self, sql: str, joined: bool) -> Any:
        con = self._connection()
        try:
            return con.sql(sql).to_arrow_table()
        finally:
            if joined:
                con.unregister("__tw_rows")

    def data(self, rows: np.ndarray | None, cols: Sequence[str]) -> pd.DataFrame:  # noqa: D102
        cols = check_columns(cols, self._colnames, f"Table '{self.table}'")
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
        source, joined = self._from(rows)
        order = "i.__pos" if joined else f"t.{self._pk}"
        select = ", ".join([f"{order} AS __order", *(f"t.{quote_ident(c)}" for c in cols)])
        table = self._run(f"SELECT {select} {source}", joined)
        order_values = table.column("__order").to_numpy()
        if len(order_values) > 1 and not bool((order_values[1:] >= order_values[:-1]).all()):
            table = table.take(np.argsort(order_values, kind="stable"))
            order_values = order_values[np.argsort(order_values, kind="stable")]
        if rows is not None and len(order_values) != len(rows):
            found = self.has_rows(rows)
            raise TaskError(
                f"Table '{self.table}' has no rows with ids "
                f"{quote_list(rows[~found].tolist(), limit=5)}."
            )
        index = rows if (joined and rows is not None) else order_values
        dtypes = self.dtypes
        frame = pd.DataFrame(
            {c: _convert(table.column(c), dtypes[c]) for c in cols},
            index=pd.Index(np.asarray(index, dtype=np.int64), name="row_id"),
        )
        return frame if cols else pd.DataFrame(index=frame.index)

    # --- aggregates --------------------------------------------------------------------
    def _value(self, col: str) -> str:
        """The column as SQL, with a float NaN read as NULL (pandas' missing value)."""
        name = f"t.{quote_ident(col)}"
        dtype = self._dtypes[col]
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            return f"(CASE WHEN isnan({name}) THEN NULL ELSE {name} END)"
        return name

    def _aggregate(self, exprs: list[str], rows: np.ndarray | None) -> tuple[Any, ...]:
        if not exprs:
            return ()
        source, joined = self._from(None if rows is None else np.asarray(rows, np.int64))
        table = self._run(f"SELECT {', '.join(exprs)} {source}", joined)
        return tuple(table.column(i)[0].as_py() for i in range(len(exprs)))

    def missings(  # noqa: D102
        self, cols: Sequence[str], rows: np.ndarray | None = None
    ) -> dict[str, int]:
        cols = check_columns(cols, self._colnames, f"Table '{self.table}'")
        values = self._aggregate([f"count(*) - count({self._value(c)})" for c in cols], rows)
        return {c: int(n or 0) for c, n in zip(cols, values, strict=True)}

    def infinites(  # noqa: D102
        self, cols: Sequence[str], rows: np.ndarray | None = None
    ) -> dict[str, int]:
        cols = check_columns(cols, self._colnames, f"Table '{self.table}'")
        floats = [
            c for c in cols if isinstance(self._dtypes[c], np.dtype) and self._dtypes[c].kind == "f"
        ]
        values = self._aggregate([f"count_if(isinf(t.{quote_ident(c)}))" for c in floats], rows)
        counts = {c: int(n or 0) for c, n in zip(floats, values, strict=True)}
        return {c: counts.get(c, 0) for c in cols}

    def stats(  # noqa: D102
        self, cols: Sequence[str], stat: str, rows: np.ndarray | None = None
    ) -> dict[str, Any]:
        self._check_stat(stat)
        cols = check_columns(cols, self._colnames, f"Table '{self.table}'")
        dtypes = self.dtypes
        for col in cols:
            dtype = dtypes[col]
            numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            if stat != "mode" and not numeric:
                raise TaskError(
                    f"The statistic '{stat}' needs a numeric column; '{col}' has dtype "
                    f"{dtypes[col]}."
                )
        if stat == "mode":
            return {col: self._mode(col, rows) for col in cols}
        if stat == "mad":
            centre = self.stats(cols, "median", rows)
            exprs = [
                f"median(abs({self._value(c)} - {float(centre[c])}))"
                if centre[c] is not None
                else "NULL"
                for c in cols
            ]
        else:
            fn = {"mean": "avg", "median": "median", "std": "stddev_samp"}.get(stat, stat)
            exprs = [f"{fn}({self._value(c)}::DOUBLE)" for c in cols]
        values = self._aggregate(exprs, rows)
        return {c: None if v is None else float(v) for c, v in zip(cols, values, strict=True)}

    def _mode(self, col: str, rows: np.ndarray | None) -> Any:
        value = self._value(col)
        source, joined = self._from(None if rows is None else np.asarray(rows, np.int64))
        where = "AND" if "WHERE" in source else "WHERE"
        table = self._run(
            f"SELECT {value} AS v, count(*) AS n {source} {where} {value} IS NOT NULL GROUP BY 1",
            joined,
        )
        if table.num_rows == 0:
            return None
        frame = table.to_pandas()
        dtype = self.dtypes[col]
        if isinstance(dtype, pd.CategoricalDtype):
            order = {v: i for i, v in enumerate(dtype.categories)}
            frame["key"] = frame["v"].map(order)
        else:
            frame["key"] = frame["v"]
        frame = frame.sort_values(["n", "key"], ascending=[False, True], kind="stable")
        best = frame["v"].iloc[0]
        return best.item() if isinstance(best, np.generic) else best

    def distinct(  # noqa: D102
        self, cols: Sequence[str], rows: np.ndarray | None = None
    ) -> dict[str, list[Any]]:
        cols = check_columns(cols, self._colnames, f"Table '{self.table}'")
        out: dict[str, list[Any]] = {}
        dtypes = getattr(self, "_dtypes", {})
        overrides = getattr(self, "_dtype_overrides", {})
        for col in cols:
            value = self._value(col) if col in dtypes else f"t.{quote_ident(col)}"
            source, joined = self._from(None if rows is None else np.asarray(rows, np.int64))
            where = "AND" if "WHERE" in source else "WHERE"
            table = self._run(
                f"SELECT DISTINCT {value} AS v {source} {where} {value} IS NOT NULL ORDER BY 1",
                joined,
            )
            values = table.column("v").to_pylist()
            dtype = overrides.get(col, dtypes.get(col))
            if isinstance(dtype, pd.CategoricalDtype):
                present = set(values)
                values = [v for v in dtype.categories if v in present]
            out[col] = values
        return out

    def group_codes(  # noqa: D102
        self, cols: Sequence[str], rows: np.ndarray | None = None
    ) -> np.ndarray:
        cols = check_columns(cols, self._colnames, f"Table '{self.table}'")
        ids = self.rownames if rows is None else np.asarray(rows, dtype=np.int64)
        source, joined = self._from(ids)
        order = "i.__pos" if joined else f"t.{self._pk}"
        keys = ", ".join(f"{self._value(c)} ASC NULLS LAST" for c in cols)
        table = self._run(
            f"SELECT {order} AS o, dense_rank() OVER (ORDER BY {keys}) - 1 AS code {source}",
            joined,
        )
        positions = table.column("o").to_numpy()
        codes = table.column("code").to_numpy().astype(np.int64)
        out = np.empty(len(codes), dtype=np.int64)
        rank = np.argsort(positions, kind="stable")
        out[:] = codes[rank]
        return out

    def __repr__(self) -> str:
        where = self._database or "connection"
        return f"<DataBackendDuckDB:{self.table}@{where}> ({self.nrow} x {self.ncol})"
