import pandas as pd
import pytest

import torchweave as tw
import torchweave.pipelines.ops.select
from torchweave.errors import InvalidParameterError, TaskError


def small_task():
    frame = pd.DataFrame(
        {
            "x1": [1.0, 2.0, 3.0, 4.0],
            "x2": [1, 2, 3, 4],
            "f": pd.Categorical(["a", "b", "a", "b"]),
            "y": ["u", "v", "u", "v"],
        }
    )
    return tw.TaskClassif(frame, "y", id="small")


def test_defaults_and_params():
    op = tw.po("select")
    assert op.id == "select"
    assert list(op.param_set.params) == ["selector"]
    assert "affect_columns" not in op.param_set
    assert op.param_set.values["selector"] == tw.selector_all()


def test_default_keeps_all_features():
    task = small_task()
    op = tw.po("select")
    out = op.train([task])[0]
    assert out.feature_names == ["x1", "x2", "f"]
    assert op.state["selection"] == ["x1", "x2", "f"]


def test_selects_by_type_and_keeps_values():
    task = tw.tsk("penguins")
    op = tw.po("select", selector=tw.selector_type("factor"))
    out = op.train([task])[0]
    assert out.feature_names == ["island", "sex"]
    assert op.state["selection"] == ["island", "sex"]
    pd.testing.assert_frame_equal(out.data(), task.data(cols=["species", "island", "sex"]))
    assert len(task.feature_names) == 7


def test_predict_uses_the_trained_selection():
    op = tw.po("select", selector=tw.selector_grep("^x"))
    op.train([small_task()])
    op.param_set.set_values(selector=tw.selector_none())
    frame = small_task().data().assign(x3=[9.0, 9.0, 9.0, 9.0])
    extra = tw.TaskClassif(frame, "y")
    assert op.predict([small_task()])[0].feature_names == ["x1", "x2"]
    assert op.predict([extra])[0].feature_names == ["x1", "x2"]


def test_predict_task_lacking_selected_features():
    op = tw.po("select", selector=tw.selector_name(["x1", "f"]))
    op.train([small_task()])
    task = small_task().select(["x2"])
    with pytest.raises(TaskError, match=r"selected feature\(s\) 'x1', 'f' in training, which task"):
        op.predict([task])


def test_invalid_selector():
    with pytest.raises(
        InvalidParameterError, match=r"'selector' parameter of PipeOp 'select' must be a selector"
    ):
        tw.po("select", selector=["x1"])


def test_selector_errors_propagate():
    op = tw.po("select", selector=tw.selector_name("nope", assert_present=True))
    with pytest.raises(TaskError, match="has no feature"):
        op.train([small_task()])
    assert not op.is_trained


def test_internal_valid_task_selected_too():
    task = tw.tsk("iris")
    task.internal_valid_task = list(range(0, 150, 5))
    out = tw.po("select", selector=tw.selector_grep("width")).train([task])[0]
    assert out.feature_names == ["sepal_width", "petal_width"]
    assert out.internal_valid_task.feature_names == ["sepal_width", "petal_width"]
    assert out.internal_valid_task.nrow == 30
    assert task.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
