"""``tune()``: tune a learner's hyperparameters on a task (mlr3tuning's ``tune()``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from torchweave.data.task import Task
from torchweave.distributed.parallel import active_backend
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.learners.convert import as_learner
from torchweave.params.param import TuneToken
from torchweave.resampling.resampling import Resampling
from torchweave.tuning.instance import TuningInstance
from torchweave.tuning.search_space import (
    SearchSpace,
    TokenSpace,
    check_search_space,
    space_from_learner,
)
from torchweave.tuning.terminators import Terminator, TerminatorNone
from torchweave.tuning.tuners.base import Tuner
from torchweave.tuning.tuners.grid_search import TunerGridSearch
from torchweave.utils.text import format_value, quote_list

__all__ = ["make_instance", "tune"]


def _resolve_jobs(n_jobs: Any) -> int:
    if n_jobs is None:
        # As resample does: an active joblib.parallel_config decides (its n_jobs, or
        # all of a Dask or Ray cluster's workers); one job without one.
        kind, backend, config_jobs = active_backend()
        if config_jobs is None and kind not in ("dask", "ray"):
            return 1
        wanted = config_jobs if config_jobs is not None else -1
        return max(1, int(backend.effective_n_jobs(wanted)))
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise InvalidParameterError(
            "'n_jobs' must be None or a non-zero integer (-1: all cores). "
            f"Got {format_value(n_jobs)} instead."
        )
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return n_jobs


def _check_internal(learner: Any, tokens: TokenSpace) -> None:
    """Internal tuning needs validation data and early stopping; say how to set them."""
    if not tokens.internal:
        return
    if "internal_tuning" not in learner.properties:
        raise InvalidParameterError(
            f"Learner '{learner.id}' cannot tune parameters internally (it lacks the "
            f"'internal_tuning' property), but {quote_list(tokens.internal)} hold "
            "to_tune(internal=True)."
        )
    values = learner.param_set.values
    for pid in tokens.internal:
        prefix = pid[: -len(pid.rsplit(".", 1)[-1])]
        problems = []
        if learner.validate is None:
            problems.append("learner.validate (e.g. 0.2, or 'test' to use each test set)")
        if not values.get(f"{prefix}measures_valid"):
            problems.append(f"'{prefix}measures_valid' (e.g. tw.msrs('classif.ce'))")
        patience = values.get(f"{prefix}patience", 0)
        if isinstance(patience, TuneToken) or not patience:
            problems.append(f"'{prefix}patience' > 0 (a fixed number)")
        if problems:
            raise InvalidParameterError(
                f"Internal tuning of '{pid}' trains with early stopping, which needs "
                f"validation data, a validation measure and a patience. Set "
                f"{'; '.join(problems)} on learner '{learner.id}'."
            )


def _prune_setup(learner: Any, tokens: TokenSpace, measures: Sequence[Any]) -> tuple[int, float]:
    """The step stride per iteration (the most epochs) and the report orientation."""
    from torchweave.measures import as_measure

    values = learner.param_set.values
    stride = 0
    sign = 1.0
    for pid, value in values.items():
        if pid == "epochs" or pid.endswith(".epochs"):
            upper = getattr(value, "upper", value)
            if isinstance(upper, int | float) and not isinstance(upper, bool):
                stride = max(stride, int(upper))
        if pid == "measures_valid" or pid.endswith(".measures_valid"):
            items = value if isinstance(value, list | tuple) else [value]
            if items and not isinstance(value, TuneToken):
                first = as_measure(items[0])
                sign = 1.0 if bool(first.minimize) == bool(measures[0].minimize) else -1.0
    return stride, sign


def make_instance(
    task: Task,
    learner: Any,
    resampling: Resampling,
    measures: Any = None,
    terminator: Terminator | None = None,
    search_space: SearchSpace | None = None,
    n_jobs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    eval_time_limit: float | None = None,
    store_resample_results: bool = False,
    store_models: bool = False,
) -> TuningInstance:
    """Check the arguments of :func:`tune` and build the :class:`TuningInstance`."""
    from torchweave.measures import as_measures

    if not isinstance(task, Task):
        raise InvalidTypeError(f"tune needs a Task. Got {type(task).__name__} instead.")
    if not isinstance(resampling, Resampling):
        raise InvalidTypeError(
            "tune needs a Resampling such as rsmp('cv', folds=3) for each evaluation. "
            f"Got {type(resampling).__name__} instead."
        )
    learner = as_learner(learner).clone().reset()
    ms = list(as_measures(measures, task_type=task.task_type))
    if terminator is None:
        terminator = TerminatorNone()
    if not isinstance(terminator, Terminator):
        raise InvalidTypeError(
            f"tune needs a Terminator such as tw.trm('evals', n_evals=20). Got "
            f"{type(terminator).__name__} instead."
        )
    if eval_time_limit is not None and (
        not isinstance(eval_time_limit, int | float)
        or isinstance(eval_time_limit, bool)
        or eval_time_limit <= 0
    ):
        raise InvalidParameterError(
            f"'eval_time_limit' must be a number of seconds > 0 or None. Got "
            f"{format_value(eval_time_limit)} instead."
        )
    tokens = space_from_learner(learner)
    if search_space is not None:
        if not isinstance(search_space, SearchSpace):
            raise InvalidTypeError(
                f"'search_space' must be a SearchSpace (tw.ps(...)). Got "
                f"{type(search_space).__name__} instead."
            )
        if len(tokens.space):
            raise InvalidParameterError(
                f"Learner '{learner.id}' holds to_tune() tokens for "
                f"{quote_list(tokens.space.ids)} and a search_space was given too; use one "
                "of them (internal tokens, to_tune(internal=True), combine with either)."
            )
        check_search_space(search_space, learner)
        space = search_space
    else:
        space = tokens.space
    if not len(space) and not tokens.internal:
        raise InvalidParameterError(
            f"Nothing to tune: learner '{learner.id}' holds no to_tune() token and no "
            "search_space was given. Set e.g. learner.param_set.set_values(**{'<id>': "
            "tw.to_tune(1e-4, 1e-1, logscale=True)})."
        )
    _check_internal(learner, tokens)
    jobs = _resolve_jobs(n_jobs)
    if seed is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    plan = resampling.clone()
    if plan.is_instantiated:
        plan._check_fits(task)
    else:
        if plan.random_state is None:  # the splits follow the run's seed
            plan.random_state = int(np.random.SeedSequence([seed]).generate_state(1)[0])
        plan.instantiate(task)
    stride, sign = _prune_setup(learner, tokens, ms)
    return TuningInstance(
        task=task,
        learner=learner,
        resampling=plan,
        measures=ms,
        terminator=terminator,
        tokens=tokens,
        search_space=space,
        n_jobs=jobs,
        batch_size=batch_size or jobs,
        seed=seed,
        eval_time_limit=eval_time_limit,
        store_resample_results=store_resample_results or store_models,
        store_models=store_models,
        prune_stride=stride,
        prune_sign=sign,
    )


def tune(
    tuner: Tuner,
    task: Task,
    learner: Any,
    resampling: Resampling,
    measures: Any = None,
    terminator: Terminator | None = None,
    search_space: SearchSpace | None = None,
    n_jobs: int | None = None,
    seed: int | None = None,
    eval_time_limit: float | None = None,
    store_resample_results: bool = False,
    store_models: bool = False,
) -> TuningInstance:
    """Tune a learner: evaluate configurations by resampling until the terminator stops.

    The parameters to tune are those holding ``tw.to_tune(...)`` tokens, or the
    ``search_space``. Every configuration is resampled on the same splits. A
    configuration that fails (an exception, non-finite scores, a time-out) is archived
    with its error and the worst score of each measure, and tuning goes on.

    Parameters
    ----------
    tuner : Tuner
        ``tw.tnr("random_search")``, ``tw.tnr("grid_search", resolution=5)``,
        ``tw.tnr("optuna")``, ...
    task : Task
        The task.
    learner : Learner
        The learner (a graph learner included), with ``to_tune`` tokens.
    resampling : Resampling
        How each configuration is evaluated (instantiated once on ``task``; without a
        ``random_state`` its splits are drawn from ``seed``).
    measures : Measure, key or list, optional
        What to optimise (default: the task type's default measure). Several
        measures make a multi-objective run: ``instance.pareto_front``.
    terminator : Terminator, optional
        When to stop (``tw.trm("evals", n_evals=20)``); default: never (the tuner
        stops by itself, as a grid search does).
    search_space : SearchSpace, optional
        An explicit space (``tw.ps(...)``) instead of the learner's tokens (internal
        tokens still apply).
    n_jobs : int or None, default None
        joblib workers: the configurations of a batch are evaluated in parallel.
        None lets an active ``joblib.parallel_config`` decide (all of a Dask or Ray
        cluster's workers under their backends), and means one job without one.
        Each evaluation is seeded by ``seed`` and its number, so results do not
        depend on ``n_jobs``.
    seed : int, optional
        Seeds the tuner and the evaluations (default: drawn from numpy's global
        generator).
    eval_time_limit : float, optional
        Seconds one evaluation may take; torch training stops after the batch that
        exceeds it, and the evaluation is archived with status ``"timeout"``.
    store_resample_results : bool, default False
        Keep each evaluation's ResampleResult (``archive["resample_result"]``).
    store_models : bool, default False
        Keep the trained learners in them too.

    Returns
    -------
    TuningInstance
        ``.result`` (best configuration and score), ``.archive`` (a DataFrame, one
        row per evaluation), ``.result_learner()``.

    Examples
    --------
    >>> import torchweave as tw
    >>> learner = tw.lrn("classif.rpart", max_depth=tw.to_tune(1, 4))
    >>> instance = tw.tune(
    ...     tuner=tw.tnr("grid_search", resolution=4), task=tw.tsk("iris"), learner=learner,
    ...     resampling=tw.rsmp("holdout"), measures=tw.msr("classif.ce"), seed=1,
    ... )
    >>> len(instance.archive)
    4
    """
    if not isinstance(tuner, Tuner):
        raise InvalidTypeError(
            f"tune needs a Tuner such as tw.tnr('random_search'). Got {type(tuner).__name__} "
            "instead."
        )
    if terminator is None and not isinstance(tuner, TunerGridSearch):
        raise InvalidParameterError(
            f"Tuner '{tuner.id}' does not stop by itself: pass a terminator, e.g. "
            "terminator=tw.trm('evals', n_evals=20)."
        )
    instance = make_instance(
        task,
        learner,
        resampling,
        measures=measures,
        terminator=terminator,
        search_space=search_space,
        n_jobs=n_jobs,
        batch_size=tuner.batch_size,
        seed=seed,
        eval_time_limit=eval_time_limit,
        store_resample_results=store_resample_results,
        store_models=store_models,
    )
    tuner.optimize(instance)
    return instance
