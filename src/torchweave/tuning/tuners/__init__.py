"""The tuners: random search, grid search and Optuna (each registers its key)."""

from torchweave.tuning.tuners.base import Tuner
from torchweave.tuning.tuners.grid_search import TunerGridSearch
from torchweave.tuning.tuners.optuna import TunerOptuna
from torchweave.tuning.tuners.random_search import TunerRandomSearch

__all__ = ["Tuner", "TunerGridSearch", "TunerOptuna", "TunerRandomSearch"]
