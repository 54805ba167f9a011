"""Terminators: when a tuning run stops (mlr3's ``trm()``).

A terminator reads the tuning instance (how many evaluations, how long, the scores
so far) and says whether to stop. ``trm("evals")`` also says how many evaluations are
left, so that a batch never overshoots the budget.
"""

from __future__ import annotations

import abc
import builtins
import math
import time
from collections.abc import Sequence
from typing import Any

from torchweave.errors import InvalidParameterError
from torchweave.registry import terminators
from torchweave.utils.text import format_value

# The instance is typed as Any: importing TuningInstance here would make an import
# circle (the instance uses the terminators and the plots).
TuningInstance = Any

__all__ = [
    "Terminator",
    "TerminatorCombo",
    "TerminatorEvals",
    "TerminatorNone",
    "TerminatorPerfReached",
    "TerminatorRunTime",
    "TerminatorStagnation",
]


def _check_number(value: Any, name: str, owner: str, lower: float, integer: bool) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer:
        ok = isinstance(value, int)
    if not ok or math.isnan(value) or value < lower:
        kind = "an integer" if integer else "a number"
        raise InvalidParameterError(
            f"The '{name}' parameter of terminator '{owner}' must be {kind} >= {lower}. "
            f"Got {format_value(value)} instead."
        )


class Terminator(abc.ABC):
    """Abstract base: ``is_terminated(instance)`` and ``remaining(instance)``."""

    id: str = ""

    @abc.abstractmethod
    def is_terminated(self, instance: TuningInstance) -> bool:
        """Whether tuning should stop now."""

    def remaining(self, instance: TuningInstance) -> float:
        """How many evaluations may still run (``math.inf``: no limit from this one)."""
        return 0 if self.is_terminated(instance) else math.inf

    def __repr__(self) -> str:
        return f"<{type(self).__name__}:{self.id}>"


class TerminatorEvals(Terminator):
    """Stop after ``n_evals`` evaluations (plus ``k`` per search-space dimension).

    Parameters
    ----------
    n_evals : int, default 100
        The number of evaluations.
    k : int, default 0
        Extra evaluations per tuned parameter (mlr3's ``n_evals + k * dim``).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.trm("evals", n_evals=20)
    <TerminatorEvals:evals>
    """

    id = "evals"

    def __init__(self, n_evals: int = 100, k: int = 0) -> None:
        _check_number(n_evals, "n_evals", self.id, 1, True)
        _check_number(k, "k", self.id, 0, True)
        self.n_evals, self.k = n_evals, k

    def budget(self, instance: TuningInstance) -> int:
        """``n_evals + k * (number of tuned parameters)``."""
        return self.n_evals + self.k * len(instance.search_space)

    def is_terminated(self, instance: TuningInstance) -> bool:  # noqa: D102
        return instance.n_evals >= self.budget(instance)

    def remaining(self, instance: TuningInstance) -> float:  # noqa: D102
        return max(0, self.budget(instance) - instance.n_evals)


class TerminatorRunTime(Terminator):
    """Stop once ``secs`` seconds have passed since tuning started (checked between batches).

    Parameters
    ----------
    secs : float, default 30
        The time budget in seconds.
    """

    id = "run_time"

    def __init__(self, secs: float = 30.0) -> None:
        _check_number(secs, "secs", self.id, 0, False)
        self.secs = float(secs)

    def is_terminated(self, instance: TuningInstance) -> bool:  # noqa: D102
        return time.perf_counter() - instance.start_time >= self.secs


class TerminatorStagnation(Terminator):
    """Stop when the best score did not improve by more than ``threshold`` in ``iters`` evaluations.

    Parameters
    ----------
    iters : int, default 10
        The window of evaluations.
    threshold : float, default 0
        The least improvement that counts.
    """

    id = "stagnation"

    def __init__(self, iters: int = 10, threshold: float = 0.0) -> None:
        _check_number(iters, "iters", self.id, 1, True)
        _check_number(threshold, "threshold", self.id, 0, False)
        self.iters, self.threshold = iters, float(threshold)

    def is_terminated(self, instance: TuningInstance) -> bool:  # noqa: D102
        scores = instance.scores_for_terminators()
        if len(scores) <= self.iters:
            return False
        before, window = scores[: -self.iters], scores[-self.iters :]
        best_before = max(before)
        return max(window) - best_before <= self.threshold


class TerminatorPerfReached(Terminator):
    """Stop once the best score reaches ``level`` (at least as good; single measure).

    Parameters
    ----------
    level : float, default 0.1
        The score to reach, on the measure's own scale.
    """

    id = "perf_reached"

    def __init__(self, level: float = 0.1) -> None:
        if not isinstance(level, int | float) or isinstance(level, bool) or math.isnan(level):
            raise InvalidParameterError(
                f"The 'level' parameter of terminator '{self.id}' must be a number. "
                f"Got {format_value(level)} instead."
            )
        self.level = float(level)

    def is_terminated(self, instance: TuningInstance) -> bool:  # noqa: D102
        measure = instance.measures[0]
        scores = instance.scores_for_terminators()
        if not scores:
            return False
        best = max(scores)  # scores are oriented: larger is better
        target = -self.level if measure.minimize else self.level
        return best >= target


class TerminatorCombo(Terminator):
    """Combine terminators: stop when any (``any=True``) or all of them say so.

    Parameters
    ----------
    terminators : sequence of Terminator
        The terminators.
    any : bool, default True
        Stop when one says so (``False``: when all do).
    """

    id = "combo"

    def __init__(self, terminators: Sequence[Terminator] = (), any: bool = True) -> None:
        items = list(terminators)
        if not items or not all(isinstance(t, Terminator) for t in items):
            raise InvalidParameterError(
                f"The 'terminators' parameter of terminator '{self.id}' must be a non-empty "
                f"list of Terminators. Got {format_value(terminators)} instead."
            )
        if not isinstance(any, bool):
            raise InvalidParameterError(
                f"The 'any' parameter of terminator '{self.id}' must be a bool. "
                f"Got {format_value(any)} instead."
            )
        self.terminators, self.any = items, any

    def is_terminated(self, instance: TuningInstance) -> bool:  # noqa: D102
        flags = [t.is_terminated(instance) for t in self.terminators]
        return builtins.any(flags) if self.any else all(flags)

    def remaining(self, instance: TuningInstance) -> float:  # noqa: D102
        left = [t.remaining(instance) for t in self.terminators]
        return min(left) if self.any else max(left)


class TerminatorNone(Terminator):
    """Never stops on its own (for tuners that stop by themselves, such as a full grid)."""

    id = "none"

    def is_terminated(self, instance: TuningInstance) -> bool:  # noqa: D102
        return False


terminators.register("evals", TerminatorEvals)
terminators.register("run_time", TerminatorRunTime)
terminators.register("stagnation", TerminatorStagnation)
terminators.register("perf_reached", TerminatorPerfReached)
terminators.register("combo", TerminatorCombo)
terminators.register("none", TerminatorNone)
