"""Learners: the Learner base, baselines and scikit-learn estimators as learners."""

from torchweave.learners.convert import as_learner, register_learner_converter
from torchweave.learners.featureless import LearnerClassifFeatureless, LearnerRegrFeatureless
from torchweave.learners.learner import Learner, LearnerState, set_validate, split_validation
from torchweave.learners.sklearn import LearnerSklearn

__all__ = [
    "Learner",
    "LearnerClassifFeatureless",
    "LearnerRegrFeatureless",
    "LearnerSklearn",
    "LearnerState",
    "as_learner",
    "register_learner_converter",
    "set_validate",
    "split_validation",
]
