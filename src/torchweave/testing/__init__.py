"""Conformance suites, in the spirit of scikit-learn's ``check_estimator``.

One suite per kind: :func:`check_param_set`, :func:`check_learner`,
:func:`check_measure` and :func:`check_pipeop`. The test suite runs each over every
entry of its registry, so a newly registered object is checked without anyone
remembering to add it. :func:`generate_task` makes small seeded tasks with every
feature type.
"""

from torchweave.testing.generate import generate_task
from torchweave.testing.learners import check_learner
from torchweave.testing.measures import check_measure
from torchweave.testing.params import check_param_set
from torchweave.testing.pipeops import check_pipeop

__all__ = ["check_learner", "check_measure", "check_param_set", "check_pipeop", "generate_task"]
