"""tw.ps search spaces: sampling, grids, transformations, dependencies, branches."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
from tests.tuning.helpers import branch_graph, rpart
from torchweave.errors import InvalidParameterError
from torchweave.params.param import Condition
from torchweave.tuning.search_space import branch_conditions, space_from_learner


def _space():
    return tw.ps(
        units=tw.p_int(2, 6, trafo=lambda x: 2**x),
        lr=tw.p_dbl(1e-4, 1e-1, logscale=True),
        act=tw.p_fct(["relu", "tanh"]),
        slope=tw.p_dbl(0.01, 0.3, depends=("act", "relu")),
        bias=tw.p_lgl(),
    )


@given(st.integers(0, 2**31 - 1))
def test_samples_respect_bounds_and_dependencies(seed):
    space = _space()
    config = space.sample(np.random.default_rng(seed))
    assert 2 <= config["units"] <= 6 and isinstance(config["units"], int)
    assert 1e-4 <= config["lr"] <= 1e-1
    assert ("slope" in config) == (config["act"] == "relu")
    assert isinstance(config["bias"], bool)


def test_logscale_samples_spread_over_decades():
    space = tw.ps(lr=tw.p_dbl(1e-4, 1e-1, logscale=True))
    rng = np.random.default_rng(1)
    logs = [math.log10(space.sample(rng)["lr"]) for _ in range(400)]
    # log-uniform: about a third of the draws in each decade
    assert 0.25 < np.mean(np.array(logs) < -3) < 0.42


def test_grid_drops_inactive_parameters_and_duplicates():
    space = tw.ps(
        n=tw.p_int(1, 3),
        act=tw.p_fct(["relu", "tanh"]),
        slope=tw.p_dbl(0, 1, depends=("act", "relu")),
    )
    grid = space.grid(resolution=3)
    # n: 3 values; relu: 3 slopes, tanh: no slope -> 3 * (3 + 1)
    assert len(grid) == 12
    assert all(("slope" in g) == (g["act"] == "relu") for g in grid)
    assert tw.ps(n=tw.p_int(1, 2)).grid(5) == [{"n": 1}, {"n": 2}]
    assert tw.ps(x=tw.p_dbl(1, 100, logscale=True)).grid(3) == [
        {"x": 1.0},
        {"x": 10.0},
        {"x": 100.0},
    ]
    assert len(space.grid(2, param_resolutions={"slope": 5})) == 2 * (5 + 1)  # n in {1, 3}


def test_transform_applies_trafos_then_extra_trafo():
    space = _space()
    assert space.transform({"units": 3, "act": "tanh"}) == {"units": 8, "act": "tanh"}
    space = tw.ps(a=tw.p_int(1, 3), extra_trafo=lambda x: {"a": x["a"], "b": x["a"] * 10})
    assert space.transform({"a": 2}) == {"a": 2, "b": 20}


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"x": tw.p_int(1)}, "finite bounds"),
        ({"x": tw.p_dbl(0, 1, logscale=True)}, "lower bound > 0"),
        ({"x": tw.p_uty()}, "p_int, p_dbl, p_fct or p_lgl"),
        ({"x": tw.p_int(1, 2, depends=("y", 1))}, "depends on 'y', which is not"),
        (
            {"x": tw.p_int(1, 2, depends=("y", 1)), "y": tw.p_int(1, 2, depends=("x", 1))},
            "form a cycle",
        ),
    ],
)
def test_bad_spaces_are_refused(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        tw.ps(**params)


def test_space_from_learner_tokens():
    tokens = space_from_learner(
        rpart(max_depth=tw.to_tune(1, 4), criterion=tw.to_tune(["gini", "entropy"]))
    )
    assert tokens.space.ids == ["criterion", "max_depth"] or set(tokens.space.ids) == {
        "criterion",
        "max_depth",
    }
    assert tokens.inactive_values == {"max_depth": 1, "criterion": "gini"}
    assert not tokens.internal


def test_branch_parameters_depend_on_the_selection():
    learner = branch_graph()
    conditions = branch_conditions(learner)
    assert conditions["small.out_features"] == Condition("branch.selection", ("small",))
    assert conditions["wide.out_features"] == Condition("branch.selection", ("wide",))
    assert "head.bias" not in conditions and "torch_ingress_num.shape" not in conditions
    learner.param_set.set_values(
        **{
            "branch.selection": tw.to_tune(["small", "wide"]),
            "wide.out_features": tw.to_tune(8, 32),
            "small.out_features": tw.to_tune(2, 4),
        }
    )
    space = space_from_learner(learner).space
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = space.sample(rng)
        active = {"small": "small.out_features", "wide": "wide.out_features"}
        assert set(config) == {"branch.selection", active[config["branch.selection"]]}


def test_a_fixed_selection_drops_the_other_branch():
    learner = branch_graph()
    learner.param_set.set_values(
        **{"branch.selection": "small", "wide.out_features": tw.to_tune(8, 32)}
    )
    tokens = space_from_learner(learner)
    assert tokens.space.ids == [] and tokens.fixed_inactive == ["wide.out_features"]
    assert tokens.inactive_values == {"wide.out_features": 8}
