"""po("imputemedian"): impute numbers by their training median."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
import torchweave.pipelines.ops.imputemedian


def make_task(x, k, f=None) -> tw.TaskRegr:
    n = len(x)
    df = pd.DataFrame(
        {
            "x": pd.Series(x, dtype="float64"),
            "k": pd.Series(k, dtype="Int64"),
            "f": pd.Categorical(f if f is not None else ["a"] * n),
            "y": np.arange(n, dtype=float),
        }
    )
    return tw.TaskRegr(df, "y", id="toy")


def test_values_dtypes_and_state():
    op = tw.po("imputemedian")
    out = op.train([make_task([1.0, None, 4.0, 5.0], [1, 2, None, 2], ["a", None, "b", "a"])])[0]
    assert op.state["values"] == {"x": 4.0, "k": 2}
    assert isinstance(op.state["values"]["k"], int)
    data = out.data()
    assert data["x"].tolist() == [1.0, 4.0, 4.0, 5.0]
    assert data["x"].dtype == np.float64
    assert data["k"].dtype == "Int64" and data["k"].tolist() == [1, 2, 2, 2]
    assert data["f"].isna().sum() == 1  # factors are not touched


def test_integer_median_rounds_half_to_even():
    op = tw.po("imputemedian")
    op.train([make_task([1.0, 2.0, 3.0, 4.0, 5.0], [2, 3, 4, 5, None])])
    assert op.state["values"]["k"] == 4  # median 3.5 -> 4
    op.train([make_task([1.0, 2.0, 3.0], [2, 3, None])])
    assert op.state["values"]["k"] == 2  # median 2.5 -> 2, like R's round


def test_predict_imputes_the_training_mean():
    op = tw.po("imputemedian")
    op.train([make_task([0.0, 10.0], [1, 1])])
    out = op.predict([make_task([None, 100.0, None], [None, 7, 8])])[0]
    assert out.data(cols="x")["x"].tolist() == [5.0, 100.0, 5.0]
    assert out.data(cols="k")["k"].tolist() == [1, 7, 8]


def test_all_missing_column_gets_zero():
    op = tw.po("imputemedian")
    out = op.train([make_task([None, None], [None, None])])[0]
    assert op.state["values"] == {"x": 0.0, "k": 0}
    assert out.data(cols="x")["x"].tolist() == [0.0, 0.0]
    assert out.data(cols="k")["k"].tolist() == [0, 0]


def test_affect_columns_and_input_untouched():
    task = make_task([1.0, None, 3.0], [None, 4, 4])
    before = task.data()
    op = tw.po("imputemedian", affect_columns=tw.selector_name(["k"]))
    out = op.train([task])[0]
    assert list(op.state["values"]) == ["k"]
    assert out.data(cols="x")["x"].isna().sum() == 1
    assert out.data(cols="k")["k"].isna().sum() == 0
    pd.testing.assert_frame_equal(task.data(), before)


def test_deterministic_and_predict_like_train():
    task = tw.tsk("penguins")
    op = tw.po("imputemedian")
    first = op.train([task])[0].data()
    state = op.state
    pd.testing.assert_frame_equal(op.train([task])[0].data(), first)
    assert op.state == state
    pd.testing.assert_frame_equal(op.predict([task])[0].data(), first)
    assert sum(task.missings(["bill_length_mm", "body_mass_g"]).values()) == 4


@given(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=1, max_size=20))
def test_median_matches_numpy(values):
    op = tw.po("imputemedian")
    out = op.train([make_task(values, [1] * len(values))])[0]
    observed = [v for v in values if v is not None]
    expected = float(np.median(observed)) if observed else 0.0
    assert op.state["values"]["x"] == pytest.approx(expected)
    assert out.data(cols="x")["x"].isna().sum() == 0
