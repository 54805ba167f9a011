"""Early stopping in the loop: patience counts evaluations, tuned epochs, restoring weights."""

import math

import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.callbacks.early_stopping import CallbackSetEarlyStopping
from torchweave.errors import InvalidParameterError
from torchweave.measures.classif import MeasureClassifCE

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_learner(network=None, callbacks=(), **params):
    """A LearnerTorchModel around a small network on the iris features."""
    learner = tw.LearnerTorchModel(
        network=network if network is not None else nn.Linear(4, 3),
        ingress_tokens={"x": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))},
        task_type="classif",
        callbacks=callbacks,
    )
    defaults = {"batch_size": 150, "device": "cpu", "seed": 1, "validate": "predefined"}
    return learner.configure(**{**defaults, **params})


def iris_with_valid():
    """Iris with every 5th row (30 rows) as the fixed internal validation task."""
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    return task


def scripted(score_of_epoch, measure_id="classif.ce", weight=None):
    """A callback that replaces the validation score before early stopping reads it.

    Its default weight 0 is below early stopping's 1000, so it runs first in on_valid_end.
    """
    seen = []

    class CallbackSetScript(tw.CallbackSet):
        def on_valid_end(self):
            score = score_of_epoch(self.ctx.epoch)
            self.ctx.last_scores_valid = {**self.ctx.last_scores_valid, measure_id: score}
            seen.append(self.ctx.epoch)

    return tw.TorchCallback(CallbackSetScript, id="script", weight=weight), seen


def train(learner):
    learner.train(iris_with_valid())
    return learner


# --- mlr3torch's checks (inventory §11.2-11.9) --------------------------------------------
def test_nothing_can_improve_with_min_delta_above_the_range():
    learner = train(
        iris_learner(
            epochs=10, eval_freq=3, patience=2, min_delta=2, measures_valid=tw.msr("classif.ce")
        )
    )
    assert learner.internal_tuned_values == {"epochs": 3}
    assert learner.model.epochs == 9  # evaluations at 3 (best), 6 and 9 (stagnating)
    state = learner.model.callbacks["early_stopping"]
    assert state["stagnation"] == 2
    assert state["measure"] == "classif.ce"


def test_a_score_that_never_changes_stops_after_patience_plus_one_epochs():
    learner = train(
        iris_learner(epochs=10, patience=2, measures_valid=tw.msr("classif.ce"), **{"opt.lr": 0.0})
    )
    assert learner.model.epochs == 3
    state = learner.model.callbacks["early_stopping"]
    assert state["stagnation"] == 2
    assert state["best_epochs"] == 1
    assert learner.internal_tuned_values == {"epochs": 1}
    assert learner.internal_valid_scores == {"classif.ce": state["best_score"]}


def test_patience_counts_evaluations_not_epochs_over_a_long_run():
    learner = train(
        iris_learner(
            epochs=100,
            eval_freq=4,
            patience=10,
            min_delta=math.inf,
            measures_valid=tw.msr("classif.ce"),
        )
    )
    assert learner.model.epochs == 44  # first evaluation at 4, then 10 stagnating ones
    assert learner.internal_tuned_values == {"epochs": 4}


@pytest.mark.parametrize(("eval_freq", "trained"), [(2, 6), (3, 9), (1, 3)])
def test_tuned_epochs_is_the_first_evaluation_when_nothing_improves(eval_freq, trained):
    learner = train(
        iris_learner(
            epochs=10,
            eval_freq=eval_freq,
            patience=2,
            min_delta=math.inf,
            measures_valid=tw.msr("classif.ce"),
        )
    )
    assert learner.internal_tuned_values == {"epochs": eval_freq}
    assert learner.model.epochs == trained


def test_a_run_that_is_not_stopped_reports_its_best_epoch():
    learner = train(iris_learner(epochs=1, patience=10, measures_valid=tw.msr("classif.ce")))
    assert learner.model.epochs == 1
    assert learner.internal_tuned_values == {"epochs": 1}


def test_the_forced_final_evaluation_can_be_the_first_stagnating_one():
    learner = train(
        iris_learner(
            epochs=4,
            eval_freq=3,
            patience=2,
            min_delta=math.inf,
            measures_valid=tw.msr("classif.ce"),
        )
    )
    assert learner.model.epochs == 4
    assert learner.internal_tuned_values == {"epochs": 3}
    assert learner.model.callbacks["early_stopping"]["stagnation"] == 1


