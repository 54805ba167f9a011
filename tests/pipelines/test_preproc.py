"""The PipeOpTaskPreproc template, exercised through po("scale")."""

import numpy as np
import pandas as pd
import pytest

import torchweave as tw


def make_task(values) -> tw.TaskRegr:
    return tw.TaskRegr(
        pd.DataFrame(
            {
                "x": values,
                "f": pd.Categorical(["a"] * len(values)),
                "y": np.arange(len(values), dtype=float),
            }
        ),
        "y",
    )


def test_scale_values_and_state():
    task = make_task([1.0, 2.0, 3.0, 4.0])
    op = tw.po("scale")
    out = op.train([task])[0]
    expected = (np.array([1.0, 2, 3, 4]) - 2.5) / np.std([1.0, 2, 3, 4], ddof=1)
    assert np.allclose(out.data(cols="x")["x"], expected)
    assert out.feature_names == ["f", "x"] or out.feature_names == ["x", "f"]
    assert op.state["center"] == {"x": 2.5}
    assert out.feature_types["f"] == "factor"  # untouched: not a type scale acts on


def test_predict_uses_training_state():
    op = tw.po("scale")
    op.train([make_task([1.0, 2.0, 3.0, 4.0])])
    out = op.predict([make_task([2.5, 10.0])])[0]
    assert out.data(cols="x")["x"].iloc[0] == pytest.approx(0.0)


def test_robust_and_constant_columns():
    op = tw.po("scale", robust=True)
    op.train([make_task([1.0, 2.0, 3.0, 100.0])])
    assert op.state["center"]["x"] == 2.5
    const = tw.po("scale").train([make_task([5.0, 5.0, 5.0])])[0]
    assert const.data(cols="x")["x"].tolist() == [0.0, 0.0, 0.0]


def test_predict_task_must_have_trained_columns():
    op = tw.po("scale")
    op.train([make_task([1.0, 2.0])])
    other = tw.TaskRegr(pd.DataFrame({"z": [1.0], "y": [1.0]}), "y")
    with pytest.raises(tw.TaskError, match="was trained with feature\\(s\\) 'x'") as info:
        op.predict([other])
    assert "(raised in PipeOp 'scale' during predict)" in info.value.__notes__


def test_internal_valid_task_is_transformed_with_train_state():
    task = make_task([1.0, 2.0, 3.0, 4.0, 100.0])
    task.internal_valid_task = [4]
    op = tw.po("scale")
    out = op.train([task])[0]
    assert op.state["center"]["x"] == 2.5  # the validation row did not leak into training
    valid = out.internal_valid_task.data(cols="x")["x"].iloc[0]
    assert valid == pytest.approx((100 - 2.5) / np.std([1.0, 2, 3, 4], ddof=1))


def test_input_task_is_not_modified_and_bootstrap_rows_work():
    task = make_task([1.0, 2.0, 3.0])
    before = task.data()
    boot = task.clone().filter([0, 0, 2])
    out = tw.po("scale").train([boot])[0]
    assert out.nrow == 3
    pd.testing.assert_frame_equal(task.data(), before)


@pytest.mark.parametrize(
    "op",
    [
        lambda: tw.po("colapply", applicator=np.log, affect_columns=tw.selector_type("logical")),
        lambda: tw.po("scale", affect_columns=tw.selector_name([])),
        lambda: tw.po("encode", affect_columns=tw.selector_type("factor")),
    ],
)
def test_a_selector_matching_no_column_passes_the_task_through(op):
    task = tw.tsk("iris")
    pipeop = op()
    trained = pipeop.train([task])[0]
    assert pipeop.state["affected_cols"] == []
    pd.testing.assert_frame_equal(trained.data(), task.data())
    predicted = pipeop.predict([task.clone().filter(range(10))])[0]
    pd.testing.assert_frame_equal(predicted.data(), task.data(rows=range(10)))
