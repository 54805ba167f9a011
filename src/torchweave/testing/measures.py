"""``check_measure``: a conformance suite for measures, after sklearn's ``check_estimator``.

It scores small seeded predictions of the measure's kind (binary and, unless the
measure is binary-only, multiclass; with probabilities where needed) and checks what
every measure promises: scores are floats inside ``range``, a perfect prediction gets
the best score, a worse prediction scores worse, missing values give NaN, a missing
``prob`` raises :class:`~torchweave.errors.PredictTypeError`, and the measure pickles.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from torchweave import registry
from torchweave.data.prediction import (
    Prediction,
    PredictionClassif,
    PredictionRegr,
    concat_predictions,
)
from torchweave.errors import InvalidTypeError, PredictTypeError, TaskError
from torchweave.measures.measure import AGGREGATIONS, Measure
from torchweave.testing._checks import CheckFailedError, refuse_unknown_checks, run_checks

__all__ = ["MEASURE_CHECKS", "check_measure"]

#: Deliberately not in sorted order, so that a measure that lets sklearn sort the
#: labels (and so reorders the probability columns) fails the perfect-prediction check.
_BINARY = ("no", "yes")
_BINARY_POSITIVE = "yes"
_MULTICLASS = ("c", "a", "b")
_N = 30
_TOL = 1e-6


@dataclass(frozen=True)
class _Setting:
    """One family of predictions: binary, multiclass or regression."""

    name: str
    make: Callable[[float, np.random.Generator], Prediction]  # (share correct, rng)
    perfect: Callable[[], Prediction]


@dataclass
class _Context:
    """What the checks share: the measure, the seed, its generator and the settings."""

    measure: Measure
    seed: int
    settings: list[_Setting]
    rng: np.random.Generator = field(init=False)
    check: str = ""

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)


def _fail(measure: Measure, check: str, message: str) -> CheckFailedError:
    return CheckFailedError(f"check_measure('{measure.id}') failed [{check}]: {message}")


# --- prediction builders ---------------------------------------------------------------
def _classif(
    class_names: tuple[str, ...],
    positive: str | None,
    correct: float,
    rng: np.random.Generator,
) -> PredictionClassif:
    """A prediction whose favoured class is the truth for a share ``correct`` of rows."""
    k = len(class_names)
    truth = rng.permutation(np.resize(np.arange(k), _N))
    hit = rng.permutation(np.arange(_N)) < round(correct * _N)
    favoured = np.where(hit, truth, (truth + 1) % k)
    top = rng.uniform(0.6, 0.9, _N)
    rest = rng.dirichlet(np.ones(k - 1), _N) * (1.0 - top)[:, None]
    prob = np.empty((_N, k))
    for i in range(_N):
        prob[i, favoured[i]] = top[i]
        prob[i, np.arange(k) != favoured[i]] = rest[i]
    names = np.array(class_names, dtype=object)
    return PredictionClassif(
        np.arange(_N),
        pd.Categorical(names[truth], categories=list(class_names)),
        pd.Categorical(names[favoured], categories=list(class_names)),
        prob,
        class_names=list(class_names),
        positive=positive,
    )


def _classif_perfect(class_names: tuple[str, ...], positive: str | None) -> PredictionClassif:
    k = len(class_names)
    truth = np.resize(np.arange(k), _N)
    # Near-certain instead of exactly certain, so that log-scores stay finite.
    eps = 1e-12
    prob = np.full((_N, k), eps)
    prob[np.arange(_N), truth] = 1.0 - eps * (k - 1)
    names = np.array(class_names, dtype=object)
    return PredictionClassif(
        np.arange(_N),
        pd.Categorical(names[truth], categories=list(class_names)),
        prob=prob,
        class_names=list(class_names),
        positive=positive,
    )


def _regr(correct: float, rng: np.random.Generator) -> PredictionRegr:
    """Regression with noise that shrinks as ``correct`` grows (truth in [1, 10])."""
    truth = rng.uniform(1.0, 10.0, _N)
    noise = rng.normal(0.0, 0.05 + 5.0 * (1.0 - correct), _N)
    return PredictionRegr(np.arange(_N), truth, truth + noise)


def _regr_perfect() -> PredictionRegr:
    truth = np.linspace(1.0, 10.0, _N)
    return PredictionRegr(np.arange(_N), truth, truth.copy())


def _settings(measure: Measure) -> list[_Setting]:
    if measure.task_type == "regr":
        return [_Setting("regression", _regr, _regr_perfect)]
    out = [
        _Setting(
            "binary",
            lambda c, rng: _classif(_BINARY, _BINARY_POSITIVE, c, rng),
            lambda: _classif_perfect(_BINARY, _BINARY_POSITIVE),
        )
    ]
    if "twoclass" not in measure.properties:
        out.append(
            _Setting(
                "multiclass",
                lambda c, rng: _classif(_MULTICLASS, None, c, rng),
                lambda: _classif_perfect(_MULTICLASS, None),
            )
        )
    return out


def _with_missing(prediction: Prediction, what: str) -> Prediction:
    """A copy of ``prediction`` with the first entry of ``what`` missing."""
    if isinstance(prediction, PredictionRegr):
        truth, response = prediction.truth.copy(), prediction.response.copy()
        (truth if what == "truth" else response)[0] = np.nan
        return PredictionRegr(prediction.row_ids, truth, response)
    assert isinstance(prediction, PredictionClassif)
    labels = np.asarray(prediction.truth, dtype=object)
    predicted: np.ndarray | None = np.asarray(prediction.response, dtype=object)
    prob = None if prediction.prob is None else prediction.prob.to_numpy().copy()
    if what == "truth":
        labels[0] = None
    elif what == "response":
        assert predicted is not None
        predicted[0] = None
        prob = None
    else:
        assert prob is not None
        prob[0, :] = np.nan
        predicted = None
    return PredictionClassif(
        prediction.row_ids,
        labels,
        predicted,
        prob,
        class_names=prediction.class_names,
        positive=prediction.positive,
    )


def _empty(prediction: Prediction) -> Prediction:
    return prediction.filter([])


def _other_kind(measure: Measure) -> Prediction:
    if measure.task_type == "regr":
        return _classif_perfect(_BINARY, _BINARY_POSITIVE)
    return _regr_perfect()


# --- checks ------------------------------------------------------------------------------
def _check_metadata(ctx: _Context) -> None:
    measure = ctx.measure

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise _fail(measure, "metadata", message)

    need(
        isinstance(measure.id, str) and bool(measure.id),
        f"id must be a non-empty str: {measure.id!r}",
    )
    need(measure.task_type in ("classif", "regr"), f"task_type is {measure.task_type!r}")
    need(measure.predict_type in ("response", "prob"), f"predict_type is {measure.predict_type!r}")
    need(
        measure.task_type == "classif" or measure.predict_type == "response",
        "a regression measure must have predict_type 'response'",
    )
    need(isinstance(measure.minimize, bool), f"minimize must be a bool: {measure.minimize!r}")
    lo, hi = measure.range
    need(
        isinstance(lo, float | int) and isinstance(hi, float | int) and lo < hi,
        f"range must be (lower, upper) with lower < upper: {measure.range!r}",
    )
    need(measure.aggregation in AGGREGATIONS, f"aggregation is {measure.aggregation!r}")
    need(
        all(isinstance(p, str) for p in measure.properties),
        f"properties must be strings: {measure.properties!r}",
    )
    need(isinstance(measure.label, str) and bool(measure.label), "label must be a non-empty str")
    need(measure.id in repr(measure), f"repr must name the id: {measure!r}")


def _score(measure: Measure, prediction: Prediction, check: str, setting: str) -> float:
    value = measure.score(prediction)
    if not isinstance(value, float):
        raise _fail(
            measure, check, f"score() must return a float ({setting}); got {type(value).__name__}"
        )
    return value


def _check_range(ctx: _Context, setting: _Setting) -> None:
    measure, rng = ctx.measure, ctx.rng
    lo, hi = measure.range
    for correct in (0.0, 0.5, 0.8, 1.0):
        value = _score(measure, setting.make(correct, rng), "range", setting.name)
        if math.isnan(value) or not lo - _TOL <= value <= hi + _TOL:
            raise _fail(
                measure,
                "range",
                f"a {setting.name} prediction ({correct:.0%} correct) scored {value}, "
                f"outside range {measure.range}",
            )


def _check_perfect(ctx: _Context, setting: _Setting) -> None:
    measure = ctx.measure
    best = measure.best
    if math.isinf(best):
        return
    value = _score(measure, setting.perfect(), "perfect", setting.name)
    if not abs(value - best) <= _TOL:
        raise _fail(
            measure,
            "perfect",
            f"a perfect {setting.name} prediction scored {value}, expected the best value "
            f"{best} ({'lower' if measure.minimize else 'upper'} end of range {measure.range})",
        )


def _check_direction(ctx: _Context, setting: _Setting) -> None:
    measure, seed = ctx.measure, ctx.seed
    good = _score(measure, setting.make(0.8, np.random.default_rng(seed)), "direction", "good")
    bad = _score(measure, setting.make(0.0, np.random.default_rng(seed)), "direction", "bad")
    better = good < bad if measure.minimize else good > bad
    if not better:
        raise _fail(
            measure,
            "direction",
            f"with minimize={measure.minimize}, a good {setting.name} prediction (80% correct) "
            f"should score better than a bad one (0% correct); got good={good}, bad={bad}",
        )


def _check_missing(ctx: _Context, setting: _Setting) -> None:
    measure, rng = ctx.measure, ctx.rng
    prediction = setting.make(0.8, rng)
    used = "prob" if measure.predict_type == "prob" else "response"
    cases = [
        (f"a {setting.name} prediction with a missing {what}", _with_missing(prediction, what))
        for what in ("truth", used)
    ]
    cases.append((f"an empty {setting.name} prediction", _empty(prediction)))
    for what, case in cases:
        try:
            value = measure.score(case)
        except Exception as exc:
            raise _fail(
                measure, "missing", f"{what} must score NaN; raised {type(exc).__name__}: {exc}"
            ) from exc
        if not (isinstance(value, float) and math.isnan(value)):
            raise _fail(measure, "missing", f"{what} must score NaN; got {value!r}")


def _expect_error(
    measure: Measure,
    check: str,
    call: Callable[[], Any],
    expected: tuple[type[Exception], ...],
    situation: str,
    names_id: bool = True,
) -> None:
    """Fail unless ``call()`` raises one of ``expected`` (naming the measure)."""
    wanted = " or ".join(e.__name__ for e in expected)
    try:
        call()
    except expected as exc:
        if names_id and measure.id not in str(exc):
            raise _fail(
                measure,
                check,
                f"the {type(exc).__name__} for {situation} must name the measure: {exc}",
            ) from exc
        return
    except Exception as exc:
        raise _fail(
            measure,
            check,
            f"{situation} must raise {wanted}; raised {type(exc).__name__}: {exc}",
        ) from exc
    raise _fail(measure, check, f"{situation} must raise {wanted}; nothing was raised")


def _check_errors(ctx: _Context) -> None:
    measure = ctx.measure
    other = _other_kind(measure)
    _expect_error(
        measure,
        "task_type",
        lambda: measure.score(other),
        (TaskError, InvalidTypeError),
        f"scoring a {other.task_type} prediction",
    )
    _expect_error(
        measure,
        "task_type",
        lambda: measure.score("not a prediction"),
        (InvalidTypeError,),
        "scoring a str",
    )
    if measure.task_type != "classif":
        return
    if measure.predict_type == "prob":
        full = _classif_perfect(_BINARY, _BINARY_POSITIVE)
        response_only = PredictionClassif(
            full.row_ids, full.truth, full.response, class_names=full.class_names
        )
        _expect_error(
            measure,
            "prob",
            lambda: measure.score(response_only),
            (PredictTypeError,),
            "a prediction without prob",
        )
    if "twoclass" in measure.properties:
        _expect_error(
            measure,
            "twoclass",
            lambda: measure.score(_classif_perfect(_MULTICLASS, None)),
            (TaskError,),
            "a multiclass prediction for a binary-only measure",
        )


def _check_invariance(ctx: _Context, setting: _Setting) -> None:
    measure, rng = ctx.measure, ctx.rng
    prediction = setting.make(0.8, rng)
    before = prediction.as_data_frame().copy()
    value = measure.score(prediction)
    if not prediction.as_data_frame().equals(before):
        raise _fail(measure, "no_mutation", "score() modified the prediction")
    shuffled = prediction.filter(rng.permutation(prediction.row_ids))
    again = measure.score(shuffled)
    if not math.isclose(value, again, rel_tol=1e-9, abs_tol=1e-12):
        raise _fail(measure, "row_order", f"the score depends on the row order: {value} vs {again}")


def _check_aggregate(ctx: _Context, setting: _Setting) -> None:
    measure, rng = ctx.measure, ctx.rng
    first, second = setting.make(0.8, rng), setting.make(0.5, rng)
    got = measure.aggregate([first, second])
    if measure.aggregation == "micro":
        expected = measure.score(concat_predictions([first, second]))
    else:
        expected = (measure.score(first) + measure.score(second)) / 2
    if not math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12):
        raise _fail(
            measure,
            "aggregate",
            f"aggregate() with aggregation='{measure.aggregation}' gave {got}, expected {expected}",
        )


def _check_pickle(ctx: _Context, setting: _Setting) -> None:
    measure, rng = ctx.measure, ctx.rng
    prediction = setting.make(0.8, rng)
    value = measure.score(prediction)
    for how, clone in (
        ("pickle", lambda m: pickle.loads(pickle.dumps(m))),
        ("deepcopy", copy.deepcopy),
    ):
        other: Any = clone(measure)
        again = other.score(prediction)
        if not (value == again or (math.isnan(value) and math.isnan(again))):
            raise _fail(measure, how, f"the copy scores {again}, the original {value}")
        if repr(other) != repr(measure):
            raise _fail(measure, how, f"the copy differs: {other!r} vs {measure!r}")


def _check_registry(ctx: _Context) -> None:
    measure = ctx.measure
    if measure.id not in registry.measures:
        raise _fail(
            measure, "registry", f"the id '{measure.id}' is not a key of tw.registry.measures"
        )
    fresh = registry.measures.get(measure.id)
    if type(fresh) is not type(measure):
        raise _fail(
            measure,
            "registry",
            f"tw.registry.measures['{measure.id}'] builds a {type(fresh).__name__}, "
            f"not a {type(measure).__name__}",
        )


def _for_each_setting(check: Callable[[_Context, _Setting], None]) -> Callable[[_Context], None]:
    """A check run on each family of predictions (binary, multiclass or regression)."""

    def run(ctx: _Context) -> None:
        for setting in ctx.settings:
            check(ctx, setting)

    return run


#: The checks of :func:`check_measure`, by name (the names ``skip`` takes).
MEASURE_CHECKS: dict[str, Callable[[_Context], None]] = {
    "metadata": _check_metadata,
    "errors": _check_errors,
    "range": _for_each_setting(_check_range),
    "perfect": _for_each_setting(_check_perfect),
    "direction": _for_each_setting(_check_direction),
    "missing": _for_each_setting(_check_missing),
    "invariance": _for_each_setting(_check_invariance),
    "aggregate": _for_each_setting(_check_aggregate),
    "pickle": _for_each_setting(_check_pickle),
    "registry": _check_registry,
}


def check_measure(
    measure: Measure,
    *,
    seed: int = 0,
    check_registry: bool = True,
    skip: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Check that a measure keeps the promises of :class:`~torchweave.measures.Measure`.

    The checks (the keys of :data:`MEASURE_CHECKS`): ``metadata`` is consistent;
    ``errors``: the wrong kind of prediction raises ``TaskError``, a missing ``prob``
    raises ``PredictTypeError`` and a multiclass prediction for a binary-only measure
    raises ``TaskError``, each naming the measure; ``range``: scores are floats inside
    ``range`` (binary and, unless binary-only, multiclass predictions for
    classification); ``perfect``: a perfect prediction gets the best value of the
    range (skipped where that bound is infinite; near-certain probabilities for prob
    measures); ``direction``: a worse prediction scores worse in the direction of
    ``minimize``; ``missing``: missing truth, response or prob and empty predictions
    give NaN; ``invariance``: scoring neither modifies the prediction nor depends on
    the row order; ``aggregate`` follows ``aggregation``; ``pickle``: the measure
    pickles and deep-copies and the copies score the same; ``registry``: its id is its
    key in ``tw.registry.measures``.

    Parameters
    ----------
    measure : Measure
        The measure to check (constructed, e.g. ``msr("classif.f1", average="macro")``).
    seed : int, default 0
        Seed of the random predictions.
    check_registry : bool, default True
        Whether to check that ``measure.id`` is a registry key building this class
        (turn off for measures that are not registered; the same as skipping
        ``"registry"``).
    skip : mapping of str to str, optional
        Checks to skip, with the reason. Names are the keys of :data:`MEASURE_CHECKS`.

    Returns
    -------
    dict of str to str
        For each check ``"passed"`` or ``"skipped: <reason>"``, as the other suites.

    Raises
    ------
    AssertionError
        On the first failed check, naming the measure and the check. Errors raised
        inside a check propagate with a note naming the check.

    Examples
    --------
    >>> from torchweave.sugar import msr
    >>> from torchweave.testing.measures import check_measure
    >>> set(check_measure(msr("classif.acc")).values())
    {'passed'}
    >>> check_measure(msr("classif.acc"), skip={"pickle": "checked elsewhere"})["pickle"]
    'skipped: checked elsewhere'
    """
    if not isinstance(measure, Measure):
        raise AssertionError(
            f"check_measure needs a Measure. Got {type(measure).__name__} instead."
        )
    skips = dict(skip or {})
    refuse_unknown_checks(skips, MEASURE_CHECKS, f"in the skips of measure '{measure.id}'")
    if not check_registry:
        skips.setdefault("registry", "check_registry=False")
    ctx = _Context(measure=measure, seed=seed, settings=_settings(measure))
    return run_checks(ctx, MEASURE_CHECKS, skips, f"check_measure for measure '{measure.id}'")
