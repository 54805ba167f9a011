"""Sugar for losses, optimizers and callbacks: ``t_loss``, ``t_opt``, ``t_clbk`` and ``as_*``.

Wherever a descriptor is accepted, a registry key (``"adam"``) works too.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn, optim

from torchweave import registry
from torchweave.callbacks.callback_set import CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.params.param_set import ParamSet
from torchweave.training.descriptors import ModuleCopier, TorchLoss, TorchOptimizer
from torchweave.utils.text import format_value, quote_list

__all__ = [
    "as_torch_callback",
    "as_torch_callbacks",
    "as_torch_loss",
    "as_torch_optimizer",
    "t_clbk",
    "t_clbks",
    "t_loss",
    "t_losses",
    "t_opt",
    "t_opts",
]


def t_loss(key: str, id: str | None = None, **params: Any) -> TorchLoss:
    """A built-in loss with parameters set, e.g. ``t_loss("cross_entropy", reduction="sum")``.

    Parameters
    ----------
    key : str
        Key in ``tw.registry.losses``.
    id : str, optional
        Another id for the descriptor.
    **params
        Values for the loss's ParamSet.

    Raises
    ------
    UnknownKeyError
        For an unknown key, with the closest keys suggested.
    InvalidParameterError
        For an unknown parameter or an invalid value.

    Examples
    --------
    >>> from torchweave.training.sugar import t_loss
    >>> t_loss("mse", reduction="sum")
    <TorchLoss:mse> Mean Squared Error
    * Generator: MSELoss
    * Parameters: reduction='sum'
    * Task Types: regr
    """
    loss: TorchLoss = registry.losses.get(key)
    if id is not None:
        loss.id = id
    loss.param_set.set_values(params)
    return loss


def t_losses(*keys: str) -> list[TorchLoss]:
    """Several built-in losses."""
    return [t_loss(k) for k in keys]


def t_opt(key: str, id: str | None = None, **params: Any) -> TorchOptimizer:
    """A built-in optimizer with parameters set, e.g. ``t_opt("adam", lr=0.01)``.

    Parameters
    ----------
    key : str
        Key in ``tw.registry.optimizers``.
    id : str, optional
        Another id for the descriptor.
    **params
        Values for the optimizer's ParamSet (``lr``, ``param_groups``, ...).

    Raises
    ------
    UnknownKeyError
        For an unknown key, with the closest keys suggested.
    InvalidParameterError
        For an unknown parameter or an invalid value.

    Examples
    --------
    >>> import torch
    >>> from torchweave.training.sugar import t_opt
    >>> opt = t_opt("sgd", lr=0.5, momentum=0.9)
    >>> group = opt.generate(torch.nn.Linear(3, 1).named_parameters()).param_groups[0]
    >>> group["lr"], group["momentum"]
    (0.5, 0.9)
    """
    opt: TorchOptimizer = registry.optimizers.get(key)
    if id is not None:
        opt.id = id
    opt.param_set.set_values(params)
    return opt


def t_opts(*keys: str) -> list[TorchOptimizer]:
    """Several built-in optimizers."""
    return [t_opt(k) for k in keys]


def t_clbk(
    key: str, id: str | None = None, weight: float | None = None, **params: Any
) -> TorchCallback:
    """A built-in callback with parameters set, e.g. ``t_clbk("history")``.

    Parameters
    ----------
    key : str
        Key in ``tw.registry.callbacks``.
    id : str, optional
        Another id (the callback's parameters appear as ``cb.<id>.<name>``).
    weight : float, optional
        Order among callbacks (higher runs later).
    **params
        Values for the callback's ParamSet.

    Raises
    ------
    UnknownKeyError
        For an unknown key, with the closest keys suggested.
    InvalidParameterError
        For an unknown parameter or an invalid value.

    Examples
    --------
    >>> from torchweave.training.sugar import t_clbk
    >>> t_clbk("history", id="hist").id
    'hist'
    """
    cb: TorchCallback = registry.callbacks.get(key)
    if id is not None:
        cb.id = id
    if weight is not None:
        cb.weight = weight
    cb.param_set.set_values(params)
    return cb


def t_clbks(*keys: str) -> list[TorchCallback]:
    """Several built-in callbacks."""
    return [t_clbk(k) for k in keys]


def _cannot(x: Any, what: str, accepted: str) -> InvalidTypeError:
    return InvalidTypeError(
        f"Cannot convert {type(x).__name__} ({format_value(x, 60)}) to a {what}; give {accepted}."
    )


def as_torch_loss(x: Any, clone: bool = False) -> TorchLoss:
    """Convert to a :class:`TorchLoss`.

    Parameters
    ----------
    x : TorchLoss, str, torch.nn.Module class or instance
        A descriptor (returned as is, or cloned), a key of ``tw.registry.losses``, a
        module class (its constructor arguments become parameters) or a module
        instance (each ``generate()`` returns a deep copy of it).
    clone : bool, default False
        Return a copy of a given descriptor.

    Examples
    --------
    >>> from torch import nn
    >>> from torchweave.training.sugar import as_torch_loss
    >>> as_torch_loss("l1").id, as_torch_loss(nn.HuberLoss).id, as_torch_loss(nn.MSELoss()).id
    ('l1', 'huber_loss', 'mse_loss')
    """
    if isinstance(x, TorchLoss):
        return copy.deepcopy(x) if clone else x
    if isinstance(x, str):
        return t_loss(x)
    if isinstance(x, type) and issubclass(x, nn.Module):
        return TorchLoss(x)
    if isinstance(x, nn.Module):
        return TorchLoss(ModuleCopier(copy.deepcopy(x)), param_set=ParamSet())
    raise _cannot(
        x,
        "TorchLoss",
        "a TorchLoss, a key of tw.registry.losses, or a torch.nn.Module class or instance",
    )


def as_torch_optimizer(x: Any, clone: bool = False) -> TorchOptimizer:
    """Convert to a :class:`TorchOptimizer`.

    Parameters
    ----------
    x : TorchOptimizer, str or torch.optim.Optimizer class
        A descriptor (returned as is, or cloned), a key of ``tw.registry.optimizers``
        or an optimizer class (its constructor arguments become parameters).
    clone : bool, default False
        Return a copy of a given descriptor.

    Examples
    --------
    >>> import torch
    >>> from torchweave.training.sugar import as_torch_optimizer
    >>> as_torch_optimizer("adam").id, as_torch_optimizer(torch.optim.ASGD).id
    ('adam', 'asgd')
    """
    if isinstance(x, TorchOptimizer):
        return copy.deepcopy(x) if clone else x
    if isinstance(x, str):
        return t_opt(x)
    if isinstance(x, type) and issubclass(x, optim.Optimizer):
        return TorchOptimizer(x)
    raise _cannot(
        x,
        "TorchOptimizer",
        "a TorchOptimizer, a key of tw.registry.optimizers, or a torch.optim.Optimizer class",
    )


def as_torch_callback(x: Any, clone: bool = False) -> TorchCallback:
    """Convert to a :class:`TorchCallback`.

    Parameters
    ----------
    x : TorchCallback, str or CallbackSet subclass
        A descriptor (returned as is, or cloned), a key of ``tw.registry.callbacks``
        or a callback class (its ``__init__`` arguments become parameters).
    clone : bool, default False
        Return a copy of a given descriptor.

    Examples
    --------
    >>> from torchweave.training.sugar import as_torch_callback
    >>> as_torch_callback("history").label
    'History'
    """
    if isinstance(x, TorchCallback):
        return copy.deepcopy(x) if clone else x
    if isinstance(x, str):
        return t_clbk(x)
    if isinstance(x, type) and issubclass(x, CallbackSet):
        return TorchCallback(x)
    raise _cannot(
        x,
        "TorchCallback",
        "a TorchCallback, a key of tw.registry.callbacks, or a subclass of CallbackSet",
    )


def as_torch_callbacks(x: Any, clone: bool = False) -> list[TorchCallback]:
    """Convert ``None``, one callback, a list or a dict (by id) of them to a list.

    Raises
    ------
    InvalidParameterError
        If two callbacks have the same id.

    Examples
    --------
    >>> from torchweave.training.sugar import as_torch_callbacks
    >>> as_torch_callbacks(None), [cb.id for cb in as_torch_callbacks("history")]
    ([], ['history'])
    """
    if x is None:
        return []
    if isinstance(x, Mapping):
        items = list(x.values())
    elif isinstance(x, Sequence) and not isinstance(x, str):
        items = list(x)
    else:
        items = [x]
    out = [as_torch_callback(item, clone=clone) for item in items]
    ids = [cb.id for cb in out]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise InvalidParameterError(
            f"Callback ids must be unique; {quote_list(duplicated)} appear(s) more than once. "
            "Give the callbacks different ids (t_clbk(key, id=...))."
        )
    return out
