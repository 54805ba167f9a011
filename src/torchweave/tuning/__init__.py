"""Hyperparameter tuning (mlr3tuning in Python): to_tune, ps, tune, auto_tuner, tnr, trm.

Torch-free: Optuna and matplotlib are imported only when ``tnr("optuna")`` or a plot
is used. See docs/tuning.md.
"""

from torchweave.tuning.auto_tuner import AutoTuner, auto_tuner
from torchweave.tuning.evaluation import EvalRecord
from torchweave.tuning.instance import TuningInstance, TuningResult
from torchweave.tuning.plots import plot_tuning_history, plot_tuning_params
from torchweave.tuning.pruning import (
    CallbackSetPruning,
    CallbackSetTimeLimit,
    EvaluationPrunedError,
    EvaluationTimeoutError,
)
from torchweave.tuning.search_space import SearchSpace, ps
from torchweave.tuning.terminators import (
    Terminator,
    TerminatorCombo,
    TerminatorEvals,
    TerminatorNone,
    TerminatorPerfReached,
    TerminatorRunTime,
    TerminatorStagnation,
)
from torchweave.tuning.tokens import to_tune
from torchweave.tuning.tune import tune
from torchweave.tuning.tuners import Tuner, TunerGridSearch, TunerOptuna, TunerRandomSearch

__all__ = [
    "AutoTuner",
    "CallbackSetPruning",
    "CallbackSetTimeLimit",
    "EvalRecord",
    "EvaluationPrunedError",
    "EvaluationTimeoutError",
    "SearchSpace",
    "Terminator",
    "TerminatorCombo",
    "TerminatorEvals",
    "TerminatorNone",
    "TerminatorPerfReached",
    "TerminatorRunTime",
    "TerminatorStagnation",
    "Tuner",
    "TunerGridSearch",
    "TunerOptuna",
    "TunerRandomSearch",
    "TuningInstance",
    "TuningResult",
    "auto_tuner",
    "plot_tuning_history",
    "plot_tuning_params",
    "ps",
    "to_tune",
    "tune",
]
