"""Overhead of ``tw.tune`` over a hand-written Optuna loop doing the same trainings.

Both tune a small MLP graph learner (scale >> one hidden layer >> head) on
``breast_cancer`` with 3-fold CV: the learning rate (log scale) and the hidden width,
with a seeded TPE sampler. The hand-written loop is what a user writes without
``tune``: ask a trial, clone the learner, set the values, train and score each fold
on the same splits, tell the study. The trainings are identical (same seeds, same
splits, hence the same configurations), so the time difference is what ``tune``
adds: the archive, resample's bookkeeping, failure capture and seeding.

The two competitors alternate in rounds of ``CONFIGS / ROUNDS`` configurations in
one process; the table gives the seconds per evaluation (sum over rounds / number of
configurations) and the overhead in percent. A second table gives trials per minute,
sequential and with 2 jobs (``tune(n_jobs=2)``, and ``study.optimize(n_jobs=2)`` for
the hand-written loop).

``python -m bench tuning`` (``--quick``: 10 configurations).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

CONFIGS = 50
ROUNDS = 10
FOLDS = 3
EPOCHS = 10


def _learner(tw: Any) -> Any:
    from torchweave import nn, po

    graph = (
        po("scale")
        >> po("torch_ingress_num")
        >> nn("linear", out_features=32)
        >> nn("relu")
        >> nn("head")
        >> po("torch_loss", loss="cross_entropy")
        >> po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.01))
        >> po(
            "torch_model_classif",
            epochs=EPOCHS,
            batch_size=64,
            seed=1,
            device="cpu",
            tensor_dataset=True,
        )
    )
    return tw.as_learner(graph)


def _space(tw: Any) -> dict[str, Any]:
    return {
        "torch_optimizer.lr": tw.to_tune(1e-4, 1e-1, logscale=True),
        "linear.out_features": tw.to_tune(8, 64),
    }


def run_tune(
    tw: Any, task: Any, plan: Any, n: int, seed: int, n_jobs: int = 1
) -> tuple[float, list[Any]]:
    """``tw.tune`` with TPE; returns the seconds and the configurations."""
    import optuna

    learner = _learner(tw)
    learner.param_set.set_values(_space(tw))
    start = time.perf_counter()
    instance = tw.tune(
        tw.tnr("optuna", sampler=optuna.samplers.TPESampler(seed=seed)),
        task,
        learner,
        plan,
        tw.msr("classif.ce"),
        tw.trm("evals", n_evals=n),
        n_jobs=n_jobs,
        seed=seed,
    )
    elapsed = time.perf_counter() - start
    configs = instance.archive[["torch_optimizer.lr", "linear.out_features"]].values.tolist()
    return elapsed, configs


def run_hand(
    tw: Any, task: Any, plan: Any, n: int, seed: int, n_jobs: int = 1
) -> tuple[float, list[Any]]:
    """The hand-written Optuna loop over the same trainings."""
    import numpy as np
    import optuna

    learner = _learner(tw)
    measure = tw.msr("classif.ce")
    configs: list[Any] = []

    def objective(trial: Any) -> float:
        # the order tune asks in (the learner's parameter order), so TPE draws the same
        width = trial.suggest_int("linear.out_features", 8, 64)
        lr = trial.suggest_float("torch_optimizer.lr", 1e-4, 1e-1, log=True)
        configs.append([lr, width])
        scores = []
        for i in range(plan.iters):
            model = learner.clone()
            model.param_set.set_values({"torch_optimizer.lr": lr, "linear.out_features": width})
            model.train(task, row_ids=plan.train_set(i))
            scores.append(measure.score(model.predict(task, row_ids=plan.test_set(i))))
        return float(np.mean(scores))

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    start = time.perf_counter()
    study.optimize(objective, n_trials=n, n_jobs=n_jobs)
    return time.perf_counter() - start, configs


def main() -> None:
    """Print the overhead table and the trials-per-minute table."""
    import statistics

    import optuna

    import torchweave as tw

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    quick = "--quick" in sys.argv
    configs = 10 if quick else CONFIGS
    per_round = configs // ROUNDS
    task = tw.tsk("breast_cancer")
    plan = tw.rsmp("cv", folds=FOLDS, random_state=1).instantiate(task)
    run_tune(tw, task, plan, 2, seed=0)  # warm-up: imports, first torch fit
    run_hand(tw, task, plan, 2, seed=0)
    per_eval: dict[str, list[float]] = {"tune": [], "hand": []}
    same = True
    for r in range(ROUNDS):
        order = ["tune", "hand"] if r % 2 == 0 else ["hand", "tune"]
        got = {}
        for name in order:
            fn = run_tune if name == "tune" else run_hand
            seconds, cfgs = fn(tw, task, plan, per_round, seed=r + 1)
            per_eval[name].append(seconds / per_round)
            got[name] = cfgs
        same = same and all(
            abs(a[0] - b[0]) < 1e-12 and a[1] == b[1]
            for a, b in zip(got["tune"], got["hand"], strict=True)
        )
    tune_s, hand_s = statistics.median(per_eval["tune"]), statistics.median(per_eval["hand"])
    n = per_round * ROUNDS
    print(
        f"Tuning a small MLP (lr, width; {EPOCHS} epochs) on breast_cancer, {FOLDS}-fold CV, "
        f"TPE: {n} configurations in {ROUNDS} alternating rounds, median seconds per "
        f"evaluation over the rounds (same configurations: {'yes' if same else 'NO'})"
    )
    header = f"{'competitor':<28}{'s / evaluation':>16}{'overhead':>10}{'trials / min':>14}"
    print(header)
    print("-" * len(header))
    print(f"{'hand-written Optuna loop':<28}{hand_s:>16.4f}{'':>10}{60 / hand_s:>14.1f}")
    print(f"{'tw.tune':<28}{tune_s:>16.4f}{100 * (tune_s / hand_s - 1):>9.1f}%{60 / tune_s:>14.1f}")
    print()
    # Two jobs: tune evaluates the configurations of a batch in two loky worker
    # processes (warmed up first: starting them and importing torch takes seconds);
    # the hand-written loop runs study.optimize(n_jobs=2), Optuna's threads.
    run_tune(tw, task, plan, 2, seed=0, n_jobs=2)
    header = f"{'competitor':<28}{'jobs':>6}{'trials / min':>14}"
    print(f"{configs} configurations with 2 jobs (one run each)")
    print(header)
    print("-" * len(header))
    for name, fn in (("hand-written Optuna loop", run_hand), ("tw.tune", run_tune)):
        seconds, _ = fn(tw, task, plan, configs, seed=99, n_jobs=2)
        print(f"{name:<28}{2:>6}{60 * configs / seconds:>14.1f}")


if __name__ == "__main__":
    main()
