"""resample() and ResampleResult."""

import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from torchweave.learners import Learner
from torchweave.params import ParamSet, p_int


class MajorityLearner(Learner):
    """Predicts the training majority class; records what it saw; can fail on purpose.

    ``fail_if_tested`` makes training raise in every iteration whose test set holds
    that row id (one iteration of a cross-validation).
    """

    def __init__(self) -> None:
        super().__init__(
            id="classif.majority",
            task_type="classif",
            param_set=ParamSet(fail_if_tested=p_int(0, special_vals=[None], init=None)),
            predict_types=["response", "prob"],
            properties={"twoclass", "multiclass", "validation"},
        )
        self.seen: dict[str, Any] = {}

    def _train(self, task: tw.Task) -> Any:
        self.seen["train_rows"] = task.row_ids.tolist()
        valid = task.internal_valid_task
        self.seen["valid_rows"] = None if valid is None else valid.row_ids.tolist()
        fail = self.param_set.values["fail_if_tested"]
        if fail is not None and fail not in self.seen["train_rows"]:
            raise RuntimeError("boom")
        counts = task.truth().value_counts(normalize=True).reindex(task.class_names)
        return counts.to_numpy()

    def _predict(self, task: tw.Task) -> dict[str, Any]:
        assert self.state is not None
        winner = self.state.class_names[int(np.argmax(self.model))]
        return {"prob": np.tile(self.model, (task.nrow, 1)), "response": [winner] * task.nrow}

    def _extract_internal_valid_scores(self) -> dict[str, float]:
        valid = self.seen["valid_rows"]
        return {} if valid is None else {"valid.n": float(len(valid))}

    def _extract_internal_tuned_values(self) -> dict[str, Any]:
        return {"n_train": len(self.seen["train_rows"])}


class MeanLearner(Learner):
    """Predicts the training mean of a regression target."""

    def __init__(self) -> None:
        super().__init__(id="regr.mean", task_type="regr")

    def _train(self, task: tw.Task) -> Any:
        return float(task.truth().mean())

    def _predict(self, task: tw.Task) -> dict[str, Any]:
        return {"response": np.full(task.nrow, self.model)}


@pytest.fixture
def task() -> tw.TaskClassif:
    df = pd.DataFrame({"x": np.arange(30.0), "y": ["a"] * 18 + ["b"] * 12})
    return tw.TaskClassif(df, "y", id="toy")


@pytest.fixture
def regr_task() -> tw.TaskRegr:
    df = pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20.0) ** 2})
    return tw.TaskRegr(df, "y", id="squares")


def test_one_prediction_per_iteration_on_its_test_set(task):
    rr = tw.resample(task, MajorityLearner(), tw.rsmp("cv", folds=3))
    assert rr.iters == 3
    assert len(rr) == 3
    preds = rr.predictions()
    assert len(preds) == 3
    for i, pred in enumerate(preds):
        assert isinstance(pred, tw.PredictionClassif)
        assert pred.row_ids.tolist() == rr.resampling.test_set(i).tolist()
        assert pred.truth.tolist() == task.truth(rr.resampling.test_set(i)).tolist()
    combined = rr.prediction()
    assert sorted(combined.row_ids.tolist()) == list(range(30))


def test_learner_trains_on_the_train_set(task):
    rr = tw.resample(task, MajorityLearner(), tw.rsmp("cv", folds=3), store_models=True)
    for i, learner in enumerate(rr.learners):
        assert learner.seen["train_rows"] == rr.resampling.train_set(i).tolist()
        assert learner.seen["valid_rows"] is None
    assert rr.internal_tuned_values == [{"n_train": 20}] * 3
    assert rr.internal_valid_scores == [{}] * 3


def test_score_has_one_row_per_iteration(task):
    rr = tw.resample(task, MajorityLearner(), tw.rsmp("cv", folds=5, random_state=0))
    scores = rr.score([tw.msr("classif.acc"), "classif.ce"])
    assert list(scores.columns) == [
        "iteration",
        "task_id",
        "learner_id",
        "resampling_id",
        "classif.acc",
        "classif.ce",
    ]
    assert scores["iteration"].tolist() == [0, 1, 2, 3, 4]
    assert set(scores["task_id"]) == {"toy"}
    assert set(scores["learner_id"]) == {"classif.majority"}
    assert set(scores["resampling_id"]) == {"cv"}
    expected = [p.score(tw.msr("classif.acc"))["classif.acc"] for p in rr.predictions()]
    assert scores["classif.acc"].tolist() == pytest.approx(expected)
    assert (scores["classif.acc"] + scores["classif.ce"]).tolist() == pytest.approx([1.0] * 5)


