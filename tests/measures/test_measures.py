"""Measures: values (by hand and against sklearn), metadata, errors, NaN handling."""

import copy
import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import metrics

import torchweave as tw
from torchweave.data import PredictionClassif, PredictionRegr
from torchweave.errors import (
    InvalidParameterError,
    InvalidTypeError,
    PredictTypeError,
    TaskError,
    UnknownKeyError,
)
from torchweave.measures import (
    Measure,
    MeasureClassifAcc,
    MeasureClassifF1,
    MeasureRegrMSE,
    as_measure,
    as_measures,
)
from torchweave.sugar import msr, msrs

ALL_KEYS = [
    "classif.acc",
    "classif.ce",
    "classif.bacc",
    "classif.logloss",
    "classif.auc",
    "classif.mbrier",
    "classif.bbrier",
    "classif.f1",
    "classif.precision",
    "classif.recall",
    "regr.mse",
    "regr.rmse",
    "regr.mae",
    "regr.medae",
    "regr.rsq",
    "regr.mape",
]
CLASSIF_KEYS = [k for k in ALL_KEYS if k.startswith("classif.")]
REGR_KEYS = [k for k in ALL_KEYS if k.startswith("regr.")]
PROB_KEYS = ["classif.logloss", "classif.auc", "classif.mbrier", "classif.bbrier"]


def pc(truth, response=None, prob=None, classes=("a", "b"), positive=None):
    return PredictionClassif(
        np.arange(len(truth)),
        list(truth),
        None if response is None else list(response),
        None if prob is None else np.asarray(prob, dtype=float),
        class_names=list(classes),
        positive=positive,
    )


def pr(truth, response):
    return PredictionRegr(np.arange(len(truth)), truth, response)


# Hand-computed binary example: positive 'a' has TP 3, FP 1, FN 1; 'b' has TP 1, FP 1, FN 1.
TRUTH = ["a", "a", "a", "a", "b", "b"]
RESPONSE = ["a", "a", "a", "b", "b", "a"]
# P(a) per row. AUC for 'a': positives {.9, .8, .4, .6} vs negatives {.5, .2}: 7 of 8 pairs.
PROB_A = np.array([0.9, 0.8, 0.4, 0.6, 0.5, 0.2])
PROB = np.column_stack([PROB_A, 1 - PROB_A])


def binary(positive=None):
    return pc(TRUTH, RESPONSE, PROB, positive=positive)


# --- registry and metadata -------------------------------------------------------------
def test_registry_holds_exactly_the_api_keys():
    assert sorted(tw.registry.measures.keys()) == sorted(ALL_KEYS)
    for key in ALL_KEYS:
        m = msr(key)
        assert isinstance(m, Measure)
        assert m.id == key


# key: (task_type, minimize, predict_type, range, twoclass)
METADATA = {
    "classif.acc": ("classif", False, "response", (0, 1), False),
    "classif.ce": ("classif", True, "response", (0, 1), False),
    "classif.bacc": ("classif", False, "response", (0, 1), False),
    "classif.logloss": ("classif", True, "prob", (0, math.inf), False),
    "classif.auc": ("classif", False, "prob", (0, 1), True),
    "classif.mbrier": ("classif", True, "prob", (0, 2), False),
    "classif.bbrier": ("classif", True, "prob", (0, 1), True),
    "classif.f1": ("classif", False, "response", (0, 1), True),
    "classif.precision": ("classif", False, "response", (0, 1), True),
    "classif.recall": ("classif", False, "response", (0, 1), True),
    "regr.mse": ("regr", True, "response", (0, math.inf), False),
    "regr.rmse": ("regr", True, "response", (0, math.inf), False),
    "regr.mae": ("regr", True, "response", (0, math.inf), False),
    "regr.medae": ("regr", True, "response", (0, math.inf), False),
    "regr.rsq": ("regr", False, "response", (-math.inf, 1), False),
    "regr.mape": ("regr", True, "response", (0, math.inf), False),
}


