"""The callback conformance suite, run over every registered callback, and its own tests."""

import pytest

import torchweave as tw
from torchweave.params import ParamSet, p_dbl, p_uty
from torchweave.testing import check_callback
from torchweave.testing.callbacks import CALLBACK_CHECKS, CONSTRUCTION


@pytest.mark.parametrize("key", tw.registry.callbacks.keys())
def test_registered_callback_conforms(key):
    results = check_callback(key)
    assert set(results) == set(CALLBACK_CHECKS)
    assert all(r == "passed" or r.startswith("skipped: ") for r in results.values())


def test_constructions_name_registered_callbacks_and_build_them():
    keys = set(tw.registry.callbacks.keys())
    assert set(CONSTRUCTION) - {"checkpoint"} <= keys
    for key, make in CONSTRUCTION.items():
        if key in keys:
            cb = make()
            assert cb.id == key
            cb.param_set.check_required()  # every required parameter is set


# --- working and deliberately broken callbacks (module level, so they pickle) -----------------
class CallbackSetWorking(tw.CallbackSet):
    """Passes the suite (a control for the broken ones)."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        self.losses = []

    def on_batch_end(self):
        self.losses.append(self.scale * self.ctx.last_loss)

    def state_dict(self):
        return {"losses": list(self.losses)}

    def load_state_dict(self, state_dict):
        self.losses = list(state_dict["losses"])


class CallbackSetStateOnly(tw.CallbackSet):
    def state_dict(self):
        return {"n": 1}


class CallbackSetForgetful(CallbackSetWorking):
    def load_state_dict(self, state_dict):
        pass  # drops the state


class CallbackSetUnstorable(CallbackSetWorking):
    def state_dict(self):
        return {"losses": self.losses, "hook": print}


class CallbackSetStageArgs(tw.CallbackSet):
    def on_epoch_end(self, extra):
        pass


class CallbackSetCrash(tw.CallbackSet):
    def on_epoch_end(self):
        raise RuntimeError("crash in on_epoch_end")


with pytest.warns(UserWarning, match="on_epoch_edn"):

    class CallbackSetTypo(tw.CallbackSet):
        def on_epoch_edn(self):
            pass


def test_a_working_callback_passes():
    assert set(check_callback(tw.TorchCallback(CallbackSetWorking)).values()) == {"passed"}


@pytest.mark.parametrize(
    ("descriptor", "check", "message"),
    [
        (tw.TorchCallback(CallbackSetStateOnly), "state_pair", "implements state_dict but not"),
        (tw.TorchCallback(CallbackSetTypo), "stages", r"\['on_epoch_edn'\] that are not callback"),
        (tw.TorchCallback(CallbackSetStageArgs), "stages", r"on_epoch_end must take only self"),
        (
            tw.TorchCallback(CallbackSetWorking, param_set=ParamSet(factor=p_dbl(tags="train"))),
            "param_set",
            r"ParamSet \['factor'\] does not mirror the arguments \['scale'\]",
        ),
        (
            tw.TorchCallback(
                CallbackSetWorking, param_set=ParamSet(scale=p_dbl(default=2.0, tags="train"))
            ),
            "param_set",
            "documents the default 2.0, but the argument's default is 1.0",
        ),
        (
            tw.TorchCallback(CallbackSetWorking, param_set=ParamSet(scale=p_dbl(default=1.0))),
            "param_set",
            r"must be tagged 'train'; \['scale'\]",
        ),
        (
            tw.TorchCallback(CallbackSetUnstorable),
            "state",
            r"state\['hook'\] is a builtin_function",
        ),
        (tw.TorchCallback(CallbackSetForgetful), "state_round_trip", "must give the state back"),
    ],
    ids=lambda x: x if isinstance(x, str) and " " not in x else "",
)
def test_broken_callbacks_fail_the_right_check(descriptor, check, message):
    with pytest.raises(AssertionError, match=rf"callback '.*' fails check '{check}': .*{message}"):
        check_callback(descriptor)


def test_a_required_argument_must_be_a_required_parameter():
    class CallbackSetNeeds(tw.CallbackSet):
        def __init__(self, path):
            super().__init__()

    desc = tw.TorchCallback(CallbackSetNeeds, param_set=ParamSet(path=p_uty(tags="train")))
    with pytest.raises(AssertionError, match="'path' has no default, so must be 'required'"):
        check_callback(desc)


def test_an_unpicklable_descriptor_fails():
    class CallbackSetLocal(tw.CallbackSet):  # a class inside a function does not pickle
        pass

    with pytest.raises(
        AssertionError, match="fails check 'pickle': the descriptor does not pickle"
    ):
        check_callback(tw.TorchCallback(CallbackSetLocal, id="local"))


def test_errors_in_training_propagate_with_a_note():
    with pytest.raises(RuntimeError, match="crash in on_epoch_end") as info:
        check_callback(tw.TorchCallback(CallbackSetCrash))
    assert "(in check 'train' of check_callback for callback 'crash')" in info.value.__notes__


def test_skips_are_reported_and_checked():
    class CallbackSetLocal(tw.CallbackSet):
        _conformance_skips = {"pickle": "defined in a test function"}

    results = check_callback(tw.TorchCallback(CallbackSetLocal, id="local"))
    assert results["pickle"] == "skipped: defined in a test function"
    assert results["train"] == "passed"
    other = check_callback(tw.TorchCallback(CallbackSetWorking), skip={"train": "slow"})
    assert other["train"] == "skipped: slow"
    with pytest.raises(AssertionError, match=r"Unknown check\(s\) \['nope'\]"):
        check_callback(tw.TorchCallback(CallbackSetWorking), skip={"nope": "x"})


def test_bad_input():
    with pytest.raises(AssertionError, match="needs a registry key or a TorchCallback. Got int"):
        check_callback(3)
    with pytest.raises(KeyError, match="'histroy' is not a registered callback"):
        check_callback("histroy")
