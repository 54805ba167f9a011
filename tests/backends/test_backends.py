"""The DataBackend interface: pandas and DuckDB/Parquet answer alike; bad input fails clearly."""

from __future__ import annotations

import pickle

import duckdb
import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from torchweave.data.backends import DataBackendCbind, DataBackendMap


def tasks(frame, parquet, target="y"):
    mem = tw.TaskClassif(frame, target)
    db = tw.TaskClassif(tw.as_data_backend(parquet, chunk_rows=16), target)
    return mem, db


def test_metadata_and_rows_agree(frame, parquet):
    mem, db = tasks(frame, parquet)
    assert not db.in_memory and mem.in_memory
    assert db.feature_types == mem.feature_types
    assert db.class_names == mem.class_names == ["neg", "pos"]
    assert db.nrow == db.backend.nrow == 60 and db.backend.ncol == 7
    rows = [5, 2, 2, 59]
    pd.testing.assert_frame_equal(db.data(rows=rows), mem.data(rows=rows), check_index_type=False)
    pd.testing.assert_series_equal(db.truth(), mem.truth(), check_index_type=False)
    assert (
        db.missings()
        == mem.missings()
        == {**dict.fromkeys(mem.col_roles["feature"] + ["y"], 0), "x": 2}
    )
    assert db.levels() == mem.levels() == {"k": ["a", "b", "c"]}


@pytest.mark.parametrize("stat", ["mean", "median", "std", "mad", "min", "max", "mode"])
def test_statistics_by_sql_match_pandas(frame, parquet, stat):
    mem, db = tasks(frame, parquet)
    for task in (mem, db):
        task.filter(np.arange(0, 60, 3))
    cols = ["x", "z", "i"] if stat != "mode" else ["x", "i", "k"]
    got, want = db.col_stats(cols, stat), mem.col_stats(cols, stat)
    assert got.keys() == want.keys()
    for col in cols:
        assert (
            got[col] == pytest.approx(want[col], rel=1e-6)
            if stat != "mode"
            else got[col] == want[col]
        )
    assert db.distinct_values(["k", "i"]) == mem.distinct_values(["k", "i"])


def test_filter_select_roles_and_group_codes(frame, parquet):
    mem, db = tasks(frame, parquet)
    for task in (mem, db):
        task.filter([40, 3, 7, 7, 21]).select(["x", "k", "g"])
        task.set_col_roles("g", "group")
    pd.testing.assert_frame_equal(db.data(), mem.data(), check_index_type=False)
    np.testing.assert_array_equal(db.group_codes(["k", "x"]), mem.group_codes(["k", "x"]))
    assert db.col_roles == mem.col_roles


@pytest.mark.parametrize("how", ["stratified", "grouped"])
def test_resampling_splits_match(frame, parquet, how):
    mem, db = tasks(frame, parquet)
    for task in (mem, db):
        task.set_col_roles(
            "k" if how == "stratified" else "g", "stratum" if how == "stratified" else "group"
        )
    splits = []
    for task in (mem, db):
        rsmp = tw.rsmp("cv", folds=3, random_state=2)
        rsmp.instantiate(task)
        splits.append([rsmp.test_set(i).tolist() for i in range(3)])
    assert splits[0] == splits[1]


def test_duckdb_table_with_primary_key_and_enum():
    con = duckdb.connect()
    con.execute("CREATE TYPE colour AS ENUM ('red', 'green')")
    con.execute(
        "CREATE TABLE t AS SELECT 100 + range AS id, range * 0.5 AS x, "
        "CASE WHEN range % 2 = 0 THEN 'red' ELSE 'green' END::colour AS c, "
        "range % 3 AS y, 's' || range AS s FROM range(9)"
    )
    backend = tw.DataBackendDuckDB(con, table="t", primary_key="id")
    assert backend.colnames == ["x", "c", "y", "s"]
    task = tw.TaskRegr(backend, target="y")
    assert task.row_ids.tolist() == list(range(100, 109))
    assert task.feature_types == {"x": "numeric", "c": "factor", "s": "character"}
    assert task.levels() == {"c": ["red", "green"]}
    assert task.data(rows=[104, 101], cols=["c", "x"])["c"].tolist() == ["red", "green"]
    with pytest.raises(tw.TaskError, match="no rows with ids 3"):
        task.data(rows=[3])
    with pytest.raises(tw.TaskError, match="cannot take new rows"):
        task.rbind(pd.DataFrame({"x": [1.0], "c": ["red"], "y": [1], "s": ["q"]}))


