"""Benchmarks: resample several learners on several tasks with the same splits.

``benchmark_grid`` builds the design (every task x learner x resampling), drawing
each resampling's splits once per task so that every learner sees the same splits,
as in mlr3. ``benchmark`` runs the design, all iterations in one joblib pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.resampling.resample import (
    Experiment,
    MeasuresLike,
    ResampleResult,
    run_experiments,
)
from torchweave.resampling.resampling import Resampling
from torchweave.utils.text import quote_list

__all__ = ["BenchmarkResult", "benchmark", "benchmark_grid"]

DESIGN_COLUMNS = ["task", "learner", "resampling"]


def _as_list(x: Any, what: str) -> list[Any]:
    """A list or tuple as a list; anything else as a one-element list."""
    items = list(x) if isinstance(x, list | tuple) else [x]
    if not items:
        raise InvalidParameterError(f"benchmark_grid needs at least one {what}. Got none.")
    return items


def benchmark_grid(tasks: Any, learners: Any, resamplings: Any) -> pd.DataFrame:
    """The full design: every task with every learner and every resampling.

    Each resampling is cloned and instantiated once per task, and that instance is
    shared by all learners, so they are compared on the same splits. A resampling that
    is already instantiated is used as it is (its splits must fit every task).

    Parameters
    ----------
    tasks : Task or list of Task
        The tasks.
    learners : Learner or list of Learner
        The learners (or objects :func:`~torchweave.as_learner` converts).
    resamplings : Resampling or list of Resampling
        The resampling strategies.

    Returns
    -------
    pandas.DataFrame
        One row per combination, with the objects in the columns ``task``, ``learner``
        and ``resampling`` (ordered by task, then learner, then resampling).

    Examples
    --------
    >>> import torchweave as tw
    >>> design = tw.benchmark_grid(
    ...     tw.tsk("iris"), tw.lrns("classif.featureless"), tw.rsmp("cv", folds=3)
    ... )
    >>> design.shape
    (1, 3)
    """
    task_list = _as_list(tasks, "task")
    learner_list = _as_list(learners, "learner")
    resampling_list = _as_list(resamplings, "resampling")
    for task in task_list:
        if not isinstance(task, Task):
            raise InvalidTypeError(
                f"benchmark_grid needs Tasks in 'tasks'. Got {type(task).__name__} instead."
            )
    for resampling in resampling_list:
        if not isinstance(resampling, Resampling):
            raise InvalidTypeError(
                "benchmark_grid needs Resamplings in 'resamplings'. "
                f"Got {type(resampling).__name__} instead."
            )
    rows = []
    for task in task_list:
        instances = []
        for resampling in resampling_list:
            instance = resampling.clone()
            if instance.is_instantiated:
                instance._check_fits(task)
            else:
                instance.instantiate(task)
            instances.append(instance)
        for learner in learner_list:
            for instance in instances:
                rows.append({"task": task, "learner": learner, "resampling": instance})
    return pd.DataFrame(rows, columns=DESIGN_COLUMNS)


def benchmark(
    design: pd.DataFrame, n_jobs: int | None = None, store_models: bool = False
) -> BenchmarkResult:
    """Run :func:`~torchweave.resample` for every row of a design.

    All iterations of all rows run in one joblib pool (one progress bar).

    Learners that are different objects but share an id (two ``classif.rpart`` with
    different ``max_depth``) get distinct ids in the results, as in mlr3: the id with
    the suffix ``_1``, ``_2``, ... in design order. The learners passed in keep their
    ids; :attr:`BenchmarkResult.renamed_learners` maps each new id to the original.

    Parameters
    ----------
    design : pandas.DataFrame
        Columns ``task``, ``learner`` and ``resampling``, usually from
        :func:`benchmark_grid`.
    n_jobs : int or None, default None
        Number of joblib workers (``-1``: all cores). None: one, unless a
        ``joblib.parallel_config`` is active, which then decides (Dask, Ray: see
        docs/scaling_out.md).
    store_models : bool, default False
        Keep the trained learners.

    Returns
    -------
    BenchmarkResult
        One :class:`ResampleResult` per row.

    Examples
    --------
    >>> import torchweave as tw
    >>> design = tw.benchmark_grid(
    ...     tw.tsk("iris"), tw.lrns("classif.featureless"), tw.rsmp("cv", folds=3)
    ... )
    >>> tw.benchmark(design).aggregate(tw.msr("classif.acc")).shape
    (1, 5)
    """
    if not isinstance(design, pd.DataFrame):
        raise InvalidTypeError(
            f"benchmark needs a design DataFrame (see benchmark_grid). "
            f"Got {type(design).__name__} instead."
        )
    missing = [c for c in DESIGN_COLUMNS if c not in design.columns]
    if missing:
        raise InvalidParameterError(
            f"The design of benchmark needs the columns {quote_list(DESIGN_COLUMNS)}; "
            f"it lacks {quote_list(missing)}."
        )
    experiments = [
        Experiment.prepare(task, learner, resampling)
        for task, learner, resampling in zip(
            design["task"], design["learner"], design["resampling"], strict=True
        )
    ]
    renamed = _distinct_learner_ids(list(design["learner"]), experiments)
    iterations = run_experiments(experiments, store_models, n_jobs, desc="benchmark")
    return BenchmarkResult(
        [
            ResampleResult(exp.task, exp.learner, exp.resampling, its)
            for exp, its in zip(experiments, iterations, strict=True)
        ],
        renamed_learners=renamed,
    )


def _distinct_learner_ids(learners: list[Any], experiments: list[Experiment]) -> dict[str, str]:
    """Give different learner objects that share an id the suffixes ``_1``, ``_2``, ...

    The same object on several rows (every task of a grid) keeps one id. Renames the
    experiments' clones only; returns ``{new id: original id}``.
    """
    objects: dict[str, list[int]] = {}
    for learner, exp in zip(learners, experiments, strict=True):
        members = objects.setdefault(exp.learner.id, [])
        if id(learner) not in members:
            members.append(id(learner))
    renamed: dict[str, str] = {}
    for learner, exp in zip(learners, experiments, strict=True):
        original = exp.learner.id
        members = objects[original]
        if len(members) > 1:
            new = f"{original}_{members.index(id(learner)) + 1}"
            exp.learner.id = new
            renamed[new] = original
    return renamed


class BenchmarkResult:
    """The outcome of :func:`benchmark`: one :class:`ResampleResult` per design row.

    Parameters
    ----------
    resample_results : sequence of ResampleResult
        The results, in design order.

    Attributes
    ----------
    resample_results : list of ResampleResult
        The results; their position is the ``nr`` in :meth:`score`.
    renamed_learners : dict of str to str
        Learner ids that :func:`benchmark` made distinct (new id -> original id):
        different learners with the same id get the suffixes ``_1``, ``_2``, ...
    """

    def __init__(
        self,
        resample_results: Sequence[ResampleResult],
        renamed_learners: dict[str, str] | None = None,
    ) -> None:
        self.resample_results = list(resample_results)
        self.renamed_learners = dict(renamed_learners or {})

    def __len__(self) -> int:
        return len(self.resample_results)

    def score(self, measures: MeasuresLike = None) -> pd.DataFrame:
        """Per-iteration scores of every resample result.

        Parameters
        ----------
        measures : Measure, str, or iterable of them, optional
            Measures or their keys.

        Returns
        -------
        pandas.DataFrame
            The frames of :meth:`ResampleResult.score`, stacked, with a leading ``nr``
            column: the position of the resample result.
        """
        frames = []
        for nr, rr in enumerate(self.resample_results):
            frame = rr.score(measures)
            frame.insert(0, "nr", nr)
            frames.append(frame)
        if not frames:
            return pd.DataFrame(
                columns=["nr", "iteration", "task_id", "learner_id", "resampling_id"]
            )
        return pd.concat(frames, ignore_index=True)

    def aggregate(self, measures: MeasuresLike = None) -> pd.DataFrame:
        """Aggregated scores, one row per resample result (row ``i`` is result ``nr = i``).

        Parameters
        ----------
        measures : Measure, str, or iterable of them, optional
            Measures or their keys.

        Returns
        -------
        pandas.DataFrame
            Columns ``task_id``, ``learner_id``, ``resampling_id``, ``iters``, then one
            column per measure id (see :meth:`ResampleResult.aggregate`).
        """
        rows = [
            {
                "task_id": rr.task.id,
                "learner_id": rr.learner.id,
                "resampling_id": rr.resampling.id,
                "iters": rr.iters,
                **rr.aggregate(measures),
            }
            for rr in self.resample_results
        ]
        columns = ["task_id", "learner_id", "resampling_id", "iters"]
        for row in rows:
            columns += [c for c in row if c not in columns]
        return pd.DataFrame(rows, columns=columns)

    def _overview(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "nr": nr,
                    "task_id": rr.task.id,
                    "learner_id": rr.learner.id,
                    "resampling_id": rr.resampling.id,
                    "iters": rr.iters,
                }
                for nr, rr in enumerate(self.resample_results)
            ],
            columns=["nr", "task_id", "learner_id", "resampling_id", "iters"],
        )

    def __repr__(self) -> str:
        head = f"<BenchmarkResult> of {len(self)} resample results"
        if not self.resample_results:
            return head
        text = f"{head}\n{self._overview().to_string(index=False)}"
        if self.renamed_learners:
            pairs = ", ".join(f"{new} ({old})" for new, old in self.renamed_learners.items())
            text += f"\nLearners sharing an id were renamed: {pairs}"
        return text