@pytest.mark.parametrize(("eval_freq", "trained"), [(3, 12), (1, 8)])
def test_an_equal_score_is_no_improvement(eval_freq, trained):
    # improves until epoch 6, constant afterwards
    script, seen = scripted(lambda epoch: float(max(10 - epoch, 4)))
    learner = train(
        iris_learner(
            callbacks=[script],
            epochs=20,
            eval_freq=eval_freq,
            patience=2,
            measures_valid=tw.msr("classif.ce"),
        )
    )
    assert learner.internal_tuned_values == {"epochs": 6}
    assert learner.model.epochs == trained
    assert seen == list(range(eval_freq, trained + 1, eval_freq))
    state = learner.model.callbacks["early_stopping"]
    assert (state["best_score"], state["stagnation"]) == (4.0, 2)


def test_tuned_values_equal_the_state_of_the_early_stopping_callback():
    learner = train(
        iris_learner(
            epochs=6,
            eval_freq=2,
            patience=3,
            measures_valid=tw.msr("classif.ce"),
            **{"opt.lr": 0.05},
        )
    )
    state = learner.model.callbacks["early_stopping"]
    assert set(state) == {"best_epochs", "best_score", "best_scores", "stagnation", "measure"}
    assert state["best_scores"] == {"classif.ce": state["best_score"]}
    assert learner.internal_tuned_values == {"epochs": state["best_epochs"]}
    assert state["best_epochs"] in (2, 4, 6)


def test_patience_zero_tunes_nothing():
    learner = train(iris_learner(epochs=2, patience=0, measures_valid=tw.msr("classif.ce")))
    assert learner.internal_tuned_values == {}
    assert "early_stopping" not in learner.model.callbacks
    assert learner.model.epochs == 2


# --- direction, min_delta, NaN --------------------------------------------------------------
def test_a_maximized_measure_improves_upwards():
    scores = {1: 0.5, 2: 0.6, 3: 0.55, 4: 0.6, 5: 0.6, 6: 0.9}
    script, _ = scripted(scores.__getitem__, measure_id="classif.acc")
    learner = train(
        iris_learner(callbacks=[script], epochs=6, patience=3, measures_valid=tw.msr("classif.acc"))
    )
    assert learner.model.epochs == 5  # 3, 4 and 5 do not beat 0.6
    assert learner.model.callbacks["early_stopping"] == {
        "best_epochs": 2,
        "best_score": 0.6,
        "best_scores": {"classif.acc": 0.6},
        "stagnation": 3,
        "measure": "classif.acc",
    }


def test_min_delta_is_measured_against_the_best_score():
    scores = {1: 1.0, 2: 0.95, 3: 0.85, 4: 0.8}
    script, _ = scripted(scores.__getitem__)
    learner = train(
        iris_learner(
            callbacks=[script],
            epochs=4,
            patience=5,
            min_delta=0.1,
            measures_valid=tw.msr("classif.ce"),
        )
    )
    state = learner.model.callbacks["early_stopping"]
    # 0.95 is within min_delta of 1.0; 0.85 beats 1.0 by 0.15; 0.8 is within 0.1 of 0.85
    assert (state["best_epochs"], state["best_score"], state["stagnation"]) == (3, 0.85, 1)


def test_a_nan_score_neither_improves_nor_stagnates():
    scores = {1: 0.5, 2: math.nan, 3: math.nan, 4: 0.4, 5: 0.45}
    script, _ = scripted(scores.__getitem__)
    learner = train(
        iris_learner(callbacks=[script], epochs=5, patience=1, measures_valid=tw.msr("classif.ce"))
    )
    assert learner.model.epochs == 5
    state = learner.model.callbacks["early_stopping"]
    assert (state["best_epochs"], state["best_score"], state["stagnation"]) == (4, 0.4, 1)


def test_only_the_first_validation_measure_counts():
    script, _ = scripted(lambda epoch: 1.0 - epoch / 10, measure_id="classif.ce")  # improving
    learner = train(
        iris_learner(
            callbacks=[script],
            epochs=6,
            patience=2,
            min_delta=math.inf,  # the accuracy never improves by more than inf
            measures_valid=[tw.msr("classif.acc"), tw.msr("classif.ce")],
        )
    )
    assert learner.model.epochs == 3
    assert learner.model.callbacks["early_stopping"]["measure"] == "classif.acc"


