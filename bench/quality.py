"""Prediction quality of the prebuilt learners against gradient boosting and a linear model.

Each learner runs behind ``tw.ppl_prebuilt`` (median / mode imputation, constant
removal, one-hot encoding where the learner needs it, standardised features and, for
regression, a standardised target); scikit-learn's ``HistGradientBoosting*`` and the
linear model (``LogisticRegression`` / ``Ridge``) run behind the same preprocessing.
Every learner sees the same 5-fold CV splits (seed ``SEED``). Reported: mean accuracy
(classification) or RMSE (regression) over the folds, and the mean fit time per fold.

Tasks: the built-in tabular tasks (iris, wine, breast_cancer, penguins, mtcars,
diabetes) and two synthetic tasks of ``N_LARGE`` rows (``synth_classif``: 3 classes
from a random 2-layer network of 8 numeric and 2 factor features; ``synth_regr``: a
smooth nonlinear function of 10 numeric features plus noise).

Configurations (the budgets are fixed, there is no tuning and no early stopping):

``defaults``  the learner's parameter inits (mlr3torch's): mlp without hidden layer,
              ft_transformer with 3 blocks of d_token 192, tabm with k = 32 and
              d_block 512; tab_resnet, whose sizes are required, gets n_blocks 2,
              d_block 128, d_hidden_multiplier 2, dropout1 0.1, dropout2 0. Trained
              ``EPOCHS_DEFAULT`` epochs with batch size 32, on the built-in tasks only
              (on the 50,000-row tasks they would take most of an hour on 2 cores).
``budget``    small networks: mlp neurons [64, 64]; tab_resnet n_blocks 2, d_block 64,
              d_hidden_multiplier 2; ft_transformer 1 block, d_token 32, 4 heads; tabm
              k = 8, d_block 64, 2 blocks. ``EPOCHS_SMALL`` epochs with batch size 32 on
              the built-in tasks, ``EPOCHS_LARGE`` epochs with batch size 256 on the
              50,000-row tasks.

Run ``python -m bench.quality`` (about 25 minutes on a 2-core machine shared with other
jobs, load 5-6) or ``--quick`` (about 4 minutes: 10,000-row synthetic tasks, 3 folds, no
``defaults`` rows); ``--tasks=iris,synth_regr`` runs some tasks only. The torch learners
use one thread; tab_resnet drops a last batch of one row (BatchNorm cannot train on
it), where a fold has one.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

import torchweave as tw

SEED = 1
FOLDS = 5
N_LARGE = 50_000
EPOCHS_DEFAULT = 5
EPOCHS_SMALL = 20
EPOCHS_LARGE = 4
SMALL_TASKS = ("iris", "wine", "breast_cancer", "penguins", "mtcars", "diabetes")

BUDGET: dict[str, dict[str, Any]] = {
    "mlp": {"neurons": [64, 64]},
    "tab_resnet": {
        "n_blocks": 2,
        "d_block": 64,
        "d_hidden_multiplier": 2.0,
        "dropout1": 0.1,
        "dropout2": 0.0,
    },
    "ft_transformer": {"n_blocks": 1, "d_token": 32, "attention_n_heads": 4},
    "tabm": {"k": 8, "d_block": 64, "n_blocks": 2},
    "torch_featureless": {},
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {},
    "tab_resnet": {
        "n_blocks": 2,
        "d_block": 128,
        "d_hidden_multiplier": 2.0,
        "dropout1": 0.1,
        "dropout2": 0.0,
    },
    "ft_transformer": {},
    "tabm": {},
}


def quick() -> bool:
    return "--quick" in sys.argv or os.environ.get("TORCHWEAVE_BENCH_QUICK") == "1"


def synth_classif(n: int, seed: int = 0) -> tw.TaskClassif:
    """3 classes from a random 2-layer network of 8 numeric and 2 factor features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    f1 = rng.integers(0, 4, n)
    f2 = rng.integers(0, 3, n)
    w1 = rng.normal(size=(8 + 4 + 3, 32))
    w2 = rng.normal(size=(32, 3))
    design = np.hstack([x, np.eye(4)[f1], np.eye(3)[f2]])
    logits = np.maximum(design @ w1, 0) @ w2 / 4 + rng.gumbel(size=(n, 3))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)])
    frame["f1"] = pd.Categorical(np.array(list("abcd"))[f1])
    frame["f2"] = pd.Categorical(np.array(list("uvw"))[f2])
    frame["y"] = pd.Categorical(np.array(["k0", "k1", "k2"])[logits.argmax(1)])
    return tw.TaskClassif(frame, target="y", id="synth_classif")


