"""``classif.module`` / ``regr.module``: a torch learner around a module generator
(mlr3torch's ``LearnerTorchModule``).

The generator builds the network for a task: ``module_generator(task=task, **params)``.
Its other arguments become the learner's parameters (untyped, tagged ``train``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.learners.learner import ALL_FEATURE_TYPES
from torchweave.network.ingress_token import TorchIngressToken, batchgetter_num
from torchweave.network.ops.nn_head import output_dim_for
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.selectors import selector_type
from torchweave.prebuilt.base import LearnerTorchPrebuilt, numeric_features
from torchweave.registry import learners
from torchweave.training.dataset import check_ingress_tokens

__all__ = ["LearnerTorchModule", "linear_module"]


def _generator_params(generator: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    target = generator.__init__ if inspect.isclass(generator) else generator
    params = dict(inspect.signature(target).parameters)
    params.pop("self", None)
    return params


def linear_module(task: Task) -> nn.Module:
    """A linear layer from the numeric and integer features to the task's outputs.

    The module generator of the registered ``classif.module`` / ``regr.module``.
    """
    return nn.Linear(len(numeric_features(task)), output_dim_for(task))


class LearnerTorchModule(LearnerTorchPrebuilt):
    """Trains the network a generator builds for each task.

    Parameters
    ----------
    module_generator : callable
        ``module_generator(task=task, **params) -> torch.nn.Module`` (a function or an
        ``nn.Module`` class); it must take a ``task`` argument. Use a module-level
        function so the learner pickles.
    ingress_tokens : dict of str to TorchIngressToken
        Network inputs by name (with several, the names are the forward arguments).
    task_type : {"classif", "regr"}
        Task type.
    param_set : ParamSet, optional
        The generator's parameters; by default one untyped parameter (tag ``train``)
        per argument other than ``task``, initialised to its default if it has one.
    optimizer, loss, callbacks
        As for :class:`~torchweave.training.learner_torch.LearnerTorch`.
    feature_types : sequence of str, optional
        Default: every feature type.
    properties : sequence of str, optional
        Extra properties (e.g. ``"missings"``).
    id : str, optional
        Default ``"<task_type>.module"``.

    Raises
    ------
    InvalidParameterError
        If the generator is not callable or has no ``task`` argument.

    Examples
    --------
    >>> import torch
    >>> import torchweave as tw
    >>> from torchweave.network.ops.nn_head import output_dim_for
    >>> def make(task, width=8):
    ...     d_in = len(task.feature_names)
    ...     return torch.nn.Sequential(
    ...         torch.nn.Linear(d_in, width), torch.nn.ReLU(),
    ...         torch.nn.Linear(width, output_dim_for(task)),
    ...     )
    >>> token = tw.TorchIngressToken(["Petal.Length", "Petal.Width"], tw.batchgetter_num, (None, 2))
    >>> learner = tw.LearnerTorchModule(make, {"x": token}, task_type="classif")
    >>> sorted(p for p in learner.param_set.ids() if p == "width")
    ['width']
    """

    def __init__(
        self,
        module_generator: Callable[..., nn.Module],
        ingress_tokens: Mapping[str, TorchIngressToken],
        task_type: str = "classif",
        param_set: ParamSet | None = None,
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
        feature_types: Sequence[str] | None = None,
        properties: Sequence[str] = (),
        id: str | None = None,
    ) -> None:
        if not callable(module_generator):
            raise InvalidParameterError(
                "module_generator must be a function or an nn.Module class. Got "
                f"{type(module_generator).__name__} instead."
            )
        args = _generator_params(module_generator)
        if "task" not in args:
            raise InvalidParameterError(
                "module_generator must have 'task' as a parameter. Got the parameters "
                f"{list(args)}."
            )
        if param_set is None:
            param_set = ParamSet(
                {
                    name: p_uty(tags="train")
                    if arg.default is inspect.Parameter.empty
                    else p_uty(tags="train", init=arg.default)
                    for name, arg in args.items()
                    if name != "task" and arg.kind not in (arg.VAR_POSITIONAL, arg.VAR_KEYWORD)
                }
            )
        self.module_generator = module_generator
        self._generator_args = [n for n in args if n != "task"]
        learner_id = id or f"{task_type}.module"
        self.ingress_tokens = check_ingress_tokens(ingress_tokens, learner_id)
        super().__init__(
            learner_id,
            task_type,
            param_set=param_set,
            optimizer=optimizer,
            loss=loss,
            callbacks=callbacks,
            feature_types=(*ALL_FEATURE_TYPES, "lazy_tensor")
            if feature_types is None
            else feature_types,
            properties=properties,
            label="Torch module",
        )

    def _ingress_tokens(
        self, task: Task, param_vals: dict[str, Any]
    ) -> dict[str, TorchIngressToken]:
        return self.ingress_tokens

    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        kwargs = {k: v for k, v in param_vals.items() if k in self._generator_args}
        network = self.module_generator(task=task, **kwargs)
        if not isinstance(network, nn.Module):
            raise InvalidParameterError(
                f"Learner '{self.id}': module_generator must return a torch.nn.Module. Got "
                f"{type(network).__name__} instead."
            )
        return network


def _default_token() -> dict[str, TorchIngressToken]:
    return {"x": TorchIngressToken(selector_type(["numeric", "integer"]), batchgetter_num)}


def _classif_module() -> LearnerTorchModule:
    """Torch learner around a module generator (classification)."""
    return LearnerTorchModule(
        linear_module, _default_token(), "classif", feature_types=("numeric", "integer")
    )


def _regr_module() -> LearnerTorchModule:
    """Torch learner around a module generator (regression)."""
    return LearnerTorchModule(
        linear_module, _default_token(), "regr", feature_types=("numeric", "integer")
    )


learners.register("classif.module", _classif_module)
learners.register("regr.module", _regr_module)