# --- ordering -------------------------------------------------------------------------------
def test_early_stopping_runs_at_weight_1000_among_the_callbacks():
    seen = []

    class CallbackSetLate(tw.CallbackSet):
        def on_valid_end(self):
            seen.append((self.ctx.epoch, self.ctx.terminate))

    early, _ = scripted(lambda epoch: 0.5)  # weight 0: before early stopping
    late_script, _ = scripted(lambda epoch: float(epoch), weight=2000)  # too late to matter
    late_script.id = "late_script"
    learner = train(
        iris_learner(
            callbacks=[
                tw.TorchCallback(CallbackSetLate, id="late", weight=1001),
                late_script,
                early,
            ],
            epochs=10,
            patience=2,
            measures_valid=tw.msr("classif.ce"),
        )
    )
    assert CallbackSetEarlyStopping.weight == 1000
    assert learner.model.epochs == 3
    # the late callback sees the decision of early stopping in the same stage
    assert seen == [(1, False), (2, False), (3, True)]
    # the validation score is what the weight-2000 callback wrote last
    assert learner.internal_valid_scores == {"classif.ce": 3.0}


def test_the_early_stopping_id_is_reserved():
    cb = tw.torch_callback("early_stopping", on_begin=lambda self: None)
    with pytest.raises(
        InvalidParameterError, match=r"'early_stopping' is reserved: set 'patience'"
    ):
        iris_learner(callbacks=[cb])


# --- restore_best_weights -------------------------------------------------------------------
def _weights(learner):
    return {k: v.clone() for k, v in learner.model.network.state_dict().items()}


def test_restore_best_weights_gives_the_network_of_the_best_epoch():
    scores = {1: 0.5, 2: 0.2, 3: 0.3, 4: 0.3, 5: 0.1}
    params = {
        "patience": 2,
        "measures_valid": tw.msr("classif.ce"),
        "shuffle": False,
        "batch_size": 40,
        "opt.lr": 0.05,
    }

    network = nn.Linear(4, 3)  # every run starts from a copy of these weights

    def run(epochs, **extra):
        script, _ = scripted(scores.__getitem__)
        learner = iris_learner(network, [script], epochs=epochs, **{**params, **extra})
        return train(learner)

    restored = run(5, restore_best_weights=True)
    assert restored.model.epochs == 4  # stopped: 3 and 4 do not beat epoch 2
    assert restored.internal_tuned_values == {"epochs": 2}
    assert restored.model.callbacks["early_stopping"]["best_epochs"] == 2

    best_only = run(2)  # trained for exactly the best number of epochs
    last = run(5)  # same run without restoring: the network of epoch 4
    four = run(4, patience=0)

    w_restored, w_best, w_last, w_four = map(_weights, (restored, best_only, last, four))
    for name in w_restored:
        assert torch.allclose(w_restored[name], w_best[name], atol=0, rtol=0), name
        assert torch.allclose(w_last[name], w_four[name], atol=0, rtol=0), name
    assert not torch.equal(w_restored["weight"], w_last["weight"])
    assert last.model.epochs == 4
    assert last.internal_tuned_values == {"epochs": 2}
    # predictions come from the restored network
    task = tw.tsk("iris")
    assert restored.predict(task).response.tolist() == best_only.predict(task).response.tolist()


# --- configuration errors -------------------------------------------------------------------
def test_patience_without_validation_measures_is_an_error():
    learner = iris_learner(epochs=3, patience=2)
    with pytest.raises(
        InvalidParameterError,
        match=r"Learner 'classif.torch_model' has a non 0 patience parameter but no measures_valid",
    ):
        train(learner)
    assert learner.model is None


class MeasureUndirected(MeasureClassifCE):
    """classif.ce without a direction: it cannot drive early stopping."""

    id = "classif.undirected"
    minimize = None  # type: ignore[assignment]


def test_early_stopping_needs_a_measure_with_a_direction():
    learner = iris_learner(epochs=3, patience=2, measures_valid=[MeasureUndirected()])
    with pytest.raises(InvalidParameterError, match=r"minimize"):
        train(learner)
