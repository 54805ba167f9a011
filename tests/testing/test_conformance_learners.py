"""The learner conformance suite, run over every registered learner, and its own tests."""

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import torchweave as tw
from torchweave.data.prediction import PredictionClassif
from torchweave.learners.learner import Learner
from torchweave.testing.learners import CONSTRUCTION, LEARNER_CHECKS, check_learner
from torchweave.testing.params import check_param_set


@pytest.mark.parametrize("key", tw.registry.learners.keys())
def test_registered_learner_conforms(key):
    learner = CONSTRUCTION[key]() if key in CONSTRUCTION else tw.lrn(key)
    results = check_learner(learner)
    assert set(results) == set(LEARNER_CHECKS)
    assert all(r == "passed" or r.startswith("skipped: ") for r in results.values())


@pytest.mark.parametrize("key", tw.registry.learners.keys())
def test_registered_learner_param_set_conforms(key):
    check_param_set(tw.lrn(key).param_set)
    if key in CONSTRUCTION:
        check_param_set(CONSTRUCTION[key]().param_set)


def test_constructions_name_registered_learners_and_build_them():
    assert set(CONSTRUCTION) <= set(tw.registry.learners.keys())
    for key, make in CONSTRUCTION.items():
        learner = make()
        assert isinstance(learner, type(tw.lrn(key))), key
        assert learner.id == tw.lrn(key).id


# --- deliberately broken learners --------------------------------------------------------------
class _Base(Learner):
    def __init__(self, **kw: Any) -> None:
        super().__init__(
            id="classif.broken",
            task_type="classif",
            predict_types=("response", "prob"),
            feature_types=kw.pop("feature_types", ("numeric", "integer", "logical")),
            properties=kw.pop("properties", ("twoclass", "multiclass")),
        )

    def _train(self, task):
        return task.truth().value_counts(sort=False).to_numpy(dtype=float)

    def _predict(self, task) -> Mapping[str, Any]:
        counts = np.asarray(self.model, dtype=float)
        prob = np.tile(counts / counts.sum(), (task.nrow, 1))
        classes = np.asarray(self.state.class_names, dtype=object)
        return {
            "response": classes[np.zeros(task.nrow, dtype=int) + int(np.argmax(counts))],
            "prob": prob,
        }


class _Working(_Base):
    """Passes the suite (a control for the broken ones)."""


class _ProbNotNormalised(_Base):
    def _predict(self, task):
        out = dict(super()._predict(task))
        out["prob"] = out["prob"] * 0.5
        return out


class _RandomTrain(_Base):
    def _train(self, task):
        # Entropy from the OS, so np.random.seed does not make it repeat.
        return np.random.default_rng().random(len(task.class_names)) + 0.1


_SHARED: dict[str, Any] = {}


class _SharedState(_Base):
    def _train(self, task):
        _SHARED["counts"] = super()._train(task) + np.arange(len(task.class_names)) * task.nrow**2
        return "see _SHARED"

    def _predict(self, task):
        self.state.model = _SHARED["counts"]
        try:
            return super()._predict(task)
        finally:
            self.state.model = "see _SHARED"


class _Unpicklable(_Base):
    def _train(self, task):
        counts = super()._train(task)
        return {"counts": counts, "hook": lambda: None}

    def _predict(self, task):
        self.state.model, model = self.model["counts"], self.model
        try:
            return super()._predict(task)
        finally:
            self.state.model = model


class _ResponseNotArgmax(_Base):
    def _predict(self, task):
        out = super()._predict(task)
        classes = self.state.class_names
        return (
            PredictionClassif(
                task.row_ids,
                task.truth(),
                response=[classes[-1]] * task.nrow,
                prob=np.tile(
                    [0.9] + [0.1 / (len(classes) - 1)] * (len(classes) - 1), (task.nrow, 1)
                ),
                class_names=classes,
            )
            if self.predict_type == "prob"
            else out
        )


