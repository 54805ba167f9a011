"""Graph learners: a failed retrain or configure changes nothing; new data with NaN in an
integer column reaches the graph's imputer."""

import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from tests.learners.test_learner_base import MajorityLearner


@pytest.fixture
def task() -> tw.TaskClassif:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=30),
            "n": rng.integers(0, 10, size=30),
            "y": ["a"] * 18 + ["b"] * 12,
        }
    )
    return tw.TaskClassif(df, "y", id="toy")


def graph_learner() -> tw.Learner:
    learner = tw.as_learner(
        tw.po("imputemedian") >> tw.po("scale") >> tw.po("learner", MajorityLearner())
    )
    learner.configure(**{"classif.majority.need": 1}, predict_type="prob")
    return learner


def test_failed_graph_retrain_keeps_graph_and_model(task):
    learner = graph_learner().train(task, row_ids=range(15))
    states = learner.graph.state
    model = learner.model
    before = learner.predict(task)
    learner.param_set.set_values(**{"classif.majority.fail": True})
    with pytest.raises(RuntimeError, match="boom") as info:
        learner.train(task)  # other rows: scale would learn other centers
    assert "(raised in PipeOp 'classif.majority' during train)" in info.value.__notes__
    assert learner.model is model
    for op_id, state in learner.graph.state.items():
        assert state is states[op_id], op_id
    assert learner.base_learner() is states["classif.majority"]
    pd.testing.assert_frame_equal(learner.predict(task).prob, before.prob)


def test_graph_learner_configure_is_all_or_nothing(task):
    learner = graph_learner()
    with pytest.raises(tw.InvalidParameterError, match="'predict_type'"):
        learner.configure(**{"classif.majority.need": 7}, predict_type="bogus")
    assert learner.param_set.values["classif.majority.need"] == 1
    with pytest.raises(tw.InvalidParameterError, match="'need' parameter"):
        learner.configure(predict_type="response", validate=0.3, **{"classif.majority.need": -1})
    assert learner.predict_type == "prob"
    assert learner._base_learner_template().predict_type == "prob"
    assert learner.validate is None and learner._base_learner_template().validate is None


def test_predict_newdata_integer_column_with_nan_reaches_the_imputer(task):
    learner = graph_learner().train(task)
    new = task.data().drop(columns="y").head(4)
    new["n"] = [1.0, np.nan, 3.0, np.nan]  # what pandas makes of an int column with NaN
    pred = learner.predict_newdata(new)
    assert pred.prob.shape == (4, 2)
    nullable = new.astype({"n": "Int64"})
    pd.testing.assert_frame_equal(learner.predict_newdata(nullable).prob, pred.prob)
    new["n"] = [1.0, np.nan, 2.5, 1.0]
    with pytest.raises(
        tw.TaskError,
        match=r"Column 'n' of the new data has dtype float64 with the value 2.5, which is not a "
        r"whole number; the task was trained with the integer dtype int64",
    ):
        learner.predict_newdata(new)


def test_graph_without_imputer_refuses_nan_at_predict_naming_the_column(task):
    learner = tw.as_learner(tw.po("scale") >> tw.po("learner", MajorityLearner()))
    learner.configure(**{"classif.majority.need": 1}).train(task)
    new = task.data().drop(columns="y").head(3)
    new.loc[0, "x"] = np.nan
    with pytest.raises(
        tw.TaskError,
        match=r"missing values in feature\(s\) 'x' \(1 row\) at predict, and learner "
        r"'classif.majority' cannot handle",
    ):
        learner.predict_newdata(new)
