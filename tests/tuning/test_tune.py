"""tune(): tuners, archive, result, failures, parallel runs, multi-objective, plots."""

import math

import pandas as pd
import pytest

import torchweave as tw
from tests.tuning.helpers import branch_graph, rpart
from torchweave.errors import InvalidParameterError, InvalidTypeError, NotTrainedError

IRIS = tw.tsk("iris")
CE = tw.msr("classif.ce")


def _tune(tuner, learner=None, n_evals=4, **kwargs):
    learner = learner if learner is not None else rpart(max_depth=tw.to_tune(1, 4))
    kwargs.setdefault("terminator", tw.trm("evals", n_evals=n_evals))
    return tw.tune(
        tuner=tuner,
        task=IRIS,
        learner=learner,
        resampling=tw.rsmp("cv", folds=3),
        measures=kwargs.pop("measures", CE),
        seed=kwargs.pop("seed", 1),
        **kwargs,
    )


def test_grid_search_evaluates_every_point_and_finds_the_best():
    instance = _tune(tw.tnr("grid_search", resolution=4), terminator=None)
    archive = instance.archive
    assert sorted(archive["max_depth"]) == [1, 2, 3, 4]
    assert list(archive.columns[:3]) == ["eval", "max_depth", "classif.ce"]
    assert set(archive["status"]) == {"ok"}
    best = archive.loc[archive["classif.ce"].idxmin()]
    assert instance.result.config == {"max_depth": best["max_depth"]}
    assert instance.result.scores == {"classif.ce": best["classif.ce"]}
    # The score is the resampling's: the same as resampling that configuration directly.
    rr = tw.resample(IRIS, rpart(max_depth=int(best["max_depth"])), instance.resampling)
    assert rr.aggregate(CE)["classif.ce"] == pytest.approx(best["classif.ce"])
    assert (archive["runtime"] >= archive["runtime_learners"]).all()


def test_random_search_is_reproducible_and_respects_the_budget():
    learner = rpart(max_depth=tw.to_tune(1, 6), min_samples_leaf=tw.to_tune(1, 20, logscale=True))
    a = _tune(tw.tnr("random_search"), learner, n_evals=5).archive
    b = _tune(tw.tnr("random_search"), learner, n_evals=5).archive
    assert len(a) == 5
    pd.testing.assert_frame_equal(
        a[["max_depth", "min_samples_leaf", "classif.ce"]],
        b[["max_depth", "min_samples_leaf", "classif.ce"]],
    )
    assert a["min_samples_leaf"].between(1, 20).all()


def test_parallel_evaluation_gives_the_same_archive_as_sequential():
    learner = rpart(max_depth=tw.to_tune(1, 6), criterion=tw.to_tune(["gini", "entropy"]))
    columns = ["max_depth", "criterion", "classif.ce", "status"]
    seq = _tune(tw.tnr("random_search"), learner, n_evals=4, n_jobs=1).archive
    par = _tune(tw.tnr("random_search"), learner, n_evals=4, n_jobs=2).archive
    pd.testing.assert_frame_equal(seq[columns], par[columns])
    assert list(par["batch"]) == [0, 0, 1, 1]  # two configurations per batch with 2 workers


@pytest.mark.parametrize("sampler", ["tpe", "cmaes", "random"])
def test_optuna_tuner_with_any_sampler(sampler):
    import optuna

    samplers = {
        "tpe": lambda: None,
        "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=1, n_startup_trials=2),
        "random": lambda: optuna.samplers.RandomSampler(seed=1),
    }
    learner = rpart(max_depth=tw.to_tune(1, 6), ccp_alpha=tw.to_tune(1e-4, 1e-1, logscale=True))
    instance = _tune(tw.tnr("optuna", sampler=samplers[sampler]()), learner, n_evals=4)
    tuner_study = instance.archive
    assert len(tuner_study) == 4 and set(tuner_study["status"]) == {"ok"}
    assert tuner_study["ccp_alpha"].between(1e-4, 1e-1).all()


def test_optuna_tells_its_study_every_trial():
    tuner = tw.tnr("optuna")
    instance = _tune(tuner, n_evals=3)
    values = [t.value for t in tuner.study.trials]
    assert values == list(instance.archive["classif.ce"])


def test_a_failing_configuration_is_recorded_and_tuning_goes_on():
    # max_depth=0 is refused by scikit-learn at fit time.
    learner = rpart(max_depth=tw.to_tune(0, 2))
    instance = _tune(tw.tnr("grid_search", resolution=3), learner, terminator=None)
    archive = instance.archive.set_index("max_depth")
    assert archive.loc[0, "status"] == "error"
    assert "max_depth" in archive.loc[0, "error"]
    assert archive.loc[0, "classif.ce"] == CE.worst == 1.0
    assert set(archive.loc[[1, 2], "status"]) == {"ok"}
    assert instance.result.config["max_depth"] in (1, 2)


def test_a_nan_loss_is_recorded_as_a_failure():
    learner = branch_graph(epochs=3)
    learner.param_set.set_values(**{"torch_optimizer.lr": tw.to_tune([0.05, 1e30])})
    instance = tw.tune(tw.tnr("grid_search"), IRIS, learner, tw.rsmp("holdout"), CE, seed=1)
    archive = instance.archive.set_index("torch_optimizer.lr")
    assert archive.loc[1e30, "status"] == "error"
    assert "NonFiniteLossError" in archive.loc[1e30, "error"]
    assert archive.loc[0.05, "status"] == "ok"
    assert instance.result.config == {"torch_optimizer.lr": 0.05}


