import numpy as np
import pandas as pd
import pytest

import torchweave as tw
import torchweave.pipelines.ops.featureunion
import torchweave.pipelines.ops.select
from torchweave.errors import ChannelTypeError, InvalidParameterError, TaskError

Y = ["a", "b", "a", "b", "a"]


def task_with(id="t", y=Y, **cols):
    return tw.TaskClassif(pd.DataFrame({**cols, "y": y}), "y", id=id)


def test_channels_vararg_and_innum():
    op = tw.po("featureunion")
    assert op.id == "featureunion"
    assert [ch.name for ch in op.input] == ["..."]
    assert [ch.name for ch in op.output] == ["output"]
    op2 = tw.po("featureunion", innum=3)
    assert [ch.name for ch in op2.input] == ["input1", "input2", "input3"]
    with pytest.raises(InvalidParameterError, match=r"'innum' argument of PipeOp 'featureunion'"):
        tw.po("featureunion", innum=-1)


def test_union_of_features_in_input_order():
    t1 = task_with(id="one", x=[1.0, 2, 3, 4, 5])
    t2 = task_with(id="two", f=pd.Categorical(list("uvuvw")), n=[1, 2, 3, 4, 5])
    t3 = task_with(id="three", b=[True, False, True, False, True])
    op = tw.po("featureunion")
    out = op.train([t1, t2, t3])[0]
    assert op.state == {}
    assert out.id == "one"
    assert out.feature_names == ["x", "f", "n", "b"]
    assert out.feature_types == {"x": "numeric", "f": "factor", "n": "integer", "b": "logical"}
    assert out.data(cols="f")["f"].tolist() == list("uvuvw")
    assert out.truth().tolist() == Y
    assert t1.feature_names == ["x"] and t2.feature_names == ["f", "n"]
    pred = op.predict([t1, t2, t3])[0]
    pd.testing.assert_frame_equal(pred.data(), out.data())


def test_single_input_returns_a_clone():
    task = tw.tsk("iris")
    out = tw.po("featureunion").train([task])[0]
    assert out is not task
    pd.testing.assert_frame_equal(out.data(), task.data())


def test_no_input_is_an_error():
    with pytest.raises(ChannelTypeError, match="needs at least one input task"):
        tw.po("featureunion").train([])


def test_identical_duplicate_columns_are_kept_once():
    t1 = task_with(x=[1.0, 2, 3, 4, 5], z=[0.0, 0, 1, 1, 1])
    t2 = task_with(z=[0.0, 0, 1, 1, 1], w=[5.0, 4, 3, 2, 1])
    out = tw.po("featureunion").train([t1, t2])[0]
    assert out.feature_names == ["x", "z", "w"]


def test_clashing_features_raise():
    t1 = task_with(id="one", x=[1.0, 2, 3, 4, 5], z=[0.0, 0, 1, 1, 1])
    t2 = task_with(id="two", x=[1.0, 2, 3, 4, 6], z=[0, 0, 1, 1, 1], w=[1.0] * 5)
    op = tw.po("featureunion")
    with pytest.raises(TaskError, match=r"'one' and 'two' both have feature\(s\) 'x', 'z'"):
        op.train([t1, t2])
    assert not op.is_trained


def test_target_values_must_match():
    t1 = task_with(id="one", x=[1.0] * 5)
    t2 = task_with(id="two", y=["b", "b", "a", "b", "a"], w=[1.0] * 5)
    with pytest.raises(TaskError, match="the target values of task 'two' differ"):
        tw.po("featureunion").train([t1, t2])


def test_target_name_and_task_type_must_match():
    t1 = task_with(id="one", x=[1.0] * 5)
    t2 = tw.TaskRegr(pd.DataFrame({"w": [1.0] * 5, "y": [1.0] * 5}), "y", id="two")
    with pytest.raises(TaskError, match="the task type and target of task 'two' differ"):
        tw.po("featureunion").train([t1, t2])


def test_row_ids_must_match():
    t1 = task_with(id="one", x=[1.0] * 5)
    t2 = task_with(id="two", w=[1.0] * 5).filter([0, 1, 2])
    with pytest.raises(TaskError, match=r"row ids .* of task 'two' differ"):
        tw.po("featureunion").train([t1, t2])
    t3 = task_with(id="three", w=[1.0] * 5).filter([4, 3, 2, 1, 0])
    with pytest.raises(TaskError, match="row ids"):
        tw.po("featureunion").train([t1, t3])


def test_filtered_tasks_with_same_rows():
    iris = tw.tsk("iris")
    rows = np.arange(0, 150, 7)
    a = iris.clone().filter(rows).select(["sepal_length"])
    b = iris.clone().filter(rows).select(["petal_width"])
    out = tw.po("featureunion").train([a, b])[0]
    assert out.row_ids.tolist() == rows.tolist()
    pd.testing.assert_frame_equal(
        out.data(), iris.data(rows=rows, cols=["species", "sepal_length", "petal_width"])
    )


def test_innum_channels_in_a_graph():
    graph = tw.gunion(
        [
            tw.po("select", id="a", selector=tw.selector_name("sepal_length")),
            tw.po("select", id="b", selector=tw.selector_name("petal_length")),
        ]
    ) >> tw.po("featureunion", innum=2)
    assert graph.edges["dst_channel"].tolist() == ["input1", "input2"]
    out = graph.train(tw.tsk("iris"))["featureunion.output"]
    assert out.feature_names == ["sepal_length", "petal_length"]


def test_internal_valid_tasks_are_combined():
    iris = tw.tsk("iris")
    iris.internal_valid_task = list(range(100, 150))
    a = tw.po("select", selector=tw.selector_name("sepal_length")).train([iris])[0]
    b = tw.po("select", selector=tw.selector_name("petal_width")).train([iris])[0]
    out = tw.po("featureunion").train([a, b])[0]
    valid = out.internal_valid_task
    assert valid.feature_names == ["sepal_length", "petal_width"]
    assert valid.row_ids.tolist() == list(range(100, 150))
    assert a.internal_valid_task.feature_names == ["sepal_length"]
    b.internal_valid_task = None
    with pytest.raises(TaskError, match=r"input task\(s\) number 2 have no internal_valid_task"):
        tw.po("featureunion").train([a, b])


def test_union_with_penguins_branches():
    task = tw.tsk("penguins")
    a = task.clone().select(["island", "bill_length_mm"])
    b = task.clone().select(["sex", "bill_length_mm"])
    out = tw.po("featureunion").train([a, b])[0]
    assert out.feature_names == ["island", "bill_length_mm", "sex"]
    assert out.missings(["bill_length_mm", "sex"]) == {"bill_length_mm": 2, "sex": 11}
    assert out.feature_types["sex"] == "factor"


def test_integer_feature_keeps_its_type_on_filtered_tasks():
    task = tw.tsk("penguins").filter(range(50))
    a = task.clone().select(["island"])
    b = task.clone().select(["year"])
    out = tw.po("featureunion").train([a, b])[0]
    assert out.feature_types["year"] == "integer"
