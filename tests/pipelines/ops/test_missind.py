"""po("missind"): missing-value indicators next to the original features."""

import numpy as np
import pandas as pd
import pytest

import torchweave as tw
import torchweave.pipelines.ops.imputemedian
import torchweave.pipelines.ops.missind
from torchweave.errors import TaskError


def make_task() -> tw.TaskRegr:
    df = pd.DataFrame(
        {
            "x": [1.0, None, 3.0],
            "z": [1.0, 2.0, 3.0],
            "k": pd.Series([None, 2, 3], dtype="Int64"),
            "f": pd.Categorical(["a", None, "b"]),
            "y": [0.0, 1.0, 2.0],
        }
    )
    return tw.TaskRegr(df, "y", id="toy")


def test_defaults_keep_originals_and_add_factor_indicators():
    task = make_task()
    before = task.data()
    op = tw.po("missind")
    out = op.train([task])[0]
    assert op.state["indicand_cols"] == ["x", "k"]  # factors are not affected by default
    assert out.feature_names == ["x", "z", "k", "f", "missing_x", "missing_k"]
    data = out.data()
    assert data["missing_x"].tolist() == ["present", "missing", "present"]
    assert list(data["missing_k"].cat.categories) == ["missing", "present"]
    pd.testing.assert_frame_equal(data[["x", "z", "k", "f"]], before[["x", "z", "k", "f"]])
    pd.testing.assert_frame_equal(task.data(), before)


@pytest.mark.parametrize(
    ("kind", "dtype", "expected"),
    [
        ("integer", np.int64, [0, 1, 0]),
        ("logical", np.bool_, [False, True, False]),
        ("numeric", np.float64, [0.0, 1.0, 0.0]),
    ],
)
def test_indicator_types(kind, dtype, expected):
    out = tw.po("missind", type=kind).train([make_task()])[0].data()
    assert out["missing_x"].dtype == dtype and out["missing_x"].tolist() == expected


def test_which_all_and_affect_columns():
    op = tw.po("missind", which="all", type="integer", affect_columns=tw.selector_all())
    out = op.train([make_task()])[0]
    assert op.state["indicand_cols"] == ["x", "z", "k", "f"]
    assert out.data(cols="missing_f")["missing_f"].tolist() == [0, 1, 0]
    assert out.data(cols="missing_z")["missing_z"].tolist() == [0, 0, 0]
    op = tw.po("missind", affect_columns=tw.selector_name(["k"]))
    op.train([make_task()])
    assert op.state["indicand_cols"] == ["k"]


def test_predict_indicates_the_training_columns_only():
    op = tw.po("missind", type="numeric")
    op.train([make_task()])
    new = pd.DataFrame(
        {
            "x": [5.0, 6.0],
            "z": [None, 1.0],
            "k": pd.Series([1, None], dtype="Int64"),
            "f": pd.Categorical(["a", "a"]),
            "y": [0.0, 0.0],
        }
    )
    out = op.predict([tw.TaskRegr(new, "y")])[0]
    assert "missing_z" not in out.feature_names
    assert out.data(cols=["missing_x", "missing_k"]).to_numpy().tolist() == [[0, 0], [0, 1]]


def test_clash_is_an_error_and_predict_like_train():
    op = tw.po("missind", which="all", type="integer")
    out = op.train([make_task()])[0]
    pd.testing.assert_frame_equal(op.predict([make_task()])[0].data(), out.data())
    with pytest.raises(
        TaskError,
        match=r"column\(s\) 'missing_x', 'missing_z', 'missing_k', which task 'toy' already",
    ):
        op.train([out])


def test_linear_pipeline_with_imputation():
    task = tw.tsk("penguins")
    graph = tw.po("missind") >> tw.po("imputemedian")
    result = graph.train(task)["imputemedian.output"]
    assert result.missings()["bill_length_mm"] == 0
    assert (
        result.data(cols="missing_bill_length_mm")["missing_bill_length_mm"] == "missing"
    ).sum() == 2
    assert result.missings()["sex"] == 11  # a factor: neither indicated nor imputed here


@pytest.mark.parametrize(("kind", "dtype"), [("integer", np.int64), ("logical", np.bool_)])
def test_indicator_dtype_on_filtered_task(kind, dtype):
    task = tw.tsk("penguins").filter(list(range(100)))
    out = tw.po("missind", type=kind).train([task])[0]
    assert out.data(cols="missing_bill_length_mm")["missing_bill_length_mm"].dtype == dtype
