"""po("encode"): one-hot and treatment encoding."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
import torchweave.pipelines.ops.encode
import torchweave.pipelines.ops.imputemedian
import torchweave.pipelines.ops.imputemode
from torchweave.errors import InvalidParameterError, TaskError


def make_task() -> tw.TaskRegr:
    df = pd.DataFrame(
        {
            "f": pd.Categorical(["a", "b", None, "a"], categories=["a", "b", "c"]),
            "o": pd.Categorical(["lo", "hi", "hi", "lo"], categories=["lo", "hi"], ordered=True),
            "s": ["y", "x", "y", None],
            "n": [1.0, 2.0, 3.0, 4.0],
            "y": [0.1, 0.2, 0.3, 0.4],
        }
    )
    return tw.TaskRegr(df, "y", id="toy")


def test_one_hot_values_names_and_state():
    op = tw.po("encode")
    out = op.train([make_task()])[0]
    assert op.state["levels"] == {"f": ["a", "b", "c"], "o": ["lo", "hi"], "s": ["x", "y"]}
    assert op.state["method"] == "one-hot"
    f = out.data(cols=["f.a", "f.b", "f.c"])
    assert f.iloc[[0, 1, 3]].to_numpy().tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert f.iloc[2].isna().all()  # a missing factor value gives NaN in all its columns
    assert out.data(cols=["o.lo", "o.hi"]).to_numpy().tolist() == [[1, 0], [0, 1], [0, 1], [1, 0]]
    s = out.data(cols=["s.x", "s.y"])
    assert s.iloc[:3].to_numpy().tolist() == [[0, 1], [1, 0], [0, 1]]
    assert s.iloc[3].isna().all()
    assert {out.feature_types[c] for c in out.feature_names} == {"numeric"}
    assert all(out.data(cols=c)[c].dtype == np.float64 for c in out.feature_names)
    assert sorted(out.feature_names) == sorted(
        ["n", "f.a", "f.b", "f.c", "o.lo", "o.hi", "s.x", "s.y"]
    )


def test_treatment_drops_first_level():
    op = tw.po("encode", method="treatment")
    out = op.train([make_task()])[0]
    assert "f.a" not in out.feature_names and "o.lo" not in out.feature_names
    assert out.data(cols=["f.b", "f.c"]).iloc[[0, 1]].to_numpy().tolist() == [[0, 0], [1, 0]]
    assert out.data(cols="s.y")["s.y"].iloc[:3].tolist() == [1.0, 0.0, 1.0]


def test_predict_uses_training_levels_and_warns_on_unseen_level():
    op = tw.po("encode")
    op.train([make_task()])
    new = pd.DataFrame(
        {
            "f": pd.Categorical(["c", "zz"]),
            "o": pd.Categorical(["hi", "lo"], categories=["lo", "hi"], ordered=True),
            "s": ["x", "w"],
            "n": [0.0, 0.0],
            "y": [0.0, 0.0],
        }
    )
    with (
        pytest.warns(UserWarning, match=r"PipeOp 'encode': column 's' has level\(s\) 'w' not"),
        pytest.warns(UserWarning, match=r"PipeOp 'encode': column 'f' has level\(s\) 'zz' not"),
    ):
        out = op.predict([tw.TaskRegr(new, "y")])[0]
    assert out.data(cols=["f.a", "f.b", "f.c"]).to_numpy().tolist() == [[0, 0, 1], [0, 0, 0]]
    assert out.data(cols=["s.x", "s.y"]).to_numpy().tolist() == [[1, 0], [0, 0]]


def test_affect_columns_and_input_untouched():
    task = make_task()
    before = task.data()
    op = tw.po("encode", affect_columns=tw.selector_name(["s"]))
    out = op.train([task])[0]
    assert list(op.state["levels"]) == ["s"]
    assert out.feature_types["f"] == "factor" and out.feature_types["o"] == "ordered"
    assert "s" not in out.feature_names and "s.x" in out.feature_names
    pd.testing.assert_frame_equal(task.data(), before)
    assert task.feature_names == ["f", "o", "s", "n"]


def test_deterministic_and_predict_like_train():
    task = make_task()
    op = tw.po("encode", method="treatment")
    first = op.train([task])[0].data()
    state = op.state
    again = op.train([task])[0].data()
    assert op.state == state
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(op.predict([task])[0].data(), first)


def test_predict_follows_the_trained_method():
    op = tw.po("encode")
    op.train([make_task()])
    op.param_set.set_values(method="treatment")
    assert "f.a" in op.predict([make_task()])[0].feature_names


def test_name_clash_is_an_error():
    df = pd.DataFrame({"f": pd.Categorical(["a", "b"]), "f.a": [1.0, 2.0], "y": [0.0, 1.0]})
    with pytest.raises(TaskError, match=r"would create the column\(s\) 'f.a' twice or over"):
        tw.po("encode").train([tw.TaskRegr(df, "y")])


def test_invalid_method():
    with pytest.raises(InvalidParameterError, match="'method' parameter of PipeOp 'encode'"):
        tw.po("encode", method="helmert")


@given(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=30))
def test_one_hot_rows_sum_to_one_or_are_nan(values):
    df = pd.DataFrame({"f": pd.Categorical(values, categories=["a", "b", "c"]), "y": 0.0})
    out = tw.po("encode").train([tw.TaskRegr(df, "y")])[0]
    matrix = out.data(cols=["f.a", "f.b", "f.c"]).to_numpy()
    missing = np.array([v is None for v in values])
    assert np.isnan(matrix[missing]).all()
    assert (matrix[~missing].sum(axis=1) == 1).all()
    codes = [["a", "b", "c"].index(v) for v in values if v is not None]
    assert (matrix[~missing].argmax(axis=1) == codes).all()


def test_penguins_end_to_end():
    task = tw.tsk("penguins")
    graph = tw.po("imputemedian") >> tw.po("imputemode") >> tw.po("encode")
    result = graph.train(task)["encode.output"]
    assert sum(result.missings(result.feature_names).values()) == 0
    assert set(result.feature_types.values()) <= {"numeric", "integer"}
    assert {"island.Biscoe", "island.Dream", "island.Torgersen", "sex.female", "sex.male"} <= set(
        result.feature_names
    )
    assert result.nrow == task.nrow
    assert sum(task.missings().values()) == 19  # the input task is untouched
    predicted = graph.predict(task)["encode.output"]
    pd.testing.assert_frame_equal(predicted.data(), result.data())


# --- many levels ---------------------------------------------------------------------------------
def _text_task(n=200):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "text": [f"sentence number {i} says {w}" for i, w in enumerate(rng.integers(0, 9, n))],
            "colour": pd.Categorical(rng.choice(["red", "blue"], n)),
            "y": rng.normal(size=n),
        }
    )
    return tw.TaskRegr(df, "y", id="sentences")


def test_many_levels_warn_naming_columns_counts_and_embeddings():
    op = tw.po("encode")
    with pytest.warns(UserWarning) as record:
        out = op.train([_text_task()])[0]
    (warning,) = record
    message = str(warning.message)
    assert "'text' (200 levels)" in message
    assert "'colour'" not in message
    assert "more than 100 levels" in message
    assert "task 'sentences'" in message
    assert 'nn("tokenizer_categ")' in message
    assert len(out.feature_names) == 202  # the encoding itself is unchanged


def test_warn_levels_sets_the_threshold_and_none_silences():
    task = _text_task(n=30)
    tw.po("encode").train([task])  # 30 levels: no warning (filterwarnings = error)
    with pytest.warns(UserWarning, match=r"more than 20 levels .*'text' \(30 levels\)"):
        tw.po("encode", warn_levels=20).train([task])
    tw.po("encode", warn_levels=None).train([_text_task()])
    with pytest.raises(InvalidParameterError, match="warn_levels"):
        tw.po("encode", warn_levels=1)


def test_many_levels_warn_in_training_only():
    op = tw.po("encode", warn_levels=20)
    with pytest.warns(UserWarning, match="warn_levels"):
        op.train([_text_task(n=30)])
    out = op.predict([_text_task(n=30)])[0]
    assert len(out.feature_names) == 32
