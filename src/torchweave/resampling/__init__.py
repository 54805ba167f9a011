"""Resampling: strategies that split a task, ``resample`` and ``benchmark``."""

from torchweave.resampling.benchmark import BenchmarkResult, benchmark, benchmark_grid
from torchweave.resampling.resample import ResampleResult, resample
from torchweave.resampling.resampling import (
    Resampling,
    ResamplingBootstrap,
    ResamplingCustom,
    ResamplingCV,
    ResamplingHoldout,
    ResamplingInsample,
    ResamplingRepeatedCV,
    ResamplingSubsampling,
)

__all__ = [
    "BenchmarkResult",
    "ResampleResult",
    "Resampling",
    "ResamplingBootstrap",
    "ResamplingCV",
    "ResamplingCustom",
    "ResamplingHoldout",
    "ResamplingInsample",
    "ResamplingRepeatedCV",
    "ResamplingSubsampling",
    "benchmark",
    "benchmark_grid",
    "resample",
]
