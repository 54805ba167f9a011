"""Fixtures: one small frame, as a pandas task and as a Parquet / DuckDB task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 60
    x = rng.normal(size=n)
    x[[3, 17]] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "z": rng.normal(size=n).astype(np.float32),
            "k": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
            "i": rng.integers(0, 5, size=n),
            "g": np.repeat(np.arange(12), 5),
            "y": np.where(x > 0, "pos", "neg"),
            "r": rng.normal(size=n),
        }
    )


@pytest.fixture
def parquet(tmp_path, frame):
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, row_group_size=16)
    return path
