"""``resample``: train and test a learner on every split of a resampling.

The splits are drawn before anything runs, so they do not depend on ``n_jobs``.
Each iteration trains a fresh clone of the learner on the train set and predicts the
test set; the iterations run through ``joblib.Parallel``
(:func:`torchweave.distributed.parallel.run_parallel`) under whichever joblib backend is
active: ``joblib.parallel_config(backend="dask")`` or Ray's backend scale them out with
the task and learner sent to the cluster once, each worker's threads capped to its
cores. A tqdm bar shows progress when stderr is a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from torchweave.data.prediction import Prediction, concat_predictions
from torchweave.data.task import Task
from torchweave.distributed.parallel import run_parallel
from torchweave.errors import InvalidParameterError, InvalidTypeError, TaskError
from torchweave.learners.convert import as_learner
from torchweave.learners.learner import Learner
from torchweave.resampling.resampling import Resampling
from torchweave.utils.text import format_value

if TYPE_CHECKING:
    from torchweave.measures.measure import Measure

__all__ = ["ResampleResult", "resample"]

MeasuresLike = Any  # a Measure, a key, an iterable of them, or None


@dataclass
class Iteration:
    """What one resampling iteration produced.

    Attributes
    ----------
    prediction : Prediction
        The prediction on the test set.
    learner : Learner or None
        The trained learner, when models are stored.
    internal_valid_scores : dict
        The learner's scores on its internal validation task.
    internal_tuned_values : dict
        Values the learner tuned itself (such as early-stopped epochs).
    train_time : float
        Seconds spent training.
    predict_time : float
        Seconds spent predicting.
    """

    prediction: Prediction
    learner: Learner | None
    internal_valid_scores: dict[str, float]
    internal_tuned_values: dict[str, Any]
    train_time: float
    predict_time: float


def _run_iteration(
    task: Task,
    prototype: Learner,
    train_ids: np.ndarray,
    test_ids: np.ndarray,
    i: int,
    iters: int,
    store_models: bool,
) -> Iteration:
    """Train a clone of ``prototype`` on ``train_ids`` and predict ``test_ids``.

    Runs in the worker, so the note added to an exception survives process pools.
    """
    learner = prototype.clone()
    try:
        if getattr(learner, "validate", None) == "test":
            work = task.clone().filter(train_ids)
            work.internal_valid_task = task.clone().filter(test_ids)
            learner.train(work)
        else:
            learner.train(task, row_ids=train_ids)
        prediction = learner.predict(task, row_ids=test_ids)
    except Exception as exc:
        exc.add_note(
            f"(raised in resampling iteration {i + 1}/{iters} (index {i}) of learner "
            f"'{prototype.id}' on task '{task.id}')"
        )
        raise
    state = learner.state
    assert state is not None
    return Iteration(
        prediction=prediction,
        learner=learner if store_models else None,
        internal_valid_scores=learner.internal_valid_scores,
        internal_tuned_values=learner.internal_tuned_values,
        train_time=state.train_time,
        predict_time=state.predict_time or 0.0,
    )


@dataclass
class Experiment:
    """One task, learner prototype and instantiated resampling, ready to run."""

    task: Task
    learner: Learner
    resampling: Resampling

    @classmethod
    def prepare(cls, task: Task, learner: Any, resampling: Resampling) -> Experiment:
        """Check the inputs; clone the learner (untrained) and the resampling (instantiated)."""
        if not isinstance(task, Task):
            raise InvalidTypeError(f"resample needs a Task. Got {type(task).__name__} instead.")
        prototype = as_learner(learner).clone().reset()
        if prototype.task_type != task.task_type:
            raise TaskError(
                f"Learner '{prototype.id}' is for {prototype.task_type} tasks, but task "
                f"'{task.id}' is a {task.task_type} task."
            )
        if not isinstance(resampling, Resampling):
            raise InvalidTypeError(
                "resample needs a Resampling such as rsmp('cv', folds=3). "
                f"Got {type(resampling).__name__} instead."
            )
        plan = resampling.clone()
        if plan.is_instantiated:
            plan._check_fits(task)
        else:
            plan.instantiate(task)
        return cls(task, prototype, plan)

    def calls(self, store_models: bool) -> list[tuple[Any, ...]]:
        """The arguments of :func:`_run_iteration` for every iteration, in order."""
        n = self.resampling.iters
        return [
            (
                self.task,
                self.learner,
                self.resampling.train_set(i),
                self.resampling.test_set(i),
                i,
                n,
                store_models,
            )
            for i in range(n)
        ]


def _check_run_args(n_jobs: Any, store_models: Any) -> None:
    if not isinstance(store_models, bool):
        raise InvalidParameterError(
            f"'store_models' must be a bool. Got {format_value(store_models)} instead."
        )
    if n_jobs is not None and (
        not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0
    ):
        raise InvalidParameterError(
            "'n_jobs' must be None or a non-zero integer (-1: all cores). "
            f"Got {format_value(n_jobs)} instead."
        )


def run_experiments(
    experiments: Sequence[Experiment], store_models: bool, n_jobs: int | None, desc: str
) -> list[list[Iteration]]:
    """Run the iterations of several experiments in one joblib pool.

    Returns
    -------
    list of list of Iteration
        The iterations of each experiment, in order.
    """
    _check_run_args(n_jobs, store_models)
    calls = [call for exp in experiments for call in exp.calls(store_models)]
    shared = [obj for exp in experiments for obj in (exp.task, exp.learner)]
    results: list[Iteration] = run_parallel(_run_iteration, calls, n_jobs, desc, shared)
    out = []
    start = 0
    for exp in experiments:
        out.append(results[start : start + exp.resampling.iters])
        start += exp.resampling.iters
    return out


def resample(
    task: Task,
    learner: Learner,
    resampling: Resampling,
    store_models: bool = False,
    n_jobs: int | None = None,
) -> ResampleResult:
    """Train and test a learner on every split of a resampling.

    The resampling is cloned (and instantiated on ``task`` if it is not), so the
    object passed in is not changed; an instantiated resampling is used with its
    splits. Each iteration trains a clone of the learner. A learner with
    ``validate="test"`` gets the iteration's test set as its internal validation task.

    Parameters
    ----------
    task : Task
        The task.
    learner : Learner
        The learner (or anything :func:`~torchweave.as_learner` converts).
    resampling : Resampling
        The strategy, e.g. ``rsmp("cv", folds=3)``.
    store_models : bool, default False
        Keep the trained learner of each iteration in the result.
    n_jobs : int or None, default None
        Number of joblib workers (``-1``: all cores). None: one, unless a
        ``joblib.parallel_config`` is active, which then decides (``backend="dask"``
        uses the Dask cluster, Ray's backend the Ray cluster; see
        docs/scaling_out.md). The splits are the same for any value.

    Returns
    -------
    ResampleResult
        The predictions and (optionally) the trained learners.

    Raises
    ------
    Exception
        Whatever an iteration raised, with a note naming the iteration, the learner
        and the task.

    Examples
    --------
    >>> import torchweave as tw
    >>> rr = tw.resample(tw.tsk("iris"), tw.lrn("classif.featureless"), tw.rsmp("cv", folds=3))
    >>> rr.iters
    3
    """
    experiment = Experiment.prepare(task, learner, resampling)
    desc = f"resample {experiment.learner.id} on {task.id}"
    iterations = run_experiments([experiment], store_models, n_jobs, desc)[0]
    return ResampleResult(experiment.task, experiment.learner, experiment.resampling, iterations)


def _aggregation(measure: Measure) -> str:
    kind = getattr(measure, "aggregation", "macro")
    if kind not in ("macro", "micro"):
        raise InvalidParameterError(
            f"The 'aggregation' of measure '{measure.id}' must be 'macro' or 'micro'. "
            f"Got {format_value(kind)} instead."
        )
    return str(kind)


class ResampleResult:
    """The outcome of :func:`resample`: one prediction (and optionally model) per iteration.

    Parameters
    ----------
    task : Task
        The task that was resampled.
    learner : Learner
        The untrained learner prototype.
    resampling : Resampling
        The instantiated resampling that gave the splits.
    iterations : list of Iteration
        What each iteration produced, in order.

    Attributes
    ----------
    task : Task
        The task.
    learner : Learner
        The untrained learner prototype.
    resampling : Resampling
        The instantiated resampling.
    """

    def __init__(
        self,
        task: Task,
        learner: Learner,
        resampling: Resampling,
        iterations: Sequence[Iteration],
    ) -> None:
        self.task = task
        self.learner = learner
        self.resampling = resampling
        self._iterations = list(iterations)

    @property
    def iters(self) -> int:
        """Number of iterations."""
        return len(self._iterations)

    def __len__(self) -> int:
        return self.iters

    def predictions(self) -> list[Prediction]:
        """The test-set prediction of each iteration."""
        return [it.prediction for it in self._iterations]

    def prediction(self) -> Prediction:
        """All test-set predictions combined into one."""
        return concat_predictions(self.predictions())

    @property
    def learners(self) -> list[Learner]:
        """The trained learner of each iteration if models were stored, else untrained clones."""
        return [
            it.learner if it.learner is not None else self.learner.clone()
            for it in self._iterations
        ]

    @property
    def models_stored(self) -> bool:
        """Whether the trained learners were kept."""
        return bool(self._iterations) and all(it.learner is not None for it in self._iterations)

    @property
    def internal_valid_scores(self) -> list[dict[str, float]]:
        """The learner's internal validation scores, per iteration."""
        return [dict(it.internal_valid_scores) for it in self._iterations]

    @property
    def internal_tuned_values(self) -> list[dict[str, Any]]:
        """The values the learner tuned itself, per iteration."""
        return [dict(it.internal_tuned_values) for it in self._iterations]

    @property
    def train_times(self) -> list[float]:
        """Seconds spent training, per iteration."""
        return [it.train_time for it in self._iterations]

    @property
    def predict_times(self) -> list[float]:
        """Seconds spent predicting, per iteration."""
        return [it.predict_time for it in self._iterations]

    def _measures(self, measures: MeasuresLike) -> list[Measure]:
        from torchweave.measures import as_measures

        return list(as_measures(measures, task_type=self.task.task_type))

    def score(self, measures: MeasuresLike = None) -> pd.DataFrame:
        """Score each iteration's prediction.

        Parameters
        ----------
        measures : Measure, str, or iterable of them, optional
            Measures or their keys (default: the task type's default measure).

        Returns
        -------
        pandas.DataFrame
            One row per iteration with ``iteration`` (0-based), ``task_id``,
            ``learner_id``, ``resampling_id`` and one column per measure id.
        """
        ms = self._measures(measures)
        rows = [
            {
                "iteration": i,
                "task_id": self.task.id,
                "learner_id": self.learner.id,
                "resampling_id": self.resampling.id,
                **{m.id: m.score(it.prediction) for m in ms},
            }
            for i, it in enumerate(self._iterations)
        ]
        columns = ["iteration", "task_id", "learner_id", "resampling_id", *(m.id for m in ms)]
        return pd.DataFrame(rows, columns=columns)

    def aggregate(self, measures: MeasuresLike = None) -> dict[str, float]:
        """Aggregate the scores over the iterations.

        A measure with ``aggregation = "macro"`` (the default) is the mean of the
        iteration scores; one with ``aggregation = "micro"`` is scored once on the
        combined prediction of all iterations.

        Parameters
        ----------
        measures : Measure, str, or iterable of them, optional
            Measures or their keys (default: the task type's default measure).

        Returns
        -------
        dict of str to float
            The aggregated score by measure id.
        """
        ms = self._measures(measures)
        out: dict[str, float] = {}
        combined: Prediction | None = None
        for m in ms:
            if _aggregation(m) == "micro":
                combined = combined if combined is not None else self.prediction()
                out[m.id] = float(m.score(combined))
            else:
                out[m.id] = float(np.mean([m.score(it.prediction) for it in self._iterations]))
        return out

    def __repr__(self) -> str:
        return "\n".join(
            [
                f"<ResampleResult> of {self.iters} iteration{'' if self.iters == 1 else 's'}",
                f"* Task: {self.task.id}",
                f"* Learner: {self.learner.id}",
                f"* Resampling: {self.resampling.id}",
                f"* Models stored: {'yes' if self.models_stored else 'no'}",
            ]
        )