def test_bad_input_gives_task_errors(tmp_path):
    with pytest.raises(tw.TaskError, match="no file or folder"):
        tw.as_data_backend(tmp_path / "nope.parquet")
    with pytest.raises(tw.TaskError, match="does not exist"):
        tw.DataBackendDuckDB(tmp_path / "nope.duckdb", table="t")
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range % 4 AS id, range * 1.0 AS x FROM range(8)")
    con.execute("CREATE VIEW v AS SELECT * FROM t")
    with pytest.raises(tw.TaskError, match="no table or view 'tt'.*Did you mean 't'"):
        tw.DataBackendDuckDB(con, table="tt", primary_key="id")
    with pytest.raises(tw.TaskError, match="primary key column 'key' is not in table 't'"):
        tw.DataBackendDuckDB(con, table="t", primary_key="key")
    with pytest.raises(tw.TaskError, match="'id' has duplicate values"):
        tw.DataBackendDuckDB(con, table="t", primary_key="id")
    with pytest.raises(tw.TaskError, match="must be an integer column"):
        tw.DataBackendDuckDB(con, table="t", primary_key="x")
    with pytest.raises(tw.TaskError, match="is a view; name an integer column"):
        tw.DataBackendDuckDB(con, table="v")
    backend = tw.DataBackendDuckDB(con, table="t")  # a base table: its rowid
    with pytest.raises(tw.TaskError, match="target column 'yy' is not in the data"):
        tw.TaskRegr(backend, target="yy")
    with pytest.raises(tw.TaskError, match="no column.*'q'"):
        tw.TaskRegr(backend, target="x").data(cols=["q"])
    con.execute(
        "CREATE TABLE m AS SELECT range AS id, NULLIF(range, 2) * 1.0 AS y, 'a' AS s FROM range(4)"
    )
    with pytest.raises(tw.TaskError, match="'y' has 1 missing value"):
        tw.TaskRegr(tw.DataBackendDuckDB(con, "m", "id"), target="y")
    with pytest.raises(tw.TaskError, match="regression task must be numeric"):
        tw.TaskRegr(tw.DataBackendDuckDB(con, "m", "id"), target="s")


def test_parquet_folder_numbers_rows_across_files(tmp_path, frame):
    folder = tmp_path / "parts"
    folder.mkdir()
    frame.iloc[:25].to_parquet(folder / "a.parquet")
    frame.iloc[25:].to_parquet(folder / "b.parquet")
    task = tw.TaskClassif(tw.as_data_backend(folder), "y")
    assert task.row_ids.tolist() == list(range(60))
    assert task.data(rows=[24, 25, 26], cols=["r"])["r"].tolist() == frame["r"].iloc[24:27].tolist()


def test_backend_pickles_as_a_recipe(parquet):
    backend = tw.as_data_backend(parquet)
    clone = pickle.loads(pickle.dumps(backend))
    pd.testing.assert_frame_equal(
        clone.data(np.array([1, 2]), ["x"]), backend.data(np.array([1, 2]), ["x"])
    )
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS id, range * 1.0 AS x FROM range(3)")
    copy = pickle.loads(pickle.dumps(tw.DataBackendDuckDB(con, "t", "id")))
    with pytest.raises(tw.TaskError, match="connection of another process"):
        copy.data(np.array([0]), ["x"])


def test_cbind_and_transform_stay_lazy(frame, parquet):
    mem, db = tasks(frame, parquet)
    for task in (mem, db):
        task.filter(np.arange(10, 30))
        task.cbind(pd.DataFrame({"w": np.arange(20.0)}))
        task.transform_features(lambda df: df * 2.0, ["x", "w"])
    assert isinstance(db.backend, DataBackendMap) and isinstance(db.backend.base, DataBackendCbind)
    pd.testing.assert_frame_equal(db.data(), mem.data(), check_index_type=False)
    assert db.col_stats(["w"], "median") == mem.col_stats(["w"], "median")


def test_pandas_backend_answers_the_interface(frame):
    backend = tw.DataBackendPandas(frame)
    assert backend.in_memory and backend.nrow == 60
    assert backend.missings(["x", "k"]) == {"x": 2, "k": 0}
    assert backend.has_rows(np.array([-1, 0, 60])).tolist() == [False, True, False]
    assert backend.stats(["i"], "mode", rows=np.array([0, 1, 2])) == {
        "i": backend.data(np.array([0, 1, 2]), ["i"])["i"].mode().min()
    }
    task = tw.TaskClassif(backend, "y")
    assert task.in_memory and task.nrow == 60
