"""One evaluation of a tuning run: resample the learner with one configuration.

:func:`evaluate` runs in a joblib worker (or in the main process). It never raises
for a configuration that fails: the error, a time-out or a pruning is recorded with
the worst score of each measure, as mlr3's encapsulation with a fallback learner does,
so that one bad configuration does not end the tuning.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from torchweave.data.task import Task
from torchweave.resampling.resample import resample
from torchweave.tuning.pruning import (
    CallbackSetPruning,
    CallbackSetTimeLimit,
    EvaluationPrunedError,
    EvaluationTimeoutError,
    install_callbacks,
)

__all__ = ["EvalJob", "EvalRecord", "evaluate"]


@dataclass
class EvalJob:
    """Everything one evaluation needs (pickled to the worker).

    Attributes
    ----------
    number : int
        The evaluation's number (0-based) in the tuning run.
    task, learner, resampling, measures
        What to resample; ``learner`` is the untouched prototype.
    config : dict
        The configuration as the tuner proposed it (before transformations).
    values : dict
        The learner parameter values to set (transformed, with fill-ins).
    internal : dict of str to InternalTuneToken
        The parameters the learner tunes itself.
    seed : int
        Seeds numpy's and Python's global generators before resampling, so that the
        result does not depend on where (which worker) it runs.
    time_limit : float or None
        Seconds the evaluation may take.
    trial : optuna trial or None
        The trial to report validation scores to (pruning).
    prune_stride : int
        Steps per resampling iteration in the reports to the trial.
    prune_sign : float
        Orientation of the reported scores (to match the study's direction).
    store_resample_result : bool
        Keep the ResampleResult (with models when ``store_models``).
    store_models : bool
        Keep the trained learners in the ResampleResult.
    """

    number: int
    task: Any
    learner: Any
    resampling: Any
    measures: list[Any]
    config: dict[str, Any]
    values: dict[str, Any]
    internal: dict[str, Any]
    seed: int
    time_limit: float | None = None
    trial: Any = None
    prune_stride: int = 0
    prune_sign: float = 1.0
    store_resample_result: bool = False
    store_models: bool = False


@dataclass
class EvalRecord:
    """What one evaluation produced (one archive row).

    Attributes
    ----------
    number : int
        The evaluation's number.
    config, values : dict
        The proposed configuration and the learner values set.
    scores : dict of str to float
        The aggregated score per measure id (the worst score if it failed).
    status : {"ok", "error", "timeout", "pruned"}
        How it ended.
    error : str or None
        The error message (with its notes) when it did not end "ok".
    internal_tuned_values : dict
        The aggregated internally tuned values (``ceil(mean)`` of the iterations).
    runtime_learners : float
        Seconds spent training and predicting.
    runtime : float
        Seconds the whole evaluation took.
    resample_result : ResampleResult or None
        Kept on request.
    batch : int
        The batch it was evaluated in.
    timestamp : float
        When its batch finished (``time.time()``).
    """

    number: int
    config: dict[str, Any]
    values: dict[str, Any]
    scores: dict[str, float]
    status: str
    error: str | None = None
    internal_tuned_values: dict[str, Any] = field(default_factory=dict)
    runtime_learners: float = 0.0
    runtime: float = 0.0
    resample_result: Any = None
    batch: int = 0
    timestamp: float = 0.0


def _message(exc: BaseException) -> str:
    """``"<class name>: <message>"`` and the notes (which learner, iteration, callback)."""
    notes = getattr(exc, "__notes__", [])
    return "\n".join([f"{type(exc).__name__}: {exc}", *notes])


def _is_optuna_pruned(exc: BaseException) -> bool:
    return type(exc).__name__ == "TrialPruned" and type(exc).__module__.startswith("optuna")


def _worst(measures: list[Any]) -> dict[str, float]:
    return {m.id: float(m.worst) for m in measures}


def evaluate(job: EvalJob) -> EvalRecord:
    """Resample ``job.learner`` with ``job.values``; record failures instead of raising.

    Parameters
    ----------
    job : EvalJob
        The evaluation.

    Returns
    -------
    EvalRecord
        Scores, status, error, internally tuned values and timings.
    """
    # Seed the global generators for this evaluation, and leave them as they were
    # (with n_jobs=1 this runs in the caller's process).
    np_state, py_state = np.random.get_state(), random.getstate()
    np.random.seed(job.seed % 2**32)
    random.seed(job.seed)
    try:
        return _evaluate(job)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def evaluate_on(job: EvalJob, task: Task) -> EvalRecord:
    """:func:`evaluate` with the task passed apart from the job (sent once to a cluster)."""
    return evaluate(dataclasses.replace(job, task=task))


def _evaluate(job: EvalJob) -> EvalRecord:
    start = time.perf_counter()
    record = EvalRecord(
        number=job.number,
        config=dict(job.config),
        values=dict(job.values),
        scores=_worst(job.measures),
        status="ok",
    )
    try:
        learner = job.learner.clone()
        learner.param_set.set_values(job.values)
        _install_hooks(learner, job)
        rr = resample(job.task, learner, job.resampling, store_models=job.store_models, n_jobs=1)
        elapsed = time.perf_counter() - start
        if job.time_limit is not None and elapsed > job.time_limit:
            raise EvaluationTimeoutError(
                f"The evaluation took {elapsed:.3g} s, more than its time limit of "
                f"{job.time_limit:g} s (a learner without a training loop is only checked "
                "when it is done)."
            )
        scores = rr.aggregate(job.measures)
        bad = [mid for mid, v in scores.items() if not math.isfinite(v)]
        if bad:
            raise FloatingPointError(
                f"The score(s) of {', '.join(repr(b) for b in bad)} are not finite "
                f"({', '.join(f'{scores[b]}' for b in bad)}): the predictions hold NaN or "
                "infinite values."
            )
        record.scores = scores
        record.internal_tuned_values = _aggregate_internal(rr.internal_tuned_values, job.internal)
        record.runtime_learners = float(sum(rr.train_times) + sum(rr.predict_times))
        if job.store_resample_result:
            record.resample_result = rr
    except EvaluationPrunedError as exc:
        record.status, record.error = "pruned", _message(exc)
    except EvaluationTimeoutError as exc:
        record.status, record.error = "timeout", _message(exc)
    except Exception as exc:
        if _is_optuna_pruned(exc):
            record.status, record.error = "pruned", _message(exc)
        else:
            record.status, record.error = "error", _message(exc)
    record.runtime = time.perf_counter() - start
    return record


def _aggregate_internal(
    per_iteration: list[dict[str, Any]], internal: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pid, token in internal.items():
        values = [it[pid] for it in per_iteration if it.get(pid) is not None]
        if not values:
            raise RuntimeError(
                f"The learner reported no internally tuned value for '{pid}' in any "
                "resampling iteration; is early stopping configured for it?"
            )
        out[pid] = token.aggregate(values)
    return out


def _install_hooks(learner: Any, job: EvalJob) -> None:
    if job.time_limit is None and job.trial is None:
        return
    deadline = time.monotonic() + job.time_limit if job.time_limit is not None else None
    fits = [0]

    def make() -> dict[str, Any]:
        callbacks: dict[str, Any] = {}
        if deadline is not None:
            callbacks["tuning_time_limit"] = CallbackSetTimeLimit(deadline, job.time_limit or 0.0)
        if job.trial is not None:
            offset = fits[0] * job.prune_stride
            callbacks["tuning_pruning"] = CallbackSetPruning(job.trial, offset, job.prune_sign)
        fits[0] += 1
        return callbacks

    install_callbacks(learner, make)