def test_all_failed_has_no_result():
    instance = _tune(tw.tnr("grid_search"), rpart(max_depth=tw.to_tune(-2, -1)), terminator=None)
    assert set(instance.archive["status"]) == {"error"}
    with pytest.raises(NotTrainedError, match="All 2 evaluation"):
        instance.result


def test_a_time_limit_stops_a_long_training():
    learner = branch_graph(epochs=2000)
    learner.param_set.set_values(**{"branch.selection": tw.to_tune(["small", "wide"])})
    instance = tw.tune(
        tw.tnr("grid_search"), IRIS, learner, tw.rsmp("holdout"), CE, eval_time_limit=0.3, seed=1
    )
    archive = instance.archive
    assert set(archive["status"]) == {"timeout"}
    assert archive["error"].str.contains("time limit of 0.3 s").all()
    assert (archive["runtime"] < 20).all()


def test_multi_objective_gives_the_pareto_front():
    learner = rpart(max_depth=tw.to_tune(1, 6), min_samples_leaf=tw.to_tune([1, 10, 40]))
    learner.predict_type = "prob"
    measures = [CE, tw.msr("classif.logloss")]
    instance = _tune(
        tw.tnr("grid_search", resolution=6), learner, terminator=None, measures=measures
    )
    archive = instance.archive.set_index("eval")
    front = instance.pareto_front
    assert front and instance.result == front[0]
    scores = archive[["classif.ce", "classif.logloss"]]
    on_front = {p.number for p in front}
    for number, row in scores.iterrows():
        dominated = ((scores <= row).all(axis=1) & (scores < row).any(axis=1)).any()
        assert dominated == (number not in on_front)


def test_an_explicit_search_space_with_trafo_and_dependency():
    space = tw.ps(
        criterion=tw.p_fct(["gini", "entropy"]),
        max_depth=tw.p_int(0, 2, trafo=lambda x: 2**x),
        min_samples_leaf=tw.p_int(1, 5, depends=("criterion", "entropy")),
    )
    instance = _tune(
        tw.tnr("grid_search", resolution=3),
        tw.lrn("classif.rpart"),
        terminator=None,
        search_space=space,
    )
    archive = instance.archive
    assert sorted(set(archive["max_depth"])) == [1, 2, 4]
    gini = archive[archive["criterion"] == "gini"]
    assert gini["min_samples_leaf"].isna().all()
    assert len(archive) == 3 * (1 + 3)


def test_store_resample_results():
    instance = _tune(
        tw.tnr("grid_search", resolution=2), terminator=None, store_resample_results=True
    )
    rr = instance.archive["resample_result"].iloc[0]
    assert isinstance(rr, tw.ResampleResult) and rr.iters == 3
    assert rr.aggregate(CE)["classif.ce"] == instance.archive["classif.ce"].iloc[0]


def test_argument_errors():
    with pytest.raises(InvalidTypeError, match="needs a Tuner"):
        tw.tune("random_search", IRIS, rpart(max_depth=tw.to_tune(1, 2)), tw.rsmp("holdout"))
    with pytest.raises(InvalidParameterError, match="does not stop by itself"):
        tw.tune(
            tw.tnr("random_search"), IRIS, rpart(max_depth=tw.to_tune(1, 2)), tw.rsmp("holdout")
        )
    with pytest.raises(InvalidParameterError, match="Nothing to tune"):
        tw.tune(tw.tnr("grid_search"), IRIS, tw.lrn("classif.rpart"), tw.rsmp("holdout"))
    with pytest.raises(InvalidParameterError, match="search_space was given too"):
        _tune(tw.tnr("grid_search"), search_space=tw.ps(max_depth=tw.p_int(1, 2)))
    with pytest.raises(InvalidParameterError, match="not parameters of learner"):
        _tune(
            tw.tnr("grid_search"), tw.lrn("classif.rpart"), search_space=tw.ps(nope=tw.p_int(1, 2))
        )
    with pytest.raises(InvalidParameterError, match="eval_time_limit"):
        _tune(tw.tnr("grid_search"), eval_time_limit=0)


def test_plots():
    pytest.importorskip("matplotlib")
    learner = rpart(max_depth=tw.to_tune(0, 3), criterion=tw.to_tune(["gini", "entropy"]))
    instance = _tune(tw.tnr("grid_search", resolution=4), learner, terminator=None)
    fig = instance.plot_history()
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["evaluation", "failed (worst score)", "best so far"]
    fig = instance.plot_params()
    assert sorted(ax.get_xlabel() for ax in fig.axes) == ["criterion", "max_depth"]
    with pytest.raises(tw.PlotError, match="not a measure"):
        instance.plot_history(measure="classif.acc")


def test_repr_and_result_learner():
    instance = _tune(tw.tnr("grid_search", resolution=2), terminator=None)
    assert "Evaluations: 2 (0 failed)" in repr(instance)
    learner = instance.result_learner()
    assert learner.param_set.values["max_depth"] == instance.result.config["max_depth"]
    assert not math.isnan(learner.train(IRIS).predict(IRIS).score(CE)["classif.ce"])


def test_tuning_leaves_the_global_random_state_alone():
    import numpy as np

    np.random.seed(7)
    expected = np.random.random()
    np.random.seed(7)
    _tune(tw.tnr("grid_search", resolution=2), terminator=None)
    assert np.random.random() == expected
