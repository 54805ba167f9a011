"""The progress callback: bars (terminal, notebook) or plain lines (logs), the final time, state."""

import io
import re
import sys
from types import SimpleNamespace

import pytest

import torchweave as tw
from tests.callbacks.helpers import iris_learner, iris_with_valid
from torchweave.errors import InvalidParameterError, InvalidTypeError


def train(capsys, epochs=3, callbacks=(), **progress):
    learner = iris_learner(
        callbacks=[tw.t_clbk("progress", **progress), *callbacks],
        epochs=epochs,
        measures_train=tw.msr("classif.ce"),
        measures_valid=tw.msr("classif.acc"),
        validate="predefined",
    )
    capsys.readouterr()
    learner.train(iris_with_valid())
    return learner, capsys.readouterr()


def test_forced_on_it_shows_epochs_batches_loss_scores_and_the_time(capsys):
    learner, out = train(capsys, force=True)
    err = out.err
    assert out.out == ""
    assert "Training:   0%" in err
    assert "3/3 [" in err  # the epoch bar completes
    for epoch in (1, 2, 3):
        assert f"Epoch {epoch}/3" in err  # one batch bar per epoch
    final = err.rstrip("\n").split("\n")
    bar = [line for line in re.split(r"[\r\n]", err) if line.startswith("Training: 100%")][-1]
    assert re.search(
        r"loss=\d+\.\d\d, train\.classif\.ce=\d\.\d\d, valid\.classif\.acc=\d\.\d\d", bar
    )
    valid_acc = learner.model.internal_valid_scores["classif.acc"]
    assert f"valid.classif.acc={valid_acc:.2f}" in bar
    assert re.fullmatch(r"Finished training for 3 epochs in \d+\.\d\d s", final[-1])


def test_digits_round_the_numbers(capsys):
    _, out = train(capsys, epochs=1, force=True, digits=4)
    assert re.search(r"loss=\d+\.\d{4}, train\.classif\.ce=\d\.\d{4}, valid", out.err)
    with pytest.raises(InvalidParameterError, match="'digits' parameter of callback 'progress'"):
        tw.t_clbk("progress", digits=0)


def test_plain_lines_when_stderr_is_not_a_terminal(capsys):
    # pytest's captured stderr is no terminal, like a log file or CI: one line per epoch
    learner, out = train(capsys)
    assert out.out == ""
    lines = out.err.rstrip("\n").split("\n")
    assert "\r" not in out.err and "%" not in out.err  # no bar drawing
    assert len(lines) == 4
    scores = learner.model.internal_valid_scores
    for epoch, line in enumerate(lines[:3], start=1):
        assert re.fullmatch(
            rf"Epoch {epoch}/3: loss=\d+\.\d\d, train\.classif\.ce=\d\.\d\d, "
            r"valid\.classif\.acc=\d\.\d\d \(\d+\.\d\d s\)",
            line,
        ), line
    assert f"valid.classif.acc={scores['classif.acc']:.2f}" in lines[2]
    assert re.fullmatch(r"Finished training for 3 epochs in \d+\.\d\d s", lines[3])
    assert learner.model.callbacks["progress"]["elapsed"] > 0


def test_lines_only_for_evaluated_epochs(capsys):
    learner = iris_learner(callbacks=["progress"], epochs=5, eval_freq=2)
    capsys.readouterr()
    learner.train(tw.tsk("iris"))
    lines = capsys.readouterr().err.rstrip("\n").split("\n")
    assert [line.split(":")[0] for line in lines[:3]] == ["Epoch 2/5", "Epoch 4/5", "Epoch 5/5"]
    assert re.fullmatch(r"Epoch 2/5: loss=\d+\.\d\d \(\d+\.\d\d s\)", lines[0])
    assert len(lines) == 4 and lines[3].startswith("Finished training for 5 epochs")


