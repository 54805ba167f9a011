"""po("imputemean") and po("imputemedian"): impute numbers by a training statistic.

Both keys build the one PipeOpImputeStatistic; each test runs for both unless it is about
the values of one statistic.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
from torchweave.errors import InvalidParameterError
from torchweave.pipelines.impute import STATISTICS, PipeOpImputeStatistic
from torchweave.pipelines.ops import PipeOpImputeMean, PipeOpImputeMedian

KEYS = {"imputemean": np.mean, "imputemedian": np.median}


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


# --- one class, two registrations ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "constructor", "statistic"),
    [("imputemean", PipeOpImputeMean, "mean"), ("imputemedian", PipeOpImputeMedian, "median")],
)
def test_both_keys_build_the_shared_class(key, constructor, statistic):
    assert tw.registry.pipeops.constructor(key) is constructor
    for op in (tw.po(key), constructor(), PipeOpImputeStatistic(statistic)):
        assert type(op) is PipeOpImputeStatistic
        assert op.id == key
        assert op.statistic == statistic
        assert op.param_set.ids() == ["affect_columns"]
        assert op.feature_types == ("numeric", "integer")
    selector = tw.selector_name(["k"])
    other = constructor(id="other", param_vals={"affect_columns": selector})
    assert (other.id, other.param_set.values["affect_columns"]) == ("other", selector)
    assert constructor.__name__ == constructor.__qualname__ == f"PipeOpImpute{key[6:].title()}"
    assert pickle.loads(pickle.dumps(constructor)) is constructor
    assert tw.registry.pipeops.table().set_index("key").loc[key, "class"] == constructor.__name__


def test_unknown_statistic_is_refused():
    with pytest.raises(
        InvalidParameterError, match=r"'statistic' .* 'mean', 'median'\. Got 'mode'"
    ):
        PipeOpImputeStatistic("mode")
    assert list(STATISTICS) == ["mean", "median"]


# --- values of each statistic --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "x_value"), [("imputemean", pytest.approx(10 / 3)), ("imputemedian", 4.0)]
)
def test_values_dtypes_and_state(key, x_value):
    op = tw.po(key)
    out = op.train([make_task([1.0, None, 4.0, 5.0], [1, 2, None, 2], ["a", None, "b", "a"])])[0]
    assert op.state["values"] == {"x": x_value, "k": 2}  # mean 5/3 rounds to 2
    assert isinstance(op.state["values"]["k"], int)
    data = out.data()
    assert data["x"].tolist() == [1.0, x_value, 4.0, 5.0]
    assert data["x"].dtype == np.float64
    assert data["k"].dtype == "Int64" and data["k"].tolist() == [1, 2, 2, 2]
    assert data["f"].isna().sum() == 1  # factors are not touched


@pytest.mark.parametrize(
    ("key", "x", "k", "expected"),
    [
        ("imputemean", [1.0, 2.0, 3.0], [2, 3, None], 2),  # mean 2.5 -> 2, like R's round
        ("imputemedian", [1.0, 2.0, 3.0], [2, 3, None], 2),  # median 2.5 -> 2
        ("imputemedian", [1.0, 2.0, 3.0, 4.0, 5.0], [2, 3, 4, 5, None], 4),  # median 3.5 -> 4
    ],
)
def test_integer_statistic_rounds_half_to_even(key, x, k, expected):
    op = tw.po(key)
    op.train([make_task(x, k)])
    assert op.state["values"]["k"] == expected


@pytest.mark.parametrize("key", KEYS)
def test_predict_imputes_the_training_statistic(key):
    op = tw.po(key)
    op.train([make_task([0.0, 10.0], [1, 1])])
    out = op.predict([make_task([None, 100.0, None], [None, 7, 8])])[0]
    assert out.data(cols="x")["x"].tolist() == [5.0, 100.0, 5.0]
    assert out.data(cols="k")["k"].tolist() == [1, 7, 8]


@pytest.mark.parametrize("key", KEYS)
def test_all_missing_column_gets_zero(key):
    op = tw.po(key)
    out = op.train([make_task([None, None], [None, None])])[0]
    assert op.state["values"] == {"x": 0.0, "k": 0}
    assert out.data(cols="x")["x"].tolist() == [0.0, 0.0]
    assert out.data(cols="k")["k"].tolist() == [0, 0]


@pytest.mark.parametrize("key", KEYS)
def test_affect_columns_and_input_untouched(key):
    task = make_task([1.0, None, 3.0], [None, 4, 4])
    before = task.data()
    op = tw.po(key, affect_columns=tw.selector_name(["k"]))
    out = op.train([task])[0]
    assert list(op.state["values"]) == ["k"]
    assert out.data(cols="x")["x"].isna().sum() == 1
    assert out.data(cols="k")["k"].isna().sum() == 0
    pd.testing.assert_frame_equal(task.data(), before)


@pytest.mark.parametrize("key", KEYS)
def test_deterministic_and_predict_like_train(key):
    task = tw.tsk("penguins")
    op = tw.po(key)
    first = op.train([task])[0].data()
    state = op.state
    pd.testing.assert_frame_equal(op.train([task])[0].data(), first)
    assert op.state == state
    pd.testing.assert_frame_equal(op.predict([task])[0].data(), first)
    assert sum(task.missings(["bill_length_mm", "body_mass_g"]).values()) == 4


@pytest.mark.parametrize("key", KEYS)
@given(values=st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=1, max_size=20))
def test_statistic_matches_numpy(key, values):
    op = tw.po(key)
    out = op.train([make_task(values, [1] * len(values))])[0]
    observed = [v for v in values if v is not None]
    expected = float(KEYS[key](observed)) if observed else 0.0
    assert op.state["values"]["x"] == pytest.approx(expected)
    assert out.data(cols="x")["x"].isna().sum() == 0


@pytest.mark.parametrize("key", KEYS)
def test_integer_column_keeps_its_type_on_filtered_task(key):
    task = tw.tsk("penguins").filter(list(range(100)))
    out = tw.po(key).train([task])[0]
    assert out.feature_types["year"] == "integer"
