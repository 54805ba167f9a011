"""The measure conformance suite, run over every registered measure."""

import math
import warnings
from typing import ClassVar

import numpy as np
import pytest
from sklearn import metrics

import torchweave as tw
from torchweave.measures import Measure, MeasureClassifAcc
from torchweave.sugar import msr
from torchweave.testing._checks import CheckFailedError
from torchweave.testing.measures import MEASURE_CHECKS, check_measure


@pytest.mark.parametrize("key", tw.registry.measures.keys())
def test_check_measure(key):
    results = check_measure(msr(key))
    assert list(results) == list(MEASURE_CHECKS)
    assert set(results.values()) == {"passed"}


@pytest.mark.parametrize(
    ("key", "kwargs"),
    [
        ("classif.f1", {"average": "macro"}),
        ("classif.precision", {"average": "micro"}),
        ("classif.recall", {"average": "weighted"}),
        ("classif.auc", {"average": "macro"}),
        ("classif.logloss", {"aggregation": "micro"}),
    ],
)
def test_check_measure_configured(key, kwargs):
    assert set(check_measure(msr(key, **kwargs)).values()) == {"passed"}


class _WrongDirection(Measure):
    """Accuracy that claims to be minimized (unbounded, so only the direction check sees it)."""

    id = "classif.wrong_direction"
    task_type: ClassVar[str] = "classif"
    minimize: ClassVar[bool] = True
    range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    label = "Broken"

    def _score(self, prediction):
        return float(metrics.accuracy_score(prediction.truth.codes, prediction.response.codes))


class _OutOfRange(MeasureClassifAcc):
    """Percent accuracy with the range of a fraction."""

    label = "Broken"

    def _score(self, prediction):
        return 100 * super()._score(prediction)


class _SortsLabels(Measure):
    """Log loss that lets sklearn sort the class names, scrambling the prob columns."""

    id = "classif.sorted_logloss"
    task_type: ClassVar[str] = "classif"
    minimize: ClassVar[bool] = True
    predict_type: ClassVar[str] = "prob"
    range: ClassVar[tuple[float, float]] = (0.0, math.inf)
    label = "Broken"

    def _score(self, prediction):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns about unsorted labels
            return float(
                metrics.log_loss(
                    np.asarray(prediction.truth, dtype=object),
                    prediction.prob.to_numpy(),
                    labels=prediction.class_names,
                )
            )


class _CrashesOnNaN(MeasureClassifAcc):
    """Skips the base class's missing-value handling."""

    label = "Broken"

    def score(self, prediction):
        return self._score(prediction)


class _Unregistered(MeasureClassifAcc):
    """A correct measure under an id that is not a registry key."""

    id = "classif.not_registered"


@pytest.mark.parametrize(
    ("measure", "match"),
    [
        (_WrongDirection(), r"check_measure\('classif.wrong_direction'\) failed \[direction\]"),
        (_OutOfRange(), r"failed \[range\]: .* outside range \(0.0, 1.0\)"),
        (_SortsLabels(), r"failed \[perfect\]: a perfect multiclass prediction scored"),
        (_CrashesOnNaN(), r"failed \[task_type\]|failed \[missing\]"),
        (_Unregistered(), r"failed \[registry\]: the id 'classif.not_registered' is not a key"),
    ],
)
def test_check_measure_catches_broken_measures(measure, match):
    with pytest.raises(AssertionError, match=match):
        check_measure(measure)


def test_check_measure_without_registry_check():
    results = check_measure(_Unregistered(), check_registry=False)
    assert results["registry"] == "skipped: check_registry=False"
    assert {v for k, v in results.items() if k != "registry"} == {"passed"}


def test_check_measure_reports_skips_like_the_other_suites():
    results = check_measure(_Unregistered(), skip={"registry": "not registered on purpose"})
    assert results["registry"] == "skipped: not registered on purpose"
    results = check_measure(_WrongDirection(), skip={"direction": "known"}, check_registry=False)
    assert results["direction"] == "skipped: known"
    assert results["range"] == "passed"


def test_check_measure_refuses_unknown_skips():
    with pytest.raises(
        AssertionError, match=r"Unknown check\(s\) \['speed'\] in the skips of measure"
    ):
        check_measure(msr("classif.acc"), skip={"speed": "why"})


def test_check_measure_failures_are_check_failed_errors():
    with pytest.raises(CheckFailedError, match=r"failed \[direction\]"):
        check_measure(_WrongDirection())


def test_check_measure_needs_a_measure():
    with pytest.raises(AssertionError, match=r"check_measure needs a Measure\. Got str instead\."):
        check_measure("classif.acc")
