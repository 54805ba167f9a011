import copy
import math
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

import torchweave as tw
from torchweave.params import (
    Condition,
    ParamSet,
    ParamSetCollection,
    p_dbl,
    p_fct,
    p_int,
    p_lgl,
    p_uty,
)


def make_ps() -> ParamSet:
    return ParamSet(
        owner="LearnerTorch",
        epochs=p_int(0, tags={"train", "required"}),
        lr=p_dbl(0, 1, default=0.001, tags="train"),
        method=p_fct(["mode", "sample"], init="mode", tags="predict"),
        shuffle=p_lgl(init=True, tags="train"),
        measures=p_uty(
            custom_check=lambda x: None if isinstance(x, list) else "a list of Measures",
            init=[],
        ),
        seed=p_int(special_vals=["random", None], init="random"),
        rate=p_dbl(0, 1, upper_open=True, depends=Condition("method", "sample")),
    )


def test_init_values_are_set_at_construction():
    ps = make_ps()
    assert ps.values == {"method": "mode", "shuffle": True, "measures": [], "seed": "random"}
    assert ps.default == {"lr": 0.001}


def test_error_message_shape_names_param_owner_expectation_and_value():
    ps = make_ps()
    with pytest.raises(tw.InvalidParameterError) as info:
        ps.set_values(epochs=-1)
    assert str(info.value) == (
        "The 'epochs' parameter of LearnerTorch must be an integer >= 0. Got -1 instead."
    )
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"lr": 1.5}, "'lr' parameter of LearnerTorch must be a float in [0, 1]. Got 1.5"),
        ({"lr": "a"}, "must be a float in [0, 1]. Got 'a'"),
        ({"method": "x"}, "must be one of {'mode', 'sample'}. Got 'x'"),
        ({"shuffle": 1}, "'shuffle' parameter of LearnerTorch must be a bool. Got 1"),
        ({"measures": "acc"}, "must be a list of Measures. Got 'acc'"),
        ({"seed": 1.5}, "must be an integer or 'random' or None. Got 1.5"),
        ({"epochs": 2.0}, "must be an integer >= 0. Got 2.0"),
        ({"epochs": True}, "must be an integer >= 0. Got True"),
    ],
)
def test_invalid_values_raise_with_expectation(kw, fragment):
    ps = make_ps()
    with pytest.raises(tw.InvalidParameterError) as info:
        ps.set_values(**kw)
    assert fragment in str(info.value)


def test_set_values_is_atomic():
    ps = make_ps()
    before = ps.values
    with pytest.raises(tw.InvalidParameterError):
        ps.set_values(epochs=5, lr=2.0)
    assert ps.values == before


def test_unknown_id_suggests_nearest():
    ps = make_ps()
    with pytest.raises(
        tw.InvalidParameterError,
        match="'epoch' is not a parameter of LearnerTorch. Did you mean 'epochs'\\?",
    ):
        ps.set_values(epoch=3)


def test_special_values_and_open_bounds():
    ps = make_ps()
    ps.set_values(seed=None)
    assert ps.values["seed"] is None
    ps.set_values(method="sample", rate=0.0)
    with pytest.raises(tw.InvalidParameterError, match=r"a float in \[0, 1\)"):
        ps.set_values(rate=1.0)


def test_dependency_must_be_met():
    ps = make_ps()
    with pytest.raises(tw.InvalidParameterError, match="can only be set when 'method' == 'sample'"):
        ps.set_values(rate=0.5)
    ps.set_values(method="sample", rate=0.5)
    assert ps.values["rate"] == 0.5


def test_required_and_tags():
    ps = make_ps()
    with pytest.raises(
        tw.InvalidParameterError, match="needs the required parameter\\(s\\) 'epochs'"
    ):
        ps.get_values(check_required=True)
    ps.set_values(epochs=3, lr=0.1)
    assert ps.get_values(tags="train") == {"epochs": 3, "lr": 0.1, "shuffle": True}
    assert ps.get_values(tags={"train", "required"}) == {"epochs": 3}
    assert ps.ids(tags="predict") == ["method"]


def test_params_expose_bounds_levels_default_tags():
    ps = make_ps()
    assert ps.params["epochs"].lower == 0 and ps.params["epochs"].upper is None
    assert ps.params["lr"].upper == 1 and ps.params["lr"].default == 0.001
    assert ps.params["method"].levels == ("mode", "sample")
    assert "required" in ps.params["epochs"].tags


