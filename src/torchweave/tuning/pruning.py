"""Callbacks that tuning adds to the torch learners of an evaluation.

- :class:`CallbackSetPruning` reports each epoch's validation score to an Optuna trial
  and stops training when the trial's pruner says so (``tnr("optuna", pruner=...)``).
- :class:`CallbackSetTimeLimit` stops training when an evaluation's time limit is
  reached (``tune(..., eval_time_limit=...)``).

They reach the learner through its training loop: :func:`install_callbacks` wraps the
``loop_class`` of every torch learner in a learner (a graph learner's torch model
operators included) so that each fit gets the extra callbacks. The callback module is
torch-free; torch is only used by the loop that calls it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from torchweave.callbacks.callback_set import CallbackSet
from torchweave.errors import Error

__all__ = [
    "CallbackSetPruning",
    "CallbackSetTimeLimit",
    "EvaluationPrunedError",
    "EvaluationTimeoutError",
    "install_callbacks",
]


class EvaluationTimeoutError(Error, TimeoutError):
    """An evaluation ran past its time limit (``tune(..., eval_time_limit=...)``)."""


class EvaluationPrunedError(Error, RuntimeError):
    """The pruner stopped an evaluation (Optuna's ``TrialPruned`` is raised as this)."""


class CallbackSetTimeLimit(CallbackSet):
    """Raises :class:`EvaluationTimeoutError` after a training batch past ``deadline``.

    Parameters
    ----------
    deadline : float
        A ``time.monotonic()`` value.
    limit : float
        The limit in seconds (for the message).
    """

    def __init__(self, deadline: float, limit: float) -> None:
        super().__init__()
        self.deadline, self.limit = deadline, limit

    def on_batch_end(self) -> None:  # noqa: D102
        if time.monotonic() > self.deadline:
            epoch = self.ctx.epoch if self.ctx is not None else "?"
            raise EvaluationTimeoutError(
                f"The evaluation ran past its time limit of {self.limit:g} s (in epoch {epoch})."
            )


class CallbackSetPruning(CallbackSet):
    """Reports the first validation score of each evaluated epoch to an Optuna trial.

    The step is ``iteration * max_epochs + epoch``, so the folds of a cross-validation
    follow each other. When the trial's pruner prunes, training stops with
    :class:`EvaluationPrunedError`.

    Parameters
    ----------
    trial : optuna.trial.Trial
        The trial.
    offset : int
        The step of epoch 0 (``iteration * max_epochs``).
    sign : float
        ``+1`` or ``-1``: makes the reported score match the study's direction.
    """

    def __init__(self, trial: Any, offset: int, sign: float) -> None:
        super().__init__()
        self.trial, self.offset, self.sign = trial, offset, sign

    def on_valid_end(self) -> None:  # noqa: D102
        ctx = self.ctx
        if ctx is None or not ctx.last_scores_valid:
            return
        value = next(iter(ctx.last_scores_valid.values()))
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        step = self.offset + ctx.epoch
        self.trial.report(self.sign * float(value), step)
        if self.trial.should_prune():
            raise EvaluationPrunedError(f"Optuna pruned trial {self.trial.number} at step {step}.")


class _LoopWithCallbacks:
    """A ``loop_class`` stand-in: the original loop, with extra callbacks per fit.

    Copies share it (it holds an Optuna trial, which must not be copied).
    """

    def __init__(self, loop_class: Any, make: Callable[[], Mapping[str, CallbackSet]]) -> None:
        self.loop_class, self.make = loop_class, make

    def __call__(
        self, ctx: Any, callbacks: dict[str, Any], shapes: Any, resume: Any, **options: Any
    ) -> Any:
        # ``options``: the loop's keyword settings (precision, compile), passed through.
        return self.loop_class(ctx, {**callbacks, **self.make()}, shapes, resume, **options)

    def __deepcopy__(self, memo: dict[int, Any]) -> _LoopWithCallbacks:
        return self


def install_callbacks(learner: Any, make: Callable[[], Mapping[str, CallbackSet]]) -> int:
    """Give every fit of the learner's torch learners the callbacks ``make()`` returns.

    Returns
    -------
    int
        How many torch learners were found (0: nothing installed).
    """
    from torchweave.training.learner_torch import torch_learners

    found = torch_learners(learner)
    for inner in found:
        current = inner.loop_class
        base = current.loop_class if isinstance(current, _LoopWithCallbacks) else current
        inner.loop_class = _LoopWithCallbacks(base, make)  # type: ignore[assignment]
    return len(found)
