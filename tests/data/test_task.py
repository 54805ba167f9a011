import pickle

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0],
            "n": [1, 2, 3, 4, 5, 6],
            "f": pd.Categorical(["a", "b", "a", "b", "a", "c"]),
            "o": pd.Categorical(
                ["lo", "hi", "lo", "hi", "lo", "hi"], categories=["lo", "hi"], ordered=True
            ),
            "b": [True, False, True, False, True, False],
            "s": ["u", "v", "w", "u", "v", "w"],
            "y": ["pos", "neg", "pos", "neg", "pos", "neg"],
        }
    )


def test_feature_types_from_dtypes(df):
    task = tw.TaskClassif(df, "y", id="toy")
    assert task.feature_types == {
        "x": "numeric",
        "n": "integer",
        "f": "factor",
        "o": "ordered",
        "b": "logical",
        "s": "character",
    }
    assert task.task_type == "classif"
    assert (task.nrow, task.ncol) == (6, 7)
    assert task.target_names == ["y"]


def test_target_becomes_categorical_with_sorted_levels_and_positive(df):
    task = tw.TaskClassif(df, "y")
    assert task.class_names == ["neg", "pos"]
    assert task.positive == "neg" and task.negative == "pos"
    assert isinstance(task.truth().dtype, pd.CategoricalDtype)
    task2 = tw.TaskClassif(df, "y", positive="pos")
    assert task2.positive == "pos"
    assert "twoclass" in task2.properties


def test_existing_categorical_order_is_kept(df):
    df = df.assign(y=pd.Categorical(df["y"], categories=["pos", "neg"]))
    task = tw.TaskClassif(df, "y")
    assert task.class_names == ["pos", "neg"]
    assert task.positive == "pos"


def test_user_dataframe_is_never_modified(df):
    original = df.copy()
    task = tw.TaskClassif(df, "y")
    task.filter([0, 1, 2]).select(["x"])
    task.cbind(pd.DataFrame({"z": [1.0, 2.0, 3.0]}))
    task.rbind(task.data().head(1))
    data = task.data()
    data.iloc[0, 0] = "neg"
    pdt.assert_frame_equal(df, original)
    assert task.data().iloc[0, 0] == "pos"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"target": "yy"},
            tw.TaskError,
            "The target column 'yy' is not in the data. Did you mean 'y'\\?",
        ),
        ({"target": "x"}, tw.TaskError, "'x' has 1 missing value"),
    ],
)
def test_target_errors(df, kwargs, error, match):
    with pytest.raises(error, match=match):
        tw.TaskClassif(df, **kwargs)


def test_one_class_and_non_numeric_regression_targets(df):
    with pytest.raises(
        tw.TaskError, match="'y' of a classification task needs at least 2 classes. Got 1"
    ):
        tw.TaskClassif(df.assign(y="a"), "y")
    with pytest.raises(
        tw.TaskError, match="The target column 's' of a regression task must be numeric"
    ):
        tw.TaskRegr(df, "s")
    with pytest.raises(tw.TaskError, match="must be a pandas DataFrame. Got dict"):
        tw.TaskRegr({"a": [1]}, "a")  # type: ignore[arg-type]
    with pytest.raises(
        tw.TaskError, match="'positive' must be one of the classes 'neg', 'pos'. Got 'x'"
    ):
        tw.TaskClassif(df, "y", positive="x")


def test_row_ids_are_stable_through_filter(df):
    task = tw.TaskRegr(df, "n")
    task.filter([5, 3, 1])
    assert task.row_ids.tolist() == [5, 3, 1]
    assert task.data(cols="x").index.tolist() == [5, 3, 1]
    assert task.truth().tolist() == [6, 4, 2]
    with pytest.raises(tw.TaskError, match="not in use: 0"):
        task.filter([0])
    with pytest.raises(tw.TaskError, match="has no rows with ids 99"):
        task.data(rows=[99])


