"""``as_data_backend``: a backend for a DataFrame, a Parquet file or folder, or a backend.

Parquet goes through DuckDB (``read_parquet``), so nothing is loaded up front: the row
ids are the row numbers (over the files in name order), and a range of ids reads only
the row groups it touches. Columns stored as Arrow dictionaries (pandas categoricals)
become factors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from torchweave.data.backends.base import DataBackend
from torchweave.data.backends.duckdb_backend import DataBackendDuckDB
from torchweave.data.backends.pandas_backend import DataBackendPandas
from torchweave.errors import TaskError

__all__ = ["ROW_ID", "as_data_backend"]

#: The name of the row-number column of a Parquet backend's view.
ROW_ID = "__row_id"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parquet_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise TaskError(f"as_data_backend: the folder '{path}' holds no .parquet files.")
        return files
    if path.is_file():
        return [path]
    raise TaskError(f"as_data_backend: no file or folder '{path}'.")


def _parquet_backend(path: Path, chunk_rows: int | None) -> DataBackendDuckDB:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = _parquet_files(path)
    selects, offset, factors = [], 0, []
    schema = None
    for file in files:
        try:
            meta = pq.ParquetFile(file)
        except (OSError, pa.ArrowInvalid) as exc:
            raise TaskError(
                f"as_data_backend: '{file}' is not a readable Parquet file ({exc})."
            ) from exc
        if schema is None:
            schema = meta.schema_arrow
        elif not meta.schema_arrow.remove_metadata().equals(schema.remove_metadata()):
            raise TaskError(
                f"as_data_backend: '{file}' has another schema than '{files[0]}'; the files "
                "of one backend need the same columns and types."
            )
        selects.append(
            f"SELECT * EXCLUDE (file_row_number), file_row_number + {offset} AS {ROW_ID} "
            f"FROM read_parquet({_sql_string(str(file.resolve()))}, file_row_number = true)"
        )
        offset += meta.metadata.num_rows
    assert schema is not None
    if ROW_ID in schema.names:
        raise TaskError(f"as_data_backend: the column name '{ROW_ID}' is reserved.")
    factors = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    setup = [f"CREATE VIEW data AS {' UNION ALL '.join(selects)}"]
    con = duckdb.connect()
    for statement in setup:
        con.execute(statement)
    backend = DataBackendDuckDB(
        con, table="data", primary_key=ROW_ID, factors=factors, _setup=setup, _check_key=False
    )
    ordered = {f.name for f in schema if pa.types.is_dictionary(f.type) and f.type.ordered}
    if ordered:
        backend = backend.with_dtypes(  # type: ignore[assignment]
            {c: pd.CategoricalDtype(backend.dtypes[c].categories, ordered=True) for c in ordered}
        )
    if chunk_rows is not None:
        backend.chunk_rows = int(chunk_rows)
    return backend


def as_data_backend(
    data: Any,
    table: str | None = None,
    primary_key: str | None = None,
    chunk_rows: int | None = None,
) -> DataBackend:
    """A data backend for ``data``.

    Parameters
    ----------
    data : DataBackend, pandas.DataFrame, str or pathlib.Path
        A backend (returned as it is), a DataFrame (held in memory), a Parquet file or
        a folder of Parquet files (read through DuckDB), or a DuckDB database file
        (with ``table``).
    table, primary_key : str, optional
        For a DuckDB database file: the table or view, and its primary key column.
    chunk_rows : int, optional
        Rows per chunk when training and prediction stream the data.

    Returns
    -------
    DataBackend

    Raises
    ------
    TaskError
        If the file or folder does not exist, holds no Parquet files, or a database
        file is given without a table.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> import torchweave as tw
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "d.parquet")
    >>> pd.DataFrame({"x": [0.5, 1.5, 2.5], "y": [1.0, 2.0, 3.0]}).to_parquet(path)
    >>> backend = tw.as_data_backend(path)
    >>> tw.TaskRegr(backend, target="y").nrow
    3
    """
    if isinstance(data, DataBackend):
        return data
    if isinstance(data, pd.DataFrame):
        return DataBackendPandas(data.reset_index(drop=True))
    if not isinstance(data, str | os.PathLike):
        raise TaskError(
            "as_data_backend needs a DataFrame, a path of a Parquet file or folder, or a "
            f"DuckDB database file. Got {type(data).__name__} instead."
        )
    path = Path(data)
    if path.is_file() and path.suffix in (".duckdb", ".db"):
        if table is None:
            raise TaskError(f"as_data_backend: name the 'table' of the database '{path}'.")
        backend: DataBackend = DataBackendDuckDB(path, table=table, primary_key=primary_key)
        if chunk_rows is not None:
            backend.chunk_rows = int(chunk_rows)
        return backend
    return _parquet_backend(path, chunk_rows)
