"""Small, fast settings of each prebuilt learner for the conformance suite."""

from __future__ import annotations

from typing import Any

from torchweave.learners.learner import Learner
from torchweave.registry import learners

__all__ = ["CONFORMANCE_PARAMS", "conformance_learner"]

_TORCH = {"epochs": 2, "batch_size": 16, "device": "cpu", "seed": 1}

#: Parameter values per learner name (the key without its task type).
CONFORMANCE_PARAMS: dict[str, dict[str, Any]] = {
    "mlp": {"neurons": [8]},
    "tab_resnet": {
        "n_blocks": 1,
        "d_block": 8,
        "d_hidden_multiplier": 1.0,
        "dropout1": 0.1,
        "dropout2": 0.1,
    },
    "ft_transformer": {"n_blocks": 1, "d_token": 8, "attention_n_heads": 2},
    "tabm": {"k": 4, "d_block": 16, "n_blocks": 1},
    "torch_featureless": {},
    "module": {},
    "resnet_small": {"channels": 4, "n_blocks": 1},
}


def conformance_learner(key: str) -> Learner:
    """The learner under ``key`` with small sizes, 2 epochs, batch size 16 and a seed."""
    name = key.split(".", 1)[1]
    learner = learners.get(key)
    learner.param_set.set_values({**_TORCH, **CONFORMANCE_PARAMS[name]})
    return learner
