"""One local Dask cluster and one local Ray instance for the scale-out tests.

Both are module-scoped fixtures started inside the tests and shut down after them:
a ``LocalCluster`` of 2 worker processes with 1 thread each, and Ray with 2 CPUs (Ray
starts slowly, so every Ray test shares the one instance).
"""

import os
import sys

import pytest


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    import dask

    # Without this, the nanny also sets MALLOC_TRIM_THRESHOLD_ in this process, which
    # slows torch in every later test (docs/scaling_out.md).
    no_trim = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    with dask.config.set(no_trim):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def ray_backend():
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    # The workers import the test helpers (callbacks, loops) the way this process does.
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": env},
    )
    register_ray()
    yield ray
    ray.shutdown()
