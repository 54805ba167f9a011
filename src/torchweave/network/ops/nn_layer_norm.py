"""``nn("layer_norm")``: normalise the last ``dims`` dimensions of each observation."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from torchweave.data.task import Task
from torchweave.errors import ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, shape_to_str
from torchweave.params.param import p_dbl, p_int, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["PipeOpTorchLayerNorm"]


class PipeOpTorchLayerNorm(PipeOpTorch):
    """``torch.nn.LayerNorm`` over the last ``dims`` dimensions.

    Unlike torch's constructor, the operator takes the *number* of trailing dimensions
    to normalise (``dims``, as mlr3torch does); ``normalized_shape`` is inferred as the
    sizes of those dimensions, which must be known and may not include the batch
    dimension.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape.

    Parameters
    ----------
    dims : int >= 1
        Number of trailing dimensions to normalise (required).
    elementwise_affine : bool, default True
        Learn a per-element scale (and, with ``bias``, shift).
    eps : float >= 0, default 1e-5
        Added to the variance for numerical stability.
    bias : bool, default True
        Learn a shift (with ``elementwise_affine``).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("layer_norm", dims=2).shapes_out([(None, None, 4, 5)])
    [(None, None, 4, 5)]
    """

    module_class = nn.LayerNorm
    inferred = ("normalized_shape",)
    preserves_shape = True
    #: Parameters that are not torch constructor arguments.
    extra_params: ClassVar[tuple[str, ...]] = ("dims",)

    def __init__(self, id: str = "nn_layer_norm", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            dims=p_int(1, tags={"train", "required"}),
            elementwise_affine=p_lgl(default=True, tags="train"),
            eps=p_dbl(0, default=1e-5, tags="train"),
            bias=p_lgl(default=True, tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        shape, args = shapes_in[0], dict(param_vals)
        dims = args.pop("dims")
        if dims >= len(shape):
            raise ShapeError(
                f"PipeOp '{self.id}' normalises the last {dims} dimension(s), which must not "
                f"include the batch dimension, but got the shape {shape_to_str(shape)} with "
                f"{len(shape)} dimensions."
            )
        last = list(range(len(shape) - dims, len(shape)))
        assert_known_dims(shape, last, self.id, f"the last {dims} dimension(s)")
        return {"normalized_shape": tuple(shape[-dims:]), **args}


pipeops.register("nn_layer_norm", PipeOpTorchLayerNorm)
