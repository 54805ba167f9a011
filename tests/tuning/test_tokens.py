"""to_tune tokens in ParamSets: accepted where they fit, refused for training."""

import pytest

import torchweave as tw
from torchweave.errors import InvalidParameterError
from torchweave.tuning.tokens import InternalTuneToken, LevelsTuneToken, RangeTuneToken


def test_the_three_forms():
    assert isinstance(tw.to_tune(1, 5), RangeTuneToken)
    assert tw.to_tune(1e-4, 1e-1, logscale=True).logscale
    assert isinstance(tw.to_tune(["a", "b"]), LevelsTuneToken)
    token = tw.to_tune(upper=50, internal=True)
    assert isinstance(token, InternalTuneToken) and token.upper == 50
    assert repr(token) == "to_tune(upper=50, internal=True)"
    assert token.aggregate([3, 4, 4]) == 4  # ceil(mean(11/3))
    assert tw.to_tune(upper=9, internal=True, aggr=max).aggregate([3, 7]) == 7


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((5, 1), {}, "lower <= upper"),
        ((0, 1), {"logscale": True}, "lower bound > 0"),
        (([],), {}, "at least one level"),
        ((1,), {}, "needs bounds"),
        ((1, None), {"internal": True}, "takes only 'upper'"),
        ((), {"upper": 0, "internal": True}, "integer upper >= 1"),
        ((1, 2), {"aggr": max}, "only applies with internal=True"),
    ],
)
def test_bad_tokens_are_refused(args, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        tw.to_tune(*args, **kwargs)


def test_a_paramset_checks_the_token_against_the_declaration():
    ps = tw.ParamSet(n=tw.p_int(1, 10), a=tw.p_fct(["x", "y"]), r=tw.p_dbl(0, 1))
    ps.set_values(n=tw.to_tune(2, 8), a=tw.to_tune(["x", "y"]), r=tw.to_tune(0.1, 0.9))
    assert ps.values["n"] == tw.to_tune(2, 8)
    with pytest.raises(InvalidParameterError, match=r"'n' parameter .*both bounds"):
        ps.set_values(n=tw.to_tune(0, 8))
    with pytest.raises(InvalidParameterError, match=r"'a' parameter .*every level"):
        ps.set_values(a=tw.to_tune(["x", "z"]))
    with pytest.raises(InvalidParameterError, match="integer bounds"):
        ps.set_values(n=tw.to_tune(1.5, 3))
    with pytest.raises(InvalidParameterError, match="numeric parameter"):
        ps.set_values(a=tw.to_tune(1, 2))
    with pytest.raises(InvalidParameterError, match="tagged 'internal_tuning'"):
        ps.set_values(n=tw.to_tune(upper=5, internal=True))


def test_dependencies_do_not_block_tokens():
    ps = tw.ParamSet(kind=tw.p_fct(["a", "b"]), x=tw.p_int(0, 5, depends=("kind", "a")))
    ps.set_values(kind=tw.to_tune(["a", "b"]), x=tw.to_tune(0, 5))
    assert set(ps.values) == {"kind", "x"}


def test_training_with_a_token_is_refused_with_a_hint():
    learner = tw.lrn("classif.rpart", max_depth=tw.to_tune(1, 3))
    with pytest.raises(InvalidParameterError, match=r"'max_depth'.*tuning token.*tw.tune\(\)"):
        learner.train(tw.tsk("iris"))


def test_tokens_in_a_graph_learner_are_refused_at_training():
    from tests.tuning.helpers import branch_graph

    learner = branch_graph()
    learner.param_set.set_values(**{"torch_optimizer.lr": tw.to_tune(1e-3, 1e-1)})
    with pytest.raises(InvalidParameterError, match="torch_optimizer.lr"):
        learner.train(tw.tsk("iris"))
