"""po("imputemode"): impute by the most frequent training value."""

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
import torchweave.pipelines.ops.imputemode


def make_task() -> tw.TaskRegr:
    df = pd.DataFrame(
        {
            "f": pd.Categorical(["b", "a", None, "a", "b"], categories=["b", "a", "c"]),
            "o": pd.Categorical(
                ["hi", None, "hi", "lo", "lo"], categories=["lo", "hi"], ordered=True
            ),
            "l": pd.Series([True, None, False, True, None], dtype="boolean"),
            "k": pd.Series([3, 3, None, 1, 1], dtype="Int64"),
            "x": [2.5, None, 2.5, 7.0, 1.0],
            "s": ["u", None, "v", "v", "u"],
            "y": [0.0, 1.0, 2.0, 3.0, 4.0],
        }
    )
    return tw.TaskRegr(df, "y", id="toy")


def test_values_state_and_ties():
    op = tw.po("imputemode")
    out = op.train([make_task()])[0]
    # ties: first category for factors ("b" before "a"), smallest value otherwise
    assert op.state["values"] == {"f": "b", "o": "lo", "l": True, "k": 1, "x": 2.5, "s": "u"}
    assert isinstance(op.state["values"]["k"], int) and isinstance(op.state["values"]["l"], bool)
    data = out.data()
    assert sum(out.missings().values()) == 0
    assert data["f"].tolist() == ["b", "a", "b", "a", "b"]
    assert list(data["f"].cat.categories) == ["b", "a", "c"]
    assert data["o"].cat.ordered and data["o"].tolist() == ["hi", "lo", "hi", "lo", "lo"]
    assert data["l"].dtype == "boolean" and data["l"].tolist() == [True, True, False, True, True]
    assert data["k"].dtype == "Int64" and data["k"].tolist() == [3, 3, 1, 1, 1]
    assert data["x"].tolist() == [2.5, 2.5, 2.5, 7.0, 1.0]
    assert data["s"].tolist() == ["u", "u", "v", "v", "u"]
    assert out.feature_types == make_task().feature_types


def test_predict_uses_training_mode_and_adds_missing_category():
    op = tw.po("imputemode", affect_columns=tw.selector_name(["f", "x"]))
    op.train([make_task()])
    new = pd.DataFrame({"f": pd.Categorical([None, "a"]), "x": [None, 9.0], "y": [0.0, 0.0]})
    out = op.predict([tw.TaskRegr(new, "y")])[0].data()
    assert out["f"].tolist() == ["b", "a"]
    assert "b" in out["f"].cat.categories
    assert out["x"].tolist() == [2.5, 9.0]


def test_all_missing_columns():
    df = pd.DataFrame(
        {
            "f": pd.Categorical([None, None], categories=["q", "r"]),
            "e": pd.Categorical([None, None]),
            "x": [np.nan, np.nan],
            "s": pd.Series([None, None], dtype="str"),
            "y": [0.0, 1.0],
        }
    )
    op = tw.po("imputemode")
    out = op.train([tw.TaskRegr(df, "y")])[0].data()
    assert op.state["values"] == {"f": "q", "e": None, "x": 0.0, "s": ""}
    assert out["f"].tolist() == ["q", "q"]
    assert out["e"].isna().all()  # a factor without categories has nothing to impute
    assert out["x"].tolist() == [0.0, 0.0] and out["s"].tolist() == ["", ""]


def test_affect_columns_and_input_untouched():
    task = make_task()
    before = task.data()
    op = tw.po("imputemode", affect_columns=tw.selector_name(["s"]))
    out = op.train([task])[0]
    assert list(op.state["values"]) == ["s"]
    assert out.missings()["s"] == 0 and out.missings()["f"] == 1
    pd.testing.assert_frame_equal(task.data(), before)


def test_deterministic_and_predict_like_train():
    task = tw.tsk("penguins")
    op = tw.po("imputemode")
    first = op.train([task])[0].data()
    state = op.state
    pd.testing.assert_frame_equal(op.train([task])[0].data(), first)
    assert op.state == state
    pd.testing.assert_frame_equal(op.predict([task])[0].data(), first)
    assert op.state["values"]["island"] == "Biscoe" and op.state["values"]["year"] == 2009


@given(st.lists(st.one_of(st.none(), st.integers(0, 12)), min_size=1, max_size=25))
def test_mode_is_most_frequent_and_smallest_on_ties(values):
    df = pd.DataFrame({"k": pd.Series(values, dtype="Int64"), "y": 0.0})
    op = tw.po("imputemode")
    op.train([tw.TaskRegr(df, "y")])
    observed = [v for v in values if v is not None]
    if observed:
        counts = {v: observed.count(v) for v in set(observed)}
        expected = min(v for v, c in counts.items() if c == max(counts.values()))
    else:
        expected = 0
    assert op.state["values"]["k"] == expected
