import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import torchweave as tw
from torchweave.errors import InvalidParameterError, NotTrainedError
from torchweave.learners.featureless import LearnerClassifFeatureless, LearnerRegrFeatureless


def classif_task(labels, categories=None, weights=None):
    y = pd.Categorical(labels, categories=categories or sorted(set(labels)))
    frame = pd.DataFrame({"y": y, "x": np.arange(len(labels), dtype=float)})
    if weights is not None:
        frame["w"] = np.asarray(weights, dtype=float)
    task = tw.TaskClassif(frame, "y", id="toy")
    if weights is not None:
        task.set_col_roles("w", "weight")
    return task


def test_registered_and_described():
    assert "classif.featureless" in tw.registry.learners
    assert "regr.featureless" in tw.registry.learners
    table = tw.registry.learners.table().set_index("key")
    assert table.loc["classif.featureless", "description"].startswith("Featureless")
    learner = tw.lrn("classif.featureless")
    assert isinstance(learner, LearnerClassifFeatureless)
    assert learner.param_set.values == {"method": "mode"}
    assert learner.predict_types == ["response", "prob"]
    assert {"missings", "twoclass", "multiclass", "weights"} <= learner.properties


def test_mode_predicts_most_frequent_class_and_proportions():
    task = classif_task(["a"] * 2 + ["b"] * 5 + ["c"] * 3)
    learner = tw.lrn("classif.featureless").train(task)
    assert learner.model.tolist() == [2.0, 5.0, 3.0]
    assert list(learner.model.index) == ["a", "b", "c"]
    pred = learner.predict(task)
    assert list(pred.response) == ["b"] * 10
    learner.predict_type = "prob"
    pred = learner.predict(task)
    np.testing.assert_allclose(pred.prob.to_numpy(), np.tile([0.2, 0.5, 0.3], (10, 1)))
    assert list(pred.prob.columns) == ["a", "b", "c"]
    assert list(pred.response) == ["b"] * 10


def test_mode_tie_takes_first_class_in_level_order():
    task = classif_task(["z", "z", "y", "y"], categories=["z", "y"])
    pred = tw.lrn("classif.featureless").train(task).predict(task)
    assert list(pred.response) == ["z"] * 4


def test_class_absent_from_training_gets_zero_probability():
    task = classif_task(["a", "a", "b", "c", "c", "c"])
    learner = tw.lrn("classif.featureless", predict_type="prob").train(task, row_ids=[0, 1, 3])
    pred = learner.predict(task)
    np.testing.assert_allclose(pred.prob.iloc[0].to_numpy(), [2 / 3, 0.0, 1 / 3])


def test_sample_is_uniform_and_reproducible_with_np_seed():
    task = classif_task(["a"] * 90 + ["b"] * 5 + ["c"] * 5)
    learner = tw.lrn("classif.featureless", method="sample").train(task)
    np.random.seed(1)
    first = learner.predict(task).response
    np.random.seed(1)
    second = learner.predict(task).response
    assert list(first) == list(second)
    counts = pd.Series(np.asarray(first, dtype=object)).value_counts()
    assert set(counts.index) == {"a", "b", "c"}
    assert counts.max() < 60  # uniform, not weighted by the 90% majority
    learner.predict_type = "prob"
    prob = learner.predict(task).prob.to_numpy()
    np.testing.assert_allclose(prob, np.full((100, 3), 1 / 3))


def test_weighted_sample_follows_training_frequencies():
    task = classif_task(["a"] * 800 + ["b"] * 200)
    learner = tw.lrn("classif.featureless", method="weighted.sample").train(task)
    np.random.seed(3)
    response = np.asarray(learner.predict(task).response, dtype=object)
    share = (response == "a").mean()
    assert 0.74 < share < 0.86
    learner.predict_type = "prob"
    np.testing.assert_allclose(learner.predict(task).prob.iloc[0].to_numpy(), [0.8, 0.2])


def test_weights_change_the_mode():
    task = classif_task(["a", "a", "b"], weights=[1.0, 1.0, 5.0])
    learner = tw.lrn("classif.featureless", predict_type="prob").train(task)
    assert learner.model.tolist() == [2.0, 5.0]
    pred = learner.predict(task)
    assert list(pred.response) == ["b"] * 3
    np.testing.assert_allclose(pred.prob.iloc[0].to_numpy(), [2 / 7, 5 / 7])


