import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
import torchweave.pipelines.ops.removeconstants
from torchweave.errors import InvalidParameterError, TaskError


def regr_task(**cols):
    n = len(next(iter(cols.values())))
    return tw.TaskRegr(pd.DataFrame({**cols, "y": np.arange(n, dtype=float)}), "y", id="toy")


def removed(task, **params):
    op = tw.po("removeconstants", **params)
    out = op.train([task])[0]
    assert [f for f in task.feature_names if f not in out.feature_names] == op.state["removed_cols"]
    return op.state["removed_cols"]


def test_params():
    op = tw.po("removeconstants")
    assert op.id == "removeconstants"
    assert op.param_set.values == {
        "ratio": 0.0,
        "rel_tol": 1e-8,
        "abs_tol": 1e-8,
        "na_ignore": True,
    }
    with pytest.raises(InvalidParameterError, match=r"'ratio' parameter .* float in \[0, 1\]"):
        op.param_set.set_values(ratio=1.5)
    with pytest.raises(InvalidParameterError, match="'abs_tol' parameter"):
        op.param_set.set_values(abs_tol=-1.0)


def test_removes_constant_columns_of_every_type():
    task = regr_task(
        c=[2.0] * 4,
        x=[1.0, 2.0, 3.0, 4.0],
        i=[3, 3, 3, 3],
        f=pd.Categorical(["a"] * 4, categories=["a", "b"]),
        g=pd.Categorical(["a", "b", "a", "a"]),
        b=[True] * 4,
        s=["q"] * 4,
    )
    before = task.data()
    op = tw.po("removeconstants")
    out = op.train([task])[0]
    assert op.state["removed_cols"] == ["c", "i", "f", "b", "s"]
    assert out.feature_names == ["x", "g"]
    pd.testing.assert_frame_equal(task.data(), before)


def test_ratio():
    task = regr_task(x=[1.0] * 9 + [2.0], z=[1.0] * 8 + [2.0, 3.0])
    assert removed(task) == []
    assert removed(task, ratio=0.1) == ["x"]
    assert removed(task, ratio=0.2) == ["x", "z"]


def test_tolerances():
    # The tolerance around a value v is max(abs_tol, rel_tol * |v|).
    task = regr_task(x=[1.0, 1.0 + 1e-10, 1.0 - 1e-10, 1.0], big=[1e9, 1e9 + 50, 1e9, 1e9])
    assert removed(task) == ["x"]
    assert removed(task, abs_tol=0.0, rel_tol=0.0) == []
    assert removed(task, rel_tol=1e-7) == ["x", "big"]
    assert removed(task, abs_tol=50.0, rel_tol=0.0) == ["x", "big"]
    assert removed(task, abs_tol=49.0, rel_tol=0.0) == ["x"]


def test_missing_values():
    task = regr_task(x=[1.0, 1.0, np.nan, np.nan], allna=[np.nan] * 4, z=[1.0, np.nan, 1, 1])
    assert removed(task) == ["x", "allna", "z"]
    # With na_ignore=False a missing value is one more value: x is half 1, half NA.
    assert removed(task, na_ignore=False) == ["allna"]
    assert removed(task, na_ignore=False, ratio=0.25) == ["allna", "z"]
    assert removed(task, na_ignore=False, ratio=0.5) == ["x", "allna", "z"]
    f = pd.Categorical(["a", None, None, None])
    assert removed(regr_task(f=f), na_ignore=False, ratio=0.25) == ["f"]
    assert removed(regr_task(f=f), na_ignore=False) == []


def test_predict_removes_the_same_columns():
    op = tw.po("removeconstants")
    op.train([regr_task(c=[1.0] * 4, x=[1.0, 2.0, 3.0, 4.0])])
    new = regr_task(c=[1.0, 2.0, 3.0, 4.0], x=[5.0] * 4)
    out = op.predict([new])[0]
    assert out.feature_names == ["x"]
    assert out.data(cols="x")["x"].tolist() == [5.0] * 4
    with pytest.raises(TaskError, match=r"trained with feature\(s\) 'c'"):
        op.predict([regr_task(x=[1.0] * 4)])


def test_affect_columns():
    task = regr_task(c=[1.0] * 4, d=["k"] * 4)
    assert removed(task, affect_columns=tw.selector_type("character")) == ["d"]


def test_builtin_tasks():
    assert removed(tw.tsk("iris")) == []
    penguins = tw.tsk("penguins")
    penguins.filter(np.flatnonzero(penguins.data()["year"].to_numpy() == 2007))
    op = tw.po("removeconstants")
    out = op.train([penguins])[0]
    assert op.state["removed_cols"] == ["year"]
    assert out.feature_types == {
        "island": "factor",
        "bill_length_mm": "numeric",
        "bill_depth_mm": "numeric",
        "flipper_length_mm": "numeric",
        "body_mass_g": "numeric",
        "sex": "factor",
    }
    assert out.nrow == penguins.nrow


@given(st.floats(-1e12, 1e12), st.integers(2, 20))
def test_any_constant_column_is_removed(value, n):
    task = regr_task(x=[value] * n, ramp=np.arange(n, dtype=float))
    assert removed(task) == ["x"]


@given(st.lists(st.integers(0, 3), min_size=1, max_size=30), st.floats(0, 1))
def test_matches_naive_share_for_integers(values, ratio):
    task = regr_task(x=values)
    counts = pd.Series(values).value_counts()
    share = (len(values) - counts.max()) / len(values)
    assert (removed(task, ratio=ratio) == ["x"]) == (share <= ratio)
