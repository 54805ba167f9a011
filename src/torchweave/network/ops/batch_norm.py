"""Batch normalisation: ``nn("batch_norm1d")``, ``nn("batch_norm2d")``, ``nn("batch_norm3d")``."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from torchweave.data.task import Task
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, assert_ndim
from torchweave.params.param import p_dbl, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchBatchNorm1D", "PipeOpTorchBatchNorm2D", "PipeOpTorchBatchNorm3D"]


class _PipeOpTorchBatchNorm(PipeOpTorch):
    """Base of the batch norms: ``num_features`` is the size of dimension 1 (0-based).

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape.

    Parameters
    ----------
    id : str
        Operator id.
    param_vals : dict, optional
        Initial values.
    """

    inferred = ("num_features",)
    preserves_shape = True
    # ``bias`` is a keyword-only argument of recent torch versions only.
    omitted: ClassVar[tuple[str, ...]] = ("device", "dtype", "bias")
    #: The numbers of input dimensions (batch included) the layer accepts.
    ndims: ClassVar[tuple[int, ...]]

    def __init__(self, id: str, param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            eps=p_dbl(0, default=1e-5, tags="train"),
            momentum=p_dbl(0, 1, default=0.1, special_vals=[None], tags="train"),
            affine=p_lgl(default=True, tags="train"),
            track_running_stats=p_lgl(default=True, tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        shape = shapes_in[0]
        assert_ndim(shape, self.id, ndim=self.ndims)
        assert_known_dims(shape, [1], self.id, "the feature dimension (dimension 1)")
        return {"num_features": shape[1], **param_vals}


class PipeOpTorchBatchNorm1D(_PipeOpTorchBatchNorm):
    """``torch.nn.BatchNorm1d`` on inputs ``(batch, features)`` or ``(batch, features, length)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape.

    Parameters
    ----------
    eps : float >= 0, default 1e-5
        Added to the variance for numerical stability.
    momentum : float in [0, 1] or None, default 0.1
        Weight of the current batch in the running statistics (``None``: a cumulative
        average).
    affine : bool, default True
        Learn a per-feature scale and shift.
    track_running_stats : bool, default True
        Keep running statistics for evaluation mode (else use each batch's own).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("batch_norm1d").shapes_out([(None, 16)])
    [(None, 16)]
    """

    module_class = nn.BatchNorm1d
    ndims = (2, 3)

    def __init__(
        self, id: str = "nn_batch_norm1d", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals=param_vals)


class PipeOpTorchBatchNorm2D(_PipeOpTorchBatchNorm):
    """``torch.nn.BatchNorm2d`` on inputs ``(batch, channels, height, width)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape.

    Parameters
    ----------
    eps : float >= 0, default 1e-5
        Added to the variance for numerical stability.
    momentum : float in [0, 1] or None, default 0.1
        Weight of the current batch in the running statistics (``None``: a cumulative
        average).
    affine : bool, default True
        Learn a per-channel scale and shift.
    track_running_stats : bool, default True
        Keep running statistics for evaluation mode (else use each batch's own).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("batch_norm2d").shapes_out([(None, 3, None, None)])
    [(None, 3, None, None)]
    """

    module_class = nn.BatchNorm2d
    ndims = (4,)

    def __init__(
        self, id: str = "nn_batch_norm2d", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals=param_vals)


class PipeOpTorchBatchNorm3D(_PipeOpTorchBatchNorm):
    """``torch.nn.BatchNorm3d`` on inputs ``(batch, channels, depth, height, width)``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape.

    Parameters
    ----------
    eps : float >= 0, default 1e-5
        Added to the variance for numerical stability.
    momentum : float in [0, 1] or None, default 0.1
        Weight of the current batch in the running statistics (``None``: a cumulative
        average).
    affine : bool, default True
        Learn a per-channel scale and shift.
    track_running_stats : bool, default True
        Keep running statistics for evaluation mode (else use each batch's own).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("batch_norm3d").shapes_out([(None, 2, 4, 4, 4)])
    [(None, 2, 4, 4, 4)]
    """

    module_class = nn.BatchNorm3d
    ndims = (5,)

    def __init__(
        self, id: str = "nn_batch_norm3d", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals=param_vals)


pipeops.register("nn_batch_norm1d", PipeOpTorchBatchNorm1D)
pipeops.register("nn_batch_norm2d", PipeOpTorchBatchNorm2D)
pipeops.register("nn_batch_norm3d", PipeOpTorchBatchNorm3D)