def test_invalid_method_names_param_and_learner():
    learner = tw.lrn("classif.featureless")
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'method' parameter of learner 'classif.featureless' must be one of "
        r"\{'mode', 'sample', 'weighted.sample'\}. Got 'median' instead.",
    ):
        learner.param_set.set_values(method="median")
    assert learner.param_set.values == {"method": "mode"}


def test_ignores_features_of_every_type_and_missing_values():
    task = tw.tsk("penguins")
    pred = tw.lrn("classif.featureless").train(task).predict(task)
    assert list(pd.unique(np.asarray(pred.response, dtype=object))) == ["Adelie"]
    assert pred.score("classif.acc")["classif.acc"] == pytest.approx(152 / 344)


def test_untrained_predict_raises():
    with pytest.raises(NotTrainedError, match=r"'classif.featureless' has not been trained"):
        tw.lrn("classif.featureless").predict(tw.tsk("iris"))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=12), min_size=2, max_size=5))
def test_prob_equals_class_shares(counts):
    assume(sum(c > 0 for c in counts) >= 2)  # a task needs two observed classes
    classes = [f"k{i}" for i in range(len(counts))]
    labels = [c for c, k in zip(classes, counts, strict=True) for _ in range(k)]
    task = classif_task(labels, categories=classes)
    pred = tw.lrn("classif.featureless", predict_type="prob").train(task).predict(task)
    expected = np.asarray(counts, dtype=float) / sum(counts)
    np.testing.assert_allclose(pred.prob.iloc[0].to_numpy(), expected)
    assert pred.response[0] == classes[int(np.argmax(counts))]


def regr_task(values, weights=None):
    frame = pd.DataFrame({"y": np.asarray(values, dtype=float), "x": np.zeros(len(values))})
    if weights is not None:
        frame["w"] = np.asarray(weights, dtype=float)
    task = tw.TaskRegr(frame, "y", id="toy_regr")
    if weights is not None:
        task.set_col_roles("w", "weight")
    return task


def test_regr_mean_and_median():
    task = regr_task([1.0, 2.0, 3.0, 10.0])
    learner = tw.lrn("regr.featureless")
    assert isinstance(learner, LearnerRegrFeatureless)
    assert learner.param_set.values == {"robust": False}
    pred = learner.train(task).predict(task)
    np.testing.assert_allclose(pred.response, np.full(4, 4.0))
    assert learner.model["dispersion"] == pytest.approx(np.std([1.0, 2.0, 3.0, 10.0]))
    robust = tw.lrn("regr.featureless", robust=True).train(task)
    np.testing.assert_allclose(robust.predict(task).response, np.full(4, 2.5))


def test_regr_weighted_mean_and_median():
    task = regr_task([1.0, 2.0, 10.0], weights=[1.0, 1.0, 2.0])
    mean = tw.lrn("regr.featureless").train(task)
    assert mean.model["location"] == pytest.approx((1 + 2 + 20) / 4)
    median = tw.lrn("regr.featureless", robust=True).train(task)
    assert median.model["location"] == pytest.approx(6.0)  # halfway: weights 2 | 2
    heavy = regr_task([1.0, 2.0, 10.0], weights=[1.0, 1.0, 3.0])
    assert tw.lrn("regr.featureless", robust=True).train(heavy).model["location"] == 10.0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20))
def test_regr_unweighted_location_matches_numpy(values):
    task = regr_task(values)
    assert tw.lrn("regr.featureless").train(task).model["location"] == pytest.approx(
        np.mean(values), abs=1e-9
    )
    assert tw.lrn("regr.featureless", robust=True).train(task).model["location"] == pytest.approx(
        np.median(values)
    )


def test_regr_mtcars_and_pickle():
    task = tw.tsk("mtcars")
    learner = tw.lrn("regr.featureless").train(task)
    assert learner.model["location"] == pytest.approx(task.truth().mean())
    restored = pickle.loads(pickle.dumps(learner))
    np.testing.assert_array_equal(restored.predict(task).response, learner.predict(task).response)


def test_regr_rejects_prob_and_bad_robust():
    learner = tw.lrn("regr.featureless")
    with pytest.raises(
        InvalidParameterError, match=r"'predict_type' of learner 'regr.featureless'"
    ):
        learner.predict_type = "prob"
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'robust' parameter of learner 'regr.featureless' must be a bool. Got 'yes'",
    ):
        learner.param_set.set_values(robust="yes")
