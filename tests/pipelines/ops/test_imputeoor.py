"""po("imputeoor"): out-of-range numbers and a new level ".MISSING"."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
import torchweave.pipelines.ops.imputeoor
from torchweave.errors import InvalidParameterError


def make_task() -> tw.TaskRegr:
    df = pd.DataFrame(
        {
            "x": [1.0, None, 3.0, 2.0],
            "k": pd.Series([10, 14, None, 12], dtype="Int64"),
            "f": pd.Categorical(["a", None, "b", "a"]),
            "o": pd.Categorical(["lo", "hi", "hi", "lo"], categories=["lo", "hi"], ordered=True),
            "s": ["u", "v", None, "u"],
            "y": [0.0, 1.0, 2.0, 3.0],
        }
    )
    return tw.TaskRegr(df, "y", id="toy")


def test_defaults_values_and_state():
    op = tw.po("imputeoor")
    out = op.train([make_task()])[0]
    # x: 1 - 1 - 1 * (3 - 1) = -2; k: 10 - 1 - 4 = 5
    assert op.state["values"] == {
        "x": -2.0,
        "k": 5,
        "f": ".MISSING",
        "o": ".MISSING",
        "s": ".MISSING",
    }
    data = out.data()
    assert data["x"].tolist() == [1.0, -2.0, 3.0, 2.0]
    assert data["k"].dtype == "Int64" and data["k"].tolist() == [10, 14, 5, 12]
    assert data["f"].tolist() == ["a", ".MISSING", "b", "a"]
    assert list(data["f"].cat.categories) == ["a", "b", ".MISSING"]
    # the new level is added even to a factor without missing values; ordered-ness is kept
    assert list(data["o"].cat.categories) == ["lo", "hi", ".MISSING"] and data["o"].cat.ordered
    assert data["s"].tolist() == ["u", "v", ".MISSING", "u"]


def test_above_the_maximum_with_offset_and_multiplier():
    op = tw.po("imputeoor", min=False, offset=0.5, multiplier=0.25)
    op.train([make_task()])
    assert op.state["values"]["x"] == 3.0 + 0.5 + 0.25 * 2.0
    assert op.state["values"]["k"] == 16  # 14 + 0.5 + 1 = 15.5, rounded up (away from the range)
    op.param_set.set_values(min=True)
    op.train([make_task()])
    assert op.state["values"]["k"] == 8  # 10 - 1.5 = 8.5, rounded down


def test_predict_uses_training_range():
    op = tw.po("imputeoor", affect_columns=tw.selector_name(["x", "f"]))
    op.train([make_task()])
    new = pd.DataFrame({"x": [None, 100.0], "f": pd.Categorical(["c", None]), "y": [0.0, 0.0]})
    out = op.predict([tw.TaskRegr(new, "y")])[0].data()
    assert out["x"].tolist() == [-2.0, 100.0]
    assert out["f"].tolist() == ["c", ".MISSING"]


def test_all_missing_numbers_get_zero_and_negative_offset_is_an_error():
    df = pd.DataFrame({"x": [float("nan")] * 2, "y": [0.0, 1.0]})
    op = tw.po("imputeoor")
    out = op.train([tw.TaskRegr(df, "y")])[0]
    assert op.state["values"] == {"x": 0.0}
    assert out.data(cols="x")["x"].tolist() == [0.0, 0.0]
    with pytest.raises(InvalidParameterError, match="'offset' parameter of PipeOp 'imputeoor'"):
        tw.po("imputeoor", offset=-1.0)


def test_input_untouched_deterministic_and_predict_like_train():
    task = make_task()
    before = task.data()
    op = tw.po("imputeoor")
    first = op.train([task])[0].data()
    state = op.state
    pd.testing.assert_frame_equal(op.train([task])[0].data(), first)
    assert op.state == state
    pd.testing.assert_frame_equal(op.predict([task])[0].data(), first)
    pd.testing.assert_frame_equal(task.data(), before)


@given(
    st.lists(st.one_of(st.none(), st.integers(-50, 50)), min_size=1, max_size=20),
    st.booleans(),
    st.floats(0, 3),
    st.floats(0, 3),
)
def test_integer_value_is_out_of_range(values, below, offset, multiplier):
    df = pd.DataFrame({"k": pd.Series(values, dtype="Int64"), "y": 0.0})
    op = tw.po("imputeoor", min=below, offset=offset, multiplier=multiplier)
    op.train([tw.TaskRegr(df, "y")])
    value = op.state["values"]["k"]
    observed = [v for v in values if v is not None]
    if not observed:
        assert value == 0
    elif below:
        assert value <= min(observed) - offset - multiplier * (max(observed) - min(observed))
    else:
        assert value >= max(observed) + offset + multiplier * (max(observed) - min(observed))
