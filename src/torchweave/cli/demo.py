"""The demo behind ``make demo``: a benchmark on built-in tasks, printed as a table.

It resamples the featureless baseline and a scikit-learn logistic regression on
``iris`` and ``penguins`` with 3-fold cross-validation. Penguins has factor features
and missing values, so there the logistic regression sits at the end of a
preprocessing graph (median and mode imputation, one-hot encoding, scaling), used
as one learner, next to the same preprocessing feeding a torch MLP declared in the
same graph. That torch graph, trained on penguins, is drawn next to the table, with
the output shape of each layer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["draw_penguins_network", "main", "run_demo"]


def penguins_pipeline() -> object:
    """The preprocessing graph with a logistic regression at its end."""
    from sklearn.linear_model import LogisticRegression

    import torchweave as tw

    return (
        tw.po("imputemedian")
        >> tw.po("imputemode")
        >> tw.po("encode", method="one-hot")
        >> tw.po("scale")
        >> tw.po("learner", tw.as_learner(LogisticRegression(max_iter=1000)))
    )


def penguins_network() -> object:
    """The same preprocessing with a small torch MLP at its end (trained by torchweave)."""
    import torchweave as tw

    return (
        tw.po("imputemedian")
        >> tw.po("imputemode")
        >> tw.po("encode", method="one-hot")
        >> tw.po("scale")
        >> tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=32)
        >> tw.nn("relu")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.01))
        >> tw.po("torch_model_classif", epochs=30, batch_size=32, seed=1, device="cpu")
    )


def draw_penguins_network(path: str | Path) -> Path:
    """Train the penguins network graph and draw it, each layer with its output shape.

    Parameters
    ----------
    path : str or Path
        A ``.png`` or ``.svg`` file; missing folders are created.

    Returns
    -------
    Path
        The file written.
    """
    import torchweave as tw

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    learner = tw.as_learner(penguins_network(), id="penguins.torch_mlp")
    learner.train(tw.tsk("penguins"))
    # The trained graph's layer operators know their output shapes; the drawing shows them.
    learner.graph.plot(path)  # type: ignore[attr-defined]
    return path


def run_demo(folds: int = 3, seed: int = 1) -> pd.DataFrame:
    """Benchmark the baseline and logistic regression; return the aggregated scores.

    Parameters
    ----------
    folds : int, default 3
        Folds of the cross-validation.
    seed : int, default 1
        Seed of the splits.

    Returns
    -------
    pandas.DataFrame
        One row per (task, learner) with accuracy, balanced accuracy and log loss.
    """
    from sklearn.linear_model import LogisticRegression

    import torchweave as tw

    np.random.seed(seed)
    learners = {
        "iris": [
            tw.lrn("classif.featureless", predict_type="prob"),
            tw.as_learner(LogisticRegression(max_iter=1000)).configure(predict_type="prob"),
        ],
        "penguins": [
            tw.lrn("classif.featureless", predict_type="prob"),
            tw.as_learner(penguins_pipeline()).configure(predict_type="prob"),
            tw.as_learner(penguins_network(), id="penguins.torch_mlp").configure(
                predict_type="prob"
            ),
        ],
    }
    measures = tw.msrs("classif.acc", "classif.bacc", "classif.logloss")
    frames = []
    for key, task_learners in learners.items():
        design = tw.benchmark_grid(
            [tw.tsk(key)], task_learners, [tw.rsmp("cv", folds=folds, random_state=seed)]
        )
        frames.append(tw.benchmark(design).aggregate(measures))
    return pd.concat(frames, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    """Run the demo, print the score table and draw the penguins torch graph."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plot", default="demo_output/penguins_network.png")
    args = parser.parse_args(argv)
    table = run_demo(folds=args.folds, seed=args.seed)
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
    if args.plot:
        path = draw_penguins_network(args.plot)
        print(f"\nThe penguins torch graph is drawn in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