def test_aggregate_is_the_mean_of_the_scores(task):
    rr = tw.resample(task, MajorityLearner(), tw.rsmp("subsampling", repeats=4, ratio=0.5))
    measures = tw.msrs("classif.acc", "classif.ce")
    agg = rr.aggregate(measures)
    scores = rr.score(measures)
    assert agg == {
        "classif.acc": pytest.approx(scores["classif.acc"].mean()),
        "classif.ce": pytest.approx(scores["classif.ce"].mean()),
    }
    assert rr.aggregate() == {"classif.ce": pytest.approx(scores["classif.ce"].mean())}


def test_micro_aggregation_scores_the_combined_prediction():
    df = pd.DataFrame({"x": np.arange(10.0), "y": ["a"] * 6 + ["b"] * 4})
    task = tw.TaskClassif(df, "y", id="toy")
    custom = tw.rsmp("custom").instantiate(
        task, train_sets=[range(6), range(10)], test_sets=[[6, 7, 8], [0]]
    )
    rr = tw.resample(task, MajorityLearner(), custom)
    assert rr.score("classif.acc")["classif.acc"].tolist() == [0.0, 1.0]
    macro = tw.msr("classif.acc")
    micro = tw.msr("classif.acc", aggregation="micro")
    assert rr.aggregate(macro) == {"classif.acc": pytest.approx(0.5)}
    assert rr.aggregate(micro) == {"classif.acc": pytest.approx(0.25)}
    assert rr.aggregate(micro)["classif.acc"] == pytest.approx(
        rr.prediction().score(macro)["classif.acc"]
    )


def test_regression_uses_the_default_measure(regr_task):
    rr = tw.resample(regr_task, MeanLearner(), tw.rsmp("holdout", random_state=1))
    pred = rr.predictions()[0]
    assert isinstance(pred, tw.PredictionRegr)
    train = rr.resampling.train_set(0)
    expected = float(np.mean((pred.truth - regr_task.truth(train).mean()) ** 2))
    assert rr.aggregate() == {"regr.mse": pytest.approx(expected)}
    assert list(rr.score().columns)[-1] == "regr.mse"


def test_models_are_kept_only_when_asked(task):
    learner = MajorityLearner()
    rr = tw.resample(task, learner, tw.rsmp("cv", folds=3))
    assert len(rr.learners) == 3
    assert not any(lrn.is_trained for lrn in rr.learners)
    assert not rr.models_stored
    stored = tw.resample(task, learner, tw.rsmp("cv", folds=3), store_models=True)
    assert all(lrn.is_trained for lrn in stored.learners)
    assert stored.models_stored
    assert len({id(lrn) for lrn in stored.learners}) == 3
    assert "Models stored: yes" in repr(stored)


def test_inputs_are_not_changed(task):
    learner = MajorityLearner().train(task)
    cv = tw.rsmp("cv", folds=3)
    rows = task.row_ids
    rr = tw.resample(task, learner, cv)
    assert not cv.is_instantiated
    assert rr.resampling.is_instantiated
    assert rr.resampling is not cv
    assert learner.seen["train_rows"] == list(range(30))
    assert rr.learner is not learner
    assert not rr.learner.is_trained
    assert task.row_ids.tolist() == rows.tolist()
    assert task.internal_valid_task is None


def test_an_instantiated_resampling_keeps_its_splits(task):
    cv = tw.rsmp("cv", folds=3).instantiate(task)
    rr = tw.resample(task, MajorityLearner(), cv)
    for i in range(3):
        assert rr.resampling.test_set(i).tolist() == cv.test_set(i).tolist()


def test_a_resampling_instantiated_on_other_rows_is_refused(task):
    other = task.clone()
    other.id = "other"
    cv = tw.rsmp("cv", folds=3).instantiate(other)
    task.filter(range(20))
    with pytest.raises(
        tw.TaskError,
        match=r"Resampling 'cv' was instantiated on task 'other', and its splits use row ids "
        r"20, 21, 22, 23, 24, \.\.\. \(5 more\) that are not in use in task 'toy'",
    ):
        tw.resample(task, MajorityLearner(), cv)


