"""LearnerTorchModel: a torch learner around a given network and ingress tokens."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, final

from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.learners.learner import ALL_FEATURE_TYPES
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.registry import learners
from torchweave.training.dataset import check_ingress_tokens
from torchweave.training.learner_torch import LearnerTorch

__all__ = ["LearnerTorchModel"]


@final
class LearnerTorchModel(LearnerTorch):
    """Trains a given ``torch.nn.Module`` with the torch learner machinery.

    Each training starts from a fresh copy of ``network`` (so the learner can be
    trained again and cloned after training). A network built from a graph
    (``PipeOpTorchModel``) is re-initialised under the learner's seed first, so the
    whole run is reproducible.

    Parameters
    ----------
    network : torch.nn.Module
        The network; its output must match the task (see ``nn("head")``).
    ingress_tokens : dict of str to TorchIngressToken
        Network input names and how to build them from the task's columns.
    task_type : {"classif", "regr"}
        Task type.
    optimizer, loss : descriptor or str, optional
        Default ``adam`` and ``cross_entropy`` / ``mse``.
    callbacks : sequence, optional
        Callback descriptors or keys.
    id : str, optional
        Default ``"<task_type>.torch_model"``.

    Examples
    --------
    >>> import torch
    >>> import torchweave as tw
    >>> token = tw.TorchIngressToken(["x"], tw.batchgetter_num, (None, 1))
    >>> learner = tw.LearnerTorchModel(torch.nn.Linear(1, 1), {"x": token}, task_type="regr")
    >>> learner.id
    'regr.torch_model'
    """

    def __init__(
        self,
        network: nn.Module | None = None,
        ingress_tokens: Mapping[str, TorchIngressToken] | None = None,
        task_type: str = "classif",
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
        id: str | None = None,
        feature_types: Sequence[str] = (*ALL_FEATURE_TYPES, "lazy_tensor"),
    ) -> None:
        super().__init__(
            id or f"{task_type}.torch_model",
            task_type,
            optimizer=optimizer,
            loss=loss,
            callbacks=callbacks,
            feature_types=feature_types,
            label="Torch model",
        )
        if network is not None and not isinstance(network, nn.Module):
            raise InvalidParameterError(
                f"'network' must be a torch.nn.Module. Got {type(network).__name__} instead."
            )
        self.network_template = network
        self.ingress_tokens = (
            None if ingress_tokens is None else check_ingress_tokens(ingress_tokens, self.id)
        )
        #: Re-initialise the network (under the seed) before training.
        self.reset_parameters = False

    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        if self.network_template is None:
            raise InvalidParameterError(f"Learner '{self.id}' has no network to train.")
        network = copy.deepcopy(self.network_template)
        reset = getattr(network, "reset_parameters", None)
        if self.reset_parameters and callable(reset):
            reset()
        return network

    def _ingress_tokens(
        self, task: Task, param_vals: dict[str, Any]
    ) -> dict[str, TorchIngressToken]:
        if self.ingress_tokens is None:
            raise InvalidParameterError(f"Learner '{self.id}' has no ingress_tokens set.")
        return self.ingress_tokens


def _classif_torch_model() -> LearnerTorchModel:
    """A classification learner around a given network."""
    return LearnerTorchModel(task_type="classif")


def _regr_torch_model() -> LearnerTorchModel:
    """A regression learner around a given network."""
    return LearnerTorchModel(task_type="regr")


learners.register("classif.torch_model", _classif_torch_model)
learners.register("regr.torch_model", _regr_torch_model)
