"""The preprocessing graph of a lazy tensor, as immutable nodes shared between descriptors.

A node is a dataset element (a source), a function of other nodes' outputs, or one
output of a node returning a tuple. Appending a step to a lazy tensor creates one new
node whose input is the old pointer node, so lazy tensors derived from one another
share their common steps: evaluating several of them with one memo (per batch) reads
the dataset once and runs each shared step once. This replaces mlr3torch's merging of
preprocessing graphs (§7.5) and costs no graph machinery per batch.

Every node carries a content token (a hash of its id, its function with the parameter
values bound to it, and its inputs' tokens), so two nodes built the same way from the
same dataset are interchangeable; descriptors compare by these tokens.
"""

from __future__ import annotations

import hashlib
import pickle
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["PreprocNode", "digest", "evaluate", "fingerprint", "identity"]


def identity(x: torch.Tensor) -> torch.Tensor:
    """Return the input (the step a train-only preprocessing inserts at predict time)."""
    return x


def fingerprint(obj: Any) -> str:
    """A content hash of a picklable object; a fresh unique token for anything else."""
    try:
        data = pickle.dumps(obj, protocol=4)
    except Exception:  # lambdas, local functions, open handles: unique, never shared
        return "unique:" + uuid.uuid4().hex
    return hashlib.sha1(data).hexdigest()


def digest(*parts: str) -> str:
    """A hash of some strings."""
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


class PreprocNode:
    """One step of a preprocessing graph (immutable; copies are the node itself).

    Parameters
    ----------
    id : str
        The step id (``"<operator id>.<column>"`` for steps added by operators).
    fn : callable, optional
        The function of the input values; ``None`` for sources and picks.
    inputs : sequence of PreprocNode
        The nodes whose outputs ``fn`` takes, by position.
    key : str, optional
        For a source: the dataset element it reads.
    pick : int, optional
        For a pick: which element of its single input's (tuple) output it is.
    augment : bool
        Whether the step is a random augmentation (used to warn about freezing it).
    salt : str
        Extra token input (a source passes its dataset's token).
    """

    __slots__ = ("augment", "fn", "id", "inputs", "key", "pick", "token")

    id: str
    fn: Callable[..., Any] | None
    inputs: tuple[PreprocNode, ...]
    key: str | None
    pick: int | None
    augment: bool
    token: str

    def __init__(
        self,
        id: str,
        fn: Callable[..., Any] | None = None,
        inputs: Sequence[PreprocNode] = (),
        key: str | None = None,
        pick: int | None = None,
        augment: bool = False,
        salt: str = "",
    ) -> None:
        self.id = id
        self.fn = fn
        self.inputs = tuple(inputs)
        self.key = key
        self.pick = pick
        self.augment = augment
        self.token = digest(
            id,
            salt,
            "" if key is None else key,
            "" if pick is None else str(pick),
            "augment" if augment else "",
            "" if fn is None else fingerprint(fn),
            *(node.token for node in self.inputs),
        )

    def __copy__(self) -> PreprocNode:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> PreprocNode:
        return self

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"<PreprocNode {self.id}>"

    def upstream(self) -> list[PreprocNode]:
        """The node and every node it depends on, inputs before their users."""
        order: list[PreprocNode] = []
        seen: set[str] = set()

        def visit(node: PreprocNode) -> None:
            if node.token in seen:
                return
            seen.add(node.token)
            for parent in node.inputs:
                visit(parent)
            order.append(node)

        visit(self)
        return order

    def has_augmentation(self) -> bool:
        """Whether this node or one it depends on is a random augmentation."""
        return any(node.augment for node in self.upstream())


def evaluate(
    node: PreprocNode, fetch: Callable[[], dict[str, torch.Tensor]], memo: dict[Any, Any]
) -> Any:
    """The output of ``node``, computing (and remembering in ``memo``) what it needs.

    ``fetch()`` returns the dataset batch (element name -> tensor); ``memo`` maps
    node tokens to outputs and may be shared by lazy tensors over the same rows.
    """
    value = memo.get(node.token)
    if value is not None:
        return value
    if node.key is not None:
        value = fetch()[node.key]
    elif node.pick is not None:
        value = evaluate(node.inputs[0], fetch, memo)[node.pick]
    else:
        assert node.fn is not None
        value = node.fn(*[evaluate(parent, fetch, memo) for parent in node.inputs])
    memo[node.token] = value
    return value
