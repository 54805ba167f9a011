"""``classif.mlp`` / ``regr.mlp``: a multi layer perceptron (mlr3torch's ``LearnerTorchMLP``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.network.ops.nn_head import output_dim_for
from torchweave.params.param import p_dbl, p_int, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.prebuilt._checks import (
    check_dict,
    check_int_list,
    check_module_factory,
    check_shape,
)
from torchweave.prebuilt.base import LearnerTorchPrebuilt, tabular_token
from torchweave.registry import learners

__all__ = ["LearnerTorchMLP", "make_mlp", "mlp_neurons"]


def mlp_neurons(neurons: int | Sequence[int], n_layers: int | None) -> list[int]:
    """The hidden layer widths: ``neurons``, repeated ``n_layers`` times if given.

    Raises
    ------
    InvalidParameterError
        If ``n_layers`` is given with more than one width.
    """
    widths = [neurons] if isinstance(neurons, int) else list(neurons)
    if n_layers is None:
        return widths
    if len(widths) != 1:
        raise InvalidParameterError(
            f"Can only supply `n_layers` when neurons has length 1. Got neurons = {widths} "
            f"and n_layers = {n_layers}."
        )
    return widths * n_layers


def make_mlp(
    d_in: int,
    d_out: int,
    neurons: Sequence[int] = (),
    p: float = 0.1,
    activation: Callable[..., nn.Module] = nn.ReLU,
    activation_args: dict[str, Any] | None = None,
) -> nn.Sequential:
    """``linear -> activation -> dropout`` per hidden layer, then a linear output layer.

    Parameter names follow mlr3torch (``0.weight``, ``0.bias``, ``3.weight``, ...).
    """
    layers: list[nn.Module] = []
    width = d_in
    for n in neurons:
        layers += [nn.Linear(width, n), activation(**(activation_args or {})), nn.Dropout(p)]
        width = n
    layers.append(nn.Linear(width, d_out))
    return nn.Sequential(*layers)


class LearnerTorchMLP(LearnerTorchPrebuilt):
    """Multi Layer Perceptron: ``(linear -> activation -> dropout) * n -> linear``.

    Takes numeric and integer features, or exactly one lazy tensor of shape
    ``(batch, d)``. Factors must be encoded first (``ppl_prebuilt``).

    Parameters
    ----------
    task_type : {"classif", "regr"}
        Task type.
    optimizer, loss, callbacks
        As for :class:`~torchweave.training.learner_torch.LearnerTorch`.

    Notes
    -----
    Own parameters (all tagged ``train``):

    - ``neurons`` (int or list of int >= 1, init ``[]``: no hidden layer).
    - ``p`` (dropout in [0, 1], init 0.1).
    - ``n_layers`` (int >= 1): repeat a single ``neurons`` width this often.
    - ``activation`` (module class, init ``torch.nn.ReLU``) and ``activation_args``
      (dict of its arguments, init ``{}``).
    - ``shape`` (the input shape of a lazy tensor whose shape is unknown).

    Examples
    --------
    >>> import torchweave as tw
    >>> learner = tw.lrn("classif.mlp", neurons=[16], epochs=2, batch_size=32)
    >>> learner.train(tw.tsk("iris")).network[0]
    Linear(in_features=4, out_features=16, bias=True)
    """

    def __init__(
        self,
        task_type: str = "classif",
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
    ) -> None:
        ps = ParamSet(
            neurons=p_uty(
                custom_check=check_int_list,
                expected="an int >= 1 or a list of ints >= 1",
                init=[],
                tags={"train", "predict"},
            ),
            p=p_dbl(0, 1, init=0.1, tags="train"),
            n_layers=p_int(1, tags="train"),
            activation=p_uty(
                custom_check=check_module_factory,
                expected="a torch.nn.Module class",
                init=nn.ReLU,
                tags="train",
            ),
            activation_args=p_uty(
                custom_check=check_dict,
                expected="a dict",
                init={},
                tags="train",
            ),
            shape=p_uty(custom_check=check_shape, expected="a shape", tags="train"),
        )
        super().__init__(
            f"{task_type}.mlp",
            task_type,
            param_set=ps,
            optimizer=optimizer,
            loss=loss,
            callbacks=callbacks,
            feature_types=("numeric", "integer", "lazy_tensor"),
            label="Multi Layer Perceptron",
        )

    def _ingress_tokens(
        self, task: Task, param_vals: dict[str, Any]
    ) -> dict[str, TorchIngressToken]:
        return {"input": tabular_token(task, param_vals.get("shape"), self.id)}

    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        token = self._ingress_tokens(task, param_vals)["input"]
        assert token.shape is not None
        d_in = token.shape[1]
        assert isinstance(d_in, int)
        return make_mlp(
            d_in,
            output_dim_for(task),
            mlp_neurons(param_vals.get("neurons", []), param_vals.get("n_layers")),
            p=param_vals.get("p", 0.1),
            activation=param_vals.get("activation", nn.ReLU),
            activation_args=param_vals.get("activation_args", {}),
        )


def _classif_mlp() -> LearnerTorchMLP:
    """Multi layer perceptron (classification)."""
    return LearnerTorchMLP("classif")


def _regr_mlp() -> LearnerTorchMLP:
    """Multi layer perceptron (regression)."""
    return LearnerTorchMLP("regr")


learners.register("classif.mlp", _classif_mlp)
learners.register("regr.mlp", _regr_mlp)
