"""Torch learners: a failed retrain keeps the model; NaN and inf features are named."""

import numpy as np
import pandas as pd
import pytest
from torch import nn

import torchweave as tw
from torchweave.errors import NonFiniteLossError

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_learner() -> tw.Learner:
    learner = tw.LearnerTorchModel(
        network=nn.Linear(4, 3),
        ingress_tokens={"x": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))},
        task_type="classif",
    )
    return learner.configure(epochs=2, batch_size=50, device="cpu", seed=1, predict_type="prob")


def test_torch_graph_learner_keeps_its_model_when_a_retrain_explodes():
    learner = tw.as_learner(
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="mse")
        >> tw.po("torch_optimizer", optimizer="sgd", lr=1e-6)
        >> tw.po("torch_model_regr", epochs=2, batch_size=8, device="cpu", seed=1)
    )
    task = tw.tsk("mtcars")
    learner.train(task)
    model = learner.model
    before = learner.predict(task).response
    learner.param_set.set_values(**{"torch_optimizer.lr": 1e10})
    with pytest.raises(NonFiniteLossError, match="Lower the learning rate"):
        learner.train(task)
    assert learner.model is model
    assert learner.graph.state["torch_model_regr"] is model["torch_model_regr"]
    np.testing.assert_array_equal(learner.predict(task).response, before)


def test_torch_learner_names_infinite_training_column_instead_of_a_nan_loss():
    df = tw.tsk("iris").data()
    df.loc[[3, 70], "petal_width"] = np.inf
    task = tw.TaskClassif(df, "species", id="iris_inf")
    learner = iris_learner()
    with pytest.raises(
        tw.TaskError,
        match=r"Task 'iris_inf' has infinite values in feature\(s\) 'petal_width' \(2 rows\) at "
        r"train, which learner 'classif.torch_model' cannot use",
    ):
        learner.train(task)
    assert not learner.is_trained


def test_torch_learner_refuses_nan_at_predict_and_keeps_model_after_refused_retrain():
    task = tw.tsk("iris")
    learner = iris_learner().train(task)
    before = learner.predict(task).prob
    new = task.data().drop(columns="species").head(5)
    new.loc[[1, 2], "sepal_width"] = np.nan
    with pytest.raises(
        tw.TaskError, match=r"missing values in feature\(s\) 'sepal_width' \(2 rows\) at predict"
    ):
        learner.predict_newdata(new)
    bad = task.data()
    bad.loc[0, "sepal_length"] = -np.inf
    with pytest.raises(tw.TaskError, match="'sepal_length' \\(1 row\\) at train"):
        learner.train(tw.TaskClassif(bad, "species"))
    pd.testing.assert_frame_equal(learner.predict(task).prob, before)
