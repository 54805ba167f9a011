"""Saving learners without pickle, graph specs in YAML / JSON, and ONNX export.

``tw.save(learner, path)`` writes a JSON document (the learner's spec, its trained
state and the task metadata) plus every tensor in safetensors; ``tw.load(path)``
rebuilds the learner from them without unpickling anything. ``tw.to_spec`` and
``tw.learner_from_spec`` read and write the spec alone (an untrained learner), and
``tw.export_onnx`` exports a trained network. See ``docs/saving.md`` and
``docs/onnx.md``.
"""

from torchweave import _lazy
from torchweave.io._names import NAMES

__getattr__, __dir__ = _lazy.lazy_exports(__name__, NAMES)

__all__ = sorted(NAMES)
