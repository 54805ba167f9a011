"""CallbackSetHistory: per-epoch scores as a DataFrame, driven by hand."""

from types import SimpleNamespace

import pandas as pd
import pytest

import torchweave as tw
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.callbacks.history import CallbackSetHistory
from torchweave.errors import InvalidTypeError
from torchweave.training.sugar import as_torch_callback, as_torch_callbacks, t_clbk, t_clbks


def _run(cb, epochs, train=None, valid=None):
    """Drive the callback like the loop: scores only in the epochs given by the dicts."""
    cb.ctx = SimpleNamespace(epoch=0, last_scores_train={}, last_scores_valid={})
    cb.on_begin()
    for epoch in range(1, epochs + 1):
        cb.ctx.epoch = epoch
        cb.ctx.last_scores_train = (train or {}).get(epoch, {})
        cb.on_before_valid()
        cb.ctx.last_scores_valid = (valid or {}).get(epoch, {})
        cb.on_epoch_end()
    cb.ctx = None
    return cb.state_dict()


def test_history_is_registered_with_its_stages():
    cb = t_clbk("history")
    assert isinstance(cb, TorchCallback)
    assert (cb.id, cb.label, cb.cls) == ("history", "History", CallbackSetHistory)
    assert cb.param_set.ids() == []
    obj = cb.generate()
    assert obj.stages == ["on_begin", "on_before_valid", "on_epoch_end"]
    assert obj.weight == 0


def test_train_and_valid_scores_are_merged_on_epoch():
    train = {e: {"classif.acc": 0.5 + e / 10, "classif.ce": 0.5 - e / 10} for e in (1, 2, 3)}
    valid = {e: {"classif.ce": 0.6 - e / 10} for e in (1, 2, 3)}
    state = _run(CallbackSetHistory(), 3, train, valid)
    assert list(state.columns) == [
        "epoch",
        "train.classif.acc",
        "train.classif.ce",
        "valid.classif.ce",
    ]
    assert state["epoch"].tolist() == [1, 2, 3]
    assert state["epoch"].dtype == "int64"
    assert state["train.classif.acc"].tolist() == pytest.approx([0.6, 0.7, 0.8])
    assert state["valid.classif.ce"].tolist() == pytest.approx([0.5, 0.4, 0.3])


def test_inner_merge_keeps_epochs_with_both():
    train = {e: {"regr.mse": float(e)} for e in (1, 2, 3, 4)}
    valid = {2: {"regr.mse": 20.0}, 4: {"regr.mse": 40.0}}  # eval_freq = 2
    state = _run(CallbackSetHistory(), 4, train, valid)
    assert state["epoch"].tolist() == [2, 4]
    assert state["train.regr.mse"].tolist() == [2.0, 4.0]
    assert state["valid.regr.mse"].tolist() == [20.0, 40.0]


def test_only_one_kind_of_scores():
    only_valid = _run(
        CallbackSetHistory(), 2, valid={1: {"classif.ce": 0.4}, 2: {"classif.ce": 0.3}}
    )
    assert list(only_valid.columns) == ["epoch", "valid.classif.ce"]
    assert only_valid.shape == (2, 2)
    only_train = _run(CallbackSetHistory(), 3, train={3: {"classif.ce": 0.1}})
    assert list(only_train.columns) == ["epoch", "train.classif.ce"]
    assert only_train["epoch"].tolist() == [3]


def test_no_scores_give_an_empty_epoch_frame():
    state = _run(CallbackSetHistory(), 3)
    assert list(state.columns) == ["epoch"]
    assert state.shape == (0, 1)
    assert CallbackSetHistory().state_dict().shape == (0, 1)  # before training


def test_none_scores_are_no_scores():
    cb = CallbackSetHistory()
    cb.ctx = SimpleNamespace(epoch=1, last_scores_train=None, last_scores_valid=None)
    cb.on_begin()
    cb.on_before_valid()
    cb.on_epoch_end()
    assert cb.state_dict().shape == (0, 1)


def test_resume_appends_to_the_loaded_history():
    first = _run(CallbackSetHistory(), 2, valid={1: {"classif.ce": 0.5}, 2: {"classif.ce": 0.4}})
    cb = CallbackSetHistory()
    cb.load_state_dict(first)
    cb.ctx = SimpleNamespace(epoch=2, last_scores_train={}, last_scores_valid={})
    cb.on_begin()
    cb.ctx.epoch = 3
    cb.ctx.last_scores_valid = {"classif.ce": 0.3}
    cb.on_before_valid()
    cb.on_epoch_end()
    state = cb.state_dict()
    assert state["epoch"].tolist() == [1, 2, 3]
    assert state["valid.classif.ce"].tolist() == [0.5, 0.4, 0.3]
    assert first.shape == (2, 2)  # the loaded frame is not changed


def test_resume_with_new_columns_fills_missing_values():
    prev = pd.DataFrame({"epoch": [1], "valid.classif.ce": [0.5]})
    cb = CallbackSetHistory()
    cb.load_state_dict(prev)
    state = _run(cb, 1, train={1: {"classif.acc": 0.9}})
    assert list(state.columns) == ["epoch", "valid.classif.ce", "train.classif.acc"]
    assert state.shape == (2, 3)
    assert state["train.classif.acc"].isna().tolist() == [True, False]


def test_resume_without_new_scores_returns_the_previous_history():
    prev = pd.DataFrame({"epoch": [1, 2], "train.classif.ce": [0.5, 0.4]})
    cb = CallbackSetHistory()
    cb.load_state_dict(prev)
    pd.testing.assert_frame_equal(_run(cb, 0), prev)
    cb.load_state_dict(None)
    assert cb.state_dict().shape == (0, 1)


def test_load_state_dict_needs_a_frame():
    with pytest.raises(
        InvalidTypeError, match="state of the history callback must be a pandas DataFrame. Got dict"
    ):
        CallbackSetHistory().load_state_dict({"epoch": [1]})


# --- callback sugar ------------------------------------------------------------------------
def test_t_clbk_fields_and_plural():
    cb = t_clbk("history", id="hist", weight=3)
    assert (cb.id, cb.weight, cb.param_set.owner) == ("hist", 3, "callback 'hist'")
    assert cb.generate().weight == 3
    assert [c.id for c in t_clbks("history")] == ["history"]
    with pytest.raises(
        tw.InvalidParameterError, match="'x' is not a parameter of callback 'history'"
    ):
        t_clbk("history", x=1)
    with pytest.raises(
        KeyError, match="'histroy' is not a registered callback. Did you mean 'history'?"
    ):
        t_clbk("histroy")


def test_as_torch_callback_and_callbacks():
    cb = t_clbk("history")
    assert as_torch_callback(cb) is cb
    assert as_torch_callback(cb, clone=True) is not cb
    assert as_torch_callback("history").id == "history"
    assert as_torch_callback(CallbackSetHistory).id == "history"
    assert as_torch_callbacks(None) == []
    assert [c.id for c in as_torch_callbacks({"history": cb})] == ["history"]
    assert [c.id for c in as_torch_callbacks(cb)] == ["history"]
    assert [c.id for c in as_torch_callbacks(("history", t_clbk("history", id="h2")))] == [
        "history",
        "h2",
    ]
    with pytest.raises(
        tw.InvalidParameterError, match="Callback ids must be unique; 'history' appear"
    ):
        as_torch_callbacks([cb, "history"])
    with pytest.raises(
        InvalidTypeError,
        match="Cannot convert int .* to a TorchCallback; give a TorchCallback, a key of tw.registry.callbacks, or a subclass of CallbackSet",
    ):
        as_torch_callback(1)
