"""Importing this module registers every prebuilt learner (``tw.registry.learners``)."""

from torchweave._lazy import import_modules
from torchweave.prebuilt._names import NAMES

import_modules(sorted(set(NAMES.values())))
