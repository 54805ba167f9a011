import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

import torchweave as tw
import torchweave.pipelines.ops.sklearn
from torchweave.errors import InvalidTypeError, TaskError
from torchweave.pipelines.ops.sklearn import PipeOpSklearn


class Doubler(TransformerMixin, BaseEstimator):
    """Returns numpy and has no feature names: the fallback naming applies."""

    def __init__(self, factor=2.0):
        self.factor = factor

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) * self.factor


def iris_features():
    task = tw.tsk("iris")
    return task, task.data(cols=task.feature_names)


def test_id_params_and_registry():
    op = tw.po("sklearn", transformer=PCA(n_components=2))
    assert isinstance(op, PipeOpSklearn)
    assert op.id == "pca"
    assert tw.po("sklearn", transformer=StandardScaler(), id="sc").id == "sc"
    assert PipeOpSklearn(StandardScaler()).id == "standardscaler"
    params = set(PCA().get_params(deep=False)) | {"affect_columns"}
    assert set(op.param_set.params) == params
    assert op.param_set.values["n_components"] == 2
    assert op.param_set.values["whiten"] is False
    assert op.param_set.params["n_components"].tags == {"train"}


def test_not_a_transformer():
    with pytest.raises(InvalidTypeError, match=r"needs a scikit-learn transformer .* Got str"):
        tw.po("sklearn", transformer="pca")


def test_standard_scaler_equals_sklearn():
    task, X = iris_features()
    op = tw.po("sklearn", transformer=StandardScaler())
    out = op.train([task])[0]
    expected = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(out.data(cols=task.feature_names).to_numpy(), expected)
    assert out.feature_names == task.feature_names
    assert set(op.state) == {"affected_cols", "transformer", "feature_names_out", "prototype"}
    assert op.state["feature_names_out"] == task.feature_names
    np.testing.assert_allclose(op.state["transformer"].mean_, X.mean().to_numpy())
    pd.testing.assert_frame_equal(task.data(cols=task.feature_names), X)
    pred = op.predict([task.clone().filter([0, 50, 100])])[0]
    np.testing.assert_allclose(
        pred.data(cols=task.feature_names).to_numpy(), expected[[0, 50, 100]]
    )


def test_pca_names_values_and_predict():
    task, X = iris_features()
    op = tw.po("sklearn", transformer=PCA(n_components=2))
    out = op.train([task])[0]
    assert out.feature_names == ["pca0", "pca1"]
    assert out.feature_types == {"pca0": "numeric", "pca1": "numeric"}
    reference = PCA(n_components=2).fit(X)
    np.testing.assert_allclose(out.data(cols=["pca0", "pca1"]).to_numpy(), reference.transform(X))
    pred = op.predict([task])[0]
    pd.testing.assert_frame_equal(pred.data(), out.data())


def test_set_values_takes_effect_and_leaves_the_template_alone():
    task, _ = iris_features()
    op = tw.po("sklearn", transformer=PCA(n_components=2))
    op.param_set.set_values(n_components=3)
    out = op.train([task])[0]
    assert out.feature_names == ["pca0", "pca1", "pca2"]
    assert op.state["transformer"].n_components == 3
    assert op.transformer.n_components == 2
    user = PCA(n_components=2)
    tw.po("sklearn", transformer=user, n_components=1).train([task])
    assert user.n_components == 2 and not hasattr(user, "components_")


def test_affect_columns_and_error_note():
    task = tw.tsk("penguins")
    op = tw.po("sklearn", transformer=StandardScaler())
    with pytest.raises(ValueError, match="could not convert string to float") as info:
        op.train([task])
    note = info.value.__notes__[0]
    assert "PipeOp 'standardscaler' passed the feature(s) 'island'" in note
    assert "affect_columns=tw.selector_type(...)" in note
    op.param_set.set_values(affect_columns=tw.selector_type("numeric"))
    out = op.train([task])[0]
    assert out.feature_names == task.feature_names
    assert out.feature_types["island"] == "factor" and out.feature_types["year"] == "integer"
    scaled = out.data(cols="bill_length_mm")["bill_length_mm"]
    assert scaled.isna().sum() == 2
    assert abs(scaled.mean()) < 1e-12


