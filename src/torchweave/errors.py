"""The exception hierarchy of torchweave.

Every error that torchweave raises on purpose derives from :class:`Error`, and
also from the built-in exception that fits (``ValueError``, ``TypeError``, ...),
so ``except ValueError`` keeps working for callers that do not know torchweave.
"""

from __future__ import annotations

__all__ = [
    "ChannelTypeError",
    "CorruptCheckpointError",
    "Error",
    "GraphError",
    "InvalidParameterError",
    "InvalidTypeError",
    "MissingDependencyError",
    "NonFiniteLossError",
    "NotTrainedError",
    "PlotError",
    "PredictTypeError",
    "ShapeError",
    "TaskError",
    "UnknownKeyError",
]


class Error(Exception):
    """Base class of every torchweave error."""


class GraphError(Error, ValueError):
    """A graph that cannot be built as asked: duplicate ids, unknown channels, cycles."""


class InvalidParameterError(Error, ValueError):
    """A parameter value (or id) that its owner does not accept."""


class InvalidTypeError(Error, TypeError):
    """An argument of a type the operation cannot take (e.g. ``as_learner(42)``)."""


class MissingDependencyError(Error, ImportError):
    """An optional dependency that the requested feature needs is not installed."""


class PlotError(Error, RuntimeError):
    """Graphviz's ``dot`` program failed to render a graph."""


class NonFiniteLossError(Error, FloatingPointError):
    """Training produced a NaN or infinite loss (the message names epoch and batch)."""


class NotTrainedError(Error, RuntimeError):
    """An object was asked for something that needs training first."""


class ChannelTypeError(Error, TypeError):
    """Two PipeOp channels whose types do not fit together."""


class ShapeError(Error, ValueError):
    """A tensor shape that an operator cannot work with."""


class TaskError(Error, ValueError):
    """A task, or data for a task, that is not valid for the operation."""


class PredictTypeError(Error, ValueError):
    """A prediction that lacks what a measure or operation needs (e.g. ``prob``)."""


class UnknownKeyError(Error, KeyError):
    """A registry key (or other name) that does not exist.

    Unlike a plain ``KeyError``, its message prints without extra quotes.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CorruptCheckpointError(Error, ValueError):
    """A checkpoint file that cannot be read: truncated, garbage or tampered with."""
