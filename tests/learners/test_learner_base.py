"""The Learner base class: bookkeeping shared by every learner."""

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from torchweave.learners import Learner
from torchweave.params import ParamSet, p_int, p_lgl


class MajorityLearner(Learner):
    """Predicts the training majority class; records what it saw."""

    def __init__(self) -> None:
        super().__init__(
            id="classif.majority",
            task_type="classif",
            param_set=ParamSet(
                need=p_int(0, tags={"train", "required"}),
                fail=p_lgl(init=False, tags="train"),
                seed=p_int(special_vals=[None], init=None),
            ),
            predict_types=["response", "prob"],
            feature_types=["numeric", "integer"],
            properties={"twoclass", "multiclass", "validation"},
        )
        self.seen: dict[str, Any] = {}

    def _train(self, task: tw.Task) -> Any:
        self.seen["train_rows"] = task.row_ids.tolist()
        valid = task.internal_valid_task
        self.seen["valid_rows"] = None if valid is None else valid.row_ids.tolist()
        if self.param_set.values["fail"]:
            raise RuntimeError("boom")
        counts = task.truth().value_counts(normalize=True).reindex(task.class_names)
        return counts.to_numpy()

    def _predict(self, task: tw.Task) -> dict[str, Any]:
        prob = np.tile(self.model, (task.nrow, 1))
        return {
            "prob": prob,
            "response": [self.state.class_names[int(np.argmax(self.model))]] * task.nrow,
        }

    def _extract_internal_valid_scores(self) -> dict[str, float]:
        return {"valid.n": float(len(self.seen["valid_rows"] or []))}


@pytest.fixture
def task() -> tw.TaskClassif:
    df = pd.DataFrame({"x": np.arange(20.0), "n": np.arange(20), "y": ["a"] * 12 + ["b"] * 8})
    return tw.TaskClassif(df, "y", id="toy")


def trained(task: tw.TaskClassif, **params: Any) -> MajorityLearner:
    learner = MajorityLearner()
    learner.configure(need=1, **params)
    return learner


def test_train_predict_prob_and_response(task):
    learner = trained(task, predict_type="prob").train(task)
    pred = learner.predict(task)
    assert isinstance(pred, tw.PredictionClassif)
    assert pred.prob.iloc[0].tolist() == pytest.approx([0.6, 0.4])
    assert set(pred.response) == {"a"}
    assert learner.state.feature_names == ["x", "n"]
    assert learner.state.train_time >= 0
    response_only = trained(task).train(task).predict(task)
    assert response_only.prob is None


def test_required_params_checked_before_training(task):
    learner = MajorityLearner()
    with pytest.raises(
        tw.InvalidParameterError,
        match="learner 'classif.majority' needs the required parameter\\(s\\) 'need'",
    ):
        learner.train(task)
    assert learner.seen == {}


def test_task_type_and_feature_type_checks(task):
    learner = trained(task)
    regr = tw.TaskRegr(pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]}), "y", id="r")
    with pytest.raises(tw.TaskError, match="is for classif tasks, but task 'r' is a regr task"):
        learner.train(regr)
    df = pd.DataFrame({"f": pd.Categorical(["u", "v"] * 5), "y": ["a", "b"] * 5})
    with pytest.raises(
        tw.TaskError,
        match="does not support the feature type\\(s\\) 'factor' \\('f'\\).*po\\(\"encode\"\\)",
    ):
        learner.train(tw.TaskClassif(df, "y"))
    df = pd.DataFrame({"x": [1.0, np.nan] * 5, "y": ["a", "b"] * 5})
    with pytest.raises(
        tw.TaskError, match="missing values in feature\\(s\\) 'x' \\(5 rows\\).*imput"
    ):
        learner.train(tw.TaskClassif(df, "y"))


def test_failed_training_of_untrained_learner_leaves_no_state_and_names_learner(task):
    learner = trained(task, fail=True)
    with pytest.raises(RuntimeError, match="boom") as info:
        learner.train(task)
    assert learner.state is None
    assert "training learner 'classif.majority' on task 'toy'" in "".join(info.value.__notes__)


