"""``nn("transformer_encoder_layer")``: one transformer encoder layer, batch first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import (
    Shape,
    assert_known_dims,
    assert_ndim,
    infer_shapes,
    shape_to_str,
)
from torchweave.params.param import p_dbl, p_fct, p_int, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops
from torchweave.utils.text import format_value

__all__ = ["EncoderLayer", "PipeOpTorchTransformerEncoderLayer"]

_MASKS = ("src_mask", "src_key_padding_mask")


class EncoderLayer(nn.Module):
    """``torch.nn.TransformerEncoderLayer`` (batch first) with masks passed by position.

    ``forward(src, *masks)`` takes the masks named in ``mask_inputs``, in that order.
    With ``is_causal`` the layer builds the causal mask itself (each position attends
    to itself and earlier ones only).

    Parameters
    ----------
    d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, bias
        As in ``torch.nn.TransformerEncoderLayer``.
    is_causal : bool, default False
        Apply a causal mask.
    mask_inputs : sequence of str, default ()
        Which masks ``forward`` takes after ``src``: "src_mask" and/or
        "src_key_padding_mask".
    device, dtype : optional
        Where and how the parameters are created.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        norm_first: bool = False,
        bias: bool = True,
        is_causal: bool = False,
        mask_inputs: Sequence[str] = (),
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(
            d_model,
            nhead,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=True,
            norm_first=norm_first,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self.is_causal = is_causal
        self.mask_inputs = tuple(mask_inputs)

    def forward(self, src: torch.Tensor, *masks: torch.Tensor) -> torch.Tensor:
        """Encode ``src`` ``(batch, seq, d_model)``; the output has the same shape."""
        kwargs = dict(zip(self.mask_inputs, masks, strict=True))
        if self.is_causal:
            length = src.shape[1]
            padding = kwargs.get("src_key_padding_mask")
            # torch warns when the two masks differ in type: follow the padding mask's.
            if padding is not None and padding.is_floating_point():
                causal = torch.full((length, length), float("-inf"), device=src.device)
                kwargs["src_mask"] = causal.to(padding.dtype).triu(1)
            else:
                ones = torch.ones(length, length, dtype=torch.bool, device=src.device)
                kwargs["src_mask"] = ones.triu(1)
        out: torch.Tensor = self.layer(src, is_causal=self.is_causal, **kwargs)
        return out

    def reset_parameters(self) -> None:
        """Re-initialise every sub-layer as at construction."""
        attention = self.layer.self_attn
        attention.out_proj.reset_parameters()
        attention._reset_parameters()
        for module in (self.layer.linear1, self.layer.linear2, self.layer.norm1, self.layer.norm2):
            module.reset_parameters()


class PipeOpTorchTransformerEncoderLayer(PipeOpTorch):
    """A transformer encoder layer (``torch.nn.TransformerEncoderLayer``, batch first).

    Self-attention and a feed-forward network, each with a residual connection and
    layer normalisation; ``d_model`` is the last input dimension.

    Input and output channels
    -------------------------
    input : ``(batch, seq, d_model)`` with ``d_model`` known. With the construction
    argument ``src_mask=True`` a second input ``src_mask`` (``(seq, seq)`` or
    ``(batch * nhead, seq, seq)``); with ``src_key_padding_mask=True`` an input
    ``src_key_padding_mask`` (``(batch, seq)``, True marks padding). output: the
    input's shape. ModelDescriptors at train, the Task at predict.

    State
    -----
    ``shapes_out``: the output shape (the input shape).

    Parameters
    ----------
    nhead : int
        Number of attention heads (required); must divide ``d_model``.
    dim_feedforward : int, default 2048
        Width of the feed-forward network.
    dropout : float, default 0.1
        Dropout rate.
    activation : {"relu", "gelu"}, default "relu"
        Activation of the feed-forward network.
    layer_norm_eps : float, default 1e-5
        Epsilon of the layer normalisations.
    norm_first : bool, default False
        Normalise before (True) or after (False) attention and feed-forward.
    bias : bool, default True
        Biases in the linear layers and layer normalisations.
    is_causal : bool, default False
        Mask attention to later positions (builds the causal mask; not allowed
        together with a ``src_mask`` input).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("transformer_encoder_layer", nhead=2).shapes_out([(None, 5, 8)])
    [(None, 5, 8)]
    """

    module_class = EncoderLayer
    inferred = ("d_model", "mask_inputs")
    omitted: ClassVar[tuple[str, ...]] = ("device", "dtype")

    def __init__(
        self,
        id: str = "nn_transformer_encoder_layer",
        param_vals: dict[str, Any] | None = None,
        src_mask: bool = False,
        src_key_padding_mask: bool = False,
    ) -> None:
        for name, flag in (("src_mask", src_mask), ("src_key_padding_mask", src_key_padding_mask)):
            if not isinstance(flag, bool):
                raise InvalidParameterError(
                    f"The '{name}' argument of PipeOp '{id}' must be a bool. "
                    f"Got {format_value(flag)} instead."
                )
        self.mask_inputs = tuple(
            name
            for name, flag in zip(_MASKS, (src_mask, src_key_padding_mask), strict=True)
            if flag
        )
        param_set = ParamSet(
            nhead=p_int(1, tags={"train", "required"}),
            dim_feedforward=p_int(1, default=2048, tags="train"),
            dropout=p_dbl(0, 1, default=0.1, tags="train"),
            activation=p_fct(["relu", "gelu"], default="relu", tags="train"),
            layer_norm_eps=p_dbl(0, lower_open=True, default=1e-5, tags="train"),
            norm_first=p_lgl(default=False, tags="train"),
            bias=p_lgl(default=True, tags="train"),
            is_causal=p_lgl(default=False, tags="train"),
        )
        super().__init__(
            id, param_set=param_set, param_vals=param_vals, inname=["input", *self.mask_inputs]
        )

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        return {"d_model": shapes_in[0][2], "mask_inputs": self.mask_inputs, **param_vals}

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        self.param_set.check_required()
        if param_vals.get("is_causal") and "src_mask" in self.mask_inputs:
            raise InvalidParameterError(
                f"PipeOp '{self.id}' cannot combine is_causal=True, which builds the causal "
                "mask itself, with a 'src_mask' input channel. Set is_causal=False, or build "
                "the PipeOp without src_mask=True."
            )
        shape = shapes_in[0]
        assert_ndim(shape, self.id, ndim=3)
        assert_known_dims(shape, [2], self.id, "the last dimension (d_model)")
        d_model, nhead = shape[2], param_vals["nhead"]
        assert d_model is not None
        if d_model % nhead:
            raise ShapeError(
                f"PipeOp '{self.id}' requires d_model (the last input dimension, {d_model}) to "
                f"be divisible by nhead ({nhead}), but got the shape {shape_to_str(shape)}."
            )
        for name, mask in zip(self.mask_inputs, shapes_in[1:], strict=True):
            self._check_mask(name, mask, shape, nhead)
        with torch.device("meta"):
            module = self._make_module(shapes_in, param_vals, task)
        module.eval()

        # Masks built from the traced input, so their sizes match it in every trace.
        def run(x: torch.Tensor) -> torch.Tensor:
            batch, length = x.shape[0], x.shape[1]
            masks = []
            for name, mask in zip(self.mask_inputs, shapes_in[1:], strict=True):
                size: tuple[int, ...] = (batch, length) if name != "src_mask" else (length, length)
                if name == "src_mask" and len(mask) == 3:
                    size = (batch * nhead, length, length)
                masks.append(torch.zeros(size, dtype=torch.bool, device=x.device))
            out: torch.Tensor = module(x, *masks)
            return out

        return infer_shapes(run, [shape], self.id)

    def _check_mask(self, name: str, mask: Shape, shape: Shape, nhead: int) -> None:
        batch, length = shape[0], shape[1]
        allowed = (2, 3) if name == "src_mask" else (2,)
        if len(mask) not in allowed:
            raise ShapeError(
                f"PipeOp '{self.id}' requires the '{name}' input to have "
                f"{' or '.join(map(str, allowed))} dimensions, but got the shape "
                f"{shape_to_str(mask)}."
            )
        expected: Shape = (batch, length)
        if name == "src_mask":
            first = None if batch is None else batch * nhead
            expected = (length, length) if len(mask) == 2 else (first, length, length)
        if any(
            a is not None and b is not None and a != b for a, b in zip(mask, expected, strict=True)
        ):
            raise ShapeError(
                f"PipeOp '{self.id}' requires the '{name}' input to have the shape "
                f"{shape_to_str(expected)} for an input of shape {shape_to_str(shape)}, but got "
                f"{shape_to_str(mask)}."
            )


pipeops.register("nn_transformer_encoder_layer", PipeOpTorchTransformerEncoderLayer)
