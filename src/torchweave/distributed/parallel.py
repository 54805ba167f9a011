"""One ``joblib.Parallel`` run for the package: shared arguments, thread caps, progress.

:func:`run_parallel` is how ``resample``, ``benchmark`` (and anything else in the package
that runs many fits) call joblib. It works with whichever backend is active, so users
scale out with joblib's own switch and no other change to their code::

    with joblib.parallel_config(backend="dask"):   # a dask.distributed Client exists
        tw.resample(task, learner, rsmp("cv", folds=10))

Under the ``dask`` backend, the objects named ``shared`` (tasks, learner prototypes) are
scattered to the cluster once (``client.scatter``) and passed as futures; under Ray's
backend (``ray.util.joblib.register_ray()``) they are put into Ray's object store once
(``ray.put``) and each worker process reads them once. Other backends get them as they
are. In every worker, the call runs with its threads capped to the worker's cores
(:mod:`torchweave.distributed.threads`). A tqdm bar counts finished calls with every backend
(shown when stderr is a terminal).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from joblib import Parallel, delayed
from joblib.parallel import get_active_backend
from tqdm import tqdm

from torchweave.distributed.threads import capped_threads, worker_thread_cap

__all__ = ["active_backend", "progress_bar", "run_parallel"]

#: Objects read from Ray's object store in this process, by object id (a few at most).
_RAY_CACHE: OrderedDict[str, Any] = OrderedDict()
_RAY_CACHE_SIZE = 8


def active_backend() -> tuple[str, Any, int | None]:
    """The active joblib backend: its kind, the backend, the configured ``n_jobs``.

    The kind is ``"dask"``, ``"ray"``, ``"loky"``, ``"threading"``, ``"sequential"``
    ...; ``n_jobs`` is that of the active ``parallel_config`` (None if unset).
    """
    backend, config_jobs = get_active_backend()
    jobs = config_jobs if isinstance(config_jobs, int) else None
    name = type(backend).__name__
    for key, kind in (("Dask", "dask"), ("Ray", "ray"), ("Loky", "loky")):
        if key in name:
            return kind, backend, jobs
    return name.removesuffix("Backend").lower(), backend, jobs


def progress_bar(total: int, desc: str) -> Any:
    """The progress bar over finished calls (shown when stderr is a terminal)."""
    return tqdm(total=total, desc=desc, disable=not sys.stderr.isatty())


class _RayShared:
    """A reference to an object in Ray's object store, read once per worker process."""

    def __init__(self, ref: Any) -> None:
        self.ref = ref

    def get(self) -> Any:
        key = self.ref.hex()
        if key in _RAY_CACHE:
            _RAY_CACHE.move_to_end(key)
            return _RAY_CACHE[key]
        import ray

        value = ray.get(self.ref)
        _RAY_CACHE[key] = value
        while len(_RAY_CACHE) > _RAY_CACHE_SIZE:
            _RAY_CACHE.popitem(last=False)
        return value


class WorkerCall:
    """Runs ``fn`` in a worker: resolves shared arguments, caps the threads.

    Parameters
    ----------
    fn : callable
        A picklable function (module level).
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        args = tuple(a.get() if isinstance(a, _RayShared) else a for a in args)
        with capped_threads(worker_thread_cap()):
            return self.fn(*args)


class _ProgressParallel(Parallel):
    """``joblib.Parallel`` that moves a progress bar as calls finish, with any backend.

    joblib reports every finished batch through ``print_progress`` (its ``verbose``
    output), whatever the backend; Ray's backend has no ``return_as="generator"``.
    """

    def __init__(self, bar: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bar = bar
        self._bar_lock = threading.Lock()

    def print_progress(self) -> None:
        with self._bar_lock:
            done = min(self.n_completed_tasks, self._bar.total)
            if done > self._bar.n:
                self._bar.update(done - self._bar.n)


def _share(objects: Sequence[Any], backend_kind: str, backend: Any) -> dict[int, Any]:
    """Handles of ``objects`` on the cluster, by ``id`` of the object."""
    unique = {id(obj): obj for obj in objects}
    if backend_kind == "dask":
        client = backend.client
        # One-element lists, so that a list-like object is scattered whole.
        return {key: client.scatter([obj], hash=False)[0] for key, obj in unique.items()}
    if backend_kind == "ray":
        import ray

        return {key: _RayShared(ray.put(obj)) for key, obj in unique.items()}
    return {}


def run_parallel(
    fn: Callable[..., Any],
    calls: Sequence[Sequence[Any]],
    n_jobs: int | None,
    desc: str,
    shared: Sequence[Any] = (),
) -> list[Any]:
    """``[fn(*args) for args in calls]`` through ``joblib.Parallel``, in order.

    Parameters
    ----------
    fn : callable
        A picklable (module-level) function.
    calls : sequence of sequences
        The positional arguments of each call.
    n_jobs : int or None
        joblib's ``n_jobs``; None lets an active ``joblib.parallel_config`` decide (one
        job without one; under Dask's and Ray's backends, all of the cluster's cores).
    desc : str
        The progress bar's label.
    shared : sequence
        Large objects that several calls receive (tasks, learners): under Dask and Ray
        they are sent to the cluster once. An argument is replaced when it *is* one of
        them (identity, not equality).

    Returns
    -------
    list
        The results, in the order of ``calls``.
    """
    kind, backend, config_jobs = active_backend()
    if n_jobs is None and config_jobs is None and kind == "ray":
        n_jobs = -1  # all of the Ray cluster's CPUs, as the Dask backend does by default
    handles = _share(shared, kind, backend) if n_jobs != 1 and calls else {}
    worker = WorkerCall(fn)
    jobs = [
        delayed(worker)(*(handles.get(id(a), a) if handles else a for a in args)) for args in calls
    ]
    with progress_bar(len(jobs), desc) as bar:
        results = _ProgressParallel(bar, n_jobs=n_jobs)(jobs)
    handles.clear()  # releases the scattered data
    return results