@pytest.mark.parametrize("key", ALL_KEYS)
def test_metadata(key):
    task_type, minimize, predict_type, range_, twoclass = METADATA[key]
    m = msr(key)
    assert m.task_type == task_type
    assert m.minimize is minimize
    assert m.predict_type == predict_type
    assert m.range == range_
    assert ("twoclass" in m.properties) is twoclass
    assert m.aggregation == "macro"
    assert m.label
    assert m.best == (range_[0] if minimize else range_[1])
    assert m.worst == (range_[1] if minimize else range_[0])
    assert m.param_set.owner == f"measure '{key}'"


def test_repr_is_readable():
    assert repr(msr("classif.f1")) == (
        "<MeasureClassifF1 'classif.f1': F1 Score; maximize, range [0, 1], "
        "predict_type='response', average='binary', properties={twoclass}>"
    )
    assert "range (-inf, 1]" in repr(msr("regr.rsq"))
    assert "minimize, range [0, inf)" in repr(msr("classif.logloss"))


def test_average_makes_f1_multiclass():
    assert msr("classif.f1").properties == {"twoclass"}
    m = msr("classif.f1", average="macro")
    assert m.average == "macro"
    assert m.properties == frozenset()
    assert msr("classif.auc", average="weighted").properties == frozenset()


def test_measures_are_independent_instances():
    a, b = msr("classif.f1"), msr("classif.f1")
    a.param_set.set_values(average="micro")
    assert b.average == "binary"


# --- values by hand ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("classif.acc", 4 / 6),
        ("classif.ce", 2 / 6),
        ("classif.bacc", (3 / 4 + 1 / 2) / 2),
        ("classif.precision", 3 / 4),
        ("classif.recall", 3 / 4),
        ("classif.f1", 3 / 4),
        ("classif.auc", 7 / 8),
        # (.1^2 + .2^2 + .6^2 + .4^2 + .5^2 + .2^2) / 6
        ("classif.bbrier", 0.86 / 6),
        ("classif.mbrier", 2 * 0.86 / 6),
        ("classif.logloss", -np.mean(np.log([0.9, 0.8, 0.4, 0.6, 0.5, 0.8]))),
    ],
)
def test_binary_values_by_hand(key, expected):
    assert msr(key).score(binary()) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("key", "positive_a", "positive_b"),
    [
        ("classif.precision", 3 / 4, 1 / 2),
        ("classif.recall", 3 / 4, 1 / 2),
        ("classif.f1", 3 / 4, 1 / 2),
    ],
)
def test_binary_average_uses_the_positive_class(key, positive_a, positive_b):
    assert msr(key).score(binary(positive="a")) == pytest.approx(positive_a)
    assert msr(key).score(binary(positive="b")) == pytest.approx(positive_b)


def test_f1_binary_vs_macro_micro_weighted():
    p = binary()
    assert msr("classif.f1").score(p) == pytest.approx(3 / 4)
    assert msr("classif.f1", average="macro").score(p) == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert msr("classif.f1", average="micro").score(p) == pytest.approx(4 / 6)
    assert msr("classif.f1", average="weighted").score(p) == pytest.approx(
        (4 * 3 / 4 + 2 * 1 / 2) / 6
    )


def test_auc_pairs_the_positive_class_with_its_probability_column():
    is_a = np.array(TRUTH) == "a"
    # AUC is symmetric in the two classes when each is scored with its own column,
    # and becomes 1 - AUC when the label and the column do not match.
    assert metrics.roc_auc_score(is_a, PROB_A) == pytest.approx(7 / 8)
    assert metrics.roc_auc_score(is_a, 1 - PROB_A) == pytest.approx(1 / 8)
    assert msr("classif.auc").score(binary(positive="a")) == pytest.approx(7 / 8)
    assert msr("classif.auc").score(binary(positive="b")) == pytest.approx(7 / 8)


def test_bbrier_uses_the_positive_class():
    # Positive 'b': (p_b - 1[y=b])^2 per row equals (p_a - 1[y=a])^2 for two classes.
    assert msr("classif.bbrier").score(binary(positive="b")) == pytest.approx(0.86 / 6)
    # Scored against the wrong column, the value would differ.
    wrong = np.mean((PROB_A - (np.array(TRUTH) == "b")) ** 2)
    assert not math.isclose(wrong, 0.86 / 6)


