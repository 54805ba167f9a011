"""``nn("multihead_attention")``: multi-head attention over sequences ``(batch, seq, features)``."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, assert_ndim, shape_to_str
from torchweave.params.param import p_dbl, p_int, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops
from torchweave.utils.text import format_value

__all__ = ["Attention", "PipeOpTorchMultiheadAttention"]

#: Input channels by mode.
_CHANNELS = {
    "self": ["input"],
    "cross": ["query", "key_value"],
    "general": ["query", "key", "value"],
}


def _reset_attention(mha: nn.MultiheadAttention) -> None:
    # MultiheadAttention has only a private initialiser, which leaves out_proj.weight alone.
    mha.out_proj.reset_parameters()
    mha._reset_parameters()


class Attention(nn.Module):
    """``torch.nn.MultiheadAttention`` (batch first) taking tensors and returning tensors.

    ``forward(query, key=None, value=None)``: ``key`` defaults to ``query`` and ``value``
    to ``key``, so one argument is self-attention and two are cross-attention. Returns
    the attention output, and with ``need_weights`` also the attention weights.

    Parameters
    ----------
    embed_dim, num_heads, dropout, bias, add_bias_kv, add_zero_attn, kdim, vdim
        As in ``torch.nn.MultiheadAttention``.
    average_attn_weights : bool, default True
        Average the returned weights over the heads.
    need_weights : bool, default False
        Also return the attention weights.
    device, dtype : optional
        Where and how the parameters are created.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        average_attn_weights: bool = True,
        need_weights: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(
            embed_dim,
            num_heads,
            dropout=dropout,
            bias=bias,
            add_bias_kv=add_bias_kv,
            add_zero_attn=add_zero_attn,
            kdim=kdim,
            vdim=vdim,
            batch_first=True,
            device=device,
            dtype=dtype,
        )
        self.average_attn_weights = average_attn_weights
        self.need_weights = need_weights

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query`` to ``key``/``value``; see the class docstring."""
        key = query if key is None else key
        value = key if value is None else value
        out, weights = self.attention(
            query,
            key,
            value,
            need_weights=self.need_weights,
            average_attn_weights=self.average_attn_weights,
        )
        return (out, weights) if self.need_weights else out

    def reset_parameters(self) -> None:
        """Re-initialise the projections as at construction."""
        _reset_attention(self.attention)


class PipeOpTorchMultiheadAttention(PipeOpTorch):
    """Multi-head attention (``torch.nn.MultiheadAttention``, batch first).

    ``embed_dim`` is the last dimension of the query; in the modes "cross" and
    "general" ``kdim`` and ``vdim`` are the last dimensions of the key and value.

    Input and output channels
    -------------------------
    Depends on the construction argument ``mode``: "self" (default) has one input
    ``input`` (query, key and value at once); "cross" has ``query`` and ``key_value``;
    "general" has ``query``, ``key`` and ``value``. Every input is 3-dimensional
    ``(batch, sequence, features)`` with a known feature dimension. Output ``output``
    has the query's shape; with ``need_weights=True`` a second output ``weights`` has
    shape ``(batch, target length, source length)``, or ``(batch, num_heads, target,
    source)`` with ``average_attn_weights=False``. ModelDescriptors at train, the Task
    at predict.

    State
    -----
    ``shapes_out``: the output shapes.

    Parameters
    ----------
    num_heads : int
        Number of heads (required); must divide ``embed_dim``.
    dropout : float, default 0.0
        Dropout on the attention weights.
    bias : bool, default True
        Biases in the input and output projections.
    add_bias_kv : bool, default False
        Add a learned bias to key and value (one more source position).
    add_zero_attn : bool, default False
        Append a zero key/value position.
    average_attn_weights : bool, default True
        Average the returned weights over the heads (torch's name; mlr3torch's
        ``avg_weights``).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("multihead_attention", num_heads=2).shapes_out([(None, 5, 8)])
    [(None, 5, 8)]
    >>> op = tw.nn("multihead_attention", mode="cross", need_weights=True, num_heads=2)
    >>> op.shapes_out([(None, 5, 8), (None, 7, 3)])
    [(None, 5, 8), (None, 5, 7)]
    """

    module_class = Attention
    inferred = ("embed_dim", "kdim", "vdim")
    #: Construction argument (need_weights) and torch plumbing, not parameters.
    omitted: ClassVar[tuple[str, ...]] = ("need_weights", "device", "dtype")

    def __init__(
        self,
        id: str = "nn_multihead_attention",
        param_vals: dict[str, Any] | None = None,
        mode: str = "self",
        need_weights: bool = False,
    ) -> None:
        if mode not in _CHANNELS:
            raise InvalidParameterError(
                f"The 'mode' argument of PipeOp '{id}' must be one of 'self', 'cross', "
                f"'general'. Got {format_value(mode)} instead."
            )
        if not isinstance(need_weights, bool):
            raise InvalidParameterError(
                f"The 'need_weights' argument of PipeOp '{id}' must be a bool. "
                f"Got {format_value(need_weights)} instead."
            )
        self.mode = mode
        self.need_weights = need_weights
        param_set = ParamSet(
            num_heads=p_int(1, tags={"train", "required"}),
            dropout=p_dbl(0, 1, default=0.0, tags="train"),
            bias=p_lgl(default=True, tags="train"),
            add_bias_kv=p_lgl(default=False, tags="train"),
            add_zero_attn=p_lgl(default=False, tags="train"),
            average_attn_weights=p_lgl(default=True, tags="train"),
        )
        super().__init__(
            id,
            param_set=param_set,
            param_vals=param_vals,
            inname=_CHANNELS[mode],
            outname=["output", "weights"] if need_weights else "output",
        )

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        out = {"embed_dim": shapes_in[0][2], "need_weights": self.need_weights, **param_vals}
        if self.mode != "self":
            out["kdim"] = shapes_in[1][2]
            out["vdim"] = shapes_in[-1][2]
        return out

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        self.param_set.check_required()
        names = [ch.name for ch in self.input]
        for name, shape in zip(names, shapes_in, strict=True):
            assert_ndim(shape, self.id, ndim=3)
            assert_known_dims(shape, [2], self.id, f"the last dimension (input '{name}')")
        embed_dim, heads = shapes_in[0][2], param_vals["num_heads"]
        assert embed_dim is not None
        if embed_dim % heads:
            raise ShapeError(
                f"PipeOp '{self.id}' requires the embedding dimension (the last dimension of the "
                f"query, {embed_dim}) to be divisible by num_heads ({heads}), but got the shape "
                f"{shape_to_str(shapes_in[0])}."
            )
        # Unknown batch sizes (and key/value lengths) must agree with the known ones for
        # tracing, which fills each unknown dimension independently.
        batch = self._common(shapes_in, [0] * len(shapes_in), "batch sizes")
        shapes = [(batch, *s[1:]) for s in shapes_in]
        if self.mode == "general":
            length = self._common(shapes[1:], [1, 1], "key and value sequence lengths")
            shapes[1:] = [(s[0], length, s[2]) for s in shapes[1:]]
        return super()._shapes_out(shapes, param_vals, task)

    def _common(self, shapes: list[Shape], dims: list[int], what: str) -> int | None:
        known = {s[d] for s, d in zip(shapes, dims, strict=True) if s[d] is not None}
        if len(known) > 1:
            raise ShapeError(
                f"PipeOp '{self.id}' requires its inputs to agree on the {what}, but got the "
                f"shapes {shape_to_str(shapes)}."
            )
        return next(iter(known), None)


pipeops.register("nn_multihead_attention", PipeOpTorchMultiheadAttention)