def test_failed_retrain_keeps_the_previous_model(task):
    learner = trained(task, predict_type="prob").train(task, row_ids=range(10))
    state = learner.state
    before = learner.predict(task)
    learner.param_set.set_values(fail=True)
    with pytest.raises(RuntimeError, match="boom") as info:
        learner.train(task)
    assert "training learner 'classif.majority' on task 'toy'" in "".join(info.value.__notes__)
    assert learner.state is state
    assert learner.state.feature_names == ["x", "n"]
    pd.testing.assert_frame_equal(learner.predict(task).prob, before.prob)


def test_refused_retrain_keeps_the_previous_model(task):
    learner = trained(task).train(task)
    state = learner.state
    regr = tw.TaskRegr(pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]}), "y", id="r")
    with pytest.raises(tw.TaskError, match="is for classif tasks"):
        learner.train(regr)
    with pytest.raises(tw.TaskError, match="with 0 rows"):
        learner.train(task, row_ids=[])
    learner.param_set.remove_values("need")
    with pytest.raises(tw.InvalidParameterError, match="required parameter"):
        learner.train(task)
    assert learner.state is state
    assert learner.predict(task).response.tolist() == ["a"] * 20


def test_train_on_a_dataframe_is_a_type_error_that_suggests_a_task(task):
    learner = trained(task)
    with pytest.raises(
        tw.InvalidTypeError,
        match=r"needs a Task to train\. Got DataFrame instead\. Wrap the DataFrame first: "
        r"tw\.TaskClassif\(df, target=\.\.\.\)",
    ):
        learner.train(task.data())
    learner.train(task)
    with pytest.raises(TypeError, match=r"needs a Task to predict.*predict_newdata\(df\)"):
        learner.predict(task.data())
    with pytest.raises(tw.InvalidTypeError, match="needs a Task to train. Got int instead.$"):
        learner.train(3)  # type: ignore[arg-type]


def test_missing_and_infinite_values_refused_at_predict(task):
    learner = trained(task).train(task)
    df = task.data()
    df.loc[[1, 4, 7], "x"] = np.nan
    with pytest.raises(
        tw.TaskError,
        match=r"missing values in feature\(s\) 'x' \(3 rows\) at predict, and learner "
        r"'classif.majority' cannot handle missing values\. Impute",
    ):
        learner.predict(tw.TaskClassif(df, "y", id="new"))
    with pytest.raises(tw.TaskError, match=r"'x' \(1 row\) at predict"):
        learner.predict_newdata(pd.DataFrame({"x": [1.0, np.nan], "n": [1, 2]}))
    df = task.data()
    df.loc[[2, 3], "x"] = np.inf
    df.loc[5, "x"] = -np.inf
    with pytest.raises(
        tw.TaskError,
        match=r"Task 'new' has infinite values in feature\(s\) 'x' \(3 rows\) at predict",
    ):
        learner.predict(tw.TaskClassif(df, "y", id="new"))
    # rows not in use are not checked
    pred = learner.predict(tw.TaskClassif(df, "y", id="new"), row_ids=[0, 1, 19])
    assert pred.response.tolist() == ["a"] * 3


def test_infinite_values_refused_at_train_naming_the_column(task):
    df = task.data()
    df["z"] = np.linspace(0, 1, 20).astype(np.float32)
    df.loc[3, "z"] = np.inf
    df["w"] = pd.array([1.5] * 19 + [np.inf], dtype="Float64")
    with pytest.raises(
        tw.TaskError,
        match=r"Task 'inf' has infinite values in feature\(s\) 'z' \(1 row\), 'w' \(1 row\) "
        r"at train, which learner 'classif.majority' cannot use",
    ):
        trained(task).train(tw.TaskClassif(df, "y", id="inf"))
    learner = trained(task)
    learner.train(tw.TaskClassif(df, "y", id="inf"), row_ids=[0, 1, 2])  # rows in use only
    assert learner.is_trained


def test_values_of_a_predefined_validation_task_are_checked(task):
    learner = trained(task, validate="predefined")
    df = task.data()
    df.loc[[0, 1], "x"] = np.nan
    with_valid = task.clone()
    with_valid.internal_valid_task = tw.TaskClassif(df, "y", id="valid")
    with pytest.raises(
        tw.TaskError,
        match=r"Task 'valid' has missing values in feature\(s\) 'x' \(2 rows\) at train "
        r"\(internal validation task\)",
    ):
        learner.train(with_valid)
    assert learner.seen == {}


