"""Every terminator: construction checks and when it stops a run."""

import time

import pytest

import torchweave as tw
from tests.tuning.helpers import rpart
from torchweave.errors import InvalidParameterError

IRIS = tw.tsk("iris")


class _Fake:
    """The parts of a TuningInstance the terminators read."""

    def __init__(self, scores, minimize=True, n_params=1):
        self._scores = [-s if minimize else s for s in scores]
        self.n_evals = len(scores)
        self.measures = [tw.msr("classif.ce" if minimize else "classif.acc")]
        self.search_space = tw.ps(**{f"p{i}": tw.p_int(0, 1) for i in range(n_params)})
        self.start_time = time.perf_counter()

    def scores_for_terminators(self):
        return list(self._scores)


def test_evals():
    trm = tw.trm("evals", n_evals=3, k=2)
    assert not trm.is_terminated(_Fake([0.5] * 6, n_params=2))
    assert trm.remaining(_Fake([0.5] * 6, n_params=2)) == 1
    assert trm.is_terminated(_Fake([0.5] * 7, n_params=2))


def test_run_time():
    trm = tw.trm("run_time", secs=0.05)
    fake = _Fake([])
    assert not trm.is_terminated(fake)
    fake.start_time -= 1
    assert trm.is_terminated(fake)
    assert trm.remaining(fake) == 0


def test_stagnation():
    trm = tw.trm("stagnation", iters=2, threshold=0.01)
    assert not trm.is_terminated(_Fake([0.5, 0.4]))  # not enough evaluations yet
    assert not trm.is_terminated(_Fake([0.5, 0.4, 0.3]))  # improved in the window
    assert trm.is_terminated(_Fake([0.5, 0.3, 0.295, 0.4]))  # only 0.005 better
    assert trm.is_terminated(_Fake([0.5, 0.6], minimize=False)) is False


def test_perf_reached():
    trm = tw.trm("perf_reached", level=0.1)
    assert not trm.is_terminated(_Fake([0.3, 0.2]))
    assert trm.is_terminated(_Fake([0.3, 0.1]))
    assert tw.trm("perf_reached", level=0.9).is_terminated(_Fake([0.95], minimize=False))
    assert not tw.trm("perf_reached", level=0.9).is_terminated(_Fake([0.8], minimize=False))


def test_combo():
    evals, perf = tw.trm("evals", n_evals=5), tw.trm("perf_reached", level=0.1)
    fake = _Fake([0.05])
    assert tw.trm("combo", terminators=[evals, perf]).is_terminated(fake)
    assert not tw.trm("combo", terminators=[evals, perf], any=False).is_terminated(fake)
    assert tw.trm("combo", terminators=[evals, tw.trm("none")]).remaining(fake) == 4


@pytest.mark.parametrize(
    ("key", "kwargs", "match"),
    [
        ("evals", {"n_evals": 0}, "'n_evals' parameter of terminator 'evals' must be an integer"),
        ("run_time", {"secs": -1}, "'secs'"),
        ("stagnation", {"iters": 1.5}, "'iters'"),
        ("perf_reached", {"level": "x"}, "'level'"),
        ("combo", {"terminators": []}, "non-empty list of Terminators"),
    ],
)
def test_bad_arguments(key, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        tw.trm(key, **kwargs)


def test_terminators_stop_a_real_run():
    learner = rpart(max_depth=tw.to_tune(1, 10))

    def run(terminator):
        return tw.tune(
            tw.tnr("random_search"),
            IRIS,
            learner,
            tw.rsmp("holdout"),
            "classif.ce",
            terminator=terminator,
            seed=3,
        )

    assert run(tw.trm("evals", n_evals=3)).n_evals == 3
    assert run(tw.trm("perf_reached", level=1.0)).n_evals == 1  # any score reaches 1.0
    stagnating = run(
        tw.trm("combo", terminators=[tw.trm("stagnation", iters=2), tw.trm("evals", n_evals=30)])
    )
    assert stagnating.n_evals < 30
    assert run(tw.trm("run_time", secs=0.0)).n_evals == 0