def test_class_order_is_kept_for_prob_measures():
    # Classes deliberately unsorted: sklearn's label sorting must not reorder the columns.
    classes = ("c", "a", "b")
    truth = ["c", "a", "b", "b"]
    prob = np.array(
        [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4]],
    )
    p = pc(truth, prob=prob, classes=classes)
    codes = np.array([0, 1, 2, 2])
    onehot = np.eye(3)[codes]
    assert msr("classif.logloss").score(p) == pytest.approx(-np.mean(np.log([0.7, 0.6, 0.6, 0.4])))
    assert msr("classif.mbrier").score(p) == pytest.approx(
        np.mean(np.sum((prob - onehot) ** 2, axis=1))
    )
    assert msr("classif.auc", average="macro").score(p) == pytest.approx(
        metrics.roc_auc_score(codes, prob, multi_class="ovr", average="macro")
    )
    assert msr("classif.acc").score(p) == pytest.approx(3 / 4)


def test_logloss_counts_classes_absent_from_the_truth():
    p = pc(["a", "a"], prob=[[0.8, 0.1, 0.1], [0.6, 0.3, 0.1]], classes=("a", "b", "c"))
    assert msr("classif.logloss").score(p) == pytest.approx(-np.mean(np.log([0.8, 0.6])))


def test_regression_values_by_hand():
    p = pr([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 5.0])  # errors .5, 0, -1, 1
    expected = {
        "regr.mse": 2.25 / 4,
        "regr.rmse": 0.75,
        "regr.mae": 2.5 / 4,
        "regr.medae": 0.75,
        "regr.rsq": 1 - 2.25 / 5,
        "regr.mape": (0.5 + 0 + 1 / 3 + 1 / 4) / 4,
    }
    assert p.score(list(expected)) == pytest.approx(expected)


# --- values against sklearn ------------------------------------------------------------------
def _random_classif(rng, k, n=40):
    classes = [f"k{i}" for i in range(k)][::-1]  # unsorted on purpose
    codes = rng.integers(0, k, n)
    prob = rng.dirichlet(np.ones(k), n)
    return pc(np.array(classes)[codes], prob=prob, classes=classes), codes, prob


SKLEARN_BINARY = {
    "classif.acc": lambda y, r, p: metrics.accuracy_score(y, r),
    "classif.ce": lambda y, r, p: 1 - metrics.accuracy_score(y, r),
    "classif.bacc": lambda y, r, p: metrics.balanced_accuracy_score(y, r),
    "classif.precision": lambda y, r, p: metrics.precision_score(y == 0, r == 0, zero_division=0),
    "classif.recall": lambda y, r, p: metrics.recall_score(y == 0, r == 0, zero_division=0),
    "classif.f1": lambda y, r, p: metrics.f1_score(y == 0, r == 0, zero_division=0),
    "classif.auc": lambda y, r, p: metrics.roc_auc_score(y == 0, p[:, 0]),
    "classif.bbrier": lambda y, r, p: metrics.brier_score_loss(y == 0, p[:, 0]),
    "classif.mbrier": lambda y, r, p: np.mean(np.sum((p - np.eye(2)[y]) ** 2, axis=1)),
    "classif.logloss": lambda y, r, p: metrics.log_loss(y, p, labels=[0, 1]),
}


@pytest.mark.parametrize("key", CLASSIF_KEYS)
def test_binary_values_match_sklearn(key):
    p, codes, prob = _random_classif(np.random.default_rng(3), 2)
    response = np.argmax(prob, axis=1)
    assert p.positive == p.class_names[0]
    expected = SKLEARN_BINARY[key](codes, response, prob)
    assert msr(key).score(p) == pytest.approx(expected, abs=1e-12)


SKLEARN_MULTICLASS = {
    "classif.acc": ({}, lambda y, r, p: metrics.accuracy_score(y, r)),
    "classif.bacc": ({}, lambda y, r, p: metrics.balanced_accuracy_score(y, r)),
    "classif.f1": (
        {"average": "macro"},
        lambda y, r, p: metrics.f1_score(y, r, average="macro", zero_division=0),
    ),
    "classif.precision": (
        {"average": "weighted"},
        lambda y, r, p: metrics.precision_score(y, r, average="weighted", zero_division=0),
    ),
    "classif.recall": (
        {"average": "micro"},
        lambda y, r, p: metrics.recall_score(y, r, average="micro", zero_division=0),
    ),
    "classif.auc": (
        {"average": "weighted"},
        lambda y, r, p: metrics.roc_auc_score(y, p, multi_class="ovr", average="weighted"),
    ),
    "classif.logloss": ({}, lambda y, r, p: metrics.log_loss(y, p, labels=[0, 1, 2, 3])),
    "classif.mbrier": (
        {},
        lambda y, r, p: metrics.brier_score_loss(y, p, labels=[0, 1, 2, 3], scale_by_half=False),
    ),
}