class _Widget:
    """Stands in for tqdm.notebook's widget bar: records what it is asked to show."""

    __module__ = "tqdm.notebook"  # how the callback recognises tqdm.auto's notebook choice

    made: list["_Widget"] = []

    def __init__(self, **kwargs):
        self.kwargs, self.n, self.postfix, self.closed = kwargs, kwargs.get("initial", 0), "", False
        _Widget.made.append(self)

    def update(self, n):
        self.n += n

    def set_postfix_str(self, text, refresh=True):
        self.postfix = text

    def close(self):
        self.closed = True


def test_a_notebook_gets_the_tqdm_auto_widget(monkeypatch, capsys):
    from torchweave.callbacks.progress import CallbackSetProgress

    _Widget.made = []
    monkeypatch.setattr(CallbackSetProgress, "_auto_tqdm", staticmethod(lambda: _Widget))
    _, out = train(capsys)
    outer, *inner = _Widget.made
    assert outer.kwargs == {"total": 3, "initial": 0, "desc": "Training", "unit": "epoch"}
    assert (outer.n, outer.closed) == (3, True)
    assert re.search(r"loss=\d+\.\d\d, train\.classif\.ce=.*valid\.classif\.acc=", outer.postfix)
    assert [w.kwargs["desc"] for w in inner] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all(w.n == 3 and w.closed for w in inner)  # 120 training rows: 3 batches of 50
    err = out.err.rstrip("\n").split("\n")
    assert len(err) == 1 and err[0].startswith("Finished training for 3 epochs")  # no lines


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_shown_when_stderr_is_a_terminal(monkeypatch, capsys):
    stream = _Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    learner = iris_learner(callbacks=["progress"], epochs=2)
    learner.train(tw.tsk("iris"))
    text = stream.getvalue()
    assert "Epoch 2/2" in text
    assert "Finished training for 2 epochs" in text


def test_the_elapsed_time_accumulates_over_resumed_runs(capsys):
    cb = tw.t_clbk("progress", force=True).generate()
    cb.load_state_dict({"elapsed": 5.0})
    assert cb.state_dict() == {"elapsed": 5.0}
    # drive a run resumed after 2 of 3 epochs, with 2 batches per epoch
    cb.ctx = SimpleNamespace(
        epoch=2,
        total_epochs=3,
        loader_train=[0, 1],
        last_loss=None,
        last_scores_train=None,
        last_scores_valid=None,
    )
    cb.on_begin()
    cb.ctx.epoch = 3
    cb.on_epoch_begin()
    for loss in (0.75, 0.5):
        cb.ctx.last_loss = loss
        cb.on_batch_end()
    cb.on_epoch_end()
    cb.on_end()
    cb.on_exit()
    err = capsys.readouterr().err
    assert "Training:  67%" in err  # starts at 2/3 epochs
    assert "3/3 [" in err and "loss=0.50" in err
    match = re.search(
        r"Finished training for 3 epochs in (\d+\.\d\d) s \(5\.00 s before this run, "
        r"(\d+\.\d\d) s in it\)",
        err,
    )
    assert match is not None, err
    assert float(match[1]) == pytest.approx(5.0 + float(match[2]), abs=0.011)
    elapsed = cb.state_dict()["elapsed"]
    assert 5.0 < elapsed < 10.0
    assert cb.state_dict()["elapsed"] == elapsed  # the clock stopped at the end


def test_a_failing_run_closes_the_bars(capsys):
    def boom(self):
        if self.ctx.epoch == 2:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        train(capsys, force=True, callbacks=[tw.torch_callback("boom", on_epoch_end=boom)])
    err = capsys.readouterr().err
    assert "Epoch 2/3" in err
    assert "Finished" not in err


def test_load_state_dict_checks_the_state():
    cb = tw.t_clbk("progress").generate()
    with pytest.raises(InvalidTypeError, match=r"progress callback must be a dict \{'elapsed'"):
        cb.load_state_dict({"elapsed": "1 s"})
    cb.load_state_dict(None)
    assert cb.state_dict() == {"elapsed": 0.0}


def test_outside_jupyter_tqdm_auto_is_the_text_bar():
    from torchweave.callbacks.progress import CallbackSetProgress

    assert CallbackSetProgress._in_notebook() is False
