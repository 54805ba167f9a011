"""The version of torchweave, importable without loading the rest of the package."""

__all__ = ["__version__"]

__version__ = "0.1.0"
