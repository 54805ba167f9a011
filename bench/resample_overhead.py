"""Overhead of ``tw.resample`` over scikit-learn's ``cross_val_score``.

Both run 5-fold cross-validation of ``LogisticRegression(max_iter=200)`` on iris and
breast_cancer, alternating in one process (the order flips every repeat). The table
shows median seconds per cross-validation and the ratio torchweave / sklearn, so the
ratio measures what resample adds: tasks, learner cloning, predictions and joblib.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

REPEATS = 7
FOLDS = 5


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name: str, loader: Callable[..., Any]) -> dict[str, Any]:
    """Time both implementations on one dataset; return medians and their ratio."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, cross_val_score

    import torchweave as tw

    data = loader(as_frame=True)
    X, y = data.data, data.target
    task = tw.TaskClassif(data.frame, "target", id=name)
    learner = tw.as_learner(LogisticRegression(max_iter=200))

    def run_torchweave() -> None:
        tw.resample(task, learner, tw.rsmp("cv", folds=FOLDS))

    def run_sklearn() -> None:
        cross_val_score(LogisticRegression(max_iter=200), X, y, cv=KFold(FOLDS))

    runs = {"torchweave": run_torchweave, "sklearn": run_sklearn}
    times: dict[str, list[float]] = {label: [] for label in runs}
    for fn in runs.values():  # warm-up: imports and caches
        fn()
    for rep in range(REPEATS):
        order = list(runs) if rep % 2 == 0 else list(reversed(runs))
        for label in order:
            times[label].append(_timed(runs[label]))
    tw_s = statistics.median(times["torchweave"])
    sk_s = statistics.median(times["sklearn"])
    return {
        "dataset": name,
        "n": len(X),
        "torchweave_s": tw_s,
        "sklearn_s": sk_s,
        "ratio": tw_s / sk_s,
    }


def main() -> None:
    """Print the comparison table."""
    from sklearn.datasets import load_breast_cancer, load_iris
    from sklearn.exceptions import ConvergenceWarning

    rows = []
    with warnings.catch_warnings():
        # Unscaled breast_cancer does not converge in 200 iterations; both sides alike.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, loader in [("iris", load_iris), ("breast_cancer", load_breast_cancer)]:
            rows.append(compare(name, loader))
    print(f"{FOLDS}-fold CV of LogisticRegression(max_iter=200), median of {REPEATS} runs")
    header = f"{'dataset':<15}{'n':>6}{'torchweave (s)':>16}{'sklearn (s)':>13}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['dataset']:<15}{r['n']:>6}{r['torchweave_s']:>16.4f}"
            f"{r['sklearn_s']:>13.4f}{r['ratio']:>8.2f}"
        )


if __name__ == "__main__":
    main()
