"""Shared fixtures: every test starts from seeded random number generators."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=30, deadline=None)
settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    random.seed(1)
    np.random.seed(1)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(1)
