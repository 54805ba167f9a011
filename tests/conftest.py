"""Shared test set-up: one thread per worker and seeded random number generators."""

from __future__ import annotations

import os

# Two cores are shared by pytest-xdist's workers: one BLAS/OpenMP thread each avoids
# oversubscription, which made single scikit-learn fits take seconds instead of ms.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import random  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(1)
settings.register_profile("ci", max_examples=30, deadline=None)
settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    random.seed(1)
    np.random.seed(1)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(1)
