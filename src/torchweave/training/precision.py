"""Mixed precision and ``torch.compile``: the ``precision`` and ``compile`` parameters.

``precision="32"`` (the default) trains and predicts in float32. ``"bf16-mixed"`` runs
every forward pass (training, validation, prediction) under :func:`torch.autocast` with
bfloat16, on the CPU and on GPUs; the weights, the optimizer and the loss stay in
float32 (the network output is cast back to float32 before the loss). ``"16-mixed"``
autocasts to float16 on CUDA only, and scales the loss with a
:class:`torch.amp.GradScaler` against gradient underflow; the scaler's state is part of
every checkpoint, so a resumed run continues exactly.

``compile=True`` wraps the network in :func:`torch.compile` for training, validation
and prediction; the learner keeps (and pickles) the plain network, which shares its
weights with the compiled one.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from torchweave.errors import InvalidParameterError
from torchweave.training.paramset import PRECISIONS

__all__ = [
    "PRECISIONS",
    "check_precision",
    "compile_network",
    "make_grad_scaler",
    "with_precision",
]


_AUTOCAST_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def check_precision(
    precision: str, device: torch.device, owner: str, jitted: bool = False, compiled: bool = False
) -> None:
    """Refuse settings that cannot run: float16 off CUDA, compile with a TorchScript trace.

    Parameters
    ----------
    precision : str
        The ``precision`` parameter.
    device : torch.device
        The resolved device.
    owner : str
        The learner id, for the message.
    jitted, compiled : bool
        The ``jit_trace`` and ``compile`` parameters.

    Raises
    ------
    InvalidParameterError
        If ``precision="16-mixed"`` runs on another device than CUDA, or both
        ``jit_trace`` and ``compile`` are set.
    """
    if precision not in PRECISIONS:
        raise InvalidParameterError(
            f"Learner '{owner}': 'precision' must be one of {', '.join(map(repr, PRECISIONS))}. "
            f"Got {precision!r} instead."
        )
    if precision == "16-mixed" and device.type != "cuda":
        raise InvalidParameterError(
            f"Learner '{owner}': precision='16-mixed' (float16 autocast with a gradient scaler) "
            f"needs a CUDA device, but the device is '{device.type}'. Use "
            "precision='bf16-mixed' on this device, or '32'."
        )
    if jitted and compiled:
        raise InvalidParameterError(
            f"Learner '{owner}': set either jit_trace=True or compile=True, not both "
            "(torch.compile does not compile a TorchScript trace)."
        )


def with_precision(
    forward: Callable[[Any], Any], precision: str, device: torch.device
) -> Callable[[Any], Any]:
    """``forward`` under autocast for a mixed precision, outputs back in float32.

    With ``precision="32"`` the forward pass is returned unchanged (no call per batch).
    """
    dtype = _AUTOCAST_DTYPES.get(precision)
    if dtype is None:
        return forward
    device_type = device.type

    def autocast_forward(x: Any) -> Any:
        with torch.autocast(device_type, dtype=dtype):
            out = forward(x)
        if isinstance(out, tuple | list):
            return type(out)(_to_float32(o) for o in out)
        return _to_float32(out)

    return autocast_forward


def _to_float32(t: Any) -> Any:
    if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dtype != torch.float32:
        return t.float()
    return t


def make_grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """A gradient scaler for ``"16-mixed"``; None for the other precisions."""
    if precision != "16-mixed":
        return None
    return torch.amp.GradScaler(device.type)


def compile_network(network: nn.Module | Callable[..., Any]) -> Callable[..., Any]:
    """``torch.compile(network)``: compiled on its first call, sharing the weights."""
    with warnings.catch_warnings():
        # Inductor imports torch.utils.mkldnn, whose TorchScript decorators warn that
        # TorchScript is deprecated: torch's own code, not the user's, so imported quietly.
        warnings.filterwarnings("ignore", "`torch.jit.script_method` is deprecated")
        importlib.import_module("torch.utils.mkldnn")
    return torch.compile(network)