@pytest.mark.parametrize("key", sorted(SKLEARN_MULTICLASS))
def test_multiclass_values_match_sklearn(key):
    kwargs, reference = SKLEARN_MULTICLASS[key]
    p, codes, prob = _random_classif(np.random.default_rng(4), 4)
    expected = reference(codes, np.argmax(prob, axis=1), prob)
    assert msr(key, **kwargs).score(p) == pytest.approx(expected, abs=1e-12)


def test_mbrier_is_the_multiclass_brier_formula():
    p, codes, prob = _random_classif(np.random.default_rng(5), 3)
    by_hand = np.mean(np.sum((prob - np.eye(3)[codes]) ** 2, axis=1))
    assert msr("classif.mbrier").score(p) == pytest.approx(by_hand, abs=1e-12)


SKLEARN_REGR = {
    "regr.mse": metrics.mean_squared_error,
    "regr.rmse": metrics.root_mean_squared_error,
    "regr.mae": metrics.mean_absolute_error,
    "regr.medae": metrics.median_absolute_error,
    "regr.rsq": metrics.r2_score,
    "regr.mape": metrics.mean_absolute_percentage_error,
}


@pytest.mark.parametrize("key", REGR_KEYS)
def test_regression_values_match_sklearn(key):
    rng = np.random.default_rng(6)
    truth = rng.uniform(1, 5, 50)
    response = truth + rng.normal(0, 1, 50)
    assert msr(key).score(pr(truth, response)) == pytest.approx(
        SKLEARN_REGR[key](truth, response), abs=1e-12
    )


finite = st.floats(-1e3, 1e3, allow_nan=False)


@given(
    hnp.arrays(np.float64, st.integers(2, 30), elements=finite),
    st.data(),
)
def test_regression_identities(truth, data):
    response = data.draw(hnp.arrays(np.float64, len(truth), elements=finite))
    p = pr(truth, response)
    s = p.score(["regr.mse", "regr.rmse", "regr.mae", "regr.medae"])
    assert s["regr.rmse"] == pytest.approx(math.sqrt(s["regr.mse"]), rel=1e-9, abs=1e-9)
    assert 0 <= s["regr.medae"] <= np.max(np.abs(truth - response)) + 1e-9
    assert s["regr.mae"] <= s["regr.rmse"] + 1e-9


@given(
    st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=40),
    st.data(),
)
def test_classif_identities(truth, data):
    response = data.draw(
        st.lists(st.sampled_from(["x", "y", "z"]), min_size=len(truth), max_size=len(truth))
    )
    p = pc(truth, response, classes=("z", "x", "y"))
    s = p.score(["classif.acc", "classif.ce", "classif.bacc"])
    assert s["classif.acc"] + s["classif.ce"] == pytest.approx(1.0)
    assert 0.0 <= s["classif.bacc"] <= 1.0
    micro = msr("classif.f1", average="micro").score(p)
    assert micro == pytest.approx(s["classif.acc"])


# --- errors ---------------------------------------------------------------------------------
def test_unknown_key_suggests_the_nearest():
    with pytest.raises(UnknownKeyError, match=r"Did you mean .*'classif\.acc'"):
        msr("classif.acx")
    with pytest.raises(KeyError):
        msr("classif.acx")


def test_invalid_average_names_the_parameter_and_measure():
    with pytest.raises(InvalidParameterError) as info:
        msr("classif.f1", average="x")
    assert str(info.value) == (
        "The 'average' parameter of measure 'classif.f1' must be one of "
        "{'binary', 'macro', 'micro', 'weighted'}. Got 'x' instead."
    )
    with pytest.raises(InvalidParameterError, match=r"of measure 'classif\.auc' must be one of"):
        msr("classif.auc", average="micro")
    with pytest.raises(InvalidParameterError, match=r"of measure 'classif\.recall'"):
        msr("classif.recall").param_set.set_values(average="samples")


