"""Plots of a tuning run: the optimisation history and the scores by parameter.

matplotlib is imported when a plot is drawn (``pip install torchweave[plot]``). Both
functions return a ``matplotlib.figure.Figure`` (not attached to pyplot, so nothing
opens a window).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from torchweave.errors import MissingDependencyError, PlotError
from torchweave.utils.text import quote_list

# The instance is typed as Any: importing TuningInstance here would make an import
# circle (the instance uses the terminators and the plots).
TuningInstance = Any

__all__ = ["plot_tuning_history", "plot_tuning_params"]


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependencyError(
            "The tuning plots draw with matplotlib: pip install torchweave[plot]"
        ) from exc
    return Figure


def _measure(instance: TuningInstance, measure: str | None) -> Any:
    if not instance.records:
        raise PlotError("The tuning instance has no evaluations to plot yet.")
    if measure is None:
        return instance.measures[0]
    for m in instance.measures:
        if m.id == measure:
            return m
    raise PlotError(
        f"'{measure}' is not a measure of the tuning run; it has "
        f"{quote_list(m.id for m in instance.measures)}."
    )


def plot_tuning_history(
    instance: TuningInstance, measure: str | None = None, ax: Any = None
) -> Any:
    """The score of each evaluation and the best score so far, by evaluation number.

    Failed evaluations (their worst scores) are drawn as crosses, pruned ones are left
    out.

    Parameters
    ----------
    instance : TuningInstance
        A tuning run.
    measure : str, optional
        Measure id (default: the first measure).
    ax : matplotlib Axes, optional
        Draw into these axes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = _figure_class()
    m = _measure(instance, measure)
    if ax is None:
        fig = figure(figsize=(6, 3.5), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    ok = [r for r in instance.records if r.status == "ok"]
    failed = [r for r in instance.records if r.status in ("error", "timeout")]
    ax.plot([r.number for r in ok], [r.scores[m.id] for r in ok], "o", label="evaluation")
    finite_failed = [r for r in failed if math.isfinite(r.scores[m.id])]
    if finite_failed:
        ax.plot(
            [r.number for r in finite_failed],
            [r.scores[m.id] for r in finite_failed],
            "x",
            color="tab:red",
            label="failed (worst score)",
        )
    if ok:
        values = np.array([r.scores[m.id] for r in ok])
        best = np.minimum.accumulate(values) if m.minimize else np.maximum.accumulate(values)
        ax.step([r.number for r in ok], best, where="post", label="best so far")
    ax.set_xlabel("evaluation")
    ax.set_ylabel(m.id)
    ax.set_title("optimisation history")
    ax.legend()
    return fig


def plot_tuning_params(
    instance: TuningInstance, measure: str | None = None, params: Sequence[str] | None = None
) -> Any:
    """The score against each tuned parameter, one panel per parameter.

    Numbers are drawn on their axis (log scale for ``logscale`` parameters), levels
    as categories. Only successful evaluations where the parameter is active appear.

    Parameters
    ----------
    instance : TuningInstance
        A tuning run.
    measure : str, optional
        Measure id (default: the first measure).
    params : sequence of str, optional
        The parameters (default: all of the search space).

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = _figure_class()
    m = _measure(instance, measure)
    space = instance.search_space
    ids = list(params) if params is not None else space.ids
    unknown = [p for p in ids if p not in space]
    if unknown:
        raise PlotError(
            f"{quote_list(unknown)} are not tuned parameters; the search space has "
            f"{quote_list(space.ids)}."
        )
    if not ids:
        raise PlotError("The search space has no parameters to plot (only internal tuning).")
    fig = figure(figsize=(4 * len(ids), 3.5), layout="constrained")
    axes = fig.subplots(1, len(ids), squeeze=False)[0]
    ok = [r for r in instance.records if r.status == "ok"]
    for ax, pid in zip(axes, ids, strict=True):
        rows = [r for r in ok if pid in r.config]
        xs = [r.values[pid] for r in rows]
        ys = [r.scores[m.id] for r in rows]
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs)
        if numeric:
            ax.plot(xs, ys, "o")
            if space.params[pid].logscale:
                ax.set_xscale("log")
        else:
            labels = [str(x) for x in xs]
            levels = sorted(set(labels))
            ax.plot([levels.index(lab) for lab in labels], ys, "o")
            ax.set_xticks(range(len(levels)), levels)
        ax.set_xlabel(pid)
        ax.set_ylabel(m.id)
    return fig
