import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.validation import check_is_fitted

import torchweave as tw
from torchweave.errors import InvalidParameterError, InvalidTypeError, TaskError
from torchweave.learners.sklearn import LearnerSklearn
from torchweave.testing.generate import generate_task


def iris_xy():
    task = tw.tsk("iris")
    return task, task.data(cols=task.feature_names), np.asarray(task.truth(), dtype=object)


def test_as_learner_wraps_classifier():
    learner = tw.as_learner(LogisticRegression(max_iter=1000))
    assert isinstance(learner, LearnerSklearn)
    assert learner.id == "classif.logisticregression"
    assert learner.task_type == "classif"
    assert learner.predict_types == ["response", "prob"]
    assert learner.feature_types == ["numeric", "integer", "logical"]
    assert learner.properties == {"twoclass", "multiclass", "weights"}
    assert learner.param_set.owner == "learner 'classif.logisticregression'"


def test_as_learner_wraps_regressor_with_options():
    learner = tw.as_learner(
        LinearRegression(), id="regr.ols", feature_types=["numeric"], properties=["weights"]
    )
    assert (learner.id, learner.task_type, learner.predict_types) == (
        "regr.ols",
        "regr",
        ["response"],
    )
    assert learner.feature_types == ["numeric"]
    assert learner.properties == {"weights"}


def test_params_mirror_get_params():
    estimator = LogisticRegression(C=0.3, max_iter=500)
    learner = tw.as_learner(estimator)
    assert learner.param_set.values == estimator.get_params(deep=False)
    assert learner.param_set.default["C"] == 0.3
    learner.param_set.set_values(C=0.05)
    assert learner.param_set.values["C"] == 0.05
    assert estimator.C == 0.3


def test_unknown_param_suggests_the_close_one():
    with pytest.raises(
        InvalidParameterError,
        match=r"'max_iters' is not a parameter of learner 'classif.log_reg'. "
        r"Did you mean 'max_iter'\?",
    ):
        tw.lrn("classif.log_reg", max_iters=10)


def test_predictions_equal_sklearn():
    task, X, y = iris_xy()
    learner = tw.lrn("classif.log_reg", predict_type="prob", C=0.1).train(task)
    reference = LogisticRegression(solver="newton-cholesky", C=0.1).fit(X, y)
    assert learner.model.C == 0.1
    pred = learner.predict(task)
    np.testing.assert_allclose(pred.prob.to_numpy(), reference.predict_proba(X))
    learner.predict_type = "response"
    np.testing.assert_array_equal(
        np.asarray(learner.predict(task).response, dtype=object), reference.predict(X)
    )


def test_regression_equals_sklearn():
    task = tw.tsk("diabetes")
    X = task.data(cols=task.feature_names)
    pred = tw.lrn("regr.lm").train(task).predict(task)
    reference = LinearRegression().fit(X, task.truth().to_numpy()).predict(X)
    np.testing.assert_allclose(pred.response, reference)
    assert pred.score("regr.rsq")["regr.rsq"] == pytest.approx(0.5177, abs=1e-3)


def test_prob_columns_follow_task_class_order():
    _, X, y = iris_xy()
    order = ["virginica", "setosa", "versicolor"]
    frame = X.assign(species=pd.Categorical(y, categories=order))
    task = tw.TaskClassif(frame, "species", id="iris_reordered")
    learner = tw.lrn("classif.log_reg", predict_type="prob").train(task)
    assert list(learner.model.classes_) == ["setosa", "versicolor", "virginica"]
    pred = learner.predict(task)
    assert list(pred.prob.columns) == order
    reference = LogisticRegression(solver="newton-cholesky").fit(X, y).predict_proba(X)
    np.testing.assert_allclose(pred.prob.to_numpy(), reference[:, [2, 0, 1]])
    np.testing.assert_array_equal(
        np.asarray(pred.response, dtype=object),
        np.asarray(order, dtype=object)[pred.prob.to_numpy().argmax(axis=1)],
    )


def test_class_unseen_in_training_gets_probability_zero():
    task = tw.tsk("iris")
    rows = task.row_ids[task.truth().to_numpy() != "setosa"]
    learner = tw.lrn("classif.rpart", predict_type="prob").train(task, row_ids=rows)
    prob = learner.predict(task).prob
    assert list(prob.columns) == ["setosa", "versicolor", "virginica"]
    assert (prob["setosa"] == 0).all()
    np.testing.assert_allclose(prob.sum(axis=1), 1.0)


def test_integer_classes():
    frame = pd.DataFrame({"x": np.arange(20, dtype=float), "y": [3] * 10 + [7] * 10})
    task = tw.TaskClassif(frame, "y")
    pred = tw.lrn("classif.rpart", predict_type="prob").train(task).predict(task)
    assert pred.class_names == [3, 7]
    assert list(pred.response) == [3] * 10 + [7] * 10


def test_set_values_then_train_uses_them():
    task = tw.tsk("iris")
    learner = tw.lrn("classif.rpart", max_depth=1).train(task)
    assert learner.model.max_depth == 1
    assert learner.model.get_depth() == 1
    learner.param_set.set_values(max_depth=3)
    assert learner.train(task).model.get_depth() == 3


def test_fitted_estimator_passed_in_is_not_mutated():
    task, X, y = iris_xy()
    fitted = LogisticRegression(max_iter=1000).fit(X, y)
    coef = fitted.coef_.copy()
    learner = tw.as_learner(fitted)
    with pytest.raises(NotFittedError):
        check_is_fitted(learner.estimator)
    learner.train(task, row_ids=task.row_ids[::3])
    assert learner.model is not fitted
    np.testing.assert_array_equal(fitted.coef_, coef)
    with pytest.raises(NotFittedError):
        check_is_fitted(learner.estimator)


