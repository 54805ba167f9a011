"""Conformance suites, in the spirit of scikit-learn's ``check_estimator``.

One suite per kind: :func:`check_param_set`, :func:`check_learner`,
:func:`check_measure`, :func:`check_pipeop`, :func:`check_pipeop_torch` and
:func:`check_callback`. The test suite runs each over every entry of its registry,
so a newly registered object is checked without anyone remembering to add it.
:func:`generate_task` makes small seeded tasks with every feature type.
"""

from torchweave.testing.generate import generate_task
from torchweave.testing.learners import check_learner
from torchweave.testing.measures import check_measure
from torchweave.testing.params import check_param_set
from torchweave.testing.pipeops import check_pipeop

__all__ = [
    "check_callback",
    "check_learner",
    "check_measure",
    "check_param_set",
    "check_pipeop",
    "check_pipeop_torch",
    "generate_task",
]


def __getattr__(name: str) -> object:
    # check_pipeop_torch and check_callback need torch: load them on first use only.
    if name == "check_pipeop_torch":
        from torchweave.testing.pipeops_torch import check_pipeop_torch

        return check_pipeop_torch
    if name == "check_callback":
        from torchweave.testing.callbacks import check_callback

        return check_callback
    raise AttributeError(f"module 'torchweave.testing' has no attribute '{name}'")
