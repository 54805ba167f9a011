"""The public names of :mod:`torchweave.io`, each with the module defining it (torch-free)."""

__all__ = ["NAMES"]

NAMES: dict[str, str] = {
    "save": "torchweave.io.save",
    "load": "torchweave.io.save",
    "to_spec": "torchweave.io.spec",
    "export_onnx": "torchweave.io.onnx_export",
    "learner_from_spec": "torchweave.io.spec",
    "SaveError": "torchweave.io.errors",
    "LoadError": "torchweave.io.errors",
}