def synth_regr(n: int, seed: int = 0) -> tw.TaskRegr:
    """A smooth nonlinear function of 10 numeric features plus noise (sd 0.5)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(n, 10))
    y = (
        np.sin(x[:, 0] * x[:, 1])
        + x[:, 2] ** 2
        - np.abs(x[:, 3])
        + 0.5 * x[:, 4] * x[:, 5]
        + np.exp(x[:, 6] / 2)
        + rng.normal(scale=0.5, size=n)
    )
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)])
    frame["y"] = y
    return tw.TaskRegr(frame, target="y", id="synth_regr")


def sklearn_learners(task_type: str) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    from torchweave.learners.sklearn import LearnerSklearn

    if task_type == "classif":
        return {
            "hist_gb": LearnerSklearn(HistGradientBoostingClassifier(random_state=SEED)),
            "linear": LearnerSklearn(LogisticRegression(max_iter=2000)),
        }
    return {
        "hist_gb": LearnerSklearn(HistGradientBoostingRegressor(random_state=SEED)),
        "linear": LearnerSklearn(Ridge()),
    }


def torch_learner(
    task_type: str, name: str, config: str, large: bool, drop_last: bool = False
) -> Any:
    sizes = BUDGET[name] if config == "budget" else DEFAULTS[name]
    epochs = EPOCHS_DEFAULT if config == "defaults" else EPOCHS_LARGE if large else EPOCHS_SMALL
    return tw.lrn(
        f"{task_type}.{name}",
        epochs=epochs,
        batch_size=256 if large else 32,
        seed=SEED,
        device="cpu",
        num_threads=1,
        drop_last=drop_last,
        **sizes,
    )


def evaluate(task: Any, learner: Any, resampling: Any) -> tuple[float, float]:
    graph = tw.ppl_prebuilt(learner)
    result = tw.resample(task, tw.as_learner(graph), resampling)
    measure = "classif.acc" if task.task_type == "classif" else "regr.rmse"
    score = float(result.aggregate(measure)[measure])
    return score, float(np.mean(result.train_times))


def run() -> pd.DataFrame:
    n_large = 10_000 if quick() else N_LARGE
    folds = 3 if quick() else FOLDS
    tasks = [(tw.tsk(k), False) for k in SMALL_TASKS]
    tasks += [(synth_classif(n_large), True), (synth_regr(n_large), True)]
    only = [a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--tasks=")]
    if only:
        tasks = [(t, large) for t, large in tasks if t.id in only[0]]
    rows = []
    for task, large in tasks:
        resampling = tw.rsmp("cv", folds=folds)
        np.random.seed(SEED)
        resampling.instantiate(task)
        # BatchNorm (tab_resnet) cannot train on a last batch of one row: drop it there.
        batch = 256 if large else 32
        one_row = any(len(resampling.train_set(i)) % batch == 1 for i in range(folds))
        entries: list[tuple[str, str, Any]] = [
            (name, "-", learner) for name, learner in sklearn_learners(task.task_type).items()
        ]
        for name in BUDGET:
            drop = one_row and name == "tab_resnet"
            entries.append(
                (name, "budget", torch_learner(task.task_type, name, "budget", large, drop))
            )
            if name in DEFAULTS and not large and not quick():
                entries.append(
                    (name, "defaults", torch_learner(task.task_type, name, "defaults", large, drop))
                )
        for name, config, learner in entries:
            start = time.perf_counter()
            score, fit = evaluate(task, learner, resampling)
            rows.append(
                {
                    "task": task.id,
                    "rows": task.nrow,
                    "learner": name,
                    "config": config,
                    "score": score,
                    "fit_s": fit,
                }
            )
            print(
                f"{task.id:14s} {name:18s} {config:8s} score {score:8.4f}  fit {fit:7.2f} s "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    return pd.DataFrame(rows)


def table(results: pd.DataFrame) -> str:
    """One row per learner and configuration, one column per task: score (fit seconds)."""
    results = results.assign(
        cell=[f"{s:.3f} ({t:.2g}s)" for s, t in zip(results.score, results.fit_s, strict=True)],
        key=results.learner + np.where(results.config == "-", "", " / " + results.config),
    )
    wide = results.pivot(index="key", columns="task", values="cell").fillna("-")
    order = list(results.task.unique())
    return wide[order].to_markdown()


def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = run()
    print()
    print("Accuracy (classification) / RMSE (regression), mean fit seconds per fold:")
    print(table(results))


if __name__ == "__main__":
    main()
