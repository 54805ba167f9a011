"""Optuna pruning from per-epoch validation scores."""

import pytest

import torchweave as tw
from tests.tuning.helpers import branch_graph

optuna = pytest.importorskip("optuna")
IRIS = tw.tsk("iris")


class _PruneAfterFirstTrial(optuna.pruners.BasePruner):
    """Prunes every trial but the first at its third reported step."""

    def prune(self, study, trial):
        steps = trial.intermediate_values
        return trial.number > 0 and len(steps) >= 3


def test_a_pruned_trial_stops_training_and_is_recorded():
    learner = branch_graph(epochs=8, validate=0.3)
    learner.param_set.set_values(
        **{
            "torch_model_classif.measures_valid": tw.msr("classif.acc"),
            "torch_optimizer.lr": tw.to_tune(0.01, 0.1),
        }
    )
    tuner = tw.tnr("optuna", pruner=_PruneAfterFirstTrial())
    instance = tw.tune(
        tuner,
        IRIS,
        learner,
        tw.rsmp("cv", folds=2),
        tw.msr("classif.ce"),
        tw.trm("evals", n_evals=3),
        seed=1,
    )
    archive = instance.archive
    assert list(archive["status"]) == ["ok", "pruned", "pruned"]
    assert (
        archive["error"]
        .iloc[1]
        .startswith("EvaluationPrunedError: Optuna pruned trial 1 at step 3")
    )
    trials = tuner.study.trials
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED", "PRUNED"]
    # the first trial reported every epoch of both folds: steps 1..8 and 9..16
    assert sorted(trials[0].intermediate_values) == list(range(1, 17))
    # accuracy (maximised) is reported negated to match the minimised classif.ce
    assert all(v <= 0 for v in trials[0].intermediate_values.values())
    assert sorted(trials[1].intermediate_values) == [1, 2, 3]  # stopped in the 3rd epoch
    assert instance.result.number == 0


def test_pruning_with_parallel_evaluations():
    learner = branch_graph(epochs=4, validate=0.3)
    learner.param_set.set_values(
        **{
            "torch_model_classif.measures_valid": tw.msr("classif.ce"),
            "torch_optimizer.lr": tw.to_tune(0.01, 0.1),
        }
    )
    instance = tw.tune(
        tw.tnr("optuna", pruner=optuna.pruners.MedianPruner(n_startup_trials=1)),
        IRIS,
        learner,
        tw.rsmp("holdout"),
        "classif.ce",
        tw.trm("evals", n_evals=4),
        n_jobs=2,
        seed=1,
    )
    assert set(instance.archive["status"]) <= {"ok", "pruned"}
    assert len(instance.archive) == 4
