"""``po("torch_model_classif")`` / ``po("torch_model_regr")``: train the network graph."""

from __future__ import annotations

import abc
from typing import Any, final

from torchweave.data.prediction import Prediction
from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.network.model_descriptor import ModelDescriptor
from torchweave.network.module_graph import model_descriptor_to_module
from torchweave.pipelines.pipeop import Channel, PipeOp
from torchweave.registry import pipeops
from torchweave.training.learner_torch import UNSET
from torchweave.training.learner_torch_model import LearnerTorchModel

__all__ = [
    "PipeOpTorchModel",
    "PipeOpTorchModelClassif",
    "PipeOpTorchModelRegr",
    "model_descriptor_to_learner",
]


def model_descriptor_to_learner(
    md: ModelDescriptor, template: LearnerTorchModel | None = None
) -> LearnerTorchModel:
    """A LearnerTorchModel for a ModelDescriptor's network, loss, optimizer and callbacks.

    The network is re-initialised under the learner's seed when it trains, so runs are
    reproducible although the layers were built (randomly initialised) with the graph.

    Parameters
    ----------
    md : ModelDescriptor
        A descriptor with a loss and an optimizer (``po("torch_loss")``,
        ``po("torch_optimizer")``).
    template : LearnerTorchModel, optional
        A learner whose parameters and settings to start from (cloned).

    Raises
    ------
    InvalidParameterError
        If the descriptor has no loss or no optimizer.
    """
    if md.loss is None:
        raise InvalidParameterError('No loss configured in ModelDescriptor. Use po("torch_loss").')
    if md.optimizer is None:
        raise InvalidParameterError(
            'No optimizer configured in ModelDescriptor. Use po("torch_optimizer").'
        )
    if template is None:
        learner = LearnerTorchModel(task_type=md.task.task_type)
    else:
        cloned = template.clone()
        assert isinstance(cloned, LearnerTorchModel)
        learner = cloned
    learner.network_template = model_descriptor_to_module(md)
    learner.ingress_tokens = dict(md.ingress)
    learner.reset_parameters = True
    learner.loss = md.loss
    learner.optimizer = md.optimizer
    learner.callbacks = list(md.callbacks.values())
    return learner


class PipeOpTorchModel(PipeOp):
    """Builds the network of a ModelDescriptor and trains a LearnerTorchModel on its task.

    Abstract: the concrete operators are :class:`PipeOpTorchModelClassif` and
    :class:`PipeOpTorchModelRegr`, which only name their task type.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict.
    output : nothing at train, a Prediction at predict.

    State
    -----
    The trained :class:`LearnerTorchModel` (``state.model`` holds the network, the
    epochs trained, the seed and the callback states).

    Parameters
    ----------
    The torch learner's parameters (``epochs``, ``batch_size``, ``device``, ``seed``,
    ``measures_valid``, ``patience``, ...). The loss, optimizer and callbacks come from
    the ModelDescriptor (``po("torch_loss")``, ``po("torch_optimizer")``,
    ``po("torch_callbacks")``).

    Examples
    --------
    >>> import torchweave as tw
    >>> graph = (
    ...     tw.po("torch_ingress_num") >> tw.nn("head")
    ...     >> tw.po("torch_loss", loss="cross_entropy")
    ...     >> tw.po("torch_optimizer", optimizer="adam")
    ...     >> tw.po("torch_model_classif", epochs=1, batch_size=50)
    ... )
    >>> learner = tw.as_learner(graph).train(tw.tsk("iris"))
    >>> learner.model["torch_model_classif"].model.epochs
    1
    """

    def __init__(self, id: str, param_vals: dict[str, Any] | None = None) -> None:
        self.learner = LearnerTorchModel(task_type=self.task_type, optimizer=UNSET, loss=UNSET)
        self.learner.callbacks = UNSET
        super().__init__(
            id,
            param_set=self.learner._torch_ps,
            param_vals=param_vals,
            input=[Channel("input", ModelDescriptor, Task)],
            output=[Channel("output", None, Prediction)],
            tags=("torch", "learner"),
        )

    @property
    @abc.abstractmethod
    def task_type(self) -> str:
        """The task type trained: ``"classif"`` or ``"regr"``."""

    @property
    def learner_model(self) -> LearnerTorchModel:
        """The trained learner (or the untrained template before training)."""
        return self.state if isinstance(self.state, LearnerTorchModel) else self.learner

    def _train(self, inputs: list[Any]) -> list[Any]:
        md: ModelDescriptor = inputs[0]
        learner = model_descriptor_to_learner(md, template=self.learner)
        learner.train(md.task)
        self.state = learner
        return [None]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return [self.state.predict(inputs[0])]


@final
class PipeOpTorchModelClassif(PipeOpTorchModel):
    """Trains the network of a ModelDescriptor for classification (see PipeOpTorchModel).

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, TaskClassif at predict. output : None / Prediction.

    State
    -----
    The trained LearnerTorchModel.

    Parameters
    ----------
    The torch learner's parameters.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.po("torch_model_classif").id
    'torch_model_classif'
    """

    def __init__(self, id: str = "torch_model_classif", param_vals: dict[str, Any] | None = None):
        super().__init__(id=id, param_vals=param_vals)

    @property
    def task_type(self) -> str:
        """``"classif"``."""
        return "classif"


@final
class PipeOpTorchModelRegr(PipeOpTorchModel):
    """Trains the network of a ModelDescriptor for regression (see PipeOpTorchModel).

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, TaskRegr at predict. output : None / Prediction.

    State
    -----
    The trained LearnerTorchModel.

    Parameters
    ----------
    The torch learner's parameters.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.po("torch_model_regr").id
    'torch_model_regr'
    """

    def __init__(self, id: str = "torch_model_regr", param_vals: dict[str, Any] | None = None):
        super().__init__(id=id, param_vals=param_vals)

    @property
    def task_type(self) -> str:
        """``"regr"``."""
        return "regr"


pipeops.register("torch_model_classif", PipeOpTorchModelClassif)
pipeops.register("torch_model_regr", PipeOpTorchModelRegr)
