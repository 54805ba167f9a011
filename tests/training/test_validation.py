"""Internal validation in the loop: which rows, eval mode, scores, graphs and resampling."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import torchweave as tw
from tests.training.helpers import iris_learner, iris_with_valid
from torchweave.errors import InvalidParameterError


def graph_learner(**params):
    return tw.as_learner(
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam")
        >> tw.po(
            "torch_model_classif",
            **{"epochs": 2, "batch_size": 50, "device": "cpu", "seed": 1, **params},
        )
    )


# --- configuration --------------------------------------------------------------------------
def test_measures_valid_without_validate_is_an_error():
    learner = iris_learner(measures_valid=tw.msr("classif.ce"))
    assert learner.validate is None
    with pytest.raises(
        InvalidParameterError,
        match=r"Learner 'classif.torch_model' has measures_valid set, but its validate field is "
        r"None\. Set learner.validate",
    ):
        learner.train(tw.tsk("iris"))
    assert learner.model is None


def test_a_measure_for_another_task_type_is_an_error():
    learner = iris_learner(measures_valid=tw.msr("regr.mse"), validate=0.2)
    with pytest.raises(
        InvalidParameterError,
        match=r"Measure 'regr.mse' is for regr tasks; learner 'classif.torch_model' is a classif",
    ):
        learner.train(tw.tsk("iris"))


# --- which rows -------------------------------------------------------------------------------
def _row_recorder():
    seen = {"train": [], "valid": [], "valid_batches": []}

    class CallbackSetRows(tw.CallbackSet):
        def on_begin(self):
            seen["train"] = self.ctx.task_train.row_ids.tolist()
            seen["valid"] = self.ctx.task_valid.row_ids.tolist()

        def on_batch_valid_begin(self):
            seen["valid_batches"].append(self.ctx.batch["index"].tolist())

    return tw.TorchCallback(CallbackSetRows, id="rows"), seen


def test_predefined_validation_uses_the_tasks_validation_rows_in_order():
    cb, seen = _row_recorder()
    learner = iris_learner(
        callbacks=[cb],
        epochs=1,
        batch_size=40,
        batch_size_predict=7,
        shuffle=True,
        drop_last=True,
        validate="predefined",
    )
    task = iris_with_valid()
    with pytest.warns(UserWarning, match="no measures_valid"):
        learner.train(task)
    valid_ids = list(range(0, 150, 5))
    assert seen["valid"] == valid_ids
    assert seen["train"] == [i for i in range(150) if i % 5 != 0]
    # sequential, batch_size_predict, no drop_last: positions 0..29 in batches of 7
    assert seen["valid_batches"] == [list(range(s, min(s + 7, 30))) for s in range(0, 30, 7)]
    assert task.internal_valid_task.row_ids.tolist() == valid_ids  # the user's task is unchanged


def test_validation_batches_default_to_batch_size():
    cb, seen = _row_recorder()
    learner = iris_learner(callbacks=[cb], epochs=1, batch_size=20, validate="predefined")
    with pytest.warns(UserWarning, match="no measures_valid"):
        learner.train(iris_with_valid())
    assert [len(b) for b in seen["valid_batches"]] == [20, 10]


def test_a_validation_ratio_splits_off_part_of_the_training_rows():
    cb, seen = _row_recorder()
    learner = iris_learner(callbacks=[cb], epochs=1, validate=0.2)
    with pytest.warns(UserWarning, match="no measures_valid"):
        learner.train(tw.tsk("iris"))
    assert len(seen["valid"]) == 30
    assert len(seen["train"]) == 120
    assert sorted(seen["train"] + seen["valid"]) == list(range(150))


# --- eval mode, no gradients ----------------------------------------------------------------
def test_validation_runs_in_eval_mode_without_gradients():
    seen = []

    class CallbackSetMode(tw.CallbackSet):
        def on_batch_begin(self):
            seen.append(("train", torch.is_grad_enabled(), self.ctx.network.training))

        def on_batch_valid_begin(self):
            seen.append(("valid_begin", torch.is_grad_enabled(), self.ctx.network.training))

        def on_batch_valid_end(self):
            seen.append(("valid_end", self.ctx.y_hat.requires_grad, self.ctx.network.training))

        def on_valid_end(self):
            seen.append(("valid_done", torch.is_grad_enabled(), self.ctx.network.training))

    learner = iris_learner(
        callbacks=[tw.TorchCallback(CallbackSetMode, id="mode")],
        epochs=2,
        batch_size=60,
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    learner.train(iris_with_valid())
    per_epoch = [
        ("train", True, True),
        ("train", True, True),
        ("valid_begin", False, False),
        ("valid_end", False, False),
        ("valid_done", True, True),
    ]
    assert seen == per_epoch * 2


def test_validation_does_not_change_the_weights():
    snapshots = []

    class CallbackSetWeights(tw.CallbackSet):
        def on_before_valid(self):
            snapshots.append(self.ctx.network.weight.detach().clone())

        def on_valid_end(self):
            snapshots.append(self.ctx.network.weight.detach().clone())

    learner = iris_learner(
        callbacks=[tw.TorchCallback(CallbackSetWeights, id="weights")],
        epochs=2,
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
        **{"opt.lr": 0.1},
    )
    learner.train(iris_with_valid())
    assert torch.equal(snapshots[0], snapshots[1])
    assert torch.equal(snapshots[2], snapshots[3])
    assert not torch.equal(snapshots[1], snapshots[2])


# --- scores ------------------------------------------------------------------------------------
def test_internal_valid_scores_are_the_last_epochs_validation_scores():
    network = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))  # eval mode matters
    learner = iris_learner(
        network=network,
        callbacks=["history"],
        epochs=10,
        eval_freq=4,
        measures_valid=[tw.msr("classif.ce"), tw.msr("classif.logloss")],
        validate="predefined",
        **{"opt.lr": 0.05},
    )
    learner.train(iris_with_valid())
    history = learner.model.callbacks["history"]
    assert history["epoch"].tolist() == [4, 8, 10]
    scores = learner.internal_valid_scores
    assert list(scores) == ["classif.ce", "classif.logloss"]
    assert scores == learner.model.internal_valid_scores
    last = history.iloc[-1]
    assert scores == {
        "classif.ce": last["valid.classif.ce"],
        "classif.logloss": last["valid.classif.logloss"],
    }
    # the final network (in eval mode) scores the validation rows the same way
    learner.predict_type = "prob"
    prediction = learner.predict(tw.tsk("iris"), row_ids=list(range(0, 150, 5)))
    rescored = prediction.score([tw.msr("classif.ce"), tw.msr("classif.logloss")])
    assert rescored["classif.ce"] == pytest.approx(scores["classif.ce"])
    assert rescored["classif.logloss"] == pytest.approx(scores["classif.logloss"], rel=1e-5)


def test_validation_without_measures_runs_but_scores_nothing():
    seen = []

    class CallbackSetValid(tw.CallbackSet):
        def on_valid_end(self):
            seen.append((self.ctx.epoch, self.ctx.last_scores_valid))

    learner = iris_learner(
        callbacks=[tw.TorchCallback(CallbackSetValid, id="valid")], epochs=2, validate=0.2
    )
    with pytest.warns(
        UserWarning,
        match=r"Learner 'classif.torch_model' holds out validation data \(validate=0.2\) but has no measures_valid.*Set measures_valid",
    ):
        learner.train(tw.tsk("iris"))
    assert seen == [(1, {}), (2, {})]
    assert learner.internal_valid_scores == {}


def test_a_custom_end_in_a_non_evaluated_epoch_leaves_no_valid_scores():
    class CallbackSetStop(tw.CallbackSet):
        def on_epoch_end(self):
            if self.ctx.epoch == 3:
                self.ctx.terminate = True

    learner = iris_learner(
        callbacks=[tw.TorchCallback(CallbackSetStop, id="stop")],
        epochs=10,
        eval_freq=2,
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    learner.train(iris_with_valid())
    assert learner.model.epochs == 3
    assert learner.internal_valid_scores == {}


class NanInEval(nn.Module):
    """A linear layer whose outputs are NaN in eval mode (training is unaffected)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, x):
        out = self.linear(x)
        return out if self.training else out * float("nan")


