"""Loop-level reliability: clear errors and warnings instead of silent or deep failures."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import torchweave as tw
from tests.training.helpers import FEATURES, iris_learner, iris_with_valid, mlp
from torchweave.callbacks import select_all, select_none
from torchweave.errors import ShapeError


def regr_learner(network=None, **params):
    """A LearnerTorchModel on the first numeric column of a frame (target 'y')."""
    learner = tw.LearnerTorchModel(
        network=network if network is not None else nn.Linear(1, 1),
        ingress_tokens={"x": tw.TorchIngressToken(["x"], tw.batchgetter_num, (None, 1))},
        task_type="regr",
    )
    return learner.configure(
        **{"epochs": 1, "batch_size": 16, "device": "cpu", "seed": 1, **params}
    )


def regr_task(scale=1.0, n=64):
    rng = np.random.default_rng(1)
    x = rng.normal(size=n)
    return tw.TaskRegr(pd.DataFrame({"x": x, "y": scale * (x + 3.0)}), "y", id="line")


# --- early stopping: the reported scores describe the returned model ------------------------------
def test_best_epoch_and_scores_are_fields_of_the_model():
    learner = iris_learner(
        epochs=8,
        patience=2,
        measures_valid=[tw.msr("classif.ce"), tw.msr("classif.acc")],
        callbacks=["history"],
        validate="predefined",
        **{"opt.lr": 0.05},
    )
    learner.train(iris_with_valid())
    model = learner.model
    history = model.callbacks["history"].set_index("epoch")
    best = int(history["valid.classif.ce"].idxmin())
    assert model.best_epoch == best == learner.internal_tuned_values["epochs"]
    assert model.best_scores == {
        "classif.ce": pytest.approx(history.loc[best, "valid.classif.ce"]),
        "classif.acc": pytest.approx(history.loc[best, "valid.classif.acc"]),
    }
    assert "Best (early stopping):  epoch" in repr(model)
    assert iris_learner().train(tw.tsk("iris")).model.best_epoch is None


# --- callback exceptions name the callback and the stage ------------------------------------------
@pytest.mark.parametrize(
    "stage", ["on_begin", "on_batch_begin", "on_after_backward", "on_batch_end", "on_epoch_end"]
)
def test_an_exception_in_a_callback_keeps_its_type_and_names_callback_and_stage(stage):
    def boom(self):
        if self.ctx.epoch >= 1 or stage == "on_begin":
            raise KeyError("missing")

    learner = iris_learner(callbacks=[tw.torch_callback("boom", **{stage: boom})])
    with pytest.raises(KeyError, match="missing") as info:
        learner.train(tw.tsk("iris"))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert f"raised in callback 'boom' at stage '{stage}'" in notes


def test_an_exception_in_a_validation_stage_names_the_validation_batch():
    def boom(self):
        if self.ctx.step_valid == 2:
            raise KeyError("missing")

    learner = iris_learner(
        callbacks=[tw.torch_callback("boom", on_batch_valid_end=boom)],
        measures_valid="classif.ce",
        validate="predefined",
        batch_size=10,
    )
    with pytest.raises(KeyError) as info:
        learner.train(iris_with_valid())
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "at stage 'on_batch_valid_end', epoch 1, validation batch 2)" in notes


def test_an_exception_outside_the_callbacks_gets_no_callback_note():
    class Broken(nn.Linear):
        def forward(self, x):
            raise ArithmeticError("inside the network")

    learner = iris_learner(network=Broken(4, 3), callbacks=["history"])
    with pytest.raises(ArithmeticError) as info:
        learner.train(tw.tsk("iris"))
    assert not any("callback" in note for note in getattr(info.value, "__notes__", []))


# --- shapes of the first batch ----------------------------------------------------------------------
def test_an_ingress_shape_that_disagrees_with_the_batch_is_a_shape_error():
    learner = tw.LearnerTorchModel(
        network=nn.Linear(5, 3),
        ingress_tokens={"num": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 5))},
        task_type="classif",
    ).configure(epochs=1, batch_size=50, device="cpu", seed=1)
    with pytest.raises(
        ShapeError,
        match=r"ingress 'num' declares the shape \(None, 5\), but its first batch has the "
        r"shape \(50, 4\)",
    ):
        learner.train(tw.tsk("iris"))


@pytest.mark.parametrize(
    ("task", "outputs", "message"),
    [
        ("iris", 32, r"returns 32 outputs per row .*a task with 3 classes needs 3"),
        ("breast_cancer", 2, r"returns 2 outputs per row .*a task with 2 classes needs 1"),
        ("regr", 4, r"returns 4 outputs per row .*a regression task needs 1"),
    ],
)
def test_a_network_output_that_does_not_fit_the_task_is_a_shape_error(task, outputs, message):
    if task == "regr":
        learner, data = regr_learner(network=nn.Linear(1, outputs)), regr_task()
    else:
        data = tw.tsk(task)
        width = len(data.feature_names)
        learner = tw.LearnerTorchModel(
            network=nn.Linear(width, outputs),
            ingress_tokens={
                "x": tw.TorchIngressToken(data.feature_names, tw.batchgetter_num, (None, width))
            },
            task_type="classif",
        ).configure(epochs=1, batch_size=50, device="cpu", seed=1)
    with pytest.raises(ShapeError, match=message + r'.*End the network with nn\("head"\)'):
        learner.train(data)


def test_the_first_batch_checks_run_once_and_leave_later_batches_alone():
    learner = iris_learner(network=mlp(), epochs=2)
    learner.train(tw.tsk("iris"))
    assert learner.model.epochs == 2


# --- every weight frozen ------------------------------------------------------------------------------
def test_all_weights_frozen_skips_backward_and_step_with_one_warning():
    network = mlp()
    frozen = tw.t_clbk("unfreeze", starting_weights=select_none(), unfreeze=[])
    learner = iris_learner(network=network, callbacks=[frozen], epochs=2)
    with pytest.warns(UserWarning) as record:
        learner.train(tw.tsk("iris"))
    messages = [str(w.message) for w in record]
    frozen_warnings = [m for m in messages if "requires a gradient" in m]
    assert frozen_warnings == [
        "Learner 'classif.torch_model': no weight requires a gradient in epoch 1, batch 1 (all "
        "are frozen), so the backward pass and the optimizer step are skipped for such "
        "batches; no weights change in them. (This warning is shown once per training.)"
    ]
    assert any("selects none of the network's parameters" in m for m in messages)
    for name, value in network.state_dict().items():
        assert torch.equal(learner.network.state_dict()[name], value)


def test_frozen_at_start_and_unfrozen_later_trains_from_then_on():
    network = mlp()
    seen = []

    class Grad(tw.CallbackSet):
        def on_after_backward(self):
            seen.append((self.ctx.epoch, self.ctx.network[0].weight.grad is not None))

    later = tw.t_clbk(
        "unfreeze", starting_weights=select_none(), unfreeze=[{"weights": select_all(), "epoch": 2}]
    )
    learner = iris_learner(
        network=network, callbacks=[later, tw.TorchCallback(Grad, id="grad")], epochs=2
    )
    with pytest.warns(UserWarning):
        learner.train(tw.tsk("iris"))
    assert seen == [(1, False)] * 3 + [(2, True)] * 3
    assert not torch.equal(
        learner.network.state_dict()["0.weight"], network.state_dict()["0.weight"]
    )


# --- predicting no rows ----------------------------------------------------------------------------------
@pytest.mark.parametrize("predict_type", ["response", "prob"])
def test_predicting_no_rows_gives_an_empty_prediction(predict_type):
    learner = iris_learner()
    learner.predict_type = predict_type
    learner.train(tw.tsk("iris"))
    pred = learner.predict(tw.tsk("iris").filter([]))
    assert len(pred.response) == 0
    assert list(pred.response.categories) == ["setosa", "versicolor", "virginica"]
    if predict_type == "prob":
        assert pred.prob.shape == (0, 3)
        assert list(pred.prob.columns) == ["setosa", "versicolor", "virginica"]


def test_predicting_no_rows_of_a_binary_and_a_regression_task():
    task = tw.tsk("breast_cancer")
    width = len(task.feature_names)
    binary = tw.LearnerTorchModel(
        network=nn.Linear(width, 1),
        ingress_tokens={
            "x": tw.TorchIngressToken(task.feature_names, tw.batchgetter_num, (None, width))
        },
        task_type="classif",
    ).configure(epochs=1, batch_size=64, device="cpu", seed=1)
    binary.predict_type = "prob"
    binary.train(task)
    assert binary.predict(task.filter([])).prob.shape == (0, 2)
    regr = regr_learner().train(regr_task())
    assert len(regr.predict(regr_task().filter([])).response) == 0


# --- a regression target on a large scale -------------------------------------------------------------------
def test_a_target_in_the_hundreds_of_thousands_warns_once_and_points_to_targettrafo():
    with pytest.warns(
        UserWarning, match=r"target 'y' of task 'line' has standard deviation"
    ) as record:
        regr_learner(epochs=2).train(regr_task(scale=1e5))
    messages = [str(w.message) for w in record if "targettrafo" in str(w.message)]
    assert len(messages) == 1
    assert 'po("targettrafo")' in messages[0]


def test_a_target_on_a_moderate_scale_does_not_warn():
    regr_learner().train(regr_task(scale=100.0))  # warnings are errors in the tests