def test_pipeline_steps_in_params_are_not_fitted():
    task = tw.tsk("iris")
    learner = tw.as_learner(make_pipeline(StandardScaler(), LogisticRegression()))
    assert learner.id == "classif.pipeline"
    first = learner.train(task).model
    steps = learner.param_set.values["steps"]
    with pytest.raises(NotFittedError):
        check_is_fitted(steps[0][1])
    second = learner.train(task, row_ids=task.row_ids[:100]).model
    assert first.steps[0][1] is not second.steps[0][1]
    assert first.steps[0][1].n_samples_seen_ == 150


def test_weights_are_passed_as_sample_weight():
    task = tw.tsk("mtcars")
    frame = task.data().assign(w=np.linspace(0.5, 2.0, task.nrow))
    weighted = tw.TaskRegr(frame, "mpg").set_col_roles("w", "weight")
    model = tw.lrn("regr.lm").train(weighted).model
    X = task.data(cols=task.feature_names)
    reference = LinearRegression().fit(X, task.truth(), sample_weight=frame["w"].to_numpy())
    np.testing.assert_allclose(model.coef_, reference.coef_)


def test_factor_features_suggest_encode():
    learner = tw.lrn("classif.log_reg")
    with pytest.raises(TaskError, match=r"'factor' \('island', 'sex'\).*po\(\"encode\"\)"):
        learner.train(tw.tsk("penguins"))
    assert not learner.is_trained


def test_missing_values_suggest_imputation():
    task = tw.tsk("penguins").select(["bill_length_mm", "bill_depth_mm", "year"])
    with pytest.raises(
        TaskError, match=r"missing values in feature\(s\) 'bill_length_mm' \(2 rows\).*Impute"
    ):
        tw.lrn("classif.log_reg").train(task)


def test_estimator_allowing_nan_gets_missings_and_wider_feature_types():
    estimator = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    learner = tw.as_learner(estimator, feature_types=["numeric", "integer", "factor"])
    assert "missings" in learner.properties
    task = tw.tsk("penguins")
    pred = learner.configure(predict_type="prob").train(task).predict(task)
    assert pred.score("classif.acc")["classif.acc"] > 0.9


def test_classifier_without_predict_proba_has_only_response():
    learner = tw.as_learner(RidgeClassifier())
    assert learner.predict_types == ["response"]
    with pytest.raises(InvalidParameterError, match=r"must be one of \{'response'\}. Got 'prob'"):
        learner.predict_type = "prob"


def test_logical_and_integer_features():
    task = generate_task("classif", ["integer", "logical"], n=80)
    pred = tw.lrn("classif.log_reg").train(task).predict(task)
    assert pred.score("classif.acc")["classif.acc"] > 0.6


def test_invalid_sklearn_value_fails_in_train_with_a_note():
    learner = tw.lrn("classif.log_reg", C=-1.0)
    with pytest.raises(ValueError, match=r"'C' parameter of LogisticRegression") as info:
        learner.train(tw.tsk("iris"))
    assert "learner 'classif.log_reg'" in " ".join(info.value.__notes__)
    assert not learner.is_trained


def test_pickle_round_trip():
    task = tw.tsk("wine")
    learner = tw.lrn("classif.rpart", predict_type="prob").train(task)
    restored = pickle.loads(pickle.dumps(learner))
    np.testing.assert_allclose(restored.predict(task).prob, learner.predict(task).prob)
    assert restored.param_set.values == learner.param_set.values


def test_clone_is_independent():
    learner = tw.lrn("classif.rpart").train(tw.tsk("iris"))
    copy = learner.clone()
    copy.param_set.set_values(max_depth=1)
    copy.train(tw.tsk("iris"))
    assert learner.param_set.values["max_depth"] is None
    assert learner.model.get_depth() > 1


@pytest.mark.parametrize("key", ["iris", "breast_cancer", "wine"])
def test_log_reg_converges_on_unscaled_builtin_tasks(key):
    task = tw.tsk(key)
    pred = tw.lrn("classif.log_reg").train(task).predict(task)  # warnings are errors here
    assert pred.score("classif.acc")["classif.acc"] > 0.95


@pytest.mark.parametrize(
    ("key", "estimator"),
    [
        ("classif.log_reg", LogisticRegression),
        ("regr.lm", LinearRegression),
        ("classif.rpart", DecisionTreeClassifier),
        ("regr.rpart", DecisionTreeRegressor),
    ],
)
def test_registered_sklearn_learners(key, estimator):
    learner = tw.lrn(key)
    assert isinstance(learner, LearnerSklearn)
    assert learner.id == key
    assert type(learner.estimator) is estimator
    assert tw.registry.learners.table().set_index("key").loc[key, "description"]


@pytest.mark.parametrize("bad", [42, StandardScaler(), "LogisticRegression"])
def test_as_learner_refuses_non_learners(bad):
    with pytest.raises(InvalidTypeError, match=r"as_learner cannot convert an object of type"):
        tw.as_learner(bad)


def test_learner_sklearn_refuses_transformers():
    with pytest.raises(
        InvalidTypeError, match=r"needs a scikit-learn classifier or regressor. Got StandardScaler"
    ):
        LearnerSklearn(StandardScaler())
    with pytest.raises(InvalidTypeError, match=r"Got int instead"):
        LearnerSklearn(42)


def test_estimator_is_cloned_not_shared():
    estimator = LogisticRegression()
    learner = tw.as_learner(estimator)
    assert learner.estimator is not estimator
    assert clone(learner.estimator).get_params() == estimator.get_params()
