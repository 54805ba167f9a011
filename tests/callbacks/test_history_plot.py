"""plot_history: learning curves from a history, a trained learner or a CSV file."""

import sys

import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from tests.callbacks.helpers import iris_learner, iris_with_valid
from torchweave.callbacks import plot_history
from torchweave.errors import MissingDependencyError, PlotError

pytest.importorskip("matplotlib")

HISTORY = pd.DataFrame(
    {
        "epoch": [2, 1, 3],
        "train.classif.ce": [0.4, 0.5, 0.3],
        "valid.classif.ce": [0.45, 0.55, 0.4],
        "valid.classif.acc": [0.8, 0.7, 0.9],
    }
)


def lines(ax):
    return {
        line.get_label(): (line.get_xdata().tolist(), line.get_ydata().tolist())
        for line in ax.get_lines()
    }


def test_one_axes_per_measure_with_train_and_valid_lines():
    fig = plot_history(HISTORY)
    ce, acc = fig.axes
    assert (ce.get_title(), acc.get_title()) == ("classif.ce", "classif.acc")
    assert ce.get_xlabel() == "epoch"
    assert lines(ce) == {
        "train": ([1, 2, 3], [0.5, 0.4, 0.3]),  # sorted by epoch
        "valid": ([1, 2, 3], [0.55, 0.45, 0.4]),
    }
    assert lines(acc) == {"valid": ([1, 2, 3], [0.7, 0.8, 0.9])}
    assert [t.get_text() for t in ce.get_legend().get_texts()] == ["train", "valid"]


def test_the_file_is_a_png(tmp_path):
    from PIL import Image

    path = tmp_path / "curves.png"
    fig = plot_history(HISTORY, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == tuple(int(v) for v in fig.get_size_inches() * fig.dpi)
    svg = tmp_path / "curves.svg"
    plot_history(HISTORY, path=str(svg))
    assert svg.read_text().lstrip().startswith("<?xml")


def test_a_trained_learner_a_graph_learner_and_a_csv_file(tmp_path):
    learner = iris_learner(
        callbacks=["history", tw.t_clbk("csv", path=str(tmp_path / "h.csv"))],
        epochs=3,
        measures_train=tw.msr("classif.ce"),
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    learner.train(iris_with_valid())
    history = learner.model.callbacks["history"]
    for source in (learner, learner.model, tmp_path / "h.csv"):
        (ax,) = plot_history(source).axes
        assert lines(ax)["valid"][0] == [1, 2, 3]
        np.testing.assert_allclose(lines(ax)["valid"][1], history["valid.classif.ce"])

    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.01))
        >> tw.po("torch_callbacks", callbacks="history")
        >> tw.po(
            "torch_model_classif", epochs=2, batch_size=50, measures_train=tw.msr("classif.acc")
        )
    )
    graph_learner = tw.as_learner(graph)
    graph_learner.train(tw.tsk("iris"))
    (ax,) = plot_history(graph_learner).axes
    assert lines(ax)["train"][0] == [1, 2]


def test_into_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    assert plot_history(HISTORY[["epoch", "valid.classif.acc"]], ax=ax) is fig
    assert lines(ax)["valid"][1] == [0.7, 0.8, 0.9]
    with pytest.raises(
        PlotError, match=r"one axes per measure \(2: \['classif.ce', 'classif.acc'\]\). Got 1"
    ):
        plot_history(HISTORY, ax=[ax])


def test_nothing_to_plot_is_an_error():
    with pytest.raises(PlotError, match="history has no 'train.<measure>' or 'valid.<measure>'"):
        plot_history(pd.DataFrame({"epoch": pd.Series([], dtype="int64")}))
    with pytest.raises(PlotError, match="needs an 'epoch' column"):
        plot_history(pd.DataFrame({"train.classif.ce": [0.1]}))
    with pytest.raises(PlotError, match="plot_history needs a history DataFrame .* Got int"):
        plot_history(3)
    untrained = iris_learner(callbacks=["history"])
    with pytest.raises(PlotError, match="Got LearnerTorchModel without a history"):
        plot_history(untrained)
    with pytest.raises(PlotError, match="cannot read the CSV history"):
        plot_history("no/such/file.csv")


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingDependencyError, match=r"pip install torchweave\[plot\]"):
        plot_history(HISTORY)
