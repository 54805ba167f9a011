"""``as_learner``: turn estimators (and, from higher layers, graphs) into learners.

Higher layers register converters with :func:`register_learner_converter`, so this
module never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torchweave.errors import InvalidTypeError
from torchweave.learners.learner import Learner

__all__ = ["as_learner", "register_learner_converter"]

_CONVERTERS: list[tuple[Callable[[Any], bool], Callable[..., Learner]]] = []


def register_learner_converter(
    accepts: Callable[[Any], bool], convert: Callable[..., Learner]
) -> None:
    """Let :func:`as_learner` convert objects for which ``accepts(obj)`` is true.

    Converters registered later are tried first.
    """
    _CONVERTERS.insert(0, (accepts, convert))


def as_learner(x: Any, clone: bool = False, **kwargs: Any) -> Learner:
    """Convert ``x`` to a :class:`Learner`.

    Parameters
    ----------
    x : Learner, scikit-learn estimator, Graph or PipeOp
        A learner is returned as is (or cloned); a scikit-learn classifier or
        regressor is wrapped; a Graph becomes a GraphLearner.
    clone : bool, default False
        Return a deep copy of a learner instead of the learner itself.
    **kwargs
        Passed to the converter (e.g. ``feature_types`` for estimators).

    Raises
    ------
    InvalidTypeError
        If nothing can convert ``x`` (a ``TypeError``).
    """
    if isinstance(x, Learner):
        return x.clone() if clone else x
    for accepts, convert in _CONVERTERS:
        if accepts(x):
            return convert(x, **kwargs)
    raise InvalidTypeError(
        f"as_learner cannot convert an object of type {type(x).__name__}. It takes a Learner, "
        "a scikit-learn classifier or regressor, or a Graph."
    )