def test_unknown_constructor_argument_raises():
    with pytest.raises(TypeError):
        msr("classif.acc", average="macro")


def test_invalid_aggregation():
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'aggregation' parameter of measure 'classif.acc' must be one of "
        r"\{'macro', 'micro'\}. Got 'mean' instead.",
    ):
        msr("classif.acc", aggregation="mean")
    m = msr("regr.mse")
    with pytest.raises(
        InvalidParameterError, match=r"'aggregation' parameter of measure 'regr\.mse'"
    ):
        m.aggregation = "sum"
    assert m.aggregation == "macro"


@pytest.mark.parametrize("key", PROB_KEYS)
def test_prob_measure_on_response_only_prediction(key):
    p = pc(TRUTH, RESPONSE)
    with pytest.raises(
        PredictTypeError,
        match=rf"measure '{key}' needs predicted probabilities.*predict_type = 'prob'",
    ):
        msr(key).score(p)


@pytest.mark.parametrize(
    "key", ["classif.f1", "classif.precision", "classif.recall", "classif.auc", "classif.bbrier"]
)
def test_binary_only_measure_on_multiclass_prediction(key):
    p = pc(["a", "b", "c"], prob=np.eye(3), classes=("a", "b", "c"))
    with pytest.raises(
        TaskError,
        match=rf"Measure '{key}' needs a binary classification prediction \(2 classes\)\. "
        r"Got 3 classes \['a', 'b', 'c'\] instead\.",
    ) as info:
        msr(key).score(p)
    if key != "classif.bbrier":
        assert "Set average to one of 'macro'" in str(info.value)


def test_wrong_prediction_kind():
    with pytest.raises(
        TaskError, match=r"Measure 'regr\.mse' scores regr predictions\. Got a classif"
    ):
        msr("regr.mse").score(binary())
    with pytest.raises(TaskError, match=r"Measure 'classif\.acc' scores classif predictions"):
        msr("classif.acc").score(pr([1.0], [1.0]))
    with pytest.raises(InvalidTypeError, match=r"scores a Prediction\. Got list instead"):
        msr("classif.acc").score([1, 2])


def test_positive_class_not_in_classes():
    p = binary()
    p.positive = "zzz"
    with pytest.raises(TaskError, match=r"Measure 'classif\.f1' needs the positive class"):
        msr("classif.f1").score(p)


# --- as_measure(s) ----------------------------------------------------------------------------
def test_as_measure():
    m = msr("classif.acc")
    assert as_measure(m) is m
    assert isinstance(as_measure("classif.acc"), MeasureClassifAcc)
    with pytest.raises(InvalidTypeError, match=r"Got int instead"):
        as_measure(42)
    with pytest.raises(TaskError, match=r"Measure 'regr\.mse' scores regr predictions"):
        as_measure("regr.mse", task_type="classif")


def test_as_measures():
    m = msr("classif.f1")
    assert [x.id for x in as_measures(None, task_type="classif")] == ["classif.ce"]
    assert [x.id for x in as_measures(None, task_type="regr")] == ["regr.mse"]
    assert as_measures(m) == [m]
    assert [x.id for x in as_measures("classif.acc")] == ["classif.acc"]
    got = as_measures(("classif.acc", m), task_type="classif")
    assert got[0].id == "classif.acc" and got[1] is m
    assert [x.id for x in as_measures(k for k in ["regr.mae", "regr.rsq"])] == [
        "regr.mae",
        "regr.rsq",
    ]
    with pytest.raises(InvalidParameterError, match=r"as_measures needs task_type"):
        as_measures(None)
    with pytest.raises(InvalidTypeError):
        as_measures(3.5)


def test_prediction_score_defaults_and_sugar():
    assert binary().score() == {"classif.ce": pytest.approx(2 / 6)}
    assert pr([1.0, 2.0], [2.0, 2.0]).score() == {"regr.mse": 0.5}
    assert set(binary().score(msrs("classif.acc", "classif.auc"))) == {
        "classif.acc",
        "classif.auc",
    }
    assert tw.msr is msr
    assert tw.Measure is Measure


