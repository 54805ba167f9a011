import copy

import pytest

from torchweave.errors import InvalidParameterError
from torchweave.params import (
    ParamInt,
    ParamSet,
    ParamSetCollection,
    p_dbl,
    p_fct,
    p_int,
    p_lgl,
    p_uty,
)
from torchweave.testing._checks import CheckFailedError
from torchweave.testing.params import PARAM_SET_CHECKS, check_param_set


def good_set():
    return ParamSet(
        owner="learner 'toy'",
        epochs=p_int(1, tags={"train", "required"}),
        lr=p_dbl(0, 1, lower_open=True, default=0.01, init=0.1, tags="train"),
        method=p_fct(["a", "b"], init="a"),
        verbose=p_lgl(default=False),
        momentum=p_dbl(0, 1, depends=("method", "b")),
        hook=p_uty(
            default=None, custom_check=lambda x: None if x is None or callable(x) else "a callable"
        ),
        size=p_int(0, special_vals=[None], default=None),
    )


def test_good_set_passes_and_is_left_alone():
    ps = good_set()
    before = ps.values
    results = check_param_set(ps)
    assert ps.values == before
    assert results == dict.fromkeys(PARAM_SET_CHECKS, "passed")


def test_skips_are_reported_like_the_other_suites():
    ps = ParamSet(owner="learner 'x'", k=p_int(1, default=0))
    results = check_param_set(ps, skip={"declarations": "the default is documentation"})
    assert results["declarations"] == "skipped: the default is documentation"
    assert results["required"] == "passed"


def test_unknown_skips_are_refused():
    with pytest.raises(AssertionError, match=r"Unknown check\(s\) \['speed'\] in the skips"):
        check_param_set(good_set(), skip={"speed": "why"})


def test_failures_are_check_failed_errors():
    with pytest.raises(CheckFailedError, match=r"the default 0 of 'k' is neither valid"):
        check_param_set(ParamSet(owner="learner 'x'", k=p_int(1, default=0)))


def test_required_params_set_pass_too():
    ps = good_set().set_values(epochs=3)
    check_param_set(ps)


def test_empty_set_passes():
    check_param_set(ParamSet())


def test_collection_passes():
    a = good_set()
    b = ParamSet(owner="pipeop 'scale'", center=p_lgl(init=True))
    check_param_set(ParamSetCollection({"toy": a, "scale": b}, owner="graph"))


def test_invalid_default_is_reported():
    ps = ParamSet(owner="learner 'x'", k=p_int(1, default=0))
    with pytest.raises(AssertionError, match=r"learner 'x': the default 0 of 'k' is neither valid"):
        check_param_set(ps)


def test_init_failing_its_check_is_reported():
    ps = ParamSet(owner="learner 'x'", k=p_int(1, init=2))
    ps._params["k"] = p_int(5, init=2)  # declarations changed behind the set's back
    with pytest.raises(AssertionError, match=r"the init value 2 of 'k' fails its own check"):
        check_param_set(ps)


class LaxInt(ParamInt):
    """Declares bounds but does not enforce them."""

    def _check_kind(self, value):
        return isinstance(value, int)


def test_unenforced_bound_is_reported():
    ps = ParamSet(owner="learner 'x'", k=LaxInt(lower_bound=1))
    with pytest.raises(AssertionError, match=r"set_values\(k=0\) was accepted"):
        check_param_set(ps)


class NotAtomic(ParamSet):
    def set_values(self, values=None, /, **kwargs):
        self._values.update({**(values or {}), **kwargs})
        return super().set_values(values, **kwargs)


def test_non_atomic_set_values_is_reported():
    ps = NotAtomic(owner="learner 'x'", k=p_int(1, init=3))
    with pytest.raises(AssertionError, match=r"a failed set_values\(k=0\) changed the values"):
        check_param_set(ps)


class BadMessage(ParamSet):
    def _message(self, id, problem, value):
        return f"bad value {value!r}"


def test_message_without_param_name_is_reported():
    ps = BadMessage(owner="learner 'x'", k=p_int(1, init=3))
    with pytest.raises(
        AssertionError, match=r"must name the parameter 'k' and the owner learner 'x'"
    ):
        check_param_set(ps)


class ShallowClone(ParamSet):
    def clone(self):
        return copy.copy(self)


def test_shallow_clone_is_reported():
    ps = ShallowClone(owner="learner 'x'", k=p_int(1, init=3))
    with pytest.raises(AssertionError, match=r"clone"):
        check_param_set(ps)


class NoRequiredCheck(ParamSet):
    def check_required(self, ids=None):
        return None


def test_missing_required_check_is_reported():
    ps = NoRequiredCheck(owner="learner 'x'", k=p_int(1, tags="required"))
    with pytest.raises(AssertionError, match=r"check_required\(\) passed although \['k'\]"):
        check_param_set(ps)


def test_dependency_on_unknown_param_is_reported():
    ps = ParamSet(owner="learner 'x'", k=p_int(1, depends=("mode", "fast")))
    with pytest.raises(AssertionError, match=r"'k' depends on 'mode', which is not a parameter"):
        check_param_set(ps)


def test_not_a_param_set():
    with pytest.raises(AssertionError, match=r"Expected a ParamSet. Got dict instead"):
        check_param_set({"k": 1})


def test_rejection_messages_follow_house_shape():
    ps = good_set()
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'lr' parameter of learner 'toy' must be a float in \(0, 1\]. Got 0 instead.",
    ):
        ps.set_values(lr=0)
