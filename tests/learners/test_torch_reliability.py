"""Torch learners: a failed retrain keeps the model; NaN and inf features are named."""

import numpy as np
import pandas as pd
import pytest
import torch
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


def _count_pandas_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = tw.Task._nonfinite_counts

    def counting(self, cols):
        calls.append(self.id)
        return original(self, cols)

    monkeypatch.setattr(tw.Task, "_nonfinite_counts", counting)
    return calls


def test_numeric_predict_checks_the_input_tensor_and_names_columns_only_on_failure(monkeypatch):
    task = tw.tsk("iris")
    learner = iris_learner().train(task)
    calls = _count_pandas_checks(monkeypatch)
    clean = learner.predict(task)
    assert calls == []  # one isfinite over the input tensor instead of the pandas pass
    assert clean.prob.shape == (150, 3)
    bad = task.data()
    bad.loc[[4, 9, 11], "petal_length"] = np.inf
    with pytest.raises(
        tw.TaskError,
        match=r"Task 'bad' has infinite values in feature\(s\) 'petal_length' \(3 rows\) at "
        r"predict",
    ):
        learner.predict(tw.TaskClassif(bad, "species", id="bad"))
    assert calls == ["bad"]  # the pandas pass ran to name the column


def test_predict_checks_only_the_rows_it_predicts():
    task = tw.tsk("iris")
    learner = iris_learner().train(task)
    bad = task.data()
    bad.loc[0, "sepal_width"] = np.nan
    bad_task = tw.TaskClassif(bad, "species", id="bad")
    pred = learner.predict(bad_task, row_ids=range(1, 150))
    assert len(pred.response) == 149
    with pytest.raises(tw.TaskError, match=r"'sepal_width' \(1 row\) at predict"):
        learner.predict(bad_task, row_ids=[0, 1])


def test_a_float64_value_that_overflows_float32_still_predicts_as_before():
    task = tw.tsk("iris")
    learner = iris_learner().train(task)
    big = task.data()
    big.loc[0, "sepal_length"] = 1e300  # finite in float64, inf in the float32 tensor
    with pytest.warns(RuntimeWarning, match="overflow encountered in cast"):
        pred = learner.predict(tw.TaskClassif(big, "species"))
    assert len(pred.response) == 150


class _Embed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.emb(x).flatten(1)


def test_factor_features_keep_the_pandas_check_before_conversion(monkeypatch):
    df = tw.tsk("iris").data()[["species"]]
    df["kind"] = pd.Categorical(np.where(np.arange(150) % 2 == 0, "a", "b"))
    task = tw.TaskClassif(df, "species", id="with_factor")
    learner = tw.LearnerTorchModel(
        network=_Embed(),
        ingress_tokens={"x": tw.TorchIngressToken(["kind"], tw.batchgetter_categ, (None, 1))},
        task_type="classif",
    ).configure(epochs=1, batch_size=50, device="cpu", seed=1)
    learner.train(task)
    calls = _count_pandas_checks(monkeypatch)
    learner.predict(task)
    assert calls == ["with_factor"]  # codes are integers: isfinite could not see a gap
    bad = df.copy()
    bad.loc[[2, 3], "kind"] = np.nan
    with pytest.raises(tw.TaskError, match=r"missing values in feature\(s\) 'kind' \(2 rows\)"):
        learner.predict(tw.TaskClassif(bad, "species"))


def test_prediction_leaves_the_network_trainable():
    task = tw.tsk("iris")
    learner = iris_learner().train(task)
    learner.predict(task)
    network = learner.model.network
    assert network.training and all(p.requires_grad for p in network.parameters())
    x = torch.randn(5, 4)
    network(x).sum().backward()  # no inference tensor was left in the module
    assert all(p.grad is not None for p in network.parameters())
    learner.train(task)  # and it trains again
    assert learner.is_trained
