"""benchmark_grid(), benchmark() and BenchmarkResult."""

from typing import Any

import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from torchweave.learners import Learner


class MajorityLearner(Learner):
    """Predicts the training majority class and records its training rows."""

    def __init__(self, id: str = "classif.majority") -> None:
        super().__init__(id=id, task_type="classif", properties={"twoclass", "multiclass"})
        self.train_rows: list[int] = []

    def _train(self, task: tw.Task) -> Any:
        self.train_rows = task.row_ids.tolist()
        return task.truth().value_counts().reindex(task.class_names).to_numpy()

    def _predict(self, task: tw.Task) -> dict[str, Any]:
        assert self.state is not None
        winner = self.state.class_names[int(np.argmax(self.model))]
        return {"response": [winner] * task.nrow}


def make_task(id: str, n: int) -> tw.TaskClassif:
    df = pd.DataFrame({"x": np.arange(float(n)), "y": (["a", "a", "b"] * n)[:n]})
    return tw.TaskClassif(df, "y", id=id)


@pytest.fixture
def tasks() -> list[tw.TaskClassif]:
    return [make_task("small", 24), make_task("large", 45)]


@pytest.fixture
def learners() -> list[MajorityLearner]:
    return [MajorityLearner("classif.one"), MajorityLearner("classif.two")]


@pytest.fixture
def resamplings() -> list[tw.Resampling]:
    return [tw.rsmp("cv", folds=3), tw.rsmp("holdout")]


def test_grid_has_every_combination(tasks, learners, resamplings):
    design = tw.benchmark_grid(tasks, learners, resamplings)
    assert list(design.columns) == ["task", "learner", "resampling"]
    assert design.shape == (8, 3)
    ids = [(r.task.id, r.learner.id, r.resampling.id) for r in design.itertuples()]
    assert ids == [
        (t, lrn, r)
        for t in ["small", "large"]
        for lrn in ["classif.one", "classif.two"]
        for r in ["cv", "holdout"]
    ]


def test_grid_instantiates_each_resampling_once_per_task(tasks, learners, resamplings):
    design = tw.benchmark_grid(tasks, learners, resamplings)
    assert not any(r.is_instantiated for r in resamplings)
    for r in design.itertuples():
        assert r.resampling.is_instantiated
        assert r.resampling.task_id == r.task.id
    for task in tasks:
        for key in ["cv", "holdout"]:
            shared = [
                r.resampling
                for r in design.itertuples()
                if r.task.id == task.id and r.resampling.id == key
            ]
            first, second = shared
            assert first.iters == second.iters
            for i in range(first.iters):
                assert first.test_set(i).tolist() == second.test_set(i).tolist()


def test_grid_accepts_single_objects(tasks, learners):
    design = tw.benchmark_grid(tasks[0], learners[0], tw.rsmp("cv", folds=3))
    assert design.shape == (1, 3)


def test_grid_uses_an_instantiated_resampling_as_is(tasks, learners):
    cv = tw.rsmp("cv", folds=3).instantiate(tasks[0])
    design = tw.benchmark_grid(tasks[0], learners, cv)
    for r in design["resampling"]:
        assert r.test_set(0).tolist() == cv.test_set(0).tolist()
    with pytest.raises(tw.TaskError, match="Resampling 'cv' was instantiated on task 'small'"):
        tw.benchmark_grid(make_task("tiny", 10), learners, cv)


def test_grid_argument_checks(tasks, learners):
    with pytest.raises(tw.InvalidParameterError, match="benchmark_grid needs at least one task"):
        tw.benchmark_grid([], learners, tw.rsmp("cv"))
    with pytest.raises(tw.InvalidTypeError, match="benchmark_grid needs Tasks in 'tasks'"):
        tw.benchmark_grid(["iris"], learners, tw.rsmp("cv"))
    with pytest.raises(
        tw.InvalidTypeError, match="benchmark_grid needs Resamplings in 'resamplings'"
    ):
        tw.benchmark_grid(tasks, learners, ["cv"])


def test_benchmark_learners_share_the_splits(tasks, learners, resamplings):
    design = tw.benchmark_grid(tasks, learners, resamplings)
    bmr = tw.benchmark(design, store_models=True)
    assert len(bmr) == 8
    results = bmr.resample_results
    for a, b in [(0, 2), (1, 3), (4, 6), (5, 7)]:
        ra, rb = results[a], results[b]
        assert (ra.learner.id, rb.learner.id) == ("classif.one", "classif.two")
        for la, lb in zip(ra.learners, rb.learners, strict=True):
            assert la.train_rows == lb.train_rows
        for pa, pb in zip(ra.predictions(), rb.predictions(), strict=True):
            assert pa.row_ids.tolist() == pb.row_ids.tolist()


def test_benchmark_aggregate_frame(tasks, learners, resamplings):
    bmr = tw.benchmark(tw.benchmark_grid(tasks, learners, resamplings))
    agg = bmr.aggregate(tw.msrs("classif.acc", "classif.ce"))
    assert agg.shape == (8, 6)
    assert list(agg.columns) == [
        "task_id",
        "learner_id",
        "resampling_id",
        "iters",
        "classif.acc",
        "classif.ce",
    ]
    assert agg["iters"].tolist() == [3, 1] * 4
    assert agg["task_id"].tolist() == ["small"] * 4 + ["large"] * 4
    for row, rr in zip(agg.itertuples(index=False), bmr.resample_results, strict=True):
        assert row[4] == pytest.approx(rr.aggregate("classif.acc")["classif.acc"])
    assert (agg["classif.acc"] + agg["classif.ce"]).tolist() == pytest.approx([1.0] * 8)


def test_benchmark_score_frame(tasks, learners, resamplings):
    bmr = tw.benchmark(tw.benchmark_grid(tasks, learners, resamplings))
    scores = bmr.score("classif.acc")
    assert list(scores.columns) == [
        "nr",
        "iteration",
        "task_id",
        "learner_id",
        "resampling_id",
        "classif.acc",
    ]
    assert len(scores) == 4 * (3 + 1)
    assert scores["nr"].tolist() == [0, 0, 0, 1, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6, 6, 7]
    assert scores["iteration"].tolist() == [0, 1, 2, 0] * 4


def test_benchmark_in_parallel_equals_sequential(tasks, learners):
    design = tw.benchmark_grid(tasks, learners, tw.rsmp("cv", folds=3))
    seq = tw.benchmark(design).score("classif.acc")
    par = tw.benchmark(design, n_jobs=2).score("classif.acc")
    pd.testing.assert_frame_equal(seq, par)


def test_benchmark_design_checks():
    with pytest.raises(tw.InvalidTypeError, match="benchmark needs a design DataFrame"):
        tw.benchmark([("task", "learner", "resampling")])
    with pytest.raises(tw.InvalidParameterError, match="it lacks 'resampling'"):
        tw.benchmark(pd.DataFrame({"task": [], "learner": []}))


def test_benchmark_repr(tasks, learners):
    bmr = tw.benchmark(tw.benchmark_grid(tasks[0], learners, tw.rsmp("holdout")))
    text = repr(bmr)
    assert text.startswith("<BenchmarkResult> of 2 resample results\n")
    assert "classif.one" in text
    assert "classif.two" in text
    assert "holdout" in text