def test_target_encoder_gets_the_target():
    task = tw.tsk("penguins")
    op = tw.po("sklearn", transformer=TargetEncoder())
    op.param_set.set_values(affect_columns=tw.selector_name("island"))
    out = op.train([task])[0]
    new = ["island_Adelie", "island_Chinstrap", "island_Gentoo"]
    assert out.feature_names[-3:] == new and "island" not in out.feature_names
    encoded = out.data(cols=new).to_numpy()
    assert encoded.shape == (344, 3) and ((encoded >= 0) & (encoded <= 1)).all()
    # fit_transform cross-fits; transform uses encodings learned from all rows and y.
    X = task.data(cols=["island"])
    reference = TargetEncoder().fit(X, task.truth().to_numpy())
    pred = op.predict([task])[0]
    np.testing.assert_allclose(pred.data(cols=new).to_numpy(), reference.transform(X))


def test_numpy_output_without_feature_names_is_numbered():
    task, X = iris_features()
    op = tw.po("sklearn", transformer=Doubler(), id="dbl")
    out = op.train([task])[0]
    assert out.feature_names == ["dbl.0", "dbl.1", "dbl.2", "dbl.3"]
    np.testing.assert_allclose(out.data(cols=out.feature_names).to_numpy(), X.to_numpy() * 2)
    op.param_set.set_values(factor=3.0)
    assert op.predict([task])[0].data(cols="dbl.0")["dbl.0"].iloc[0] == pytest.approx(10.2)
    out = op.train([task])[0]
    assert out.data(cols="dbl.0")["dbl.0"].iloc[0] == pytest.approx(15.3)


def test_sparse_output_is_made_dense():
    task = tw.tsk("penguins")
    op = tw.po("sklearn", transformer=OneHotEncoder(), affect_columns=tw.selector_type("factor"))
    out = op.train([task])[0]
    dummies = ["island_Biscoe", "island_Dream", "island_Torgersen", "sex_female", "sex_male"]
    assert out.feature_names[-6:] == [*dummies, "sex_nan"]
    assert out.data(cols="island_Dream")["island_Dream"].sum() == 124
    assert op.predict([task])[0].feature_names == out.feature_names


def test_output_clashing_with_other_features():
    frame = pd.DataFrame({"a": [1.0, 2, 3], "pca0": [0.0, 1, 0], "y": [1.0, 2, 3]})
    task = tw.TaskRegr(frame, "y", id="clash")
    op = tw.po("sklearn", transformer=PCA(n_components=1), affect_columns=tw.selector_name("a"))
    with pytest.raises(TaskError, match=r"outputs column\(s\) 'pca0', which are features of task"):
        op.train([task])


def test_in_a_graph_learner():
    graph = tw.po("sklearn", transformer=PCA(n_components=2)) >> tw.po(
        "learner", tw.lrn("classif.featureless")
    )
    learner = tw.as_learner(graph)
    learner.param_set.set_values({"pca.n_components": 1})
    learner.train(tw.tsk("iris"))
    assert learner.model["pca"]["feature_names_out"] == ["pca0"]
    assert learner.predict(tw.tsk("iris")).response.shape == (150,)


def test_tasks_without_rows():
    task = tw.tsk("iris")
    op = tw.po("sklearn", transformer=PCA(n_components=2))
    with pytest.raises(TaskError, match="cannot fit on task 'iris': it has no rows"):
        op.train([task.clone().filter([])])
    op.train([task])
    out = op.predict([task.clone().filter([])])[0]
    assert out.nrow == 0
    assert out.feature_types == {"pca0": "numeric", "pca1": "numeric"}