def test_missings_property_allows_nan_but_not_infinite_values(task):
    learner = trained(task)
    learner.properties.add("missings")
    learner.train(task)
    assert learner.predict_newdata(pd.DataFrame({"x": [np.nan], "n": [1]})).response[0] == "a"
    with pytest.raises(tw.TaskError, match=r"infinite values in feature\(s\) 'x' \(1 row\)"):
        learner.predict_newdata(pd.DataFrame({"x": [-np.inf], "n": [1]}))


def test_featureless_learners_ignore_feature_values():
    df = pd.DataFrame({"x": [np.inf, np.nan, 1.0, 2.0], "y": ["a", "b", "a", "a"]})
    learner = tw.lrn("classif.featureless").train(tw.TaskClassif(df, "y"))
    assert learner.predict_newdata(df[["x"]]).response.tolist() == ["a"] * 4


def test_predict_newdata_accepts_2d_arrays_in_training_order(task):
    learner = trained(task, predict_type="prob").train(task)
    arr = np.array([[1.0, 1.0], [2.0, 5.0]])
    from_array = learner.predict_newdata(arr)
    from_frame = learner.predict_newdata(pd.DataFrame(arr, columns=["x", "n"]))
    pd.testing.assert_frame_equal(from_array.prob, from_frame.prob)
    assert from_array.row_ids.tolist() == [0, 1]
    with pytest.raises(
        tw.TaskError,
        match=r"needs a 2-D array with 2 column\(s\), the training features in order "
        r"\('x', 'n'\)\. Got an array of shape \(2, 3\) instead\.",
    ):
        learner.predict_newdata(np.zeros((2, 3)))
    with pytest.raises(tw.TaskError, match=r"shape \(2,\) instead\. Use arr\.reshape\(1, -1\)"):
        learner.predict_newdata(np.zeros(2))
    with pytest.raises(
        tw.TaskError, match="'n' of the new data has dtype float64 with the value 0.5"
    ):
        learner.predict_newdata(np.array([[1.0, 0.5]]))
    with pytest.raises(
        tw.InvalidTypeError,
        match="needs a pandas DataFrame or a 2-D numpy array. Got list instead",
    ):
        learner.predict_newdata([[1.0, 2.0]])  # type: ignore[arg-type]


def test_predict_newdata_accepts_numeric_dtypes_that_keep_the_values(task):
    learner = trained(task).train(task)
    assert task.feature_types == {"x": "numeric", "n": "integer"}
    for n in (
        np.array([1.0, 2.0]),
        pd.array([1, 2], dtype="Int64"),
        np.array([1, 2], dtype=np.int8),
    ):
        pred = learner.predict_newdata(pd.DataFrame({"x": pd.array([1, 2], dtype="Int64"), "n": n}))
        assert pred.response.tolist() == ["a", "a"]
    with pytest.raises(
        tw.TaskError,
        match=r"Column 'x' of the new data has dtype (object|str) \(character\); the task was "
        r"trained with float64 \(numeric\)",
    ):
        learner.predict_newdata(pd.DataFrame({"x": ["1", "2"], "n": [1, 2]}))
    with pytest.raises(tw.TaskError, match=r"'n' of the new data has dtype bool \(logical\)"):
        learner.predict_newdata(pd.DataFrame({"x": [1.0], "n": [True]}))
    # a NaN in an integer column is a missing value, refused by this learner as such
    with pytest.raises(tw.TaskError, match=r"missing values in feature\(s\) 'n' \(1 row\)"):
        learner.predict_newdata(pd.DataFrame({"x": [1.0, 2.0], "n": [1.0, np.nan]}))


def test_configure_is_all_or_nothing(task):
    learner = trained(task)
    with pytest.raises(tw.InvalidParameterError, match="'predict_type'.*Got 'bogus'"):
        learner.configure(need=7, predict_type="bogus")
    assert learner.param_set.values["need"] == 1
    with pytest.raises(tw.InvalidParameterError, match="'need' parameter"):
        learner.configure(predict_type="prob", validate=0.2, id="renamed", need=-1)
    assert (learner.predict_type, learner.validate, learner.id) == (
        "response",
        None,
        "classif.majority",
    )
    with pytest.raises(tw.InvalidParameterError, match="'validate' field"):
        learner.configure(predict_type="prob", validate=2.0)
    assert learner.predict_type == "response"
    learner.configure(predict_type="prob", need=3, validate=0.2)
    assert (learner.predict_type, learner.param_set.values["need"], learner.validate) == (
        "prob",
        3,
        0.2,
    )


