import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from torchweave.data import concat_predictions


def make_classif(prob: bool = True) -> tw.PredictionClassif:
    truth = pd.Categorical(["a", "b", "c", "a"], categories=["a", "b", "c"])
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.2, 0.6], [0.4, 0.5, 0.1]])
    if prob:
        return tw.PredictionClassif([3, 1, 2, 0], truth, prob=p)
    return tw.PredictionClassif([3, 1, 2, 0], truth, response=["a", "c", "c", "b"])


def test_response_is_argmax_of_prob_in_class_order():
    pred = make_classif()
    assert list(pred.response) == ["a", "c", "c", "b"]
    assert list(pred.prob.columns) == ["a", "b", "c"]
    assert pred.predict_types == ["response", "prob"]
    assert make_classif(prob=False).predict_types == ["response"]


def test_prob_dataframe_columns_are_reordered():
    truth = pd.Categorical(["a", "b"], categories=["a", "b"])
    prob = pd.DataFrame({"b": [0.1, 0.8], "a": [0.9, 0.2]})
    pred = tw.PredictionClassif([0, 1], truth, prob=prob)
    assert pred.prob["a"].tolist() == [0.9, 0.2]
    assert list(pred.response) == ["a", "b"]


def test_confusion_has_response_rows_and_truth_columns():
    conf = make_classif().confusion
    assert conf.loc["c", "b"] == 1 and conf.loc["b", "a"] == 1 and conf.loc["a", "a"] == 1
    assert conf.to_numpy().sum() == 4


def test_as_data_frame_and_filter():
    pred = make_classif()
    frame = pred.as_data_frame()
    assert list(frame.columns) == ["row_ids", "truth", "response", "prob.a", "prob.b", "prob.c"]
    sub = pred.filter([0, 3])
    assert sub.row_ids.tolist() == [0, 3]
    assert list(sub.truth) == ["a", "a"]
    with pytest.raises(tw.TaskError, match="no row id 9"):
        pred.filter([9])


def test_invalid_inputs():
    truth = pd.Categorical(["a", "b"], categories=["a", "b"])
    with pytest.raises(tw.TaskError, match="unknown class\\(es\\) \\['z'\\]"):
        tw.PredictionClassif([0, 1], truth, response=["a", "z"])
    with pytest.raises(tw.TaskError, match="prob must have shape \\(2, 2\\)"):
        tw.PredictionClassif([0, 1], truth, prob=np.ones((2, 3)))
    with pytest.raises(tw.TaskError, match="needs a response, prob, or both"):
        tw.PredictionClassif([0, 1], truth)
    with pytest.raises(tw.TaskError, match="one row id per observation: 2. Got 1"):
        tw.PredictionRegr([0], [1.0, 2.0], [1.0, 2.0])


def test_require_prob_names_the_caller():
    with pytest.raises(
        tw.PredictTypeError, match="measure 'classif.logloss' needs predicted probabilities"
    ):
        make_classif(prob=False).require_prob("measure 'classif.logloss'")


def test_concat_predictions():
    a, b = make_classif(), make_classif()
    both = concat_predictions([a, b])
    assert len(both) == 8 and both.prob.shape == (8, 3)
    r = concat_predictions(
        [tw.PredictionRegr([0], [1.0], [2.0]), tw.PredictionRegr([1], [3.0], [4.0])]
    )
    assert r.response.tolist() == [2.0, 4.0]
    with pytest.raises(tw.TaskError, match="different kinds"):
        concat_predictions([a, r])


def test_nan_prob_gives_missing_response():
    truth = pd.Categorical(["a", "b"], categories=["a", "b"])
    pred = tw.PredictionClassif([0, 1], truth, prob=np.array([[np.nan, np.nan], [0.2, 0.8]]))
    assert pd.isna(pred.response[0]) and pred.response[1] == "b"
