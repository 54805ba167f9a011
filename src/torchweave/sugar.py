"""Short constructors in mlr3's style: ``tsk``, ``lrn``, ``msr``, ``rsmp``, ``tnr``, ``trm``.

Each looks a key up in its registry (``tw.registry``); an unknown key raises
:class:`~torchweave.errors.UnknownKeyError` (a ``KeyError``) with a suggestion.
"""

from __future__ import annotations

from typing import Any

from torchweave import registry

__all__ = ["lrn", "lrns", "msr", "msrs", "rsmp", "tnr", "tnrs", "trm", "trms", "tsk", "tsks"]


def tsk(key: str, **kwargs: Any) -> Any:
    """A built-in task, e.g. ``tsk("iris")``."""
    return registry.tasks.get(key, **kwargs)


def tsks(*keys: str) -> list[Any]:
    """Several built-in tasks."""
    return [tsk(k) for k in keys]


def lrn(key: str, **params: Any) -> Any:
    """A learner with parameters and fields set: ``lrn("classif.rpart", predict_type="prob")``."""
    return registry.learners.get(key).configure(**params)


def lrns(*keys: str) -> list[Any]:
    """Several learners."""
    return [lrn(k) for k in keys]


def msr(key: str, **kwargs: Any) -> Any:
    """A measure, e.g. ``msr("classif.acc")``."""
    return registry.measures.get(key, **kwargs)


def msrs(*keys: str) -> list[Any]:
    """Several measures."""
    return [msr(k) for k in keys]


def rsmp(key: str, **params: Any) -> Any:
    """A resampling strategy, e.g. ``rsmp("cv", folds=3)``."""
    return registry.resamplings.get(key, **params)


def tnr(key: str, **kwargs: Any) -> Any:
    """A tuner: ``tnr("random_search")``, ``tnr("grid_search", resolution=5)``, ...."""
    return registry.tuners.get(key, **kwargs)


def tnrs(*keys: str) -> list[Any]:
    """Several tuners."""
    return [tnr(k) for k in keys]


def trm(key: str, **kwargs: Any) -> Any:
    """A terminator: ``trm("evals", n_evals=20)``, ``trm("run_time", secs=60)``, ..."""
    return registry.terminators.get(key, **kwargs)


def trms(*keys: str) -> list[Any]:
    """Several terminators."""
    return [trm(k) for k in keys]
