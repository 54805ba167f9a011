"""The errors of saving and loading (torch-free)."""

from __future__ import annotations

from torchweave.errors import Error

__all__ = ["LoadError", "SaveError"]


class SaveError(Error, ValueError):
    """A learner (or a part of it) that cannot be written without pickle.

    The message names the part (a parameter, an operator's state, a callback) and
    says what to do, e.g. move a function from ``__main__`` into an importable module.
    """


class LoadError(Error, ValueError):
    """A saved model or spec that cannot be read: corrupt, truncated, newer or invalid.

    The message names the file.
    """
