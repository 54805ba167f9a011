"""The built-in optimizers (``t_opt(key)``), with ParamSets mirroring ``torch.optim``.

Each mirrors its class's constructor, without ``params`` (passed by ``generate``) and
without the performance switches ``foreach``, ``capturable``, ``differentiable`` and
``fused`` (listed in ``omitted``). Every optimizer also has ``param_groups``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

from torchweave.params.param import Param, p_dbl, p_lgl, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import optimizers
from torchweave.training.descriptors import TorchOptimizer

__all__: list[str] = []

_BETAS = "a pair of floats in [0, 1)"


def check_betas(value: Any) -> str | None:
    """Custom check of ``betas``: two floats in [0, 1)."""
    ok = (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(
            isinstance(b, numbers.Real)
            and not isinstance(b, bool)
            and math.isfinite(float(b))
            and 0 <= float(b) < 1
            for b in value
        )
    )
    return None if ok else _BETAS


def _lr(default: float) -> Param:
    return p_dbl(0, default=default, tags="train", description="learning rate")


def _betas() -> Param:
    return p_uty(
        custom_check=check_betas,
        expected=_BETAS,
        default=(0.9, 0.999),
        tags="train",
        description="coefficients of the running averages of the gradient and its square",
    )


def _nonneg(default: float, description: str = "") -> Param:
    return p_dbl(0, default=default, tags="train", description=description)


def _flag(default: bool, description: str = "") -> Param:
    return p_lgl(default=default, tags="train", description=description)


def _maximize() -> Param:
    return _flag(False, "maximize the objective instead of minimizing it")


_SPECS: dict[str, tuple[type[torch.optim.Optimizer], str, tuple[str, ...], dict[str, Param]]] = {}


def _spec(
    key: str,
    cls: type[torch.optim.Optimizer],
    label: str,
    omitted: tuple[str, ...],
    **params: Param,
) -> None:
    _SPECS[key] = (cls, label, omitted, params)


_spec(
    "adam",
    torch.optim.Adam,
    "Adaptive Moment Estimation",
    ("foreach", "capturable", "differentiable", "fused"),
    lr=_lr(0.001),
    betas=_betas(),
    eps=_nonneg(1e-8),
    weight_decay=_nonneg(0.0),
    amsgrad=_flag(False),
    maximize=_maximize(),
    decoupled_weight_decay=_flag(False),
)
_spec(
    "adamw",
    torch.optim.AdamW,
    "Decoupled Weight Decay Regularization",
    ("foreach", "capturable", "differentiable", "fused"),
    lr=_lr(0.001),
    betas=_betas(),
    eps=_nonneg(1e-8),
    weight_decay=_nonneg(0.01),
    amsgrad=_flag(False),
    maximize=_maximize(),
)
_spec(
    "sgd",
    torch.optim.SGD,
    "Stochastic Gradient Descent",
    ("foreach", "differentiable", "fused"),
    lr=_lr(0.001),
    momentum=_nonneg(0.0),
    dampening=p_dbl(0, 1, default=0.0, tags="train"),
    weight_decay=_nonneg(0.0),
    nesterov=_flag(False),
    maximize=_maximize(),
)
_spec(
    "rmsprop",
    torch.optim.RMSprop,
    "Root Mean Square Propagation",
    ("capturable", "foreach", "differentiable"),
    lr=_lr(0.01),
    alpha=_nonneg(0.99),
    eps=_nonneg(1e-8),
    weight_decay=_nonneg(0.0),
    momentum=_nonneg(0.0),
    centered=_flag(False),
    maximize=_maximize(),
)
_spec(
    "adagrad",
    torch.optim.Adagrad,
    "Adaptive Gradient algorithm",
    ("foreach", "differentiable", "fused"),
    lr=_lr(0.01),
    lr_decay=_nonneg(0.0),
    weight_decay=_nonneg(0.0),
    initial_accumulator_value=_nonneg(0.0),
    eps=_nonneg(1e-10),
    maximize=_maximize(),
)
_spec(
    "adadelta",
    torch.optim.Adadelta,
    "Adaptive Learning Rate Method",
    ("foreach", "capturable", "differentiable"),
    lr=_lr(1.0),
    rho=p_dbl(0, 1, default=0.9, tags="train"),
    eps=_nonneg(1e-6),
    weight_decay=_nonneg(0.0),
    maximize=_maximize(),
)
_spec(
    "adamax",
    torch.optim.Adamax,
    "Adamax (Adam with the infinity norm)",
    ("foreach", "differentiable", "capturable"),
    lr=_lr(0.002),
    betas=_betas(),
    eps=_nonneg(1e-8),
    weight_decay=_nonneg(0.0),
    maximize=_maximize(),
)
_spec(
    "nadam",
    torch.optim.NAdam,
    "Nesterov-accelerated Adam",
    ("foreach", "capturable", "differentiable"),
    lr=_lr(0.002),
    betas=_betas(),
    eps=_nonneg(1e-8),
    weight_decay=_nonneg(0.0),
    momentum_decay=_nonneg(0.004),
    decoupled_weight_decay=_flag(False),
    maximize=_maximize(),
)
_spec(
    "radam",
    torch.optim.RAdam,
    "Rectified Adam",
    ("foreach", "capturable", "differentiable"),
    lr=_lr(0.001),
    betas=_betas(),
    eps=_nonneg(1e-8),
    weight_decay=_nonneg(0.0),
    decoupled_weight_decay=_flag(False),
    maximize=_maximize(),
)


def _make(key: str) -> TorchOptimizer:
    cls, label, omitted, params = _SPECS[key]
    return TorchOptimizer(cls, id=key, label=label, param_set=ParamSet(params), omitted=omitted)


def _register(key: str) -> None:
    cls, label, _, _ = _SPECS[key]

    def constructor() -> TorchOptimizer:
        return _make(key)

    constructor.__name__ = cls.__name__
    constructor.__doc__ = label
    optimizers.register(key, constructor, description=label)


for _key in _SPECS:
    _register(_key)
