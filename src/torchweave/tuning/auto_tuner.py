"""AutoTuner: a learner that tunes on its training data, then refits (mlr3tuning's AutoTuner).

``resample(task, auto_tuner(...), outer)`` is nested resampling: every outer training
set is tuned with the inner resampling, and the refit model predicts the outer test
set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torchweave.data.prediction import Prediction
from torchweave.data.task import Task
from torchweave.errors import InvalidTypeError
from torchweave.learners.convert import as_learner
from torchweave.learners.learner import Learner
from torchweave.resampling.resampling import Resampling
from torchweave.tuning.instance import TuningInstance
from torchweave.tuning.search_space import SearchSpace
from torchweave.tuning.terminators import Terminator
from torchweave.tuning.tune import tune
from torchweave.tuning.tuners.base import Tuner

__all__ = ["AutoTuner", "auto_tuner"]


class AutoTuner(Learner):
    """A learner that tunes its hyperparameters on the training data, then refits.

    ``train(task)`` runs :func:`~torchweave.tuning.tune` on the task, configures a
    clone of the learner with the best configuration (internally tuned epochs
    included, early stopping switched off) and trains it on all of the task.
    ``predict`` uses that model.

    Parameters
    ----------
    tuner, learner, resampling, measures, terminator, search_space, n_jobs, seed,
    eval_time_limit
        As in :func:`~torchweave.tuning.tune`.
    store_tuning_instance : bool, default True
        Keep the tuning instance in the model (``tuning_instance``).
    id : str, optional
        Learner id (default: ``"<learner id>.tuned"``).

    Attributes
    ----------
    tuning_instance : TuningInstance or None
        The instance of the last training.
    tuning_result : TuningResult or None
        Its result.
    learner : Learner
        The untrained learner (with its tokens).
    """

    def __init__(
        self,
        tuner: Tuner,
        learner: Any,
        resampling: Resampling,
        measures: Any = None,
        terminator: Terminator | None = None,
        search_space: SearchSpace | None = None,
        n_jobs: int | None = None,
        seed: int | None = None,
        eval_time_limit: float | None = None,
        store_tuning_instance: bool = True,
        id: str | None = None,
    ) -> None:
        if not isinstance(tuner, Tuner):
            raise InvalidTypeError(
                f"auto_tuner needs a Tuner such as tw.tnr('random_search'). Got "
                f"{type(tuner).__name__} instead."
            )
        inner = as_learner(learner).clone().reset()
        self.learner = inner
        self.tuner = tuner
        self.resampling = resampling
        self.measures = measures
        self.terminator = terminator
        self.search_space = search_space
        self.n_jobs = n_jobs
        self.seed = seed
        self.eval_time_limit = eval_time_limit
        self.store_tuning_instance = store_tuning_instance
        super().__init__(
            id or f"{inner.id}.tuned",
            task_type=inner.task_type,
            predict_types=inner.predict_types,
            feature_types=inner.feature_types,
            properties=inner.properties - {"validation", "internal_tuning"},
            label=f"Auto-tuned {inner.id}",
        )
        self._predict_type = inner.predict_type

    @property
    def predict_type(self) -> str:
        """The predict type, shared with the tuned learner."""
        return self._predict_type

    @predict_type.setter
    def predict_type(self, value: str) -> None:
        Learner.predict_type.fset(self, value)  # type: ignore[attr-defined]
        self.learner.predict_type = value

    def _check_features(self, task: Task) -> None:
        """The tuned learner checks the features it receives."""

    def _check_values(self, task: Task, phase: str) -> None:
        """The tuned learner checks the values it receives."""

    def _train(self, task: Task) -> dict[str, Any]:
        instance = tune(
            self.tuner,
            task,
            self.learner,
            self.resampling,
            measures=self.measures,
            terminator=self.terminator,
            search_space=self.search_space,
            n_jobs=self.n_jobs,
            seed=self.seed,
            eval_time_limit=self.eval_time_limit,
        )
        final = instance.result_learner()
        final.train(task)
        return {
            "learner": final,
            "tuning_result": instance.result,
            "tuning_instance": instance if self.store_tuning_instance else None,
        }

    def _predict(self, task: Task) -> Mapping[str, Any]:
        prediction: Prediction = self.model["learner"].predict(task)
        return prediction  # type: ignore[return-value]

    @property
    def tuning_instance(self) -> TuningInstance | None:
        """The tuning instance of the last training (None before, or when not stored)."""
        return None if self.model is None else self.model["tuning_instance"]

    @property
    def tuning_result(self) -> Any:
        """The tuning result of the last training (None before)."""
        return None if self.model is None else self.model["tuning_result"]

    @property
    def base_learner(self) -> Learner | None:
        """The final, refit learner (None before training)."""
        return None if self.model is None else self.model["learner"]


def auto_tuner(
    tuner: Tuner,
    learner: Any,
    resampling: Resampling,
    measures: Any = None,
    terminator: Terminator | None = None,
    search_space: SearchSpace | None = None,
    n_jobs: int | None = None,
    seed: int | None = None,
    eval_time_limit: float | None = None,
    store_tuning_instance: bool = True,
    id: str | None = None,
) -> AutoTuner:
    """An :class:`AutoTuner`: tunes on its training data, refits, predicts.

    Examples
    --------
    >>> import torchweave as tw
    >>> at = tw.auto_tuner(
    ...     tuner=tw.tnr("grid_search", resolution=3),
    ...     learner=tw.lrn("classif.rpart", max_depth=tw.to_tune(1, 3)),
    ...     resampling=tw.rsmp("holdout"), measures=tw.msr("classif.ce"), seed=1,
    ... )
    >>> rr = tw.resample(tw.tsk("iris"), at, tw.rsmp("cv", folds=2))  # nested resampling
    >>> rr.iters
    2
    """
    return AutoTuner(
        tuner,
        learner,
        resampling,
        measures=measures,
        terminator=terminator,
        search_space=search_space,
        n_jobs=n_jobs,
        seed=seed,
        eval_time_limit=eval_time_limit,
        store_tuning_instance=store_tuning_instance,
        id=id,
    )
