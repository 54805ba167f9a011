import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import torchweave as tw
import torchweave.pipelines.ops.colapply
from torchweave.errors import InvalidParameterError, TaskError


def small_task(x=(1.0, 2.0, 4.0, 8.0)):
    frame = pd.DataFrame(
        {"x": list(x), "k": [1, 2, 3, 4], "s": ["a", "b", "c", "d"], "y": [0.0, 1.0, 2.0, 3.0]}
    )
    return tw.TaskRegr(frame, "y", id="small")


def test_params():
    op = tw.po("colapply")
    assert op.id == "colapply"
    assert set(op.param_set.params) == {"applicator", "affect_columns"}
    assert op.param_set.params["applicator"].tags == {"train", "predict", "required"}
    assert "applicator" not in op.param_set.values


def test_applies_to_affected_columns_only():
    task = small_task()
    before = task.data()
    op = tw.po("colapply", applicator=np.log2, affect_columns=tw.selector_type("numeric"))
    out = op.train([task])[0]
    assert out.data(cols="x")["x"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert out.data(cols="k")["k"].tolist() == [1, 2, 3, 4]
    assert op.state == {"affected_cols": ["x"]}
    pd.testing.assert_frame_equal(task.data(), before)


def test_output_type_follows_the_applicator():
    task = small_task()
    out = tw.po("colapply", applicator=lambda s: s.notna() & (s.index > 1)).train([task])[0]
    assert out.feature_types == {"x": "logical", "k": "logical", "s": "logical"}
    op = tw.po("colapply", applicator=lambda s: s > 2, affect_columns=tw.selector_name("x"))
    out = op.train([task])[0]
    assert out.data(cols="x")["x"].tolist() == [False, False, True, True]
    op = tw.po("colapply", applicator=lambda s: s.astype(str), affect_columns=tw.selector_name("k"))
    out = op.train([task])[0]
    assert out.feature_types["k"] == "character"
    assert out.data(cols="k")["k"].tolist() == ["1", "2", "3", "4"]


def test_lists_arrays_and_series_results():
    task = small_task()
    for fn in (lambda s: list(range(len(s))), lambda s: np.arange(len(s)) * 1.0):
        op = tw.po("colapply", applicator=fn, affect_columns=tw.selector_name("x"))
        assert op.train([task])[0].data(cols="x")["x"].tolist() == [0, 1, 2, 3]
    # Results are positional: a Series' own index is ignored, even on shuffled rows.
    shuffled = small_task().filter([3, 1, 2, 0])
    op = tw.po("colapply", applicator=lambda s: pd.Series(s.to_numpy() + 1))
    op.param_set.set_values(affect_columns=tw.selector_name("x"))
    out = op.train([shuffled])[0]
    assert out.row_ids.tolist() == [3, 1, 2, 0]
    assert out.data(cols="x")["x"].tolist() == [9.0, 3.0, 5.0, 2.0]


def test_predict_applies_the_current_applicator():
    op = tw.po("colapply", applicator=lambda s: s * 2, affect_columns=tw.selector_name("x"))
    op.train([small_task()])
    new = small_task(x=(10.0, 20.0, 30.0, 40.0))
    assert op.predict([new])[0].data(cols="x")["x"].tolist() == [20.0, 40.0, 60.0, 80.0]
    op.param_set.set_values(applicator=lambda s: s - 1)
    assert op.predict([new])[0].data(cols="x")["x"].tolist() == [9.0, 19.0, 29.0, 39.0]


def test_iris_sqrt_equals_numpy():
    task = tw.tsk("iris")
    out = tw.po("colapply", applicator=np.sqrt).train([task])[0]
    expected = np.sqrt(task.data(cols=task.feature_names))
    pd.testing.assert_frame_equal(out.data(cols=task.feature_names), expected)


def test_required_and_checked():
    with pytest.raises(InvalidParameterError, match=r"needs the required parameter.*'applicator'"):
        tw.po("colapply").train([small_task()])
    with pytest.raises(
        InvalidParameterError,
        match="'applicator' parameter of PipeOp 'colapply' must be a callable",
    ):
        tw.po("colapply", applicator="log")


def test_applicator_errors_name_the_column():
    def fail_on_text(s):
        if s.dtype == object or str(s.dtype) == "str":
            raise ValueError("cannot handle text")
        return s

    op = tw.po("colapply", applicator=fail_on_text)
    with pytest.raises(ValueError, match="cannot handle text") as info:
        op.train([small_task()])
    assert "(raised by the applicator of PipeOp 'colapply' on column 's')" in info.value.__notes__


def test_wrong_length_or_shape():
    op = tw.po("colapply", applicator=lambda s: s.iloc[:2])
    with pytest.raises(TaskError, match=r"one value per row for column 'x' \(4 values\)"):
        op.train([small_task()])
    op = tw.po("colapply", applicator=lambda s: float(s.sum()))
    with pytest.raises(TaskError, match=r"Got a result of shape \(\) instead"):
        op.train([small_task()])


def test_unsupported_output_dtype():
    op = tw.po("colapply", applicator=lambda s: s + 1j, affect_columns=tw.selector_name("x"))
    with pytest.raises(TaskError, match="'x' has dtype complex128, which is not a supported"):
        op.train([small_task()])


@given(arrays(np.float64, 6, elements=st.floats(-1e6, 1e6)), st.floats(-10, 10))
def test_linear_applicator_matches_numpy(x, k):
    frame = pd.DataFrame({"x": x, "y": np.arange(6.0)})
    task = tw.TaskRegr(frame, "y")
    out = tw.po("colapply", applicator=lambda s: s * k).train([task])[0]
    np.testing.assert_array_equal(out.data(cols="x")["x"].to_numpy(), x * k)


def test_integer_output_on_filtered_task():
    task = small_task().filter([0, 1])
    out = tw.po("colapply", applicator=lambda s: s + 1, affect_columns=tw.selector_name("k"))
    assert out.train([task])[0].feature_types["k"] == "integer"
