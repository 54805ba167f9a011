"""resample and benchmark under joblib's Dask and Ray backends equal sequential runs."""

import os

import joblib
import pytest

import torchweave as tw
from torchweave.distributed import parallel
from torchweave.distributed.threads import cap_threads, capped_threads

from .helpers import assert_same_results, torch_learner


class CountingBar:
    """Stands in for the tqdm bar: counts the finished iterations it is told about."""

    made: list = []

    def __init__(self, total, desc):
        self.total, self.desc, self.n = total, desc, 0
        CountingBar.made.append(self)

    def update(self, k=1):
        self.n += k

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def counting_bar(monkeypatch):
    CountingBar.made = []
    monkeypatch.setattr(parallel, "progress_bar", CountingBar)
    return CountingBar.made


def design():
    """Iris, 2-fold CV: a seeded MLP (1 thread) and one asking for 2 threads (probed)."""
    task = tw.tsk("iris")
    learners = [torch_learner("mlp"), torch_learner("probe", num_threads=2, probe=True)]
    return tw.benchmark_grid(task, learners, tw.rsmp("cv", folds=2, random_state=1))


def check_against_sequential(distributed, sequential, counting_bar):
    assert_same_results(distributed.resample_results[0], sequential.resample_results[0])

    # The learner asking for 2 threads gets the worker's 1 thread there, 2 here.
    def probe(bmr):
        return [lrn.model.callbacks["probe"]["threads"] for lrn in bmr.resample_results[1].learners]

    assert probe(sequential) == [2, 2]
    assert probe(distributed) == [1, 1]
    # One bar per run, moved to the 4 iterations.
    assert [(bar.total, bar.n) for bar in counting_bar] == [(4, 4), (4, 4)]


def failing_learner():
    """Iris has 3 classes; 2 outputs per row fail in the loop's first-batch check."""
    return torch_learner("two_outputs", outputs=2)


# --- Dask ---------------------------------------------------------------------------------
def test_benchmark_under_dask_equals_sequential_and_scatters_once(
    dask_client, counting_bar, monkeypatch
):
    sequential = tw.benchmark(design(), store_models=True)
    scattered = []
    scatter = dask_client.scatter
    monkeypatch.setattr(
        dask_client, "scatter", lambda data, **kw: scattered.append(data) or scatter(data, **kw)
    )
    with joblib.parallel_config(backend="dask"):
        distributed = tw.benchmark(design(), store_models=True)
    check_against_sequential(distributed, sequential, counting_bar)
    # One task and two learners, each sent once for the 4 iterations.
    assert sorted(type(x[0]).__name__ for x in scattered) == [
        "LearnerTorchModel",
        "LearnerTorchModel",
        "TaskClassif",
    ]


def test_a_failure_on_a_dask_worker_names_iteration_learner_and_task(dask_client):
    with joblib.parallel_config(backend="dask"), pytest.raises(tw.errors.ShapeError) as info:
        tw.resample(tw.tsk("iris"), failing_learner(), tw.rsmp("cv", folds=2))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "resampling iteration" in notes
    assert "learner 'two_outputs' on task 'iris'" in notes


def test_the_documented_cluster_keeps_malloc_trimming_off_here_and_on_workers(dask_client):
    # docs/scaling_out.md: with the pre-spawn key set to None, the nanny neither sets
    # MALLOC_TRIM_THRESHOLD_ in this process nor on its workers.
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    on_workers = dask_client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert len(on_workers) == 2
    assert set(on_workers.values()) == {None}


def tuning_run():
    """Random search over a decision tree's depth on iris, 4 configurations, 2-fold CV."""
    learner = tw.lrn("classif.rpart", max_depth=tw.to_tune(1, 6), random_state=1)
    return tw.tune(
        tuner=tw.tnr("random_search", batch_size=4),
        task=tw.tsk("iris"),
        learner=learner,
        resampling=tw.rsmp("cv", folds=2),
        measures=tw.msr("classif.ce"),
        terminator=tw.trm("evals", n_evals=4),
        seed=7,
    )


def check_tuning_against_sequential(distributed, sequential):
    cols = ["max_depth", "classif.ce", "status"]
    assert distributed.archive[cols].equals(sequential.archive[cols])
    assert distributed.result == sequential.result


def test_tune_under_dask_runs_on_the_cluster_and_equals_sequential(
    dask_client, counting_bar, monkeypatch
):
    sequential = tuning_run()
    scattered = []
    scatter = dask_client.scatter
    monkeypatch.setattr(
        dask_client, "scatter", lambda data, **kw: scattered.append(data) or scatter(data, **kw)
    )
    with joblib.parallel_config(backend="dask"):
        distributed = tuning_run()
    check_tuning_against_sequential(distributed, sequential)
    # The batch of 4 evaluations went to the cluster, with the task sent once.
    assert [type(x[0]).__name__ for x in scattered] == ["TaskClassif"]
    assert ("tuning", 4, 4) in [(bar.desc, bar.total, bar.n) for bar in counting_bar]


# --- Ray ----------------------------------------------------------------------------------
def test_benchmark_under_ray_equals_sequential(ray_backend, counting_bar):
    sequential = tw.benchmark(design(), store_models=True)
    with joblib.parallel_config(backend="ray"):
        distributed = tw.benchmark(design(), store_models=True)
    check_against_sequential(distributed, sequential, counting_bar)


def test_tune_under_ray_equals_sequential(ray_backend):
    sequential = tuning_run()
    with joblib.parallel_config(backend="ray"):
        distributed = tuning_run()
    check_tuning_against_sequential(distributed, sequential)


def test_a_failure_on_a_ray_worker_names_iteration_learner_and_task(ray_backend):
    with joblib.parallel_config(backend="ray"), pytest.raises(tw.errors.ShapeError) as info:
        tw.resample(tw.tsk("iris"), failing_learner(), tw.rsmp("cv", folds=2))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "resampling iteration" in notes
    assert "learner 'two_outputs' on task 'iris'" in notes


# --- without a cluster --------------------------------------------------------------------
def test_thread_caps_apply_only_inside_a_cap():
    assert cap_threads(8) == 8
    with capped_threads(2):
        assert cap_threads(8) == 2
        assert cap_threads(1) == 1
        with capped_threads(1):
            assert cap_threads(8) == 1
        assert cap_threads(8) == 2
    assert cap_threads(8) == 8
    with capped_threads(None):
        assert cap_threads(8) == 8


def test_the_progress_bar_counts_sequential_and_loky_runs(counting_bar):
    task = tw.tsk("iris")
    learner = tw.lrn("classif.featureless")
    tw.resample(task, learner, tw.rsmp("cv", folds=4))
    tw.resample(task, learner, tw.rsmp("cv", folds=4), n_jobs=2)
    assert [(bar.total, bar.n) for bar in counting_bar] == [(4, 4), (4, 4)]
