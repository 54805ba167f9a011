"""Custom callbacks: the typo guard, parameters as cb.<id>.<name>, and state both-or-neither."""

import warnings

import pytest

import torchweave as tw
from tests.callbacks.helpers import iris_learner
from torchweave.errors import InvalidParameterError


# --- a misspelt stage --------------------------------------------------------------------------
def test_a_misspelt_stage_method_warns_with_the_closest_stage():
    with pytest.warns(
        UserWarning,
        match=r"Callback class <CallbackSetTypo> has a method 'on_epoch_edn', which is not a "
        r"callback stage, so the training loop never calls it. Did you mean 'on_epoch_end'\?",
    ):

        class CallbackSetTypo(tw.CallbackSet):
            def on_epoch_edn(self):
                pass

    assert CallbackSetTypo().stages == []


def test_an_unknown_stage_without_a_close_one_lists_the_stages():
    with pytest.warns(UserWarning, match="'on_zzz', .* Stages are on_begin, on_epoch_begin"):

        class CallbackSetOdd(tw.CallbackSet):
            def on_zzz(self):
                pass


def test_correct_stages_and_other_names_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class CallbackSetFine(tw.CallbackSet):
            on_batch_end = None  # hiding a stage is fine
            on_value = 3  # not a method

            def on_epoch_end(self):
                pass

            def helper_on_begin(self):
                pass

        class CallbackSetChild(CallbackSetFine):
            def on_begin(self):
                pass

    assert CallbackSetChild().stages == ["on_begin", "on_epoch_end"]


def test_torch_callback_rejects_unknown_stages_with_a_suggestion():
    with pytest.raises(
        InvalidParameterError,
        match=r"torch_callback: \['on_epoch_edn'\] are not callback stages.* Did you mean "
        r"'on_epoch_end'\?",
    ):
        tw.torch_callback("typo", on_epoch_edn=lambda self: None)


# --- parameters -------------------------------------------------------------------------------
def init_logger(self, alpha=0.1):
    self.alpha = alpha
    self.moving_loss = None


def update(self):
    loss = self.ctx.last_loss
    if self.moving_loss is None:
        self.moving_loss = loss
    else:
        self.moving_loss = self.alpha * loss + (1 - self.alpha) * self.moving_loss


def logger_state(self):
    return {"moving_loss": self.moving_loss}


def load_logger_state(self, state):
    self.moving_loss = state["moving_loss"]


def custom_logger():
    """mlr3torch's vignette example: a moving average of the loss, with a parameter alpha."""
    return tw.torch_callback(
        "custom_logger",
        initialize=init_logger,
        on_batch_end=update,
        state_dict=logger_state,
        load_state_dict=load_logger_state,
    )


def expected_moving_loss(losses, alpha):
    moving = losses[0]
    for loss in losses[1:]:
        moving = alpha * loss + (1 - alpha) * moving
    return moving


def loss_recorder():
    losses = []
    return tw.torch_callback(
        "rec", on_batch_end=lambda self: losses.append(self.ctx.last_loss)
    ), losses


def test_torch_callback_parameters_appear_as_cb_id_name():
    cb = custom_logger()
    assert cb.param_set.ids() == ["alpha"]
    assert cb.param_set.default == {"alpha": 0.1}
    rec, losses = loss_recorder()
    learner = iris_learner(callbacks=[cb, rec], epochs=2)
    assert "cb.custom_logger.alpha" in learner.param_set.ids()
    learner.param_set.set_values({"cb.custom_logger.alpha": 0.5})
    learner.train(tw.tsk("iris"))
    assert len(losses) == 6
    state = learner.model.callbacks["custom_logger"]
    assert state["moving_loss"] == pytest.approx(expected_moving_loss(losses, 0.5))
    assert cb.param_set.values == {}  # the learner holds its own copy


def test_parameters_in_a_graph_are_torch_callbacks_id_name():
    rec, losses = loss_recorder()
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam")
        >> tw.po("torch_callbacks", callbacks=[custom_logger(), rec])
        >> tw.po("torch_model_classif", epochs=1, batch_size=50)
    )
    learner = tw.as_learner(graph)
    learner.param_set.set_values({"torch_callbacks.custom_logger.alpha": 0.9})
    learner.train(tw.tsk("iris"))
    state = learner.model["torch_model_classif"].model.callbacks["custom_logger"]
    assert state["moving_loss"] == pytest.approx(expected_moving_loss(losses, 0.9))


class CallbackSetScaled(tw.CallbackSet):
    """A subclass whose __init__ arguments become parameters."""

    def __init__(self, factor, offset=0.0):
        super().__init__()
        self.factor, self.offset, self.values = factor, offset, []

    def on_epoch_end(self):
        self.values.append(self.factor * self.ctx.epoch + self.offset)

    def state_dict(self):
        return list(self.values)

    def load_state_dict(self, state_dict):
        self.values = list(state_dict)


def test_subclass_parameters_appear_as_cb_id_name():
    learner = iris_learner(callbacks=[CallbackSetScaled], epochs=3)
    assert {"cb.scaled.factor", "cb.scaled.offset"} <= set(learner.param_set.ids())
    with pytest.raises(InvalidParameterError, match="'cb.scaled.factor'"):
        learner.train(tw.tsk("iris"))
    learner.param_set.set_values({"cb.scaled.factor": 2, "cb.scaled.offset": 0.5})
    learner.train(tw.tsk("iris"))
    assert learner.model.callbacks["scaled"] == [2.5, 4.5, 6.5]


# --- state_dict and load_state_dict come together -----------------------------------------
def test_torch_callback_needs_both_state_functions_or_neither():
    for given in ({"state_dict": logger_state}, {"load_state_dict": load_logger_state}):
        with pytest.raises(
            InvalidParameterError, match="give both state_dict and load_state_dict, or neither"
        ):
            tw.torch_callback("half", on_begin=lambda self: None, **given)


def test_a_state_without_load_state_dict_warns_when_loaded():
    class CallbackSetHalf(tw.CallbackSet):
        def state_dict(self):
            return {"n": 1}

    with pytest.warns(UserWarning, match="does not implement load_state_dict"):
        CallbackSetHalf().load_state_dict({"n": 1})
    # the conformance suite rejects such a class: see tests/testing/test_conformance_callbacks.py
