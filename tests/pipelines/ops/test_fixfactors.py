import warnings

import numpy as np
import pandas as pd
import pytest

import torchweave as tw
import torchweave.pipelines.ops.fixfactors
from torchweave.errors import TaskError


def factor_task(f, o=None, id="toy"):
    frame = pd.DataFrame({"f": f, "x": np.arange(len(f), dtype=float), "y": np.ones(len(f))})
    if o is not None:
        frame["o"] = o
    return tw.TaskRegr(frame, "y", id=id)


def cats(task, col):
    return list(task.data(cols=col)[col].cat.categories)


def test_params_and_types():
    op = tw.po("fixfactors")
    assert op.id == "fixfactors"
    assert op.param_set.values == {"droplevels": True}
    assert op.feature_types == ("factor", "ordered")


def test_train_drops_unused_levels_and_records_state():
    f = pd.Categorical(["a", "b", "a"], categories=["c", "a", "b", "z"])
    o = pd.Categorical(["lo", "hi", "lo"], categories=["lo", "mid", "hi"], ordered=True)
    task = factor_task(f, o)
    before = task.data()
    op = tw.po("fixfactors")
    out = op.train([task])[0]
    assert op.state["affected_cols"] == ["f", "o"]
    assert op.state["levels"] == {"f": ["a", "b"], "o": ["lo", "hi"]}
    assert op.state["ordered"] == {"f": False, "o": True}
    assert cats(out, "f") == ["a", "b"] and cats(out, "o") == ["lo", "hi"]
    assert out.feature_types == {"f": "factor", "x": "numeric", "o": "ordered"}
    assert out.data(cols="f")["f"].tolist() == ["a", "b", "a"]
    pd.testing.assert_frame_equal(task.data(), before)


def test_droplevels_false_keeps_all_levels():
    f = pd.Categorical(["a", "b", "a"], categories=["c", "a", "b"])
    op = tw.po("fixfactors", droplevels=False)
    out = op.train([factor_task(f)])[0]
    assert op.state["levels"] == {"f": ["c", "a", "b"]}
    assert cats(out, "f") == ["c", "a", "b"]


def test_predict_gets_exactly_the_training_levels():
    op = tw.po("fixfactors")
    op.train([factor_task(pd.Categorical(["a", "b", "a"], categories=["a", "b", "c"]))])
    new = factor_task(pd.Categorical(["b", "b", "c"], categories=["c", "b"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.warns(UserWarning, match=r"PipeOp 'fixfactors': column 'f' .* level\(s\) 'c'"):
            out = op.predict([new])[0]
    assert cats(out, "f") == ["a", "b"]
    assert out.data(cols="f")["f"].tolist()[:2] == ["b", "b"]
    assert out.missings(["f"]) == {"f": 1}
    same = factor_task(pd.Categorical(["b", None, "a"]))
    out = op.predict([same])[0]
    assert cats(out, "f") == ["a", "b"] and out.missings(["f"]) == {"f": 1}


def test_penguins_unseen_level_at_predict():
    task = tw.tsk("penguins")
    op = tw.po("fixfactors")
    op.train([task])
    assert op.state["levels"] == {
        "island": ["Biscoe", "Dream", "Torgersen"],
        "sex": ["female", "male"],
    }
    pred = op.predict([task])[0]
    pd.testing.assert_frame_equal(pred.data(), task.data())
    frame = task.data().head(5)
    frame["island"] = ["Biscoe", "Atlantis", "Dream", "Atlantis", "Dream"]
    learner_like = task._empty_like(frame)
    with pytest.warns(
        UserWarning, match=r"column 'island' of task 'penguins' has level\(s\) 'Atlantis'"
    ):
        out = op.predict([learner_like])[0]
    assert out.data(cols="island")["island"].isna().tolist() == [False, True, False, True, False]
    assert cats(out, "island") == ["Biscoe", "Dream", "Torgersen"]


def test_numeric_columns_untouched_and_missing_column_error():
    op = tw.po("fixfactors")
    op.train([factor_task(pd.Categorical(["a", "b"]))])
    assert op.state["affected_cols"] == ["f"]
    task = tw.TaskRegr(pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]}), "y", id="nof")
    with pytest.raises(TaskError, match=r"trained with feature\(s\) 'f', which task 'nof' lacks"):
        op.predict([task])


def test_internal_valid_task_gets_training_levels():
    task = factor_task(pd.Categorical(["a", "a", "b", "c"]))
    task.internal_valid_task = [3]
    op = tw.po("fixfactors")
    with pytest.warns(UserWarning, match="level"):
        out = op.train([task])[0]
    assert op.state["levels"] == {"f": ["a", "b"]}
    assert cats(out.internal_valid_task, "f") == ["a", "b"]
    assert out.internal_valid_task.missings(["f"]) == {"f": 1}
