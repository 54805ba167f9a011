"""GraphLearner: a graph as a learner, with validation through the preprocessing."""

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from torchweave.learners import Learner
from torchweave.params import ParamSet, p_int


class Recorder(Learner):
    """Regression learner predicting the mean; records its train and validation tasks."""

    def __init__(self) -> None:
        super().__init__(
            id="regr.recorder",
            task_type="regr",
            param_set=ParamSet(seed=p_int(special_vals=[None], init=None)),
            feature_types=["numeric", "integer"],
            properties={"validation"},
        )

    def _train(self, task: tw.Task) -> Any:
        valid = task.internal_valid_task
        return {
            "mean": float(task.truth().mean()),
            "train_x": task.data(cols="x")["x"].to_numpy(),
            "valid_x": None if valid is None else valid.data(cols="x")["x"].to_numpy(),
        }

    def _predict(self, task: tw.Task) -> dict[str, Any]:
        return {"response": np.full(task.nrow, self.model["mean"])}

    def _extract_internal_valid_scores(self) -> dict[str, float]:
        valid = self.model["valid_x"]
        return {} if valid is None else {"regr.n": float(len(valid))}

    def _extract_internal_tuned_values(self) -> dict[str, Any]:
        return {"epochs": 3}


@pytest.fixture
def task() -> tw.TaskRegr:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(5, 2, 40), "y": rng.normal(size=40)})
    return tw.TaskRegr(df, "y", id="toy")


def graph_learner() -> tw.GraphLearner:
    return tw.as_learner(tw.po("scale") >> tw.po("learner", Recorder()))


def test_task_type_predict_types_and_id_come_from_the_graph():
    learner = graph_learner()
    assert isinstance(learner, tw.GraphLearner)
    assert learner.task_type == "regr"
    assert learner.predict_types == ["response"]
    assert learner.id == "scale.regr.recorder"
    assert "scale.robust" in learner.param_set.ids()


def test_model_holds_states_and_base_learner(task):
    learner = graph_learner().train(task)
    assert set(learner.model) == {"scale", "regr.recorder"}
    assert learner.model["scale"]["center"]["x"] == pytest.approx(task.data(cols="x")["x"].mean())
    base = learner.base_learner()
    assert isinstance(base, Recorder) and base.is_trained
    pred = learner.predict(task)
    assert np.allclose(pred.response, task.truth().mean())


def test_flat_params_reach_the_operators(task):
    learner = graph_learner()
    learner.param_set.set_values(**{"scale.center": False})
    learner.train(task)
    assert learner.model["scale"]["center"]["x"] == 0.0
    assert learner.param_set.values["scale.center"] is False


def test_validation_travels_through_preprocessing_with_train_state(task):
    learner = graph_learner()
    tw.set_validate(learner, 0.25)
    assert learner.validate == 0.25
    assert learner.base_learner().validate == "predefined"
    learner.param_set.set_values(**{"regr.recorder.seed": 1})
    learner.train(task)
    again = graph_learner().configure(validate=0.25, **{"regr.recorder.seed": 1}).train(task)
    same = again.model["regr.recorder"].model["valid_x"]
    assert np.array_equal(same, learner.model["regr.recorder"].model["valid_x"])  # seeded split
    model = learner.model["regr.recorder"].model
    assert len(model["valid_x"]) == 10 and len(model["train_x"]) == 30
    center = learner.model["scale"]["center"]["x"]
    scale = learner.model["scale"]["scale"]["x"]
    assert abs(model["train_x"].mean()) < 1e-12  # standardised on the training rows...
    raw = task.data(cols="x")["x"].to_numpy()
    expected_valid = np.sort((raw - center) / scale)
    assert np.all(np.isin(np.round(model["valid_x"], 10), np.round(expected_valid, 10)))
    assert learner.internal_valid_scores == {"regr.recorder.regr.n": 10.0}
    assert learner.internal_tuned_values == {"regr.recorder.epochs": 3}
    tw.set_validate(learner, None)
    assert learner.graph.pipeops["regr.recorder"].learner.validate is None


def test_validate_refused_when_inner_learner_cannot_validate():
    learner = tw.as_learner(tw.po("learner", tw.lrn("regr.featureless")))
    with pytest.raises(
        tw.InvalidParameterError,
        match="inside graph learner .* does not support internal validation",
    ):
        learner.validate = 0.3


def test_graph_without_learner_is_refused():
    with pytest.raises(tw.GraphError, match="exactly one output channel that gives a Prediction"):
        tw.GraphLearner(tw.po("scale"))


def test_predict_type_propagates_and_prob_comes_back():
    task = tw.tsk("iris")
    learner = tw.as_learner(tw.po("scale") >> tw.po("learner", tw.lrn("classif.featureless")))
    learner.predict_type = "prob"
    pred = learner.train(task).predict(task)
    assert pred.prob is not None
    assert pred.prob.to_numpy() == pytest.approx(np.full((150, 3), 1 / 3))


def test_clone_pickle_resample_benchmark(task):
    learner = graph_learner().train(task)
    clone = learner.clone()
    clone.param_set.set_values(**{"scale.robust": True})
    assert learner.param_set.values["scale.robust"] is False
    restored = pickle.loads(pickle.dumps(learner))
    assert np.allclose(restored.predict(task).response, learner.predict(task).response)
    rr = tw.resample(task, graph_learner(), tw.rsmp("cv", folds=4))
    assert len(rr.predictions()) == 4
    design = tw.benchmark_grid(
        [task], [graph_learner(), tw.lrn("regr.featureless")], [tw.rsmp("holdout")]
    )
    assert len(tw.benchmark(design).aggregate(tw.msr("regr.mse"))) == 2


def test_validate_test_in_resample_uses_the_test_rows(task):
    learner = graph_learner()
    learner.validate = "test"
    rr = tw.resample(task, learner, tw.rsmp("cv", folds=4), store_models=True)
    for trained in rr.learners:
        assert trained.internal_valid_scores == {"regr.recorder.regr.n": 10.0}


def test_predict_type_set_after_training_reaches_the_trained_learner():
    task = tw.tsk("iris")
    learner = tw.as_learner(
        tw.po("scale") >> tw.po("learner", tw.lrn("classif.rpart", max_depth=2))
    )
    learner.train(task)
    assert learner.predict(task).prob is None
    learner.predict_type = "prob"
    pred = learner.predict(task)
    assert pred.prob is not None and pred.prob.shape == (150, 3)
    np.testing.assert_allclose(pred.prob.sum(axis=1), 1.0)
    assert learner.base_learner().predict_type == "prob"
    learner.predict_type = "response"
    assert learner.predict(task).prob is None
