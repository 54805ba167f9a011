"""PipeOp: channels, type checks, state handling, notes on errors, cloning."""

import pickle
from typing import Any

import pytest

import torchweave as tw
from torchweave.params import ParamSet, p_int
from torchweave.pipelines import Channel, PipeOp


class AddOne(PipeOp):
    """Adds ``k`` to an integer; fails on demand."""

    def __init__(self, id: str = "add_one") -> None:
        super().__init__(
            id,
            param_set=ParamSet(k=p_int(init=1), fail=p_int(0, 1, init=0)),
            input=[Channel("input", int, int)],
            output=[Channel("output", int, int)],
        )

    def _train(self, inputs: list[Any]) -> list[Any]:
        if self.param_set.values["fail"]:
            raise ValueError("no")
        self.state = {"k": self.param_set.values["k"]}
        return [inputs[0] + self.state["k"]]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return [inputs[0] + self.state["k"]]


class BadOutput(AddOne):
    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {}
        return ["not an int"]


def test_train_predict_and_state():
    op = AddOne()
    assert not op.is_trained
    assert op.train([1]) == [2]
    assert op.is_trained and op.state == {"k": 1}
    op.param_set.set_values(k=5)
    assert op.predict([1]) == [2]  # predict uses the trained state, not new params


def test_input_types_are_checked():
    op = AddOne()
    with pytest.raises(
        tw.ChannelTypeError,
        match="PipeOp 'add_one' train: input channel 'input' takes int. Got str",
    ):
        op.train(["x"])
    with pytest.raises(tw.ChannelTypeError, match="expected 1 input\\(s\\) \\(input\\). Got 2"):
        op.train([1, 2])


def test_output_types_are_checked_and_state_reset():
    op = BadOutput()
    with pytest.raises(tw.ChannelTypeError, match="output channel 'output' takes int. Got str"):
        op.train([1])
    assert op.state is None


def test_failed_training_clears_state_and_notes_op_and_phase():
    op = AddOne()
    op.train([1])
    op.param_set.set_values(fail=1)
    with pytest.raises(ValueError, match="no") as info:
        op.train([1])
    assert op.state is None
    assert "(raised in PipeOp 'add_one' during train)" in info.value.__notes__


def test_untrained_predict_raises():
    with pytest.raises(tw.NotTrainedError, match="PipeOp 'add_one' has not been trained yet"):
        AddOne().predict([1])


def test_id_setter_updates_param_messages():
    op = AddOne()
    op.id = "plus"
    with pytest.raises(
        tw.InvalidParameterError, match="'k' parameter of PipeOp 'plus' must be an integer"
    ):
        op.param_set.set_values(k="a")
    with pytest.raises(tw.InvalidParameterError, match="non-empty string"):
        op.id = ""


def test_clone_and_pickle_are_independent():
    op = AddOne()
    op.train([1])
    clone = op.clone()
    clone.param_set.set_values(k=7)
    clone.train([1])
    assert op.state == {"k": 1} and clone.state == {"k": 7}
    restored = pickle.loads(pickle.dumps(op))
    assert restored.predict([10]) == [11]


def test_repr_shows_id_class_channels_values_and_state():
    op = AddOne()
    op.param_set.set_values(k=3)
    text = repr(op)
    assert "<AddOne:add_one> (not trained)" in text
    assert "k=3" in text and "fail" not in text
    assert "input [int, int]" in text


def test_po_constructor_args_and_params():
    op = tw.po("scale", id="sc", robust=True)
    assert op.id == "sc" and op.param_set.values["robust"] is True
    with pytest.raises(KeyError, match="Did you mean 'scale'"):
        tw.po("scael")
    with pytest.raises(
        tw.InvalidParameterError, match="'robust' parameter of PipeOp 'scale' must be a bool"
    ):
        tw.po("scale", robust="yes")
    learner_op = tw.po(tw.lrn("classif.featureless"))
    assert learner_op.id == "classif.featureless"
    assert [o.id for o in tw.pos("nop", "scale")] == ["nop", "scale"]