def test_values_setter_replaces_and_validates():
    ps = make_ps()
    ps.values = {"epochs": 1}
    assert ps.values == {"epochs": 1}
    with pytest.raises(tw.InvalidParameterError):
        ps.values = {"epochs": -3}
    assert ps.values == {"epochs": 1}


def test_remove_values_and_clone_independence():
    ps = make_ps().set_values(epochs=4)
    other = ps.clone()
    other.set_values(epochs=9)
    assert ps.values["epochs"] == 4
    ps.remove_values("epochs")
    assert "epochs" not in ps.values
    with pytest.raises(tw.InvalidParameterError, match="Did you mean 'epochs'"):
        ps.remove_values("epoch")


def test_pickle_and_deepcopy_round_trip():
    ps = make_ps().set_values(epochs=2)
    ps.params["measures"].custom_check = None  # lambdas do not pickle
    for copied in (pickle.loads(pickle.dumps(ps)), copy.deepcopy(ps)):
        assert copied.values == ps.values


def test_add_rejects_duplicates_and_bad_init():
    ps = make_ps()
    with pytest.raises(tw.InvalidParameterError, match="already has a parameter 'lr'"):
        ps.add("lr", p_dbl())
    with pytest.raises(
        tw.InvalidParameterError,
        match="'x' parameter of LearnerTorch must be an integer >= 1. Got 0",
    ):
        ps.add("x", p_int(1, init=0))


def test_collection_reads_and_writes_through():
    a = ParamSet(owner="op 'a'", x=p_int(0, init=1))
    b = ParamSet(owner="op 'b'", lr=p_dbl(0, init=0.1))
    col = ParamSetCollection({"a": a, "b": b})
    assert col.ids() == ["a.x", "b.lr"]
    assert col.values == {"a.x": 1, "b.lr": 0.1}
    col.set_values(**{"a.x": 5, "b.lr": 0.5})
    assert a.values == {"x": 5} and b.values == {"lr": 0.5}
    with pytest.raises(
        tw.InvalidParameterError, match="The 'x' parameter of op 'a' must be an integer >= 0"
    ):
        col.set_values(**{"a.x": -1, "b.lr": 0.2})
    assert b.values == {"lr": 0.5}  # atomic across members
    with pytest.raises(tw.InvalidParameterError, match="Did you mean 'b.lr'"):
        col.set_values(**{"b.l": 1.0})
    assert col.params["b.lr"].lower == 0


def test_collection_is_live_and_without_prefix():
    sets = {"": ParamSet(owner="learner", epochs=p_int(0))}
    col = ParamSetCollection(lambda: sets)
    assert col.ids() == ["epochs"]
    sets["opt"] = ParamSet(owner="optimizer", lr=p_dbl(0))
    col.set_values(**{"opt.lr": 0.3, "epochs": 2})
    assert col.values == {"epochs": 2, "opt.lr": 0.3}
    col.values = {"opt.lr": 0.1}
    assert sets[""].values == {} and sets["opt"].values == {"lr": 0.1}
    col.remove_values("opt.lr")
    assert col.values == {}
    with pytest.raises(tw.InvalidParameterError, match="cannot be added"):
        col.add("z", p_int())


@given(lower=st.integers(-100, 100), width=st.integers(0, 100), value=st.integers(-300, 300))
def test_int_bounds_property(lower, width, value):
    ps = ParamSet(owner="o", x=p_int(lower, lower + width))
    ok = lower <= value <= lower + width
    if ok:
        assert ps.set_values(x=value).values["x"] == value
    else:
        with pytest.raises(tw.InvalidParameterError, match=f"Got {value} instead"):
            ps.set_values(x=value)


@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_dbl_rejects_nan_and_respects_bounds(value):
    ps = ParamSet(owner="o", x=p_dbl(0, 1))
    if not math.isnan(value) and 0 <= value <= 1:
        ps.set_values(x=value)
    else:
        with pytest.raises(tw.InvalidParameterError):
            ps.set_values(x=value)


def test_table_lists_parameters():
    table = make_ps().table()
    assert list(table["id"]) == ["epochs", "lr", "method", "shuffle", "measures", "seed", "rate"]
    assert table.set_index("id").loc["method", "value"] == "mode"
