"""Thread caps inside joblib workers (Dask, Ray, loky), so that workers do not oversubscribe.

A worker that runs one iteration gets a number of cores from its engine: a Dask worker
its ``nthreads``, a Ray worker the CPUs assigned to it, a loky worker the threads joblib
gives it (``OMP_NUM_THREADS``). :func:`worker_thread_cap` reads that number (None in the
main process), and :func:`capped_threads` caps torch's threads and the BLAS / OpenMP
thread pools to it while an iteration runs. While a cap is active, torch learners use
``min(num_threads, cap)`` threads (:func:`cap_threads`, read by ``torch_settings``).

Torch-free: it touches torch only when torch is already imported.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Iterator

__all__ = ["cap_threads", "capped_threads", "worker_thread_cap"]

_CAP: list[int] = []


def cap_threads(num_threads: int) -> int:
    """``num_threads``, lowered to the active worker cap (if any)."""
    return min(num_threads, _CAP[-1]) if _CAP else num_threads


def _dask_threads() -> int | None:
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker

    try:
        return int(get_worker().state.nthreads)
    except ValueError:  # not inside a Dask worker
        return None


def _ray_threads() -> int | None:
    if "ray" not in sys.modules:
        return None
    import ray

    if not ray.is_initialized():
        return None
    context = ray.get_runtime_context()
    if context.worker.mode != ray.WORKER_MODE:  # the driver
        return None
    cpus = context.get_assigned_resources().get("CPU")
    return max(1, int(cpus)) if cpus else 1


def _child_process_threads() -> int | None:
    if multiprocessing.parent_process() is None:
        return None
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def worker_thread_cap() -> int | None:
    """The cores this process may use as a joblib worker; None in the main process."""
    for probe in (_dask_threads, _ray_threads, _child_process_threads):
        cap = probe()
        if cap is not None:
            return cap
    return None


@contextlib.contextmanager
def capped_threads(cap: int | None) -> Iterator[None]:
    """Cap torch's and the native thread pools' threads to ``cap`` for a block.

    ``None`` changes nothing. Torch learners started in the block use at most ``cap``
    threads whatever their ``num_threads``.
    """
    if cap is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    old = torch.get_num_threads() if torch is not None else None
    _CAP.append(cap)
    try:
        if torch is not None and old is not None and old > cap:
            torch.set_num_threads(cap)
        with threadpool_limits(cap):
            yield
    finally:
        _CAP.pop()
        if torch is not None and old is not None:
            torch.set_num_threads(old)