def test_untrained_predict_raises(task):
    with pytest.raises(
        tw.NotTrainedError, match="Learner 'classif.majority' has not been trained yet"
    ):
        MajorityLearner().predict(task)


def test_row_ids_and_task_not_mutated(task):
    before = task.data()
    learner = trained(task).train(task, row_ids=[0, 1, 2, 15])
    assert learner.seen["train_rows"] == [0, 1, 2, 15]
    pred = learner.predict(task, row_ids=[19, 18])
    assert pred.row_ids.tolist() == [19, 18]
    pd.testing.assert_frame_equal(task.data(), before)
    assert task.internal_valid_task is None


def test_validate_ratio_is_stratified_and_seeded(task):
    a = trained(task, validate=0.25, seed=3).train(task)
    b = trained(task, validate=0.25, seed=3).train(task)
    assert a.seen["valid_rows"] == b.seen["valid_rows"]
    assert len(a.seen["valid_rows"]) == 5
    assert sorted(a.seen["train_rows"] + a.seen["valid_rows"]) == list(range(20))
    y = task.truth()
    assert (y.iloc[a.seen["valid_rows"]] == "a").sum() == 3  # 12:8 split kept
    assert a.internal_valid_scores == {"valid.n": 5.0}
    assert task.internal_valid_task is None


def test_validate_predefined_and_test(task):
    learner = trained(task, validate="predefined")
    with pytest.raises(tw.TaskError, match="has no internal_valid_task"):
        learner.train(task)
    with_valid = task.clone()
    with_valid.internal_valid_task = [0, 19]
    learner.train(with_valid)
    assert learner.seen["valid_rows"] == [0, 19]
    with pytest.raises(tw.TaskError, match="resample\\(\\) provides"):
        trained(task, validate="test").train(task)


def test_validate_field_is_checked(task):
    learner = MajorityLearner()
    with pytest.raises(
        tw.InvalidParameterError,
        match="'validate' field of learner 'classif.majority' must be None, a ratio in \\(0, 1\\)",
    ):
        learner.validate = 1.5
    learner.properties.discard("validation")
    with pytest.raises(tw.InvalidParameterError, match="does not support internal validation"):
        learner.validate = 0.3
    tw.set_validate(learner, None)
    assert learner.validate is None


def test_predict_type_checked():
    with pytest.raises(
        tw.InvalidParameterError,
        match="'predict_type' of learner 'classif.majority' must be one of \\{'response', 'prob'\\}. Got 'se'",
    ):
        MajorityLearner().predict_type = "se"


def test_predict_newdata_without_target(task):
    learner = trained(task).train(task)
    pred = learner.predict_newdata(pd.DataFrame({"x": [1.0, 2.0], "n": [1, 2]}))
    assert list(pred.response) == ["a", "a"]
    assert pd.isna(pred.truth).all()
    with pytest.raises(tw.TaskError, match="lacks the feature\\(s\\) 'n'"):
        learner.predict_newdata(pd.DataFrame({"x": [1.0]}))


def test_clone_pickle_reset(task):
    learner = trained(task, predict_type="prob").train(task)
    clone = learner.clone()
    clone.reset()
    assert learner.is_trained and not clone.is_trained
    restored = pickle.loads(pickle.dumps(learner))
    pd.testing.assert_frame_equal(restored.predict(task).prob, learner.predict(task).prob)
    assert "MajorityLearner:classif.majority" in repr(learner)
    assert learner.state.train_task.nrow == 0


def test_configure_unknown_param_suggests():
    with pytest.raises(tw.InvalidParameterError, match="Did you mean 'need'"):
        MajorityLearner().configure(ned=1)


def test_as_learner_rejects_unknown_objects():
    with pytest.raises(
        tw.InvalidTypeError, match="as_learner cannot convert an object of type int"
    ):
        tw.as_learner(42)
    learner = MajorityLearner()
    assert tw.as_learner(learner) is learner
    assert tw.as_learner(learner, clone=True) is not learner