def test_nan_validation_outputs_give_nan_scores_not_errors():
    task = tw.tsk("mtcars")
    task.internal_valid_task = task.row_ids[::4]
    learner = tw.LearnerTorchModel(
        network=NanInEval(len(task.feature_names), 1),
        ingress_tokens={
            "x": tw.TorchIngressToken(task.feature_names, tw.batchgetter_num, (None, 10))
        },
        task_type="regr",
        callbacks=["history"],
    ).configure(
        epochs=2,
        batch_size=8,
        device="cpu",
        seed=1,
        measures_valid=[tw.msr("regr.mse"), tw.msr("regr.mae")],
        validate="predefined",
    )
    learner.train(task)
    history = learner.model.callbacks["history"]
    assert history["epoch"].tolist() == [1, 2]
    assert history["valid.regr.mse"].isna().all()
    assert math.isnan(learner.internal_valid_scores["regr.mse"])
    assert math.isnan(learner.internal_valid_scores["regr.mae"])


def test_nan_classification_outputs_give_a_nan_error_rate():
    learner = iris_learner(
        network=NanInEval(4, 3),
        epochs=1,
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    learner.train(iris_with_valid())
    assert math.isnan(learner.internal_valid_scores["classif.ce"])


# --- graph learners ----------------------------------------------------------------------------
def test_graph_learner_prefixes_the_validation_scores():
    learner = graph_learner(measures_valid=[tw.msr("classif.ce"), tw.msr("classif.acc")])
    tw.set_validate(learner, 0.3)
    assert learner.validate == 0.3
    assert learner.graph.pipeops["torch_model_classif"].learner.validate == "predefined"
    learner.train(tw.tsk("iris"))
    scores = learner.internal_valid_scores
    assert list(scores) == ["torch_model_classif.classif.ce", "torch_model_classif.classif.acc"]
    inner = learner.model["torch_model_classif"]
    assert inner.internal_valid_scores == {
        "classif.ce": scores["torch_model_classif.classif.ce"],
        "classif.acc": scores["torch_model_classif.classif.acc"],
    }
    assert scores["torch_model_classif.classif.ce"] == pytest.approx(
        1 - scores["torch_model_classif.classif.acc"]
    )


def test_graph_learner_without_validation_measures_has_no_scores():
    learner = graph_learner(measures_valid=[])
    tw.set_validate(learner, 0.3)
    with pytest.warns(UserWarning, match="no measures_valid"):
        learner.train(tw.tsk("iris"))
    assert learner.internal_valid_scores == {}


def test_graph_learner_early_stopping_prefixes_the_tuned_epochs():
    learner = graph_learner(
        epochs=10, patience=1, min_delta=math.inf, measures_valid=tw.msr("classif.ce")
    )
    tw.set_validate(learner, 0.3)
    learner.train(tw.tsk("iris"))
    assert learner.internal_tuned_values == {"torch_model_classif.epochs": 1}
    assert learner.model["torch_model_classif"].model.epochs == 2


# --- validate="test" in resampling -------------------------------------------------------------
def test_validate_test_uses_the_test_set_of_each_resampling_iteration():
    seen = []

    def remember(self):
        seen.append(self.ctx.task_valid.row_ids.tolist())

    cb = tw.torch_callback("valid_rows", on_begin=remember)
    learner = iris_learner(
        callbacks=[cb], epochs=2, measures_valid=tw.msr("classif.ce"), validate="test"
    )
    rr = tw.resample(tw.tsk("iris"), learner, tw.rsmp("cv", folds=3))
    assert len(seen) == 3  # fails if the resampling ran in other processes
    for valid_ids, prediction, scores in zip(
        seen, rr.predictions(), rr.internal_valid_scores, strict=True
    ):
        assert valid_ids == sorted(prediction.row_ids.tolist())
        assert list(scores) == ["classif.ce"]
        assert scores["classif.ce"] == pytest.approx(prediction.score("classif.ce")["classif.ce"])


def test_validate_test_in_a_graph_learner():
    learner = graph_learner(measures_valid=tw.msr("classif.ce"))
    tw.set_validate(learner, "test")
    rr = tw.resample(tw.tsk("iris"), learner, tw.rsmp("cv", folds=3))
    for prediction, scores in zip(rr.predictions(), rr.internal_valid_scores, strict=True):
        assert list(scores) == ["torch_model_classif.classif.ce"]
        expected = prediction.score("classif.ce")["classif.ce"]
        assert scores["torch_model_classif.classif.ce"] == pytest.approx(expected)
    assert np.isfinite(rr.aggregate("classif.ce")["classif.ce"])
