"""``nn(key, **params)``: layer operators with short ids."""

from __future__ import annotations

import re
from typing import Any

from torchweave.pipelines.sugar import po

__all__ = ["nn"]

_SUFFIX = re.compile(r"^(.*?)_(\d+)$")


def nn(key: str, *args: Any, id: str | None = None, **params: Any) -> Any:
    """A layer operator: ``nn("linear", out_features=20)`` is ``po("nn_linear", id="linear", ...)``.

    A numeric suffix names another instance of the same layer: ``nn("linear_2")`` has
    id ``linear_2``. An explicit ``id`` wins.

    Examples
    --------
    >>> import torchweave as tw
    >>> op = tw.nn("linear_2", out_features=3)
    >>> type(op).__name__, op.id
    ('PipeOpTorchLinear', 'linear_2')
    """
    from torchweave import registry

    base = key
    match = _SUFFIX.match(key)
    if f"nn_{key}" not in registry.pipeops and match:
        base = match.group(1)
    return po(f"nn_{base}", *args, id=id or key, **params)
