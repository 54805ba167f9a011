"""``po("torch_model_classif")`` / ``po("torch_model_regr")``: train the network graph."""

from __future__ import annotations

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


@final
class PipeOpTorchModel(PipeOp):
    """Builds the network of a ModelDescriptor and trains a LearnerTorchModel on its task.

    ``po("torch_model_classif")`` and ``po("torch_model_regr")`` are this operator with
    their task type and id (:func:`PipeOpTorchModelClassif`,
    :func:`PipeOpTorchModelRegr`).

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task of ``task_type`` at predict.
    output : nothing at train, a Prediction at predict.

    State
    -----
    The trained :class:`LearnerTorchModel` (``state.model`` holds the network, the
    epochs trained, the seed and the callback states).

    Parameters
    ----------
    task_type : {"classif", "regr"}
        The task type trained.
    id : str, default "torch_model"
        Operator id.
    param_vals : dict, optional
        The torch learner's parameters (``epochs``, ``batch_size``, ``device``, ``seed``,
        ``measures_valid``, ``patience``, ...). The loss, optimizer and callbacks come
        from the ModelDescriptor (``po("torch_loss")``, ``po("torch_optimizer")``,
        ``po("torch_callbacks")``).

    Raises
    ------
    InvalidParameterError
        If ``task_type`` is neither ``"classif"`` nor ``"regr"``.

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
    >>> tw.PipeOpTorchModel("regr").id
    'torch_model'
    """

    def __init__(
        self, task_type: str, id: str = "torch_model", param_vals: dict[str, Any] | None = None
    ) -> None:
        if task_type not in ("classif", "regr"):
            raise InvalidParameterError(
                f"PipeOp '{id}': task_type must be 'classif' or 'regr'. Got {task_type!r}."
            )
        self.task_type = task_type
        self.learner = LearnerTorchModel(task_type=task_type, optimizer=UNSET, loss=UNSET)
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


def PipeOpTorchModelClassif(
    id: str = "torch_model_classif", param_vals: dict[str, Any] | None = None
) -> PipeOpTorchModel:
    """``po("torch_model_classif")``: :class:`PipeOpTorchModel` for classification.

    Parameters
    ----------
    id : str, default "torch_model_classif"
        Operator id.
    param_vals : dict, optional
        The torch learner's parameters.

    Returns
    -------
    PipeOpTorchModel
        With ``task_type="classif"``.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.po("torch_model_classif").id
    'torch_model_classif'
    """
    return PipeOpTorchModel("classif", id=id, param_vals=param_vals)


def PipeOpTorchModelRegr(
    id: str = "torch_model_regr", param_vals: dict[str, Any] | None = None
) -> PipeOpTorchModel:
    """``po("torch_model_regr")``: :class:`PipeOpTorchModel` for regression.

    Parameters
    ----------
    id : str, default "torch_model_regr"
        Operator id.
    param_vals : dict, optional
        The torch learner's parameters.

    Returns
    -------
    PipeOpTorchModel
        With ``task_type="regr"``.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.po("torch_model_regr").task_type
    'regr'
    """
    return PipeOpTorchModel("regr", id=id, param_vals=param_vals)


pipeops.register("torch_model_classif", PipeOpTorchModelClassif)
pipeops.register("torch_model_regr", PipeOpTorchModelRegr)
