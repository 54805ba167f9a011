"""``tnr("optuna", sampler=..., pruner=...)``: Optuna's samplers (TPE by default) and pruners.

Optuna is imported when the tuner is built, never by ``import torchweave``. Each
configuration is one Optuna trial (ask and tell). Several measures make a
multi-objective study. With a pruner, each evaluation reports its per-epoch
validation score to its trial (``iteration * epochs + epoch`` as the step), and a
trial the pruner stops ends its training and is archived as ``"pruned"``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from torchweave.errors import InvalidParameterError, MissingDependencyError
from torchweave.registry import tuners
from torchweave.tuning.tuners.base import Tuner

if TYPE_CHECKING:
    from torchweave.tuning.evaluation import EvalRecord
    from torchweave.tuning.instance import TuningInstance

__all__ = ["TunerOptuna"]


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - optuna is a dev dependency
        raise MissingDependencyError(
            'tnr("optuna") needs the optuna package: pip install optuna.'
        ) from exc
    return optuna


class TunerOptuna(Tuner):
    """Tuning with an Optuna sampler; any sampler works (TPE, CMA-ES, random, NSGA-II, ...).

    Parameters
    ----------
    sampler : optuna.samplers.BaseSampler, optional
        Default: ``TPESampler`` seeded by the run.
    pruner : optuna.pruners.BasePruner, optional
        Stops unpromising evaluations from their per-epoch validation scores (torch
        learners with ``measures_valid``). Default: no pruning.
    batch_size : int or None, default None
        Trials asked before their results are told (``None``: ``n_jobs``).

    Attributes
    ----------
    study : optuna.Study or None
        The study of the last run.

    Examples
    --------
    >>> import optuna
    >>> import torchweave as tw
    >>> tw.tnr("optuna", sampler=optuna.samplers.CmaEsSampler(seed=1))
    <TunerOptuna:optuna>
    """

    id = "optuna"

    def __init__(
        self, sampler: Any = None, pruner: Any = None, batch_size: int | None = None
    ) -> None:
        super().__init__(batch_size)
        optuna = _optuna()
        if sampler is not None and not isinstance(sampler, optuna.samplers.BaseSampler):
            raise InvalidParameterError(
                "The 'sampler' parameter of tuner 'optuna' must be an optuna sampler "
                f"(optuna.samplers.*). Got {type(sampler).__name__} instead."
            )
        if pruner is not None and not isinstance(pruner, optuna.pruners.BasePruner):
            raise InvalidParameterError(
                "The 'pruner' parameter of tuner 'optuna' must be an optuna pruner "
                f"(optuna.pruners.*). Got {type(pruner).__name__} instead."
            )
        self.sampler = sampler
        self.pruner = pruner
        self.study: Any = None
        self._pending: list[Any] = []

    def _start(self, instance: TuningInstance) -> None:
        optuna = _optuna()
        sampler = self.sampler
        if sampler is None:
            sampler = optuna.samplers.TPESampler(seed=int(instance.rng.integers(2**31 - 1)))
        directions = ["minimize" if m.minimize else "maximize" for m in instance.measures]
        if self.pruner is not None and len(directions) > 1:
            raise InvalidParameterError(
                "Optuna prunes single-objective studies only; tune with one measure or "
                "without a pruner."
            )
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created" line
        try:
            self.study = optuna.create_study(
                directions=directions,
                sampler=sampler,
                pruner=self.pruner if self.pruner is not None else optuna.pruners.NopPruner(),
            )
        finally:
            optuna.logging.set_verbosity(verbosity)

    def _ask(self, instance: TuningInstance, n: int) -> list[dict[str, Any]]:
        self._pending = [self.study.ask() for _ in range(n)]
        return [instance.search_space.suggest(trial) for trial in self._pending]

    def _trials(self) -> list[Any] | None:
        return list(self._pending) if self.pruner is not None else None

    def _tell(self, instance: TuningInstance, records: list[EvalRecord]) -> None:
        optuna = _optuna()
        state = optuna.trial.TrialState
        for trial, record in zip(self._pending, records, strict=True):
            values = [record.scores[m.id] for m in instance.measures]
            if record.status == "pruned":
                self.study.tell(trial, state=state.PRUNED)
            elif all(math.isfinite(v) for v in values):
                # A failed configuration is told its worst score, so the sampler avoids it.
                self.study.tell(trial, values if len(values) > 1 else values[0])
            else:
                self.study.tell(trial, state=state.FAIL)
        self._pending = []


tuners.register("optuna", TunerOptuna)
