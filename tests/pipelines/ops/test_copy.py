import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
import torchweave.pipelines.ops.copy
import torchweave.pipelines.ops.featureunion
import torchweave.pipelines.ops.select
from torchweave.errors import InvalidParameterError
from torchweave.pipelines.ops.copy import PipeOpCopy


def test_registered_with_default_id_and_channels():
    op = tw.po("copy")
    assert isinstance(op, PipeOpCopy)
    assert op.id == "copy"
    assert [ch.name for ch in op.input] == ["input"]
    assert [ch.name for ch in op.output] == ["output1"]
    assert len(op.param_set) == 0


@given(st.integers(1, 6))
def test_outnum_gives_that_many_outputs(outnum):
    op = tw.po("copy", outnum=outnum)
    assert [ch.name for ch in op.output] == [f"output{i}" for i in range(1, outnum + 1)]
    assert op.train(["x"]) == ["x"] * outnum
    assert op.state == {}
    assert op.predict([7]) == [7] * outnum


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_invalid_outnum(bad):
    with pytest.raises(InvalidParameterError, match=r"'outnum' argument of PipeOp 'copy' must be"):
        tw.po("copy", outnum=bad)


def test_each_output_gets_its_own_task_clone():
    task = tw.tsk("iris")
    op = tw.po("copy", outnum=3)
    outs = op.train([task])
    assert len({id(t) for t in [task, *outs]}) == 4
    for out in outs:
        pd.testing.assert_frame_equal(out.data(), task.data())
    outs[0].filter(range(10)).select(["sepal_length"])
    assert outs[1].nrow == 150 and outs[1].feature_names == task.feature_names
    assert task.nrow == 150 and len(task.feature_names) == 4
    pred = op.predict([task])
    assert pred[0] is not pred[1] and pred[0].nrow == 150


def test_copy_in_graph_feeds_branches_and_featureunion():
    task = tw.tsk("penguins")
    before = task.data()
    graph = (
        tw.po("copy", outnum=2)
        >> [
            tw.po("select", id="a", selector=tw.selector_type("factor")),
            tw.po("select", id="b", selector=tw.selector_name(["bill_length_mm", "year"])),
        ]
        >> tw.po("featureunion")
    )
    assert graph.ids() == ["copy", "a", "b", "featureunion"]
    assert graph.edges[["src_id", "src_channel", "dst_id"]].values.tolist() == [
        ["copy", "output1", "a"],
        ["copy", "output2", "b"],
        ["a", "output", "featureunion"],
        ["b", "output", "featureunion"],
    ]
    out = graph.train(task)["featureunion.output"]
    assert out.feature_names == ["island", "sex", "bill_length_mm", "year"]
    assert out.feature_types == {
        "island": "factor",
        "sex": "factor",
        "bill_length_mm": "numeric",
        "year": "integer",
    }
    pd.testing.assert_frame_equal(out.data(), before[["species", *out.feature_names]])
    assert graph.state["a"]["selection"] == ["island", "sex"]
    pred = graph.predict(task)["featureunion.output"]
    assert pred.feature_names == out.feature_names
    pd.testing.assert_frame_equal(task.data(), before)