def test_select_and_col_roles(df):
    task = tw.TaskClassif(df, "y")
    task.select(["x", "n"])
    assert task.feature_names == ["x", "n"]
    with pytest.raises(tw.TaskError, match="Did you mean 'x'"):
        task.select(["xx"])
    task = (
        tw.TaskClassif(df, "y")
        .set_col_roles("s", "name")
        .set_col_roles("f", ["stratum", "feature"])
    )
    assert task.col_roles["name"] == ["s"]
    assert "s" not in task.feature_names
    assert "strata" in task.properties
    with pytest.raises(tw.TaskError, match="Unknown column role"):
        task.set_col_roles("x", "label")
    with pytest.raises(tw.TaskError, match="weight column 's' must be numeric"):
        task.set_col_roles("s", "weight")


def test_missings_head_clone(df):
    task = tw.TaskClassif(df, "y")
    assert task.missings()["x"] == 1
    assert len(task.head(2)) == 2
    clone = task.clone().filter([0, 1])
    assert task.nrow == 6 and clone.nrow == 2


def test_clone_shares_no_writes(df):
    """clone() copies lazily (copy-on-write), yet writes to either side stay apart."""
    user_frame = df.copy()
    task = tw.TaskClassif(df, "y")
    before = task.data().copy()
    clone = task.clone()
    clone._data.loc[0, "x"] = -99.0  # a write through the frame itself
    clone.cbind(pd.DataFrame({"z": np.arange(6.0)}))
    clone.rbind(clone.data().head(1))
    pd.testing.assert_frame_equal(task.data(), before)
    assert "z" not in task.feature_names and task.nrow == 6
    task._data.loc[1, "x"] = 42.0
    assert clone.data(rows=[1], cols="x")["x"].tolist() == before["x"].tolist()[1:2]
    pd.testing.assert_frame_equal(df, user_frame)  # the user's frame is untouched


def test_cbind_rbind(df):
    task = tw.TaskClassif(df, "y").filter([0, 2, 4])
    task.cbind(pd.DataFrame({"z": [10.0, 30.0, 50.0]}))
    assert task.data(cols="z")["z"].tolist() == [10.0, 30.0, 50.0]
    assert task.feature_types["z"] == "numeric"
    with pytest.raises(tw.TaskError, match="cbind needs 3 rows"):
        task.cbind(pd.DataFrame({"w": [1.0]}))
    with pytest.raises(tw.TaskError, match="already has column\\(s\\) 'z'"):
        task.cbind(pd.DataFrame({"z": [1.0, 2.0, 3.0]}))
    new = task.data().head(2)
    task.rbind(new)
    assert task.row_ids.tolist() == [0, 2, 4, 6, 7]
    with pytest.raises(tw.TaskError, match="unknown class\\(es\\) 'maybe'"):
        task.rbind(new.assign(y="maybe"))


def test_unsupported_dtype_is_rejected(df):
    df = df.assign(when=pd.to_datetime(["2020-01-01"] * 6))
    with pytest.raises(tw.TaskError, match="Column 'when' has dtype datetime64"):
        tw.TaskClassif(df, "y")
    with pytest.raises(tw.TaskError, match="Column names of a task must be strings"):
        tw.TaskClassif(pd.DataFrame({0: [1.0, 2.0], "y": ["a", "b"]}), "y")


def test_internal_valid_task_from_ids_and_task(df):
    task = tw.TaskClassif(df, "y")
    task.internal_valid_task = [0, 1]
    assert task.row_ids.tolist() == [2, 3, 4, 5]
    assert task.internal_valid_task.row_ids.tolist() == [0, 1]
    other = tw.TaskClassif(df.drop(columns="x"), "y")
    with pytest.raises(tw.TaskError, match="lacks the feature\\(s\\) 'x'"):
        task.internal_valid_task = other
    with pytest.raises(tw.TaskError, match="must be a TaskClassif"):
        task.internal_valid_task = tw.TaskRegr(df.drop(columns="y"), "n")
    task.internal_valid_task = None
    assert task.internal_valid_task is None


def test_pickle_round_trip(df):
    task = tw.TaskClassif(df, "y").filter([1, 2])
    copy = pickle.loads(pickle.dumps(task))
    pdt.assert_frame_equal(copy.data(), task.data())
    assert repr(copy).startswith("<TaskClassif:data> (2 x 7)")