# --- missing values and undefined scores -----------------------------------------------------
@pytest.mark.parametrize("key", CLASSIF_KEYS)
def test_missing_truth_gives_nan(key):
    truth = [None, *TRUTH[1:]]
    assert math.isnan(msr(key).score(pc(truth, RESPONSE, PROB)))


@pytest.mark.parametrize("key", [k for k in CLASSIF_KEYS if k not in PROB_KEYS])
def test_missing_response_gives_nan(key):
    response = [*RESPONSE[:-1], None]
    assert math.isnan(msr(key).score(pc(TRUTH, response)))


@pytest.mark.parametrize("key", PROB_KEYS)
def test_missing_prob_gives_nan(key):
    prob = PROB.copy()
    prob[2, :] = np.nan
    assert math.isnan(msr(key).score(pc(TRUTH, prob=prob)))


def test_response_measure_ignores_prob():
    prob = PROB.copy()
    prob[2, :] = np.nan
    assert msr("classif.acc").score(pc(TRUTH, RESPONSE, prob)) == pytest.approx(4 / 6)


@pytest.mark.parametrize("key", REGR_KEYS)
@pytest.mark.parametrize("where", ["truth", "response"])
def test_regression_nan_gives_nan(key, where):
    truth, response = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0])
    (truth if where == "truth" else response)[1] = np.nan
    assert math.isnan(msr(key).score(pr(truth, response)))


@pytest.mark.parametrize("key", ALL_KEYS)
def test_empty_prediction_gives_nan(key):
    p = binary() if key.startswith("classif.") else pr([1.0, 2.0], [1.0, 2.0])
    assert math.isnan(msr(key).score(p.filter([])))


def test_undefined_scores_are_nan_without_warnings():
    # filterwarnings = error: a warning from sklearn would fail these.
    one_class = pc(["a", "a"], prob=[[0.7, 0.3], [0.4, 0.6]])
    assert math.isnan(msr("classif.auc").score(one_class))
    assert math.isnan(msr("regr.rsq").score(pr([1.0], [2.0])))
    assert math.isnan(msr("regr.mape").score(pr([0.0, 1.0], [1.0, 1.0])))
    # A class predicted but absent from the truth: bacc is defined.
    assert msr("classif.bacc").score(pc(["a", "a"], ["a", "b"])) == pytest.approx(0.5)
    # zero_division=0.0: never predicting the positive class gives precision 0.
    assert msr("classif.precision").score(pc(["a", "b"], ["b", "b"])) == 0.0


def test_float32_probabilities_do_not_warn():
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(50, 3)).astype(np.float32)
    prob32 = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    p = pc(rng.choice(["a", "b", "c"], 50), prob=prob32.astype(np.float64), classes="abc")
    for key in ["classif.logloss", "classif.mbrier"]:
        assert 0 < msr(key).score(p) < math.inf


# --- aggregation, pickling ---------------------------------------------------------------------
def test_aggregate_macro_and_micro():
    first = pr([1.0, 2.0], [1.0, 4.0])  # mse 2
    second = pr([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])  # mse 0
    assert msr("regr.mse").aggregation == "macro"
    assert msr("regr.mse").aggregate([first, second]) == pytest.approx(1.0)
    micro = msr("regr.mse", aggregation="micro")
    assert micro.aggregation == "micro"
    assert micro.aggregate([first, second]) == pytest.approx(4 / 6)
    assert math.isnan(micro.aggregate([]))


@pytest.mark.parametrize("key", ALL_KEYS)
def test_pickle_and_deepcopy(key):
    m = msr(key)
    p = binary() if key.startswith("classif.") else pr([1.0, 2.0, 3.0], [1.5, 2.0, 2.0])
    for other in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert type(other) is type(m)
        assert other.id == m.id and other.aggregation == m.aggregation
        assert other.score(p) == m.score(p)


def test_instances_can_be_renamed_and_configured():
    m = MeasureClassifF1(average="macro", aggregation="micro")
    assert (m.id, m.average, m.aggregation) == ("classif.f1", "macro", "micro")
    m.id = "f1_macro"
    assert binary().score(m) == {"f1_macro": pytest.approx(5 / 8)}
    assert MeasureRegrMSE().score(pr([0.0], [2.0])) == 4.0
