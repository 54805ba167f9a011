"""``classif.ft_transformer`` / ``regr.ft_transformer``: the FT-Transformer (mlr3torch's
``LearnerTorchFTTransformer``; Gorishniy et al. 2021, "Revisiting Deep Learning Models
for Tabular Data").

Each feature becomes a token (numeric: ``x * w + b``; categorical: an embedding plus a
bias), a CLS token is appended *last* (as in mlr3torch; rtdl prepends it, which gives
the same output since attention has no positions), transformer blocks run, the last
one only for the CLS token, and ``LayerNorm -> ReLU -> Linear`` maps it to the outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, TaskError
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.network.ops.glu import ReGLU
from torchweave.network.ops.nn_ft_cls import CLS
from torchweave.network.ops.nn_ft_transformer_block import FTTransformerBlock
from torchweave.network.ops.nn_head import output_dim_for
from torchweave.network.ops.tokenizer import TokenizerCateg, TokenizerNum, categ_cardinalities
from torchweave.params.param import p_dbl, p_fct, p_int, p_lgl, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.prebuilt._checks import check_int_list, check_module_factory
from torchweave.prebuilt.base import (
    LearnerTorchPrebuilt,
    categ_features,
    categ_token,
    num_token,
    numeric_features,
)
from torchweave.registry import learners

__all__ = ["FTTransformer", "LearnerTorchFTTransformer"]

#: Parameters of each transformer block that the learner passes through.
BLOCK_PARAMS = (
    "attention_n_heads",
    "attention_dropout",
    "attention_initialization",
    "attention_normalization",
    "ffn_d_hidden",
    "ffn_d_hidden_multiplier",
    "ffn_dropout",
    "ffn_activation",
    "ffn_normalization",
    "residual_dropout",
    "prenormalization",
    "attention_bias",
    "ffn_bias_first",
    "ffn_bias_second",
)

_TOKEN_NAMES = {"num.input": "num", "categ.input": "categ", "num": "num", "categ": "categ"}


class FTTransformer(nn.Module):
    """The FT-Transformer network: tokenizers, CLS (last), blocks, output layers.

    Parameters
    ----------
    n_num : int
        Number of numeric features (0 for none).
    cardinalities : list of int
        Category counts of the categorical features (empty for none).
    d_out : int
        Outputs per row.
    n_blocks : int, default 3
        Transformer blocks (0 allowed).
    d_token : int, default 192
        Token size.
    init_token : {"uniform", "normal"}, default "uniform"
        Initialisation of the tokenizers.
    **block_args
        Passed to each :class:`~torchweave.network.ops.nn_ft_transformer_block.FTTransformerBlock`.

    Notes
    -----
    The inputs are ``num`` (float, ``(B, n_num)``) and ``categ`` (int64 codes,
    ``(B, n_categ)``), by name or positionally in that order (only those present).
    """

    def __init__(
        self,
        n_num: int,
        cardinalities: list[int],
        d_out: int,
        n_blocks: int = 3,
        d_token: int = 192,
        init_token: str = "uniform",
        **block_args: Any,
    ) -> None:
        super().__init__()
        if n_num == 0 and not cardinalities:
            raise InvalidParameterError("The FT-Transformer needs at least one feature.")
        self.inputs = [n for n, has in (("num", n_num > 0), ("categ", bool(cardinalities))) if has]
        self.tokenizer_num = (
            TokenizerNum(n_num, d_token, bias=True, initialization=init_token) if n_num else None
        )
        self.tokenizer_categ = (
            TokenizerCateg(cardinalities, d_token, bias=True, initialization=init_token)
            if cardinalities
            else None
        )
        self.cls = CLS(d_token, "uniform")
        self.blocks = nn.ModuleList(
            [
                FTTransformerBlock(
                    d_token,
                    is_first_layer=i == 0,
                    query_idx=-1 if i == n_blocks - 1 else None,
                    **block_args,
                )
                for i in range(n_blocks)
            ]
        )
        self.normalization = nn.LayerNorm(d_token)
        self.activation = nn.ReLU()
        self.head = nn.Linear(d_token, d_out)

    def forward(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        """Tokens, transformer blocks, then the CLS token to the outputs."""
        x = dict(zip(self.inputs, args, strict=False)) | kwargs
        tokens = []
        if self.tokenizer_num is not None:
            tokens.append(self.tokenizer_num(x["num"]))
        if self.tokenizer_categ is not None:
            tokens.append(self.tokenizer_categ(x["categ"]))
        h = self.cls(torch.cat(tokens, dim=1) if len(tokens) > 1 else tokens[0])
        for block in self.blocks:
            h = block(h)
        return self.head(self.activation(self.normalization(h[:, -1])))


def _check_ingress_tokens(x: Any) -> str | None:
    if (
        isinstance(x, Mapping)
        and x
        and set(x) <= set(_TOKEN_NAMES)
        and all(isinstance(v, TorchIngressToken) for v in x.values())
    ):
        return None
    return "a dict with keys among 'num.input' and 'categ.input' of TorchIngressTokens"


class LearnerTorchFTTransformer(LearnerTorchPrebuilt):
    """FT-Transformer: a transformer over feature tokens, read out at a CLS token.

    Takes numeric, integer, factor, ordered and logical features (categorical ones
    are embedded, so they need no encoding), or lazy tensors with ``ingress_tokens``.

    Parameters
    ----------
    task_type : {"classif", "regr"}
        Task type.
    optimizer, loss, callbacks
        As for :class:`~torchweave.training.learner_torch.LearnerTorch`.

    Notes
    -----
    Own parameters (tagged ``train``), with mlr3torch's inits: ``n_blocks`` (int >= 0,
    3), ``d_token`` (int >= 1, 192), ``init_token`` ("uniform"/"normal", "uniform"),
    ``cardinalities`` (category counts, for lazy tensor input only),
    ``ingress_tokens`` (lazy tensor input only: keys ``num.input`` / ``categ.input``)
    and the block parameters ``attention_n_heads`` (8), ``attention_dropout`` (0.2),
    ``attention_initialization`` ("kaiming"), ``attention_normalization``
    (``LayerNorm``), ``ffn_d_hidden`` / ``ffn_d_hidden_multiplier`` (neither: 4/3),
    ``ffn_dropout`` (0.1), ``ffn_activation`` (``ReGLU``), ``ffn_normalization``
    (``LayerNorm``), ``residual_dropout`` (0), ``prenormalization`` (True),
    ``attention_bias``, ``ffn_bias_first``, ``ffn_bias_second`` (True).

    Examples
    --------
    >>> import torchweave as tw
    >>> learner = tw.lrn(
    ...     "classif.ft_transformer", n_blocks=1, d_token=8, attention_n_heads=2,
    ...     epochs=1, batch_size=32,
    ... )
    >>> learner.train(tw.tsk("iris")).is_trained
    True
    """

    def __init__(
        self,
        task_type: str = "classif",
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
    ) -> None:
        def factory(init: Any) -> Any:
            return p_uty(
                custom_check=check_module_factory,
                expected="a torch.nn.Module class",
                init=init,
                tags="train",
            )

        ps = ParamSet(
            n_blocks=p_int(0, init=3, tags="train"),
            d_token=p_int(1, init=192, tags="train"),
            cardinalities=p_uty(
                custom_check=check_int_list, expected="a list of ints >= 1", tags="train"
            ),
            init_token=p_fct(("uniform", "normal"), init="uniform", tags="train"),
            ingress_tokens=p_uty(
                custom_check=_check_ingress_tokens,
                expected="a dict of TorchIngressTokens",
                tags="train",
            ),
            attention_n_heads=p_int(1, init=8, tags="train"),
            attention_dropout=p_dbl(0, 1, init=0.2, tags="train"),
            attention_initialization=p_fct(("kaiming", "xavier"), init="kaiming", tags="train"),
            attention_normalization=factory(nn.LayerNorm),
            ffn_d_hidden=p_int(1, tags="train"),
            ffn_d_hidden_multiplier=p_dbl(0, tags="train"),
            ffn_dropout=p_dbl(0, 1, init=0.1, tags="train"),
            ffn_activation=factory(ReGLU),
            ffn_normalization=factory(nn.LayerNorm),
            residual_dropout=p_dbl(0, 1, init=0.0, tags="train"),
            prenormalization=p_lgl(init=True, tags="train"),
            attention_bias=p_lgl(init=True, tags="train"),
            ffn_bias_first=p_lgl(init=True, tags="train"),
            ffn_bias_second=p_lgl(init=True, tags="train"),
        )
        super().__init__(
            f"{task_type}.ft_transformer",
            task_type,
            param_set=ps,
            optimizer=optimizer,
            loss=loss,
            callbacks=callbacks,
            feature_types=("numeric", "integer", "logical", "factor", "ordered", "lazy_tensor"),
            label="FT-Transformer",
        )

    def _ingress_tokens(
        self, task: Task, param_vals: dict[str, Any]
    ) -> dict[str, TorchIngressToken]:
        types = set(task.feature_types.values())
        if "lazy_tensor" not in types:
            tokens = {}
            if numeric_features(task):
                tokens["num"] = num_token(task)
            if categ_features(task):
                tokens["categ"] = categ_token(task)
            return tokens
        if types != {"lazy_tensor"}:
            raise TaskError(
                f"Learner '{self.id}': a task with lazy tensors must have only lazy tensor "
                f"features; task '{task.id}' has {task.feature_types}."
            )
        given = param_vals.get("ingress_tokens")
        if not given:
            raise InvalidParameterError(
                f"Learner '{self.id}': set the 'ingress_tokens' parameter (keys 'num.input' "
                "and/or 'categ.input') to train on lazy tensor features."
            )
        tokens = {_TOKEN_NAMES[k]: v for k, v in given.items()}
        for name, token in tokens.items():
            if len(token.feature_names(task)) != 1:
                raise TaskError(
                    f"Learner '{self.id}': the ingress token '{name}' must select exactly one "
                    "lazy tensor feature."
                )
        return tokens

    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        tokens = self._ingress_tokens(task, param_vals)
        n_num = 0
        if "num" in tokens:
            shape = tokens["num"].shape
            if shape is None or len(shape) != 2 or not isinstance(shape[1], int):
                raise InvalidParameterError(
                    f"Learner '{self.id}': the numeric input needs a known shape (None, n)."
                )
            n_num = shape[1]
        cards: list[int] = []
        if "categ" in tokens:
            if "lazy_tensor" in task.feature_types.values():
                cards = param_vals.get("cardinalities") or []
                if not cards:
                    raise InvalidParameterError(
                        f"Learner '{self.id}': set 'cardinalities' for categorical lazy "
                        "tensor input."
                    )
            else:
                cards = categ_cardinalities(task)
        block_args = {k: param_vals[k] for k in BLOCK_PARAMS if k in param_vals}
        return FTTransformer(
            n_num,
            list(cards),
            output_dim_for(task),
            n_blocks=param_vals.get("n_blocks", 3),
            d_token=param_vals.get("d_token", 192),
            init_token=param_vals.get("init_token", "uniform"),
            **block_args,
        )


def _classif_ft_transformer() -> LearnerTorchFTTransformer:
    """FT-Transformer (classification)."""
    return LearnerTorchFTTransformer("classif")


def _regr_ft_transformer() -> LearnerTorchFTTransformer:
    """FT-Transformer (regression)."""
    return LearnerTorchFTTransformer("regr")


learners.register("classif.ft_transformer", _classif_ft_transformer)
learners.register("regr.ft_transformer", _regr_ft_transformer)
