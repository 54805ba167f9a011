"""TorchModel: what a trained torch learner keeps (``learner.model``)."""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = ["TorchModel"]


@dataclass
class TorchModel:
    """What a trained torch learner keeps (``learner.model``).

    Attributes
    ----------
    network : torch.nn.Module
        The trained network.
    internal_valid_scores : dict
        Validation scores of the returned network: those of the best epoch when early
        stopping restored its weights (``restore_best_weights=True``), else those of
        the last evaluated epoch.
    loss_fn, optimizer : dict
        State dicts of the loss and optimizer.
    epochs : int
        Epochs actually trained.
    callbacks : dict
        Callback states by id (``callbacks["history"]`` is a DataFrame).
    seed : int or None
        The seed used (also for prediction).
    jitted : bool
        Whether the network is a TorchScript trace (``jit_trace=True``).
    best_epoch : int or None
        With early stopping (``patience > 0``): the epoch of the best validation score.
    best_scores : dict or None
        With early stopping: all validation scores of that epoch.
    data_path : {"preloaded", "loader"} or None
        How the training data reached the network: ``"preloaded"`` (converted to
        tensors once, batches are slices of them; ``tensor_dataset=True``, ``"device"``,
        or ``"auto"`` when its rule allowed it) or ``"loader"`` (built batch by batch by
        the ingress tokens). None for a model that predates the field.
    """

    network: nn.Module
    internal_valid_scores: dict[str, float]
    loss_fn: dict[str, Any]
    optimizer: dict[str, Any]
    epochs: int
    callbacks: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    jitted: bool = False
    best_epoch: int | None = None
    best_scores: dict[str, float] | None = None
    data_path: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Networks are saved through torch and load onto the CPU, wherever they trained.
        state = dict(self.__dict__)
        buffer = io.BytesIO()
        if self.jitted:
            with warnings.catch_warnings():  # torch deprecates TorchScript; jit_trace uses it
                warnings.simplefilter("ignore", DeprecationWarning)
                torch.jit.save(self.network, buffer)
        else:
            torch.save(self.network, buffer)
        state["network"] = buffer.getvalue()
        state["optimizer"] = _to_cpu(self.optimizer)
        state["loss_fn"] = _to_cpu(self.loss_fn)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        buffer = io.BytesIO(state["network"])
        if state.get("jitted"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                state["network"] = torch.jit.load(buffer, map_location="cpu")
        else:
            state["network"] = torch.load(buffer, map_location="cpu", weights_only=False)
        state.setdefault("best_epoch", None)  # models pickled before these fields existed
        state.setdefault("best_scores", None)
        state.setdefault("data_path", None)
        self.__dict__.update(state)

    def __repr__(self) -> str:
        n_params = sum(p.numel() for p in self.network.parameters())
        scores = ", ".join(f"{k} = {v:.4g}" for k, v in self.internal_valid_scores.items())
        best = "-" if self.best_epoch is None else f"epoch {self.best_epoch}"
        return (
            f"<TorchModel> trained for {self.epochs} epochs\n"
            f"* Network:  <{type(self.network).__name__}> with {n_params} parameters\n"
            f"* Callbacks:  {', '.join(self.callbacks) or '-'}\n"
            f"* Validation scores:  {scores or '-'}\n"
            f"* Best (early stopping):  {best}\n"
            f"* Seed:  {self.seed}\n"
            f"* Data:  {self.data_path or '-'}\n"
            "* Fields:  network, internal_valid_scores, loss_fn, optimizer, epochs, callbacks, "
            "seed, best_epoch, best_scores, data_path"
        )


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        # A shallow copy keeps the mapping's type (state dicts are OrderedDicts with _metadata).
        out = copy.copy(obj)
        for k, v in obj.items():
            out[k] = _to_cpu(v)
        return out
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
