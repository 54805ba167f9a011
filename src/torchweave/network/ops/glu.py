"""Gated linear units: ``nn("glu")``, ``nn("reglu")`` and ``nn("geglu")``.

Each splits a dimension of its input into halves ``a`` and ``b`` and returns
``a * gate(b)``, so that dimension must be known and even.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional

from torchweave.data.task import Task
from torchweave.errors import ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, resolve_dim, shape_to_str
from torchweave.params.param import p_int
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["GeGLU", "PipeOpTorchGLU", "PipeOpTorchGeGLU", "PipeOpTorchReGLU", "ReGLU"]


class ReGLU(nn.Module):
    """ReLU gated linear unit: ``a * relu(b)`` with ``a, b = x.chunk(2, dim=-1)``.

    Examples
    --------
    >>> import torch
    >>> ReGLU()(torch.tensor([[2.0, 3.0, -1.0, 4.0]])).tolist()
    [[0.0, 12.0]]
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate the first half of the last dimension by the ReLU of the second."""
        a, b = x.chunk(2, dim=-1)
        return a * functional.relu(b)


class GeGLU(nn.Module):
    """GELU gated linear unit: ``a * gelu(b)`` with ``a, b = x.chunk(2, dim=-1)``.

    Examples
    --------
    >>> import torch
    >>> GeGLU()(torch.tensor([[2.0, 0.0]])).tolist()
    [[0.0]]
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate the first half of the last dimension by the GELU of the second."""
        a, b = x.chunk(2, dim=-1)
        return a * functional.gelu(b)


def _assert_halvable(shape: Shape, dim: int, op_id: str) -> None:
    """Raise unless the 0-based ``dim`` of ``shape`` is a known, even, non-batch dim."""
    if dim == 0:
        raise ShapeError(
            f"PipeOp '{op_id}' cannot halve the batch dimension (dim 0) of the input shape "
            f"{shape_to_str(shape)}."
        )
    assert_known_dims(shape, [dim], op_id, f"dimension {dim} (the one it halves)")
    size = shape[dim]
    if size is not None and size % 2:
        raise ShapeError(
            f"PipeOp '{op_id}' halves dimension {dim} of its input, whose size must be divisible "
            f"by 2, but got shape {shape_to_str(shape)}."
        )


class PipeOpTorchGLU(PipeOpTorch):
    """``torch.nn.GLU``: ``a * sigmoid(b)``, ``a`` and ``b`` the halves of dimension ``dim``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape with dimension ``dim`` halved.

    Parameters
    ----------
    dim : int, default -1
        The dimension to split (0-based, negative counts from the end; R's ``dim = 2``
        is ``dim = 1`` here). Its size must be known and even, and it may not be the
        batch dimension.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("glu").shapes_out([(None, None, 6)])
    [(None, None, 3)]
    >>> tw.nn("glu", dim=1).shapes_out([(None, 4, None)])
    [(None, 2, None)]
    """

    module_class = nn.GLU

    def __init__(self, id: str = "nn_glu", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(dim=p_int(default=-1, tags="train"))
        super().__init__(id, param_set=param_set, param_vals=param_vals, tags=("activation",))

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        shape = shapes_in[0]
        dim = resolve_dim(param_vals.get("dim", -1), len(shape), self.id)
        _assert_halvable(shape, dim, self.id)
        return super()._shapes_out(shapes_in, param_vals, task)


class _PipeOpTorchLastDimGate(PipeOpTorch):
    """Base of ReGLU and GeGLU: no parameters; the last dimension is halved.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape with the last dimension halved.

    Parameters
    ----------
    id : str
        Operator id.
    param_vals : dict, optional
        Initial values (there are no parameters).
    """

    def __init__(self, id: str, param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_set=ParamSet(), param_vals=param_vals, tags=("activation",))

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        shape = shapes_in[0]
        _assert_halvable(shape, len(shape) - 1, self.id)
        return super()._shapes_out(shapes_in, param_vals, task)


class PipeOpTorchReGLU(_PipeOpTorchLastDimGate):
    """:class:`ReGLU`: ``a * relu(b)``, ``a`` and ``b`` the halves of the last dimension.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape with the last dimension halved.

    Parameters
    ----------
    None. The last dimension must be known and even (and not the batch dimension).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("reglu").shapes_out([(None, 8)])
    [(None, 4)]
    """

    module_class = ReGLU

    def __init__(self, id: str = "nn_reglu", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals=param_vals)


class PipeOpTorchGeGLU(_PipeOpTorchLastDimGate):
    """:class:`GeGLU`: ``a * gelu(b)``, ``a`` and ``b`` the halves of the last dimension.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape with the last dimension halved.

    Parameters
    ----------
    None. The last dimension must be known and even (and not the batch dimension).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("geglu").shapes_out([(None, 3, 8)])
    [(None, 3, 4)]
    """

    module_class = GeGLU

    def __init__(self, id: str = "nn_geglu", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals=param_vals)


pipeops.register("nn_glu", PipeOpTorchGLU)
pipeops.register("nn_reglu", PipeOpTorchReGLU)
pipeops.register("nn_geglu", PipeOpTorchGeGLU)
