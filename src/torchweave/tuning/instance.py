"""TuningInstance: the state of one tuning run, its archive and its result.

The instance evaluates batches of configurations that a tuner proposes (in parallel
through joblib), keeps one record per evaluation, asks the terminator whether to go
on, and gives the best configuration (or, with several measures, the Pareto front).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from torchweave.distributed.parallel import run_parallel
from torchweave.errors import NotTrainedError
from torchweave.tuning.evaluation import EvalJob, EvalRecord, evaluate, evaluate_on
from torchweave.tuning.search_space import SearchSpace, TokenSpace
from torchweave.tuning.terminators import Terminator

__all__ = ["TuningInstance", "TuningResult", "pareto_front"]

#: The archive columns after the parameters and the scores.
META_COLUMNS = [
    "status",
    "error",
    "internal_tuned_values",
    "runtime_learners",
    "runtime",
    "batch",
    "timestamp",
]


@dataclass
class TuningResult:
    """The best configuration of a tuning run.

    Attributes
    ----------
    config : dict
        The tuned values as the learner gets them (after transformations).
    scores : dict of str to float
        Its aggregated scores.
    internal_tuned_values : dict
        The values the learner tuned itself (``ceil(mean)`` of the best epochs).
    learner_param_vals : dict
        Every value to set on the learner for the final model: the configuration,
        the internally tuned values, and early stopping switched off where it was
        used for internal tuning.
    number : int
        The evaluation's number in the archive.
    """

    config: dict[str, Any]
    scores: dict[str, float]
    internal_tuned_values: dict[str, Any] = field(default_factory=dict)
    learner_param_vals: dict[str, Any] = field(default_factory=dict)
    number: int = 0

    def __repr__(self) -> str:
        config = ", ".join(f"{k}={v!r}" for k, v in self.config.items()) or "-"
        scores = ", ".join(f"{k}={v:.4g}" for k, v in self.scores.items())
        internal = ", ".join(f"{k}={v!r}" for k, v in self.internal_tuned_values.items())
        text = f"<TuningResult> evaluation {self.number}: {config} -> {scores}"
        return text + (f" (internally tuned: {internal})" if internal else "")


def pareto_front(scores: np.ndarray) -> np.ndarray:
    """The rows of ``scores`` (larger is better in every column) that nothing dominates.

    Returns
    -------
    numpy.ndarray
        A boolean mask.
    """
    n = len(scores)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        others = np.delete(scores, i, axis=0)
        dominated = np.any(np.all(others >= scores[i], axis=1) & np.any(others > scores[i], axis=1))
        keep[i] = not dominated
    return keep


class TuningInstance:
    """One tuning run: task, learner, resampling, measures, search space and archive.

    Build it with :func:`~torchweave.tuning.tune` (which also runs the tuner), or
    directly and pass it to ``tuner.optimize(instance)``.

    Parameters
    ----------
    task, learner, resampling, measures
        What each evaluation resamples (the resampling is instantiated once, so every
        configuration sees the same splits).
    terminator : Terminator
        When to stop.
    tokens : TokenSpace
        The learner's tune tokens (internal ones, fill-in values).
    search_space : SearchSpace
        The space the tuner proposes from.
    n_jobs : int or None
        joblib workers for the evaluations of a batch.
    batch_size : int
        Configurations proposed and evaluated at once.
    seed : int
        Seeds the tuner and each evaluation.
    eval_time_limit : float or None
        Seconds one evaluation may take.
    store_resample_results, store_models : bool
        Keep each evaluation's ResampleResult (and the trained learners).
    """

    def __init__(
        self,
        task: Any,
        learner: Any,
        resampling: Any,
        measures: Sequence[Any],
        terminator: Terminator,
        tokens: TokenSpace,
        search_space: SearchSpace,
        n_jobs: int | None = 1,
        batch_size: int = 1,
        seed: int = 0,
        eval_time_limit: float | None = None,
        store_resample_results: bool = False,
        store_models: bool = False,
        prune_stride: int = 0,
        prune_sign: float = 1.0,
    ) -> None:
        self.task = task
        self.learner = learner
        self.resampling = resampling
        self.measures = list(measures)
        self.terminator = terminator
        self.tokens = tokens
        self.search_space = search_space
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.seed = seed
        self.eval_time_limit = eval_time_limit
        self.store_resample_results = store_resample_results
        self.store_models = store_models
        self.prune_stride = prune_stride
        self.prune_sign = prune_sign
        self.records: list[EvalRecord] = []
        self.start_time = time.perf_counter()
        self._n_batches = 0
        self._result: list[TuningResult] | None = None
        self.rng = np.random.default_rng(seed)

    # --- progress ------------------------------------------------------------------------
    @property
    def n_evals(self) -> int:
        """Evaluations done so far."""
        return len(self.records)

    @property
    def is_terminated(self) -> bool:
        """Whether the terminator says stop."""
        return self.terminator.is_terminated(self)

    def remaining(self) -> int:
        """How many configurations the next batch may hold."""
        left = self.terminator.remaining(self)
        return int(min(self.batch_size, left)) if math.isfinite(left) else self.batch_size

    def _oriented(self, record: EvalRecord, measure: Any) -> float:
        value = record.scores[measure.id]
        return -value if measure.minimize else value

    def scores_for_terminators(self) -> list[float]:
        """The first measure's scores so far, larger is better (for the terminators)."""
        return [self._oriented(r, self.measures[0]) for r in self.records]

    # --- evaluation ----------------------------------------------------------------------
    def eval_batch(
        self, configs: Sequence[dict[str, Any]], trials: Sequence[Any] | None = None
    ) -> list[EvalRecord]:
        """Evaluate configurations (in parallel with ``n_jobs``) and archive them.

        Parameters
        ----------
        configs : sequence of dict
            Configurations from the search space (before transformations).
        trials : sequence, optional
            One Optuna trial per configuration, for pruning.

        Returns
        -------
        list of EvalRecord
            In the order of ``configs``.
        """
        jobs = []
        for i, config in enumerate(configs):
            number = self.n_evals + i
            jobs.append(
                EvalJob(
                    number=number,
                    task=self.task,
                    learner=self.learner,
                    resampling=self.resampling,
                    measures=self.measures,
                    config=dict(config),
                    values=self.learner_values(config),
                    internal=self.tokens.internal,
                    seed=int(np.random.SeedSequence([self.seed, number]).generate_state(1)[0]),
                    time_limit=self.eval_time_limit,
                    trial=None if trials is None else trials[i],
                    prune_stride=self.prune_stride,
                    prune_sign=self.prune_sign,
                    store_resample_result=self.store_resample_results,
                    store_models=self.store_models,
                )
            )
        if trials is not None and any(t is not None for t in trials):
            # The trial lives in this process: report from threads, not processes.
            records = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(evaluate)(j) for j in jobs
            )
        else:
            # Through the package's joblib runner: under Dask's or Ray's backend the task
            # is sent to the cluster once, worker threads are capped, a bar shows progress.
            records = run_parallel(
                evaluate_on,
                [(dataclasses.replace(j, task=None), self.task) for j in jobs],
                self.n_jobs,
                "tuning",
                shared=[self.task],
            )
        now = time.time()
        for record in records:
            record.batch = self._n_batches
            record.timestamp = now
        self._n_batches += 1
        self.records.extend(records)
        self._result = None
        return list(records)

    def learner_values(self, config: dict[str, Any]) -> dict[str, Any]:
        """The values an evaluation sets: fill-ins, the configuration, internal upper bounds."""
        values = dict(self.tokens.inactive_values)
        values.update(self.search_space.transform(config))
        for pid, token in self.tokens.internal.items():
            values[pid] = token.upper
        return values

    # --- archive and result ----------------------------------------------------------------
    @property
    def archive(self) -> pd.DataFrame:
        """One row per evaluation.

        Columns: ``eval`` (number), one per tuned parameter (the value the learner got;
        None where inactive), one per measure id, then ``status`` (``"ok"``,
        ``"error"``, ``"timeout"`` or ``"pruned"``), ``error``,
        ``internal_tuned_values``, ``runtime_learners``, ``runtime`` (seconds),
        ``batch`` and ``timestamp``; and ``resample_result`` when stored.
        """
        param_ids = self.search_space.ids
        extra: list[str] = []
        for r in self.records:
            extra += [
                k
                for k in r.values
                if k not in param_ids
                and k not in extra
                and k not in self.tokens.inactive_values
                and k not in self.tokens.internal
            ]
        rows = []
        for r in self.records:
            row: dict[str, Any] = {"eval": r.number}
            for pid in [*param_ids, *extra]:
                row[pid] = r.values.get(pid) if (pid in r.config or pid in extra) else None
            row.update(r.scores)
            row.update(
                status=r.status,
                error=r.error,
                internal_tuned_values=dict(r.internal_tuned_values),
                runtime_learners=r.runtime_learners,
                runtime=r.runtime,
                batch=r.batch,
                timestamp=pd.Timestamp(r.timestamp, unit="s"),
            )
            if self.store_resample_results:
                row["resample_result"] = r.resample_result
            rows.append(row)
        columns = ["eval", *param_ids, *extra, *(m.id for m in self.measures), *META_COLUMNS]
        if self.store_resample_results:
            columns.append("resample_result")
        return pd.DataFrame(rows, columns=columns)

    @property
    def resample_results(self) -> list[Any]:
        """Each evaluation's ResampleResult (``store_resample_results=True``), else Nones."""
        return [r.resample_result for r in self.records]

    def _usable(self) -> list[EvalRecord]:
        return [r for r in self.records if r.status == "ok"]

    @property
    def result(self) -> TuningResult:
        """The best configuration (single measure), or the first of the Pareto front.

        Raises
        ------
        NotTrainedError
            If nothing was evaluated, or every evaluation failed.
        """
        return self.pareto_front[0]

    @property
    def pareto_front(self) -> list[TuningResult]:
        """The configurations that no other one beats on every measure (best first).

        With one measure this is the single best configuration (ties: the earliest).
        """
        if self._result is None:
            self._result = self._compute_front()
        return list(self._result)

    def _compute_front(self) -> list[TuningResult]:
        usable = self._usable()
        if not usable:
            failed = (
                f" All {self.n_evals} evaluation(s) failed; see archive['error']."
                if self.records
                else ""
            )
            raise NotTrainedError(f"The tuning instance has no successful evaluation yet.{failed}")
        matrix = np.array([[self._oriented(r, m) for m in self.measures] for r in usable])
        if len(self.measures) == 1:
            chosen = [usable[int(np.argmax(matrix[:, 0]))]]
        else:
            mask = pareto_front(matrix)
            front = [r for r, keep in zip(usable, mask, strict=True) if keep]
            chosen = sorted(front, key=lambda r: -self._oriented(r, self.measures[0]))
        return [self._as_result(r) for r in chosen]

    def _as_result(self, record: EvalRecord) -> TuningResult:
        config = {pid: record.values[pid] for pid in self.search_space.transform(record.config)}
        param_vals = dict(record.values)
        param_vals.update(record.internal_tuned_values)
        for pid in record.internal_tuned_values:
            prefix = pid[: -len(pid.rsplit(".", 1)[-1])]
            param_vals[f"{prefix}patience"] = 0
            param_vals[f"{prefix}measures_valid"] = []
        return TuningResult(
            config=config,
            scores=dict(record.scores),
            internal_tuned_values=dict(record.internal_tuned_values),
            learner_param_vals=param_vals,
            number=record.number,
        )

    def result_learner(self, index: int = 0) -> Any:
        """An untrained clone of the learner configured with the result (front entry ``index``).

        Internal tuning is switched off in it: the tuned epochs are set, early
        stopping (``patience``, ``measures_valid``) and ``validate`` are cleared.
        """
        result = self.pareto_front[index]
        learner = self.learner.clone()
        learner.param_set.set_values(result.learner_param_vals)
        if result.internal_tuned_values:
            learner.validate = None
        return learner

    # --- plots ---------------------------------------------------------------------------
    def plot_history(self, measure: str | None = None, ax: Any = None) -> Any:
        """Scores over the evaluations and the best so far (see :func:`plot_tuning_history`)."""
        from torchweave.tuning.plots import plot_tuning_history

        return plot_tuning_history(self, measure=measure, ax=ax)

    def plot_params(self, measure: str | None = None, params: Sequence[str] | None = None) -> Any:
        """The score against each tuned parameter (see :func:`plot_tuning_params`)."""
        from torchweave.tuning.plots import plot_tuning_params

        return plot_tuning_params(self, measure=measure, params=params)

    def __repr__(self) -> str:
        lines = [
            f"<TuningInstance> of learner '{self.learner.id}' on task '{self.task.id}'",
            f"* Evaluations: {self.n_evals} ({sum(r.status != 'ok' for r in self.records)} failed)",
            f"* Search space: {', '.join(self.search_space.ids) or '-'}",
            f"* Internally tuned: {', '.join(self.tokens.internal) or '-'}",
            f"* Measures: {', '.join(m.id for m in self.measures)}",
            f"* Terminator: {self.terminator.id}",
        ]
        if self._usable():
            lines.append(f"* Result: {self.result!r}")
        return "\n".join(lines)
