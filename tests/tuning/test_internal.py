"""Internal tuning of epochs (mlr3torch §2.13): early stopping up to U, ceil(mean), refit."""

import math

import pytest

import torchweave as tw
from tests.tuning.helpers import branch_graph
from torchweave.errors import InvalidParameterError

IRIS = tw.tsk("iris")
CE = tw.msr("classif.ce")


def _internal_learner(upper=12):
    learner = branch_graph(patience=2, validate="test")
    learner.param_set.set_values(
        **{
            "torch_model_classif.epochs": tw.to_tune(upper=upper, internal=True),
            "torch_optimizer.lr": tw.to_tune([0.02, 0.2]),
        }
    )
    return learner


def test_internal_epochs_are_the_ceil_of_the_mean_best_epochs():
    instance = tw.tune(
        tw.tnr("grid_search"),
        IRIS,
        _internal_learner(),
        tw.rsmp("cv", folds=2),
        CE,
        seed=1,
        store_resample_results=True,
    )
    archive = instance.archive
    assert set(archive["status"]) == {"ok"}
    for _, row in archive.iterrows():
        best = [
            it["torch_model_classif.epochs"] for it in row["resample_result"].internal_tuned_values
        ]
        assert all(1 <= b <= 12 for b in best)
        assert row["internal_tuned_values"] == {
            "torch_model_classif.epochs": math.ceil(sum(best) / len(best))
        }
    result = instance.result
    epochs = result.internal_tuned_values["torch_model_classif.epochs"]
    assert result.learner_param_vals["torch_model_classif.epochs"] == epochs
    assert result.learner_param_vals["torch_model_classif.patience"] == 0
    assert result.learner_param_vals["torch_model_classif.measures_valid"] == []
    final = instance.result_learner()
    assert final.validate is None
    final.train(IRIS)
    trained = final.model["torch_model_classif"].model
    assert trained.epochs == epochs  # refit: exactly that many epochs, no early stopping
    assert final.internal_valid_scores == {}


def test_auto_tuner_refits_with_the_tuned_epochs_and_nests_in_resample():
    at = tw.auto_tuner(
        tw.tnr("random_search"),
        _internal_learner(upper=6),
        tw.rsmp("holdout"),
        CE,
        tw.trm("evals", n_evals=2),
        seed=2,
    )
    assert "validation" not in at.properties
    rr = tw.resample(IRIS, at, tw.rsmp("cv", folds=2), store_models=True)
    assert rr.iters == 2
    for trained in rr.learners:
        epochs = trained.tuning_result.internal_tuned_values["torch_model_classif.epochs"]
        inner = trained.base_learner
        assert inner.model["torch_model_classif"].model.epochs == epochs
        assert inner.param_set.values["torch_model_classif.patience"] == 0
        assert len(trained.tuning_instance.archive) == 2
    assert 0 <= rr.aggregate(CE)["classif.ce"] <= 1


def test_internal_tuning_without_early_stopping_says_what_to_set():
    learner = branch_graph()
    learner.param_set.set_values(
        **{"torch_model_classif.epochs": tw.to_tune(upper=5, internal=True)}
    )
    with pytest.raises(
        InvalidParameterError,
        match=r"learner.validate .*'torch_model_classif.measures_valid'.*'torch_model_classif.patience' > 0",
    ):
        tw.tune(tw.tnr("grid_search"), IRIS, learner, tw.rsmp("holdout"), CE)


def test_internal_token_needs_an_internal_tuning_parameter():
    learner = branch_graph()
    with pytest.raises(InvalidParameterError, match="tagged 'internal_tuning'"):
        learner.param_set.set_values(
            **{"torch_model_classif.batch_size": tw.to_tune(upper=5, internal=True)}
        )


def test_internal_tuning_combines_with_an_explicit_search_space():
    learner = branch_graph(patience=2, validate=0.3)
    learner.param_set.set_values(
        **{"torch_model_classif.epochs": tw.to_tune(upper=6, internal=True)}
    )
    space = tw.ps(**{"torch_optimizer.lr": tw.p_dbl(0.01, 0.1, logscale=True)})
    instance = tw.tune(
        tw.tnr("random_search"),
        IRIS,
        learner,
        tw.rsmp("holdout"),
        CE,
        tw.trm("evals", n_evals=2),
        search_space=space,
        seed=1,
    )
    archive = instance.archive
    assert list(archive.columns[:3]) == ["eval", "torch_optimizer.lr", "classif.ce"]
    assert all(1 <= v["torch_model_classif.epochs"] <= 6 for v in archive["internal_tuned_values"])
