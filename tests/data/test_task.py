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
