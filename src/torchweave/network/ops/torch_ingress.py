"""PipeOpTorchIngress: the entry points of a network graph (template for ingress ops)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import pandas as pd
import torch

from torchweave.data.task import Task
from torchweave.errors import TaskError
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.network.model_descriptor import ModelDescriptor
from torchweave.network.shapes import Shape, shape_to_str
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.graph import Graph
from torchweave.pipelines.ops.nop import PipeOpNOP
from torchweave.pipelines.pipeop import Channel, PipeOp
from torchweave.utils.text import quote_list

__all__ = ["PipeOpTorchIngress"]


class PipeOpTorchIngress(PipeOp):
    """Template of ingress operators: Task in, a ModelDescriptor with one input out.

    A subclass sets ``feature_types``, implements ``_batchgetter`` and may override
    ``_shape(task)``. Training checks that every feature has an accepted type and no
    missing values, then starts a module graph with a pass-through node named after
    the operator, whose input ``"<id>.input"`` is fed by the operator's token.

    Parameters
    ----------
    id : str
        Operator id.
    param_set : ParamSet, optional
        Parameters.
    param_vals : mapping, optional
        Initial values.
    """

    #: Feature types this ingress turns into a tensor.
    feature_types: ClassVar[Sequence[str]] = ()

    def __init__(
        self,
        id: str,
        param_set: ParamSet | None = None,
        param_vals: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            id,
            param_set=param_set,
            param_vals=param_vals,
            input=[Channel("input", Task, Task)],
            output=[Channel("output", ModelDescriptor, Task)],
            tags=("torch", "ingress"),
        )

    @abc.abstractmethod
    def _batchgetter(self) -> Callable[[pd.DataFrame], torch.Tensor]:
        """The function building a batch tensor (module-level, so learners pickle)."""

    def _shape(self, task: Task) -> Shape:
        """Shape of the produced tensor (default: ``(None, number of features)``)."""
        return (None, len(task.feature_names))

    def _token(self, task: Task) -> TorchIngressToken:
        return TorchIngressToken(task.feature_names, self._batchgetter(), self._shape(task))

    def _train(self, inputs: list[Any]) -> list[Any]:
        task: Task = inputs[0]
        types = task.feature_types
        wrong = {name: t for name, t in types.items() if t not in self.feature_types}
        if wrong:
            found = sorted(set(wrong.values()))
            raise TaskError(
                f"PipeOp '{self.id}' takes features of type {quote_list(self.feature_types)}, but "
                f"task '{task.id}' has feature(s) {quote_list(list(wrong), limit=6)} of type "
                f'{quote_list(found)}. Consider po("select") in front of it, e.g. '
                f'po("select", selector=tw.selector_type({list(self.feature_types)!r})).'
            )
        if not task.feature_names:
            raise TaskError(f"PipeOp '{self.id}' received task '{task.id}' without features.")
        missing = {c: n for c, n in task.missings(task.feature_names).items() if n}
        if missing:
            raise TaskError(
                f"PipeOp '{self.id}': no missing values are allowed in the features of task "
                f"'{task.id}', but {quote_list(list(missing))} have some. Impute them first, "
                'e.g. with po("imputemedian") or po("imputemode").'
            )
        return self._model_descriptor(task, self._token(task))

    def _model_descriptor(self, task: Task, token: TorchIngressToken) -> list[Any]:
        """The ModelDescriptor of a one-operator graph whose input is ``token``."""
        graph = Graph().add_pipeop(PipeOpNOP(id=self.id), clone=False)
        self.state = {"shape": token.shape}
        md = ModelDescriptor(
            graph=graph,
            ingress={f"{self.id}.input": token},
            task=task,
            pointer=(self.id, "output"),
            pointer_shape=token.shape,
        )
        return [md]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return inputs

    def state_summary(self) -> str | None:
        """The shape of the tensor it feeds into the network, once trained."""
        return None if not self.is_trained else f"output: {shape_to_str(self.state['shape'])}"
