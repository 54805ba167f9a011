"""The scikit-learn face: parameters, scikit-learn tools, pickling, partial_fit, validation."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris, make_regression
from sklearn.inspection import permutation_importance
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import torchweave as tw
from tests.sklearn_face.conftest import small_graph
from torchweave.errors import InvalidParameterError, InvalidTypeError, TaskError
from torchweave.sklearn import TorchClassifier, TorchRegressor


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


@pytest.fixture(scope="module")
def regression() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=120, n_features=4, noise=1.0, random_state=0)
    return X, y / y.std()


def _network(model: TorchClassifier | TorchRegressor, op: str | None = None) -> torch.nn.Module:
    learner = model.learner_
    trained = learner if op is None else learner.model[op]
    return trained.model.network


def _torch_model_regr(epochs: int = 2, **params: object) -> tw.LearnerTorchModel:
    torch.manual_seed(3)
    token = tw.TorchIngressToken(["x0", "x1", "x2", "x3"], tw.batchgetter_num, (None, 4))
    network = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    learner = tw.LearnerTorchModel(
        network, {"x": token}, task_type="regr", optimizer=tw.t_opt("adam", lr=0.01)
    )
    learner.configure(epochs=epochs, batch_size=16, seed=1, tensor_dataset=True, **params)
    return learner


# --- parameters and construction ------------------------------------------------------------


def test_construction_stores_the_learner_and_does_no_work():
    graph = small_graph()
    clf = TorchClassifier(graph, torch_model_classif__epochs=3)
    assert clf.learner is graph
    assert not [k for k in vars(clf) if k.endswith("_")]
    assert clf.get_params()["torch_model_classif__epochs"] == 3


def test_get_params_exposes_the_flat_param_set_with_double_underscores():
    params = TorchClassifier(small_graph()).get_params()
    assert params["torch_optimizer__lr"] == 0.02
    assert params["torch_model_classif__epochs"] == 15
    assert params["torch_model_classif__seed"] == 1
    assert "learner" in params


def test_set_params_is_checked_at_fit_with_the_parameter_named(iris):
    X, y = iris
    clf = TorchClassifier(small_graph()).set_params(torch_model_classif__epoch=3)
    with pytest.raises(
        InvalidParameterError, match="unknown parameter.*'torch_model_classif__epoch'"
    ):
        clf.fit(X, y)
    clf.set_params(torch_model_classif__epoch=None)
    bad = TorchClassifier(small_graph(), torch_model_classif__epochs=-2)
    with pytest.raises(InvalidParameterError, match="epochs"):
        bad.fit(X, y)


def test_fit_never_changes_the_users_learner(iris):
    X, y = iris
    learner = tw.as_learner(small_graph(epochs=2))
    TorchClassifier(learner, torch_model_classif__epochs=3).fit(X, y)
    assert not learner.is_trained
    assert learner.param_set.values["torch_model_classif.epochs"] == 2


def test_clone_is_unfitted_and_keeps_the_parameters(iris):
    X, y = iris
    clf = TorchClassifier(small_graph(epochs=3), torch_optimizer__lr=0.05).fit(X, y)
    copy_ = clone(clf)
    assert not hasattr(copy_, "learner_")
    assert copy_.get_params()["torch_optimizer__lr"] == 0.05
    assert copy_.learner is not clf.learner


def test_to_sklearn_picks_the_class_by_task_type():
    assert isinstance(tw.to_sklearn(small_graph("classif")), TorchClassifier)
    assert isinstance(tw.to_sklearn(small_graph("regr")), TorchRegressor)
    assert isinstance(tw.to_sklearn(_torch_model_regr()), TorchRegressor)


def test_a_regression_learner_in_a_classifier_is_an_error(regression):
    X, y = regression
    with pytest.raises(InvalidParameterError, match="needs a classif learner.*TorchRegressor"):
        TorchClassifier(small_graph("regr")).fit(X, (y > 0).astype(int))


# --- fit and predict ------------------------------------------------------------------------


def test_classifier_fit_predict_proba_and_fitted_attributes(iris):
    X, y = iris
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    clf = TorchClassifier(small_graph()).fit(frame, pd.Series(y))
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 4
    assert clf.feature_names_in_.tolist() == ["sl", "sw", "pl", "pw"]
    proba = clf.predict_proba(frame)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (clf.classes_[proba.argmax(axis=1)] == clf.predict(frame)).all()
    assert clf.score(frame, y) > 0.9


def test_pickle_round_trip_predicts_the_same(regression):
    X, y = regression
    reg = TorchRegressor(small_graph("regr", epochs=5)).fit(X, y)
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))


# --- scikit-learn tools with two workers -----------------------------------------------------


def test_grid_search_over_the_learning_rate_with_two_workers(iris):
    X, y = iris
    search = GridSearchCV(
        TorchClassifier(small_graph(epochs=5)),
        param_grid={"torch_optimizer__lr": [1e-5, 0.02]},
        cv=3,
        n_jobs=2,
    )
    search.fit(X, y)
    assert search.best_params_ == {"torch_optimizer__lr": 0.02}
    assert search.best_estimator_.learner_.is_trained


def test_randomized_search_and_cross_validate(regression):
    X, y = regression
    search = RandomizedSearchCV(
        TorchRegressor(small_graph("regr", epochs=5)),
        {"linear__out_features": [4, 8, 16], "torch_model_regr__batch_size": [8, 32]},
        n_iter=2,
        cv=2,
        random_state=0,
        n_jobs=2,
    ).fit(X, y)
    assert set(search.best_params_) == {"linear__out_features", "torch_model_regr__batch_size"}
    result = cross_validate(TorchRegressor(small_graph("regr", epochs=5)), X, y, cv=3, n_jobs=2)
    assert len(result["test_score"]) == 3


def test_pipeline_after_a_column_transformer_in_cross_val_score():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"a": rng.normal(size=90), "b": rng.normal(size=90), "c": rng.choice(["u", "v"], 90)}
    )
    y = np.where(frame["a"] + (frame["c"] == "u") > 0.5, "yes", "no")
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(), ["c"])]
                ),
            ),
            ("net", TorchClassifier(small_graph(epochs=20))),
        ]
    )
    scores = cross_val_score(pipe, frame, y, cv=3, n_jobs=2)
    assert scores.mean() > 0.8


def test_permutation_importance_finds_the_informative_feature():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    y = 3 * X[:, 0]
    reg = TorchRegressor(small_graph("regr", epochs=20)).fit(X, y)
    result = permutation_importance(reg, X, y, n_repeats=3, random_state=0, n_jobs=2)
    assert result.importances_mean.argmax() == 0


# --- partial_fit -------------------------------------------------------------------------------


def test_partial_fit_continues_from_the_fitted_weights_and_optimizer(regression):
    X, y = regression
    # Without shuffling, 2 epochs and 2 more epochs are exactly 4 epochs in one go: the
    # weights and the adam state carry over.
    two = TorchRegressor(_torch_model_regr(2, shuffle=False)).fit(X, y)
    fresh_two = copy.deepcopy(_network(two).state_dict())
    two.partial_fit(X, y)
    four = TorchRegressor(_torch_model_regr(4, shuffle=False)).fit(X, y)
    for name, value in _network(four).state_dict().items():
        torch.testing.assert_close(_network(two).state_dict()[name], value)
    assert any(
        not torch.equal(fresh_two[name], value)
        for name, value in _network(two).state_dict().items()
    )


def test_partial_fit_of_a_graph_lowers_the_loss_and_keeps_classes(iris):
    X, y = iris
    clf = TorchClassifier(small_graph(epochs=2)).fit(X, y)
    first = clf.score(X, y)
    before = copy.deepcopy(_network(clf, "torch_model_classif").state_dict())
    losses = []
    for _ in range(3):
        clf.partial_fit(X, y)
        proba = clf.predict_proba(X)
        losses.append(-np.mean(np.log(proba[np.arange(len(y)), np.searchsorted(clf.classes_, y)])))
    assert losses[0] > losses[1] > losses[2]
    assert clf.score(X, y) >= first
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    after = _network(clf, "torch_model_classif").state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # the estimator still pickles (the warm-start loop is gone)
    pickle.dumps(clf)
    with pytest.raises(TaskError, match=r"class\(es\) \['other'\]"):
        clf.partial_fit(X[:3], np.array(["other", "setosa", "setosa"]))


def test_partial_fit_first_call_takes_all_classes(iris):
    X, y = iris
    clf = TorchClassifier(small_graph(epochs=2))
    clf.partial_fit(X[:100], y[:100], classes=np.unique(y))
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    clf.partial_fit(X[50:], y[50:])
    assert clf.predict_proba(X).shape == (150, 3)


# --- validation and early stopping ---------------------------------------------------------------


def test_validation_and_early_stopping_work_through_the_learner(regression):
    X, y = regression
    learner = tw.as_learner(
        small_graph(
            "regr",
            epochs=300,
            measures_valid=tw.msr("regr.mse"),
            patience=3,
        )
    )
    learner.validate = 0.3
    reg = TorchRegressor(learner, torch_optimizer__lr=0.05).fit(X, y)
    trained = reg.learner_.model["torch_model_regr"].model
    assert trained.epochs < 300
    assert set(reg.learner_.internal_valid_scores) == {"torch_model_regr.regr.mse"}
    assert reg.score(X, y) > 0.8


def test_a_dataframe_keeps_its_factor_columns_for_the_graph():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {"a": rng.normal(size=80), "colour": pd.Categorical(rng.choice(["red", "blue"], 80))}
    )
    y = np.where(frame["colour"] == "red", 2.0, -2.0) + 0.1 * frame["a"]
    graph = tw.po("encode") >> small_graph("regr", epochs=30)
    reg = TorchRegressor(graph).fit(frame, y)
    assert reg.feature_names_in_.tolist() == ["a", "colour"]
    assert reg.score(frame, y) > 0.9
    assert frame["colour"].dtype == "category"  # the user's data is untouched


def test_partial_fit_keeps_a_custom_loop_class(regression):
    X, y = regression
    calls = []

    class CountingLoop(tw.TrainLoop):
        def wrap_network(self, network):
            calls.append("wrap")
            return network

    learner = _torch_model_regr()
    learner.loop_class = CountingLoop
    reg = TorchRegressor(learner).fit(X, y)
    reg.partial_fit(X, y)
    assert calls == ["wrap", "wrap"]
    assert reg.learner_.loop_class is CountingLoop
    assert learner.loop_class is CountingLoop


def test_partial_fit_needs_a_torch_learner(regression):
    X, y = regression
    reg = TorchRegressor(tw.lrn("regr.featureless")).fit(X, y)
    with pytest.raises(InvalidTypeError, match="partial_fit needs a trained torch learner"):
        reg.partial_fit(X, y)


def test_to_sklearn_refuses_what_is_no_learner():
    with pytest.raises(InvalidTypeError, match="as_learner cannot convert an object of type int"):
        tw.to_sklearn(3)


def test_predict_before_fit_is_both_libraries_not_fitted_error(iris):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="TorchClassifier instance is not fitted yet") as info:
        TorchClassifier(small_graph()).predict_proba(iris[0])
    assert isinstance(info.value, tw.NotTrainedError)


def test_importing_torchweave_does_not_import_scikit_learn_for_the_face():
    import subprocess
    import sys

    code = (
        "import sys, torchweave as tw; assert 'torchweave.sklearn' not in sys.modules; "
        "tw.to_sklearn; assert 'torchweave.sklearn' in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_validate_is_an_estimator_parameter(regression):
    X, y = regression
    graph = small_graph("regr", epochs=300, measures_valid=tw.msr("regr.mse"))
    reg = TorchRegressor(graph, validate=0.3, torch_model_regr__patience=3)
    assert reg.get_params()["validate"] == 0.3
    assert TorchRegressor(graph).get_params()["validate"] is None
    reg.fit(X, y)
    assert reg.learner_.validate == 0.3
    assert reg.learner_.model["torch_model_regr"].model.epochs < 300
    with pytest.raises(InvalidParameterError, match="validate"):
        TorchRegressor(graph, validate=1.5).fit(X, y)


def test_partial_fit_checks_y_and_the_network(iris):
    X, y = iris
    clf = TorchClassifier(small_graph(epochs=2)).fit(X, y)
    with pytest.raises(ValueError, match="Found input variables with inconsistent numbers"):
        clf.partial_fit(X, y[:10])
    with pytest.raises(ValueError, match="X has 2 features, but TorchClassifier is expecting 4"):
        clf.partial_fit(X[:, :2], y)
    clf.set_params(linear__out_features=4)
    with pytest.raises(InvalidParameterError, match="the network changed since the last fit"):
        clf.partial_fit(X, y)
