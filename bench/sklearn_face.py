"""The scikit-learn face against the learner it wraps and against skorch.

On the paper settings of :mod:`bench.training` (MLP regression, n=2000, p=1000, batch
32, lr 1e-4, one thread), three competitors train the same architecture:

``skorch``        ``skorch.NeuralNetRegressor`` (as in bench.training).
``tw_graph_tds``  the graph learner of bench.training with ``tensor_dataset=True``.
``sk_graph_tds``  ``TorchRegressor`` around that same graph, fitted on numpy arrays
                  (``fit(X, y)`` builds the task inside).
``slicing``       the hand-written loop (a) itself: its ratio to the pace-maker (a)
                  shows the noise of the measurement.

Seconds per epoch are measured as in bench.training: in one process, competitors
alternating with a rotating order, each epoch paired with a pace-maker epoch of the
hand-written slicing loop (a), the first epoch of each fit left out. The table shows
the median of the paired ratios (competitor / (a)) and the ratio of medians
TorchRegressor / learner (target: at most 1.02) and TorchRegressor / skorch (target:
below 1). ``--quick`` runs one repeat of two settings.
"""

from __future__ import annotations

import os
import statistics
import sys
from typing import Any

from bench.training import (
    PAPER_SETTINGS,
    Competitor,
    Data,
    Setting,
    _fit_tw_graph,
    _markdown,
    fit_skorch,
    fit_slicing,
    predict_skorch,
    predict_slicing,
    predict_tw,
    seconds_per_epoch,
    warm_up,
)

REPEATS = 3
SETTINGS = PAPER_SETTINGS


def fit_sklearn(s: Setting, d: Data, epochs: int) -> Any:
    """``TorchRegressor`` around the graph of bench.training's (d2), on numpy arrays."""
    from torchweave.sklearn import TorchRegressor

    reg = TorchRegressor(_graph(s, epochs))
    reg.fit(d.X.numpy(), d.y.numpy().ravel())
    return reg


def _graph(s: Setting, epochs: int) -> Any:
    """The same graph as bench.training's (d2) with ``tensor_dataset=True``."""
    from bench.training import _epoch_timer, _tw_params, mlp_graph

    return mlp_graph(s, _epoch_timer(), **_tw_params(s, epochs, True))


def predict_sklearn(reg: Any, d: Data) -> Any:
    return reg.predict(d.X.numpy())


def competitors() -> list[Competitor]:
    return [
        Competitor("slicing", "(a)", fit_slicing, predict_slicing),
        Competitor("skorch", "skorch", fit_skorch, predict_skorch, ("skorch",)),
        Competitor(
            "tw_graph_tds", "graph learner", _fit_tw_graph(True), predict_tw, ("torchweave",)
        ),
        Competitor("sk_graph_tds", "TorchRegressor", fit_sklearn, predict_sklearn, ("torchweave",)),
    ]


def main(argv: list[str] | None = None) -> None:
    """Print the Markdown table of seconds per epoch."""
    import torch

    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args or os.environ.get("TORCHWEAVE_BENCH_QUICK", "") not in ("", "0")
    settings, repeats = (SETTINGS[:2], 1) if quick else (SETTINGS, REPEATS)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cs = competitors()
        warm_up(cs)
        rows = []
        for s in settings:
            times = seconds_per_epoch(cs, s, repeats)
            med = {c.key: statistics.median(times[c.key + ":ratio"]) for c in cs}
            ms = {c.key: 1000 * statistics.median(times[c.key]) for c in cs}
            rows.append(
                [
                    s.name,
                    f"{med['slicing']:.3f}",
                    f"{ms['skorch']:.1f} ({med['skorch']:.2f}x)",
                    f"{ms['tw_graph_tds']:.1f} ({med['tw_graph_tds']:.2f}x)",
                    f"{ms['sk_graph_tds']:.1f} ({med['sk_graph_tds']:.2f}x)",
                    f"{med['sk_graph_tds'] / med['tw_graph_tds']:.3f}",
                    f"{med['sk_graph_tds'] / med['skorch']:.2f}",
                ]
            )
        overall = statistics.median(float(row[-2]) for row in rows)
        rows.append(["median over settings", "", "", "", "", f"{overall:.3f}", ""])
        header = [
            "setting",
            "(a)/(a): noise",
            "skorch ms/epoch (÷(a))",
            "graph learner",
            "TorchRegressor",
            "TorchRegressor / learner",
            "TorchRegressor / skorch",
        ]
        print(_markdown(header, rows), flush=True)
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