@given(rows=st.lists(st.integers(0, 5), min_size=1, max_size=12))
def test_filter_keeps_order_and_repeats(rows):
    frame = pd.DataFrame({"x": np.arange(6.0), "y": np.arange(6.0) * 2})
    task = tw.TaskRegr(frame, "y").filter(rows)
    assert task.row_ids.tolist() == rows
    assert task.truth().tolist() == [2.0 * r for r in rows]


def test_replace_features_with_hundreds_of_columns_builds_one_frame():
    # Inserting columns one by one made pandas warn "DataFrame is highly fragmented"
    # (an error under the test settings) once a po("encode") produced ~100 columns.
    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"x{i}": rng.normal(size=8) for i in range(150)})
    df["y"] = ["a", "b"] * 4
    task = tw.TaskClassif(df, "y")
    new = pd.DataFrame({f"z{i}": np.arange(8.0) + i for i in range(300)})
    new["x0"] = -1.0
    task.replace_features(new, remove=["x1"])
    assert task.feature_names[:2] == ["x0", "x2"] and task.feature_names[-1] == "z299"
    assert len(task.feature_names) == 149 + 300
    assert task.data(cols="x0")["x0"].tolist() == [-1.0] * 8
    assert task.data(cols="z7")["z7"].tolist() == list(np.arange(8.0) + 7)
    assert len(task._data._mgr.blocks) <= 3  # consolidated, not one block per column
    out = tw.po("encode").train([tw.TaskClassif(_many_factors(rng), "y")])[0]
    assert len(out.feature_names) == 120 * 3


def _many_factors(rng: np.random.Generator) -> pd.DataFrame:
    df = pd.DataFrame({f"f{i}": pd.Categorical(rng.choice(list("abc"), 30)) for i in range(120)})
    df["y"] = ["a", "b"] * 15
    return df


def test_nonfinite_counts_over_rows_in_use(df):
    df = df.assign(
        x=[1.0, np.inf, np.nan, -np.inf, 5.0, 6.0],
        h=np.array([np.inf, 1, 2, 3, 4, 5], dtype=np.float32),
        i=pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
        g=pd.array([1.0, None, np.inf, 4.0, 5.0, 6.0], dtype="Float64"),
    )
    task = tw.TaskClassif(df, "y")
    cols = ["x", "n", "f", "h", "i", "g"]
    missing, infinite = task._nonfinite_counts(cols)
    assert missing == {"x": 1, "i": 1, "g": 1}
    assert infinite == {"x": 2, "h": 1, "g": 1}
    task.filter([4, 5, 0])
    assert task._nonfinite_counts(cols) == ({}, {"h": 1})


def test_new_data_numeric_dtypes_conform_when_the_values_are_kept(df):
    task = tw.TaskClassif(df, "y")
    proto = task._prototype()
    new = df.drop(columns="y").assign(n=[1.0, np.nan, 3.0, 4.0, 5.0, 6.0])
    n = proto._empty_like(new)._data["n"]
    assert n.dtype == pd.Int64Dtype() and n.isna().sum() == 1 and n.iloc[2] == 3
    whole = proto._empty_like(df.assign(n=np.arange(6.0)))._data["n"]
    assert whole.dtype == np.int64 and whole.tolist() == list(range(6))
    x = proto._empty_like(df.assign(x=pd.array([1, None, 3, 4, 5, 6], dtype="Int64")))._data["x"]
    assert x.dtype == np.float64 and np.isnan(x.iloc[1])
    small = tw.TaskRegr(pd.DataFrame({"k": np.array([1, 2], dtype=np.int8), "y": [1.0, 2.0]}), "y")
    with pytest.raises(
        tw.TaskError, match="'k' of the new data has dtype int64 with values outside"
    ):
        small._prototype()._empty_like(pd.DataFrame({"k": [1, 300]}))  # int8 would wrap to 44
    with pytest.raises(
        tw.TaskError, match="'n' of the new data has dtype float64 with the value inf"
    ):
        proto._empty_like(df.assign(n=[1.0, np.inf, 3.0, 4.0, 5.0, 6.0]))
    with pytest.raises(
        tw.TaskError,
        match=r"'x' of the new data has dtype (object|str) \(character\); the task was trained "
        r"with float64 \(numeric\)\. Convert the column to float64\.",
    ):
        proto._empty_like(df.assign(x=list("abcdef")))
