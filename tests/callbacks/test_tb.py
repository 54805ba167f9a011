"""The TensorBoard callback: event files with the scores per epoch and the loss per batch."""

import sys

import pytest

import torchweave as tw
from tests.callbacks.helpers import iris_learner, iris_with_valid
from torchweave.errors import InvalidParameterError, MissingDependencyError

pytest.importorskip("tensorboard")


def read_scalars(path):
    """{tag: [(step, value), ...]} of every event file in ``path``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def train(path, epochs=2, log_train_loss=False, **params):
    learner = iris_learner(
        callbacks=[tw.t_clbk("tb", path=str(path), log_train_loss=log_train_loss), "history"],
        epochs=epochs,
        measures_train=tw.msr("classif.ce"),
        measures_valid=[tw.msr("classif.acc"), tw.msr("classif.ce")],
        validate="predefined",
        **params,
    )
    learner.train(iris_with_valid())
    return learner


def test_scores_per_epoch_and_the_loss_per_batch(tmp_path):
    losses = []
    rec = tw.torch_callback("rec", on_batch_end=lambda self: losses.append(self.ctx.last_loss))
    learner = iris_learner(
        callbacks=[tw.t_clbk("tb", path=str(tmp_path / "tb"), log_train_loss=True), "history", rec],
        epochs=2,
        measures_train=tw.msr("classif.ce"),
        measures_valid=[tw.msr("classif.acc"), tw.msr("classif.ce")],
        validate="predefined",
    )
    learner.train(iris_with_valid())  # 120 training rows: 3 batches per epoch
    scalars = read_scalars(tmp_path / "tb")
    assert set(scalars) == {
        "train.loss",
        "train.classif.ce",
        "valid.classif.acc",
        "valid.classif.ce",
    }
    assert [step for step, _ in scalars["train.loss"]] == [1, 2, 3, 4, 5, 6]
    assert [v for _, v in scalars["train.loss"]] == pytest.approx(losses, rel=1e-6)
    history = learner.model.callbacks["history"]
    for tag in ("train.classif.ce", "valid.classif.acc", "valid.classif.ce"):
        assert [step for step, _ in scalars[tag]] == [1, 2]
        assert [v for _, v in scalars[tag]] == pytest.approx(history[tag].tolist(), rel=1e-6)


def test_only_evaluated_epochs_and_no_loss_by_default(tmp_path):
    train(tmp_path, epochs=3, eval_freq=2)
    scalars = read_scalars(tmp_path)
    assert "train.loss" not in scalars
    assert [step for step, _ in scalars["valid.classif.acc"]] == [2, 3]
    assert [step for step, _ in scalars["train.classif.ce"]] == [2, 3]


def test_a_folder_with_event_files_can_be_written_again(tmp_path):
    train(tmp_path, epochs=1)
    train(tmp_path, epochs=1)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2
    assert all(name.startswith("events.out.tfevents.") for name in files)


def test_the_folder_must_be_new_empty_or_hold_only_event_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(
        InvalidParameterError,
        match=r"'path' parameter of callback 'tb' must be a new or empty directory, or one "
        r"holding only TensorBoard event files .* also holds 'notes.txt'",
    ):
        train(tmp_path, epochs=1)
    with pytest.raises(InvalidParameterError, match="must be a directory. .* is a file"):
        train(tmp_path / "notes.txt", epochs=1)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_the_path_is_required(tmp_path):
    learner = iris_learner(callbacks=["tb"], epochs=1)
    with pytest.raises(InvalidParameterError, match=r"'cb.tb.path'"):
        learner.train(tw.tsk("iris"))
    with pytest.raises(
        InvalidParameterError, match="'path' parameter of callback 'tb' must be a path"
    ):
        tw.t_clbk("tb", path=3)


def test_missing_tensorboard_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(MissingDependencyError, match=r"pip install torchweave\[tb\]"):
        train(tmp_path, epochs=1)


def test_only_the_needed_stages_run():
    assert tw.t_clbk("tb", path="x").generate().stages == ["on_begin", "on_epoch_end", "on_exit"]
    with_loss = tw.t_clbk("tb", path="x", log_train_loss=True).generate()
    assert with_loss.stages == ["on_begin", "on_batch_end", "on_epoch_end", "on_exit"]
