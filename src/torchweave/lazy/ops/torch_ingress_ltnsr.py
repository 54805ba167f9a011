"""``po("torch_ingress_ltnsr")``: a lazy tensor column as a network input.

The lazy column is materialized once per batch (its dataset read and its
preprocessing run on the whole batch). It lives with the lazy tensors; the network
layer knows nothing of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import torch

from torchweave.data.task import Task
from torchweave.errors import ShapeError, TaskError
from torchweave.lazy.lazy_tensor import LazyTensorArray, lazy_shape
from torchweave.lazy.materialize import materialize, materialize_array
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.network.ops.torch_ingress import PipeOpTorchIngress
from torchweave.network.shapes import as_shape, shape_to_str, shapes_agree
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchIngressLazyTensor", "batchgetter_lazy_tensor", "ingress_ltnsr"]


def batchgetter_lazy_tensor(
    data: pd.DataFrame, cache: dict[Any, Any] | None = None
) -> torch.Tensor:
    """The single lazy column of ``data``, materialized as one batch tensor.

    Parameters
    ----------
    data : pandas.DataFrame
        One lazy tensor column (the rows of the batch).
    cache : dict, optional
        Shared by the lazy columns of one batch, so that columns over the same dataset
        read it once.
    """
    column = data.iloc[:, 0]
    array = column.array
    assert isinstance(array, LazyTensorArray)
    return materialize_array(array, rbind=True, cache=cache, name=str(column.name))


#: Datasets pass a per-batch cache to batchgetters that take one.
batchgetter_lazy_tensor.takes_cache = True  # type: ignore[attr-defined]


class _LazyTensorRows:
    """``batchgetter_lazy_tensor`` of row positions of a frame, without pandas per batch.

    A dataset builds this once per lazy column and calls it with each batch's positions
    (a 1-d int64 array) and the batch's cache: the same tensor as
    ``batchgetter_lazy_tensor(data.iloc[positions], cache)``, with no frame to slice.
    A class, not a closure, so that datasets pickle into spawned DataLoader workers.
    """

    def __init__(self, data: pd.DataFrame) -> None:
        column = data.iloc[:, 0]
        array = column.array
        assert isinstance(array, LazyTensorArray)
        self.ids, self.dd, self.name = array._ids, array._dd, str(column.name)
        # Checked once here rather than per batch: a column without missing elements
        # over a dataset of fixed element shape runs its steps on the batch directly.
        self.direct = self.dd is not None and not self.dd._varying and not (self.ids < 0).any()

    def __call__(self, positions: Any, cache: dict[Any, Any] | None = None) -> torch.Tensor:
        if self.direct and len(positions):
            out = self.dd._run(self.ids[positions], cache)  # type: ignore[union-attr]
            return out if out.device.type == "cpu" else out.cpu()
        batch = LazyTensorArray._simple_new(self.ids[positions], self.dd)
        return materialize_array(batch, rbind=True, cache=cache, name=self.name)


#: Datasets that see this build the batches from row positions (see _LazyTensorRows).
batchgetter_lazy_tensor.rows = _LazyTensorRows  # type: ignore[attr-defined]


def _check_shape(value: Any) -> str | None:
    if value is None or value == "infer":
        return None
    try:
        shape = as_shape(value)
    except ShapeError as exc:
        return str(exc)
    if shape[0] is not None:
        return "a shape whose first (batch) dimension is None"
    return None


def _check_name(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "a column name (str) or None"


def _lazy_features(task: Task) -> list[str]:
    return [name for name, t in task.feature_types.items() if t == "lazy_tensor"]


def ingress_ltnsr(
    task: Task, feature_name: str | None = None, shape: Any = None, op_id: str = "ingress_ltnsr"
) -> TorchIngressToken:
    """An ingress token for one lazy tensor column of ``task``.

    Parameters
    ----------
    task : Task
        The task.
    feature_name : str, optional
        The lazy column (default: the only lazy tensor feature).
    shape : shape, "infer" or None
        The input shape: by default the column's shape; ``"infer"`` materializes the
        first row; a given shape must agree with a known column shape.
    op_id : str
        Operator id, for messages.

    Raises
    ------
    TaskError
        If the column is missing, not a lazy tensor, or not the only one.
    ShapeError
        If the shape is unknown and not given, or disagrees with the column.
    """
    lazy = _lazy_features(task)
    if feature_name is None:
        if len(lazy) != 1:
            raise TaskError(
                f"PipeOp '{op_id}' expects 1 'lazy_tensor' feature, but got {len(lazy)} in task "
                f"'{task.id}'. Set its 'feature_name' parameter, or select one lazy column."
            )
        feature_name = lazy[0]
    elif feature_name not in lazy:
        kind = task.feature_types.get(feature_name)
        what = "is not a feature" if kind is None else f"is a '{kind}' feature"
        raise TaskError(
            f"PipeOp '{op_id}': the column '{feature_name}' of task '{task.id}' {what}; a "
            "'lazy_tensor' feature is needed."
        )
    column = task.data(cols=feature_name)[feature_name]
    known = lazy_shape(column)
    if shape is None:
        if known is None:
            raise ShapeError(
                f"PipeOp '{op_id}': the lazy tensor '{feature_name}' has unknown shapes and "
                "therefore the PipeOp's 'shape' parameter must be set ('infer', or a shape with "
                "None as batch dimension); see its documentation."
            )
        shape = known
    elif isinstance(shape, str):  # "infer"
        if task.nrow == 0:
            raise ShapeError(
                f"PipeOp '{op_id}': cannot infer the shape of '{feature_name}' from a task "
                "without rows."
            )
        first = materialize(column.iloc[:1], rbind=True)
        shape = (None, *first.shape[1:])
    else:
        shape = as_shape(shape, f"'shape' of PipeOp '{op_id}'")
        if known is not None and not shapes_agree(shape, known):
            raise ShapeError(
                f"PipeOp '{op_id}': the 'shape' parameter {shape_to_str(shape)} disagrees with "
                f"the shape {shape_to_str(known)} of the lazy tensor '{feature_name}'."
            )
    return TorchIngressToken([feature_name], batchgetter_lazy_tensor, shape)


class PipeOpTorchIngressLazyTensor(PipeOpTorchIngress):
    """Feeds a lazy tensor column to the network, materialized batch by batch.

    Without ``feature_name`` the task must have exactly one feature, a lazy tensor
    (select it first in a multimodal graph, or name it). The input shape is the
    column's shape; if that is unknown, ``shape`` must be set.

    Input and output channels
    -------------------------
    input : Task. output : ModelDescriptor at train, the Task at predict.

    State
    -----
    ``shape``: the shape of the network input.

    Parameters
    ----------
    shape : tuple, "infer" or None, default None
        The input shape (batch dimension None): None takes the lazy column's shape;
        ``"infer"`` materializes the first row; a tuple must agree with a known shape.
    feature_name : str, optional
        The lazy column to use; other features of the task are then ignored.

    Examples
    --------
    >>> import torch
    >>> import pandas as pd
    >>> import torchweave as tw
    >>> from torchweave.lazy import as_lazy_tensor
    >>> frame = pd.DataFrame({"x": as_lazy_tensor(torch.zeros(4, 1, 8, 8)), "y": [0.0, 1, 2, 3]})
    >>> md = tw.po("torch_ingress_ltnsr").train([tw.TaskRegr(frame, target="y")])[0]
    >>> md.pointer_shape
    (None, 1, 8, 8)
    """

    feature_types = ("lazy_tensor",)

    def __init__(
        self, id: str = "torch_ingress_ltnsr", param_vals: dict[str, Any] | None = None
    ) -> None:
        param_set = ParamSet(
            shape=p_uty(
                custom_check=_check_shape,
                default=None,
                tags="train",
                description="The input shape: None (the column's), 'infer', or a shape.",
            ),
            feature_name=p_uty(
                custom_check=_check_name,
                default=None,
                tags="train",
                description="The lazy tensor column (default: the only feature).",
            ),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _batchgetter(self) -> Callable[[pd.DataFrame], torch.Tensor]:
        return batchgetter_lazy_tensor

    def _token(self, task: Task) -> TorchIngressToken:
        pv = self.param_set.values
        return ingress_ltnsr(task, pv.get("feature_name"), pv.get("shape"), op_id=self.id)

    def _train(self, inputs: list[Any]) -> list[Any]:
        task: Task = inputs[0]
        name = self.param_set.values.get("feature_name")
        if name is None:
            return super()._train(inputs)
        # A named column: the other features stay in the task (for other ingress
        # branches of a multimodal network) and are not checked here.
        token = self._token(task)
        if task.missings([name])[name]:
            raise TaskError(
                f"PipeOp '{self.id}': the lazy tensor '{name}' of task '{task.id}' has missing "
                "elements."
            )
        return self._model_descriptor(task, token)


pipeops.register("torch_ingress_ltnsr", PipeOpTorchIngressLazyTensor)
