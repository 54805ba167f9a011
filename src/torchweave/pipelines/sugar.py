"""``po`` and ``pos``: construct registered PipeOps by key."""

from __future__ import annotations

import inspect
import re
from typing import Any

from torchweave import registry

__all__ = ["po", "pos"]


def po(key: Any, *args: Any, id: str | None = None, **params: Any) -> Any:
    """A PipeOp by registry key, e.g. ``po("scale", robust=True)`` or ``po("learner", lrn(...))``.

    Keyword arguments that the operator's constructor takes (``outnum`` of ``copy``,
    ``transformer`` of ``sklearn``) go to the constructor; the others are parameter
    values. A Learner (instead of a key) is wrapped as ``po("learner", learner)``.

    Raises
    ------
    UnknownKeyError
        For an unknown key, with the closest keys suggested.
    InvalidParameterError
        For an unknown parameter or an invalid value.
    """
    from torchweave.learners.learner import Learner

    if isinstance(key, Learner):
        args, key = (key, *args), "learner"
    match = re.match(r"^(.*?)_(\d+)$", key) if isinstance(key, str) else None
    if match and key not in registry.pipeops and match.group(1) in registry.pipeops:
        # po("nn_relu_1") is po("nn_relu", id="nn_relu_1"), as in mlr3pipelines.
        id, key = id or key, match.group(1)
    constructor = registry.pipeops.constructor(key)
    signature = inspect.signature(constructor)
    ctor_kwargs = {k: params.pop(k) for k in list(params) if k in signature.parameters}
    if id is not None:
        ctor_kwargs["id"] = id
    op = constructor(*args, **ctor_kwargs)
    if params:
        op.param_set.set_values(params)
    return op


def pos(*keys: str) -> list[Any]:
    """Several PipeOps with default settings."""
    return [po(k) for k in keys]
