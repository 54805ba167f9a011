"""The csv callback: the history, appended to a CSV file after each evaluated epoch."""

import pandas as pd
import pytest

import torchweave as tw
from tests.callbacks.helpers import iris_learner, iris_with_valid
from torchweave.errors import InvalidParameterError


def train(path, epochs=3, extra=(), **params):
    learner = iris_learner(
        callbacks=[tw.t_clbk("csv", path=str(path)), "history", *extra],
        epochs=epochs,
        measures_train=tw.msr("classif.ce"),
        measures_valid=[tw.msr("classif.acc"), tw.msr("classif.ce")],
        validate="predefined",
        **params,
    )
    learner.train(iris_with_valid())
    return learner


def test_the_file_holds_the_history(tmp_path):
    path = tmp_path / "history.csv"
    learner = train(path)
    written = pd.read_csv(path)
    history = learner.model.callbacks["history"]
    assert (
        list(written.columns)
        == list(history.columns)
        == [
            "epoch",
            "train.classif.ce",
            "valid.classif.acc",
            "valid.classif.ce",
        ]
    )
    pd.testing.assert_frame_equal(written, history, check_dtype=False, rtol=0, atol=0)


def test_rows_are_written_as_epochs_end(tmp_path):
    path = tmp_path / "h.csv"
    seen = []
    reader = tw.torch_callback(
        "reader", weight=5, on_epoch_end=lambda self: seen.append(len(pd.read_csv(path)))
    )
    train(path, extra=[reader])
    assert seen == [1, 2, 3]


def test_only_evaluated_epochs_get_a_row(tmp_path):
    path = tmp_path / "h.csv"
    train(path, epochs=5, eval_freq=2)
    assert pd.read_csv(path)["epoch"].tolist() == [2, 4, 5]


def test_another_run_appends_below_the_same_header(tmp_path):
    path = tmp_path / "h.csv"
    train(path, epochs=2)
    train(path, epochs=1)
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    assert lines[0] == "epoch,train.classif.ce,valid.classif.acc,valid.classif.ce"
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "1"]


def test_a_file_with_other_columns_is_refused(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("epoch,train.regr.mse\n1,0.5\n")
    with pytest.raises(
        InvalidParameterError,
        match=r"The CSV file .* has the columns 'epoch', 'train.regr.mse', but this run writes "
        r"'epoch', 'train.classif.ce'",
    ):
        train(path, epochs=1)
    assert path.read_text() == "epoch,train.regr.mse\n1,0.5\n"


def test_train_scores_only_and_no_scores(tmp_path):
    path = tmp_path / "train.csv"
    learner = iris_learner(
        callbacks=[tw.t_clbk("csv", path=str(path))], epochs=2, measures_train=tw.msr("classif.acc")
    )
    learner.train(tw.tsk("iris"))
    assert list(pd.read_csv(path).columns) == ["epoch", "train.classif.acc"]
    assert len(pd.read_csv(path)) == 2
    bare = tmp_path / "bare.csv"
    iris_learner(callbacks=[tw.t_clbk("csv", path=str(bare))]).train(tw.tsk("iris"))
    assert bare.read_text() == "epoch\n"


def test_the_directory_must_exist(tmp_path):
    with pytest.raises(InvalidParameterError, match="must be a file in an existing directory"):
        train(tmp_path / "missing" / "h.csv", epochs=1)
    with pytest.raises(InvalidParameterError, match="'cb.csv.path'"):
        iris_learner(callbacks=["csv"]).train(tw.tsk("iris"))