def test_validate_test_gives_the_test_set_as_validation_task(task):
    learner = MajorityLearner().configure(validate="test")
    rr = tw.resample(task, learner, tw.rsmp("cv", folds=3), store_models=True)
    for i, trained in enumerate(rr.learners):
        assert trained.seen["valid_rows"] == rr.resampling.test_set(i).tolist()
        assert trained.seen["train_rows"] == rr.resampling.train_set(i).tolist()
    assert rr.internal_valid_scores == [{"valid.n": 10.0}] * 3
    assert task.internal_valid_task is None


def test_parallel_run_equals_sequential_run(task):
    np.random.seed(42)
    seq = tw.resample(task, MajorityLearner(), tw.rsmp("subsampling", repeats=4))
    np.random.seed(42)
    par = tw.resample(task, MajorityLearner(), tw.rsmp("subsampling", repeats=4), n_jobs=2)
    for a, b in zip(seq.predictions(), par.predictions(), strict=True):
        assert a.row_ids.tolist() == b.row_ids.tolist()
        assert a.response.tolist() == b.response.tolist()
    for i in range(4):
        assert seq.resampling.train_set(i).tolist() == par.resampling.train_set(i).tolist()
    pd.testing.assert_frame_equal(seq.score(), par.score())


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_an_error_names_its_iteration(task, n_jobs):
    cv = tw.rsmp("cv", folds=3, random_state=0).instantiate(task)
    failing = next(i for i in range(3) if 7 in cv.test_set(i).tolist())
    learner = MajorityLearner().configure(fail_if_tested=7)
    with pytest.raises(RuntimeError, match="boom") as info:
        tw.resample(task, learner, cv, n_jobs=n_jobs)
    notes = getattr(info.value, "__notes__", [])
    expected = (
        f"(raised in resampling iteration {failing + 1}/3 (index {failing}) of learner "
        "'classif.majority' on task 'toy')"
    )
    assert expected in notes


def test_argument_checks(task, regr_task):
    with pytest.raises(
        tw.TaskError,
        match=r"Learner 'regr\.mean' is for regr tasks, but task 'toy' is a classif task",
    ):
        tw.resample(task, MeanLearner(), tw.rsmp("cv", folds=3))
    with pytest.raises(tw.InvalidTypeError, match="resample needs a Resampling such as"):
        tw.resample(task, MajorityLearner(), "cv")
    with pytest.raises(tw.InvalidTypeError, match=r"resample needs a Task\. Got DataFrame"):
        tw.resample(task.data(), MajorityLearner(), tw.rsmp("cv"))
    with pytest.raises(
        tw.InvalidParameterError,
        match=r"'n_jobs' must be None or a non-zero integer \(-1: all cores\)\. Got 0 instead\.",
    ):
        tw.resample(task, MajorityLearner(), tw.rsmp("cv", folds=3), n_jobs=0)
    with pytest.raises(tw.InvalidParameterError, match=r"'store_models' must be a bool\. Got 1"):
        tw.resample(task, MajorityLearner(), tw.rsmp("cv", folds=3), store_models=1)


def test_bootstrap_train_sets_with_repeats_reach_the_learner(task):
    rr = tw.resample(
        task, MajorityLearner(), tw.rsmp("bootstrap", repeats=2, random_state=0), store_models=True
    )
    for i, learner in enumerate(rr.learners):
        assert learner.seen["train_rows"] == rr.resampling.train_set(i).tolist()
        assert len(learner.seen["train_rows"]) == 30


def test_times_are_recorded(task):
    rr = tw.resample(task, MajorityLearner(), tw.rsmp("cv", folds=3))
    assert len(rr.train_times) == 3
    assert all(t >= 0 for t in rr.train_times + rr.predict_times)


def test_repr(task):
    rr = tw.resample(task, MajorityLearner(), tw.rsmp("holdout"))
    text = repr(rr)
    assert text.startswith("<ResampleResult> of 1 iteration\n")
    assert "* Task: toy" in text
    assert "* Learner: classif.majority" in text
    assert "* Resampling: holdout" in text
    assert "* Models stored: no" in text


def test_progress_bar_only_on_a_terminal(task, capsys, monkeypatch):
    tw.resample(task, MajorityLearner(), tw.rsmp("cv", folds=3))
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    tw.resample(task, MajorityLearner(), tw.rsmp("cv", folds=3))
    err = capsys.readouterr().err
    assert "resample classif.majority on toy" in err
    assert "3/3" in err
