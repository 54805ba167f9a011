"""The built-in losses (``t_loss(key)``), with ParamSets mirroring the torch classes.

Targets, as the learner builds them: regression and binary classification
``float32`` of shape ``(N, 1)`` (binary: 1 = the positive class, the first level),
multiclass ``int64`` of shape ``(N,)`` with 0-based classes.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from torchweave.data.task import Task, TaskClassif
from torchweave.errors import InvalidParameterError, TaskError
from torchweave.params.param import p_dbl, p_fct, p_int, p_lgl, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import losses
from torchweave.training.descriptors import TorchLoss, as_float_tensor

__all__ = ["cross_entropy_loss"]

_WEIGHTS = "a non-empty sequence of floats >= 0 (or a 1-d tensor)"


def check_weights(value: Any) -> str | None:
    """Custom check of class weights: a non-empty sequence of floats >= 0."""
    if isinstance(value, torch.Tensor):
        ok = value.ndim == 1 and value.numel() > 0 and bool((value >= 0).all())
        return None if ok else _WEIGHTS
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        return _WEIGHTS
    items = list(np.asarray(value).ravel()) if isinstance(value, np.ndarray) else list(value)
    ok = len(items) > 0 and all(
        isinstance(x, numbers.Real)
        and not isinstance(x, bool)
        and math.isfinite(float(x))
        and float(x) >= 0
        for x in items
    )
    return None if ok else _WEIGHTS


def _weight(description: str) -> Any:
    return p_uty(
        custom_check=check_weights,
        expected=_WEIGHTS,
        default=None,
        special_vals=(None,),
        tags="train",
        description=description,
    )


def _reduction() -> Any:
    return p_fct(["mean", "sum", "none"], default="mean", tags="train")


def cross_entropy_loss(
    task: Task,
    weight: Sequence[float] | torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> nn.Module:
    """Cross entropy for ``task``: one logit with BCE-with-logits if binary, else softmax.

    Parameters
    ----------
    task : TaskClassif
        The training task.
    weight : sequence of float, optional
        Class weights in class order. For a binary task one value is the weight of the
        positive class (``pos_weight``); two values ``(w_pos, w_neg)`` become
        ``pos_weight = w_pos / w_neg`` (the same up to a constant factor).
    ignore_index : int, default -100
        Target class to ignore (multiclass only).
    reduction : {"mean", "sum", "none"}, default "mean"
        How the per-observation losses are reduced.
    label_smoothing : float, default 0.0
        Label smoothing in [0, 1] (multiclass only).

    Returns
    -------
    torch.nn.Module
        ``BCEWithLogitsLoss`` (binary) or ``CrossEntropyLoss`` (multiclass).

    Raises
    ------
    InvalidParameterError
        For ``ignore_index`` or ``label_smoothing`` on a binary task, or weights
        whose number does not fit the classes.
    """
    if not isinstance(task, TaskClassif):
        raise TaskError(
            f"The cross entropy loss is for classif tasks, not {task.task_type} tasks "
            f"(task '{task.id}')."
        )
    k = len(task.class_names)
    w = None if weight is None else as_float_tensor(weight).reshape(-1)
    if k == 2:
        if ignore_index != -100:
            raise InvalidParameterError(
                "ignore_index is not supported for binary cross entropy loss "
                f"(task '{task.id}' has two classes). Got ignore_index={ignore_index}."
            )
        if label_smoothing != 0:
            raise InvalidParameterError(
                "label_smoothing is not supported for binary cross entropy loss "
                f"(task '{task.id}' has two classes). Got label_smoothing={label_smoothing}."
            )
        pos_weight = None
        if w is not None:
            if w.numel() == 1:
                pos_weight = w
            elif w.numel() == 2 and float(w[1]) > 0:
                pos_weight = (w[0] / w[1]).reshape(1)
            else:
                raise InvalidParameterError(
                    "The 'weight' parameter of the cross entropy loss must hold 1 value "
                    "(the positive class's weight) or 2 values (one per class, the second "
                    f"> 0) for the binary task '{task.id}'. Got {w.tolist()} instead."
                )
        return nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction=reduction)
    if w is not None and w.numel() != k:
        raise InvalidParameterError(
            "The 'weight' parameter of the cross entropy loss must hold one value per "
            f"class ({k} for task '{task.id}': {', '.join(map(str, task.class_names))}). "
            f"Got {w.numel()} values instead."
        )
    return nn.CrossEntropyLoss(
        weight=w, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing
    )


def _cross_entropy() -> TorchLoss:
    return TorchLoss(
        cross_entropy_loss,
        task_types=["classif"],
        id="cross_entropy",
        label="Cross Entropy",
        param_set=ParamSet(
            weight=_weight("class weights in class order"),
            ignore_index=p_int(default=-100, tags="train"),
            reduction=_reduction(),
            label_smoothing=p_dbl(0, 1, default=0.0, tags="train"),
        ),
    )


_DEPRECATED = ("size_average", "reduce")


def _bce() -> TorchLoss:
    return TorchLoss(
        nn.BCEWithLogitsLoss,
        task_types=["classif"],
        id="bce",
        label="Binary Cross Entropy with Logits",
        param_set=ParamSet(
            weight=_weight("rescaling weight of each element"),
            reduction=_reduction(),
            pos_weight=_weight("weight of the positive class"),
        ),
        omitted=_DEPRECATED,
        properties=["twoclass"],
        tensor_params=["weight", "pos_weight"],
    )


def _mse() -> TorchLoss:
    return TorchLoss(
        nn.MSELoss,
        task_types=["regr"],
        id="mse",
        label="Mean Squared Error",
        param_set=ParamSet(reduction=_reduction()),
        omitted=_DEPRECATED,
    )


def _l1() -> TorchLoss:
    return TorchLoss(
        nn.L1Loss,
        task_types=["regr"],
        id="l1",
        label="Absolute Error",
        param_set=ParamSet(reduction=_reduction()),
        omitted=_DEPRECATED,
    )


def _smooth_l1() -> TorchLoss:
    return TorchLoss(
        nn.SmoothL1Loss,
        task_types=["regr"],
        id="smooth_l1",
        label="Smooth L1",
        param_set=ParamSet(reduction=_reduction(), beta=p_dbl(0, default=1.0, tags="train")),
        omitted=_DEPRECATED,
    )


def _huber() -> TorchLoss:
    return TorchLoss(
        nn.HuberLoss,
        task_types=["regr"],
        id="huber",
        label="Huber",
        param_set=ParamSet(
            reduction=_reduction(),
            delta=p_dbl(0, lower_open=True, default=1.0, tags="train"),
        ),
    )


def _nll() -> TorchLoss:
    return TorchLoss(
        nn.NLLLoss,
        task_types=["classif"],
        id="nll",
        label="Negative Log-Likelihood",
        param_set=ParamSet(
            weight=_weight("class weights in class order"),
            ignore_index=p_int(default=-100, tags="train"),
            reduction=_reduction(),
        ),
        omitted=_DEPRECATED,
        properties=["multiclass"],
        tensor_params=["weight"],
    )


def _poisson_nll() -> TorchLoss:
    return TorchLoss(
        nn.PoissonNLLLoss,
        task_types=["regr"],
        id="poisson_nll",
        label="Poisson Negative Log-Likelihood",
        param_set=ParamSet(
            log_input=p_lgl(default=True, tags="train"),
            full=p_lgl(default=False, tags="train"),
            eps=p_dbl(0, default=1e-8, tags="train"),
            reduction=_reduction(),
        ),
        omitted=_DEPRECATED,
    )


def _register(key: str, make: Callable[[], TorchLoss]) -> None:
    sample = make()

    def constructor() -> TorchLoss:
        return make()

    constructor.__name__ = getattr(sample.cls, "__name__", key)
    constructor.__doc__ = sample.label
    losses.register(
        key, constructor, description=f"{sample.label} ({', '.join(sample.task_types)})"
    )


_register("cross_entropy", _cross_entropy)
_register("bce", _bce)
_register("mse", _mse)
_register("l1", _l1)
_register("smooth_l1", _smooth_l1)
_register("huber", _huber)
_register("nll", _nll)
_register("poisson_nll", _poisson_nll)
