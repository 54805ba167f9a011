"""Data backends: where a task's data lives (in memory, or in DuckDB / Parquet).

``duckdb`` and ``pyarrow`` are imported only when a database backend is created.
"""

from torchweave.data.backends.base import STATISTICS, DataBackend
from torchweave.data.backends.derived import DataBackendCbind, DataBackendMap
from torchweave.data.backends.duckdb_backend import DataBackendDuckDB
from torchweave.data.backends.pandas_backend import DataBackendPandas
from torchweave.data.backends.parquet import as_data_backend

__all__ = [
    "STATISTICS",
    "DataBackend",
    "DataBackendCbind",
    "DataBackendDuckDB",
    "DataBackendMap",
    "DataBackendPandas",
    "as_data_backend",
]