class _FailsOnFactors(_Base):
    def __init__(self) -> None:
        super().__init__(feature_types=("numeric", "factor"))

    def _train(self, task):
        X = task.data(cols=task.feature_names).to_numpy(dtype=float)
        return super()._train(task) + 0 * X.sum()


class _MutatesTask(_Base):
    def train(self, task, row_ids=None):
        task.rbind(task.data(rows=task.row_ids[:1]))
        return super().train(task, row_ids=row_ids)


class _ClaimsMissingsWithoutHandling(_Base):
    def __init__(self) -> None:
        super().__init__(properties=("twoclass", "multiclass", "missings"))

    def _train(self, task):
        if task.data(cols=task.feature_names).isna().any().any():
            raise ValueError("Input contains NaN.")
        return super()._train(task)


def test_working_control_passes():
    assert set(check_learner(_Working()).values()) == {"passed"}


@pytest.mark.parametrize(
    ("learner", "check", "message"),
    [
        (_ProbNotNormalised(), "feature_types", "must sum to 1 per row; row 0 sums to 0.5"),
        (_RandomTrain(), "determinism", "two trainings after the same np.random.seed"),
        (_SharedState(), "clone_independence", "after training its clone"),
        (_Unpicklable(), "pickle", "a trained learner must pickle"),
        (_ResponseNotArgmax(), "feature_types", "must be the class with the largest probability"),
        (_MutatesTask(), "train_predict", "train/predict changed the task's data"),
    ],
)
def test_broken_learner_is_rejected(learner, check, message):
    with pytest.raises(
        AssertionError, match=rf"learner 'classif.broken' fails check '({check})'.*{message}"
    ):
        check_learner(learner)


def test_mutating_learner_fails_task_unchanged():
    skip = {"train_predict": "x", "feature_types": "x", "predict_types": "x", "classes": "x"}
    with pytest.raises(AssertionError, match=r"fails check 'task_unchanged'.*changed the task"):
        check_learner(_MutatesTask(), skip=skip)


def test_errors_in_a_check_propagate_with_notes():
    with pytest.raises(ValueError, match=r"could not convert string to float") as info:
        check_learner(_FailsOnFactors(), skip={"train_predict": "x", "predict_types": "x"})
    notes = " ".join(info.value.__notes__)
    assert "in check 'feature_types' of check_learner for learner 'classif.broken'" in notes
    assert "(on a generated task with one 'factor' feature)" in notes


def test_unhandled_missing_values_propagate_with_a_note():
    with pytest.raises(ValueError, match=r"Input contains NaN") as info:
        check_learner(_ClaimsMissingsWithoutHandling())
    assert "in check 'missings' of check_learner" in " ".join(info.value.__notes__)


def test_skips_are_reported():
    learner = _RandomTrain()
    learner._conformance_skips = {"determinism": "draws from the OS entropy pool"}
    results = check_learner(learner)
    assert results["determinism"] == "skipped: draws from the OS entropy pool"
    assert results["pickle"] == "passed"
    results = check_learner(_Unpicklable(), skip={"pickle": "holds a lambda"})
    assert results["pickle"] == "skipped: holds a lambda"


def test_unknown_skip_is_an_error():
    with pytest.raises(AssertionError, match=r"Unknown check\(s\) \['determinsm'\]"):
        check_learner(_Working(), skip={"determinsm": "typo"})


def test_check_learner_leaves_learner_and_global_rng_alone():
    learner = tw.lrn("classif.featureless", method="sample")
    np.random.seed(5)
    state = np.random.get_state()[1].copy()
    check_learner(learner)
    assert not learner.is_trained
    assert learner.param_set.values == {"method": "sample"}
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_extra_tasks_are_used():
    learner = tw.lrn("classif.rpart")
    results = check_learner(learner, tasks=[tw.tsk("iris")])
    assert results["train_predict"] == "passed"


def test_non_learner_is_rejected():
    with pytest.raises(AssertionError, match=r"check_learner needs a Learner. Got str"):
        check_learner("classif.featureless")
