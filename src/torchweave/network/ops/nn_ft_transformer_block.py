"""``nn("ft_transformer_block")``: one transformer block of the FT-Transformer.

Multi-head self-attention followed by a feed-forward network, each inside a residual
connection with normalisation before (default) or after it, as in rtdl (Gorishniy et
al. 2021, "Revisiting Deep Learning Models for Tabular Data") and mlr3torch.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.ops.glu import GeGLU, ReGLU
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, assert_ndim, shape_to_str
from torchweave.params.param import p_dbl, p_fct, p_int, p_lgl, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["FTTransformerBlock", "PipeOpTorchFTTransformerBlock"]

#: Default multiplier of ``d_token`` for the hidden size of the feed-forward network (rtdl).
FFN_D_HIDDEN_MULTIPLIER = 4 / 3
# activations that halve their input, so the first FFN layer must be twice as wide
_HALVING_ACTIVATIONS = (nn.GLU, ReGLU, GeGLU)

ModuleFactory = Callable[..., nn.Module]


def _halves_input(activation: ModuleFactory) -> bool:
    """Whether the activation halves the last dimension (GLU, ReGLU, GeGLU)."""
    while isinstance(activation, functools.partial):
        activation = activation.func
    return isinstance(activation, type) and issubclass(activation, _HALVING_ACTIVATIONS)


def _as_index_list(query_idx: int | Sequence[int] | None) -> list[int] | None:
    if query_idx is None:
        return None
    if isinstance(query_idx, int):
        return [query_idx]
    return [int(i) for i in query_idx]


class _FFN(nn.Module):
    """``linear -> activation -> dropout -> linear``, back to ``d_token``."""

    def __init__(
        self,
        d_token: int,
        d_hidden: int,
        bias_first: bool,
        bias_second: bool,
        dropout: float,
        activation: ModuleFactory,
    ) -> None:
        super().__init__()
        coef = 2 if _halves_input(activation) else 1
        self.linear_first = nn.Linear(d_token, d_hidden * coef, bias=bias_first)
        self.activation = activation()
        self.dropout = nn.Dropout(dropout)
        self.linear_second = nn.Linear(d_hidden, d_token, bias=bias_second)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_second(self.dropout(self.activation(self.linear_first(x))))


class FTTransformerBlock(nn.Module):
    """A transformer block of the FT-Transformer: ``(B, n, d) -> (B, n or len(query_idx), d)``.

    ``x = x + dropout(attention(norm(x)))``, then ``x = x + dropout(ffn(norm(x)))`` with
    prenormalization; with postnormalization the norm is applied after each sum instead.

    Parameters
    ----------
    d_token : int
        Size of a token; must be a multiple of ``attention_n_heads``.
    attention_n_heads : int, default 8
        Number of attention heads.
    attention_dropout : float, default 0.2
        Dropout on the attention weights.
    attention_initialization : {"kaiming", "xavier"}, default "kaiming"
        Initialisation of the query, key and value projections, each on its own:
        ``kaiming_uniform_(a=sqrt(5))`` (``torch.nn.Linear``'s default) or
        ``xavier_uniform_(gain=1/sqrt(2))``. Their biases start at 0.
    attention_normalization : callable, default torch.nn.LayerNorm
        Builds the normalisation before (or after) attention from ``d_token``.
    ffn_d_hidden : int, optional
        Hidden size of the feed-forward network (doubled in its first layer for GLU-like
        activations, which halve it again).
    ffn_d_hidden_multiplier : float, optional
        Alternatively, the hidden size as ``round(multiplier * d_token)``. When neither is
        given the multiplier is 4/3; giving both is an error.
    ffn_dropout : float, default 0.1
        Dropout after the feed-forward activation.
    ffn_activation : callable, default ReGLU
        Builds the feed-forward activation (called without arguments).
    ffn_normalization : callable, default torch.nn.LayerNorm
        Builds the normalisation before (or after) the feed-forward network.
    residual_dropout : float, default 0.0
        Dropout on each residual branch before it is added.
    prenormalization : bool, default True
        Normalise the input of each branch (True) or the sum after it (False).
    is_first_layer : bool, default False
        With prenormalization, the first block skips the attention normalisation (its
        input comes straight from the tokenizer).
    query_idx : int or sequence of int, optional
        Tokens to compute the output for (0-based, negative from the end); ``None`` for
        all. The last block of an FT-Transformer uses ``-1``, the CLS token, giving
        ``(B, 1, d)``.
    attention_bias : bool, default True
        Biases in the attention projections.
    ffn_bias_first, ffn_bias_second : bool, default True
        Biases in the first and second feed-forward layers.
    """

    def __init__(
        self,
        d_token: int,
        attention_n_heads: int = 8,
        attention_dropout: float = 0.2,
        attention_initialization: str = "kaiming",
        attention_normalization: ModuleFactory = nn.LayerNorm,
        ffn_d_hidden: int | None = None,
        ffn_d_hidden_multiplier: float | None = None,
        ffn_dropout: float = 0.1,
        ffn_activation: ModuleFactory = ReGLU,
        ffn_normalization: ModuleFactory = nn.LayerNorm,
        residual_dropout: float = 0.0,
        prenormalization: bool = True,
        is_first_layer: bool = False,
        query_idx: int | Sequence[int] | None = None,
        attention_bias: bool = True,
        ffn_bias_first: bool = True,
        ffn_bias_second: bool = True,
    ) -> None:
        super().__init__()
        if d_token % attention_n_heads:
            raise InvalidParameterError(
                f"The token size d_token ({d_token}) must be a multiple of attention_n_heads "
                f"({attention_n_heads})."
            )
        if attention_initialization not in ("kaiming", "xavier"):
            raise InvalidParameterError(
                "attention_initialization must be 'kaiming' or 'xavier'. "
                f"Got {attention_initialization!r} instead."
            )
        d_hidden = _ffn_d_hidden(d_token, ffn_d_hidden, ffn_d_hidden_multiplier)
        self.prenormalization = prenormalization
        self.attention_initialization = attention_initialization
        self.query_idx = _as_index_list(query_idx)
        self.attention_normalization = (
            None if prenormalization and is_first_layer else attention_normalization(d_token)
        )
        self.attention = nn.MultiheadAttention(
            d_token,
            attention_n_heads,
            dropout=attention_dropout,
            bias=attention_bias,
            batch_first=True,
        )
        self.attention_residual_dropout = nn.Dropout(residual_dropout)
        self.ffn_normalization = ffn_normalization(d_token)
        self.ffn = _FFN(
            d_token, d_hidden, ffn_bias_first, ffn_bias_second, ffn_dropout, ffn_activation
        )
        self.ffn_residual_dropout = nn.Dropout(residual_dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the query, key and value projections as rtdl does.

        ``torch.nn.MultiheadAttention`` stores them stacked in ``in_proj_weight``; each
        ``(d, d)`` block is initialised on its own, with fan-in ``d``.
        """
        weight = self.attention.in_proj_weight
        d = weight.shape[1]
        for i in range(3):
            block = weight[i * d : (i + 1) * d]
            if self.attention_initialization == "xavier":
                nn.init.xavier_uniform_(block, gain=1 / math.sqrt(2))
            else:
                nn.init.kaiming_uniform_(block, a=math.sqrt(5))
        if self.attention.in_proj_bias is not None:
            nn.init.zeros_(self.attention.in_proj_bias)

    def _start_residual(self, norm: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
        if self.prenormalization and norm is not None:
            return norm(x)
        return x

    def _end_residual(
        self, norm: nn.Module | None, dropout: nn.Module, x: torch.Tensor, x_res: torch.Tensor
    ) -> torch.Tensor:
        x = x + dropout(x_res)
        if not self.prenormalization and norm is not None:
            x = norm(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply attention and the feed-forward network; keep only ``query_idx`` tokens."""
        x_res = self._start_residual(self.attention_normalization, x)
        query = x_res if self.query_idx is None else x_res[:, self.query_idx]
        x_res, _ = self.attention(query, x_res, x_res, need_weights=False)
        if self.query_idx is not None:
            x = x[:, self.query_idx]
        x = self._end_residual(
            self.attention_normalization, self.attention_residual_dropout, x, x_res
        )
        x_res = self.ffn(self._start_residual(self.ffn_normalization, x))
        return self._end_residual(self.ffn_normalization, self.ffn_residual_dropout, x, x_res)


def _ffn_d_hidden(d_token: int, d_hidden: int | None, multiplier: float | None) -> int:
    if d_hidden is not None and multiplier is not None:
        raise InvalidParameterError(
            "Set at most one of ffn_d_hidden and ffn_d_hidden_multiplier. "
            f"Got ffn_d_hidden = {d_hidden} and ffn_d_hidden_multiplier = {multiplier}."
        )
    if d_hidden is None:
        d_hidden = round((FFN_D_HIDDEN_MULTIPLIER if multiplier is None else multiplier) * d_token)
    if d_hidden < 1:
        raise InvalidParameterError(
            f"The hidden size of the feed-forward network must be >= 1. Got {d_hidden} "
            f"(d_token = {d_token}, ffn_d_hidden_multiplier = {multiplier})."
        )
    return d_hidden


def _check_module_factory(value: Any) -> str | None:
    if callable(value) and not isinstance(value, nn.Module):
        return None
    return "a torch.nn.Module class (or a callable that builds a module)"


def _check_query_idx(value: Any) -> str | None:
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if is_int(value):
        return None
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and value
        and all(is_int(v) for v in value)
    ):
        return None
    return "an int or a non-empty list of ints"


def _p_factory(default: ModuleFactory) -> Any:
    return p_uty(
        custom_check=_check_module_factory,
        expected="a torch.nn.Module class (or a callable that builds a module)",
        default=default,
        tags="train",
    )


class PipeOpTorchFTTransformerBlock(PipeOpTorch):
    """A transformer block of the FT-Transformer (:class:`FTTransformerBlock`).

    ``d_token`` is dimension 2 of the input ``(B, n_tokens, d_token)``, which must be
    known and a multiple of ``attention_n_heads``.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: the input shape, or ``(None, len(query_idx), d_token)``.

    Parameters
    ----------
    attention_n_heads : int, default 8
        Number of attention heads.
    attention_dropout : float, default 0.2
        Dropout on the attention weights.
    attention_initialization : {"kaiming", "xavier"}, default "kaiming"
        Initialisation of the query, key and value projections.
    attention_normalization : callable, default torch.nn.LayerNorm
        Normalisation around attention, built from ``d_token``.
    ffn_d_hidden : int, optional
        Hidden size of the feed-forward network.
    ffn_d_hidden_multiplier : float, optional
        Hidden size as a multiple of ``d_token`` (4/3 when neither is set).
    ffn_dropout : float, default 0.1
        Dropout after the feed-forward activation.
    ffn_activation : callable, default ReGLU
        Feed-forward activation, built without arguments.
    ffn_normalization : callable, default torch.nn.LayerNorm
        Normalisation around the feed-forward network.
    residual_dropout : float, default 0.0
        Dropout on each residual branch.
    prenormalization : bool, default True
        Normalise before each branch (True) or after each sum (False).
    is_first_layer : bool, default False
        The first block skips the attention normalisation (set at construction).
    query_idx : int or list of int, optional
        Tokens to output (0-based, negative from the end; ``-1`` is the CLS token);
        ``None`` (set at construction) for all.
    attention_bias, ffn_bias_first, ffn_bias_second : bool, default True
        Biases of the attention projections and the feed-forward layers.

    Examples
    --------
    >>> import torchweave as tw
    >>> block = tw.nn("ft_transformer_block", attention_n_heads=2, query_idx=-1)
    >>> block.shapes_out([(None, 5, 8)])
    [(None, 1, 8)]
    """

    module_class = FTTransformerBlock
    inferred = ("d_token",)

    def __init__(
        self, id: str = "nn_ft_transformer_block", param_vals: dict[str, Any] | None = None
    ) -> None:
        param_set = ParamSet(
            attention_n_heads=p_int(1, default=8, tags="train"),
            attention_dropout=p_dbl(0, 1, default=0.2, tags="train"),
            attention_initialization=p_fct(("kaiming", "xavier"), default="kaiming", tags="train"),
            attention_normalization=_p_factory(nn.LayerNorm),
            ffn_d_hidden=p_int(1, default=None, special_vals=(None,), tags="train"),
            ffn_d_hidden_multiplier=p_dbl(0, default=None, special_vals=(None,), tags="train"),
            ffn_dropout=p_dbl(0, 1, default=0.1, tags="train"),
            ffn_activation=_p_factory(ReGLU),
            ffn_normalization=_p_factory(nn.LayerNorm),
            residual_dropout=p_dbl(0, 1, default=0.0, tags="train"),
            prenormalization=p_lgl(default=True, tags="train"),
            is_first_layer=p_lgl(default=False, init=False, tags="train"),
            query_idx=p_uty(
                custom_check=_check_query_idx,
                expected="an int or a non-empty list of ints",
                default=None,
                init=None,
                special_vals=(None,),
                tags="train",
            ),
            attention_bias=p_lgl(default=True, tags="train"),
            ffn_bias_first=p_lgl(default=True, tags="train"),
            ffn_bias_second=p_lgl(default=True, tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        shape = shapes_in[0]
        assert_ndim(shape, self.id, ndim=3)
        assert_known_dims(shape, [2], self.id, "the token dimension (dimension 2)")
        d_token: int = shape[2]  # type: ignore[assignment]
        heads = param_vals.get("attention_n_heads", 8)
        if d_token % heads:
            raise ShapeError(
                f"PipeOp '{self.id}' needs a token size (dimension 2) that is a multiple of "
                f"attention_n_heads = {heads}, but got the shape {shape_to_str(shape)}."
            )
        if (
            param_vals.get("ffn_d_hidden") is not None
            and param_vals.get("ffn_d_hidden_multiplier") is not None
        ):
            raise InvalidParameterError(
                f"PipeOp '{self.id}' takes at most one of the parameters 'ffn_d_hidden' and "
                "'ffn_d_hidden_multiplier', but both are set."
            )
        query_idx = _as_index_list(param_vals.get("query_idx"))
        n_tokens = shape[1]
        if query_idx is not None and n_tokens is not None:
            bad = [i for i in query_idx if not -n_tokens <= i < n_tokens]
            if bad:
                raise ShapeError(
                    f"PipeOp '{self.id}' cannot use 'query_idx' {bad} for the input shape "
                    f"{shape_to_str(shape)}, which has {n_tokens} tokens."
                )
        return super()._shapes_out(shapes_in, param_vals, task)

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        return {"d_token": shapes_in[0][2], **param_vals}


pipeops.register("nn_ft_transformer_block", PipeOpTorchFTTransformerBlock)
