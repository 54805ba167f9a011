"""``nn("tokenizer_num")`` and ``nn("tokenizer_categ")``: features as tokens (FT-Transformer).

Each feature becomes a token, a vector of ``d_token`` entries: a numeric feature ``x_j``
gives ``x_j * w_j + b_j``, a categorical one the embedding of its category plus ``b_j``
(Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, assert_ndim, shape_to_str
from torchweave.params.param import p_fct, p_int, p_lgl, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = [
    "PipeOpTorchTokenizerCateg",
    "PipeOpTorchTokenizerNum",
    "TokenizerCateg",
    "TokenizerNum",
    "categ_cardinalities",
    "init_token_",
]

#: Task feature types fed to the network as category codes (``torch_ingress_categ``).
CATEG_FEATURE_TYPES = ("factor", "ordered", "logical")
_INITIALIZATIONS = ("uniform", "normal")


def init_token_(tensor: torch.Tensor, d_token: int, initialization: str) -> torch.Tensor:
    """Initialise token parameters in place, as rtdl does.

    ``"uniform"`` draws from ``U(-1/sqrt(d_token), 1/sqrt(d_token))``, ``"normal"``
    from ``N(0, 1/d_token)`` (standard deviation ``1/sqrt(d_token)``).

    Raises
    ------
    InvalidParameterError
        For another ``initialization``.
    """
    bound = 1 / math.sqrt(d_token)
    if initialization == "uniform":
        return nn.init.uniform_(tensor, -bound, bound)
    if initialization == "normal":
        return nn.init.normal_(tensor, std=bound)
    raise InvalidParameterError(
        f"The token initialization must be 'uniform' or 'normal'. Got {initialization!r} instead."
    )


class TokenizerNum(nn.Module):
    """Turn ``n_features`` numeric features into tokens: ``(B, n) -> (B, n, d_token)``.

    Parameters
    ----------
    n_features : int
        Number of numeric features (the width of the input).
    d_token : int
        Size of each token.
    bias : bool, default True
        Add a learned bias per feature and token entry.
    initialization : {"uniform", "normal"}, default "uniform"
        Distribution of the initial weights and biases (see :func:`init_token_`).
    """

    def __init__(
        self, n_features: int, d_token: int, bias: bool = True, initialization: str = "uniform"
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.d_token = d_token
        self.initialization = initialization
        self.weight = nn.Parameter(torch.empty(n_features, d_token))
        self.bias = nn.Parameter(torch.empty(n_features, d_token)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw new weights (and biases) from the chosen distribution."""
        init_token_(self.weight, self.d_token, self.initialization)
        if self.bias is not None:
            init_token_(self.bias, self.d_token, self.initialization)

    def extra_repr(self) -> str:
        """The sizes and options, shown in the module's repr."""
        return (
            f"n_features={self.n_features}, d_token={self.d_token}, "
            f"bias={self.bias is not None}, initialization={self.initialization!r}"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens ``x[..., None] * weight + bias`` of shape ``(B, n_features, d_token)``."""
        out = x[..., None] * self.weight
        if self.bias is not None:
            out = out + self.bias
        return out


class TokenizerCateg(nn.Module):
    """Turn categorical features (int64 codes from 0) into tokens: ``(B, n) -> (B, n, d)``.

    One embedding table holds the rows of all features: code ``c`` of feature ``j``
    selects row ``offset_j + c``, where ``offset_j`` is the sum of the cardinalities of
    the features before ``j``; a learned bias per feature is added.

    Parameters
    ----------
    cardinalities : sequence of int
        Number of categories of each feature (2 for a logical feature).
    d_token : int
        Size of each token.
    bias : bool, default True
        Add a learned bias per feature and token entry.
    initialization : {"uniform", "normal"}, default "uniform"
        Distribution of the initial embeddings and biases (see :func:`init_token_`).
    """

    category_offsets: torch.Tensor

    def __init__(
        self,
        cardinalities: Sequence[int],
        d_token: int,
        bias: bool = True,
        initialization: str = "uniform",
    ) -> None:
        super().__init__()
        self.cardinalities = tuple(int(c) for c in cardinalities)
        if not self.cardinalities or min(self.cardinalities) < 1:
            raise InvalidParameterError(
                "TokenizerCateg needs at least one cardinality, each >= 1. "
                f"Got {list(self.cardinalities)} instead."
            )
        self.d_token = d_token
        self.initialization = initialization
        offsets = [0, *itertools.accumulate(self.cardinalities)][:-1]
        # not persistent: the offsets follow from the cardinalities, not from training
        self.register_buffer(
            "category_offsets", torch.tensor(offsets, dtype=torch.int64), persistent=False
        )
        self.embeddings = nn.Embedding(sum(self.cardinalities), d_token)
        self.bias = nn.Parameter(torch.empty(len(self.cardinalities), d_token)) if bias else None
        self.reset_parameters()

    @property
    def n_tokens(self) -> int:
        """Number of features, i.e. of tokens produced per row."""
        return len(self.cardinalities)

    def reset_parameters(self) -> None:
        """Draw new embeddings (and biases) from the chosen distribution."""
        init_token_(self.embeddings.weight, self.d_token, self.initialization)
        if self.bias is not None:
            init_token_(self.bias, self.d_token, self.initialization)

    def extra_repr(self) -> str:
        """The sizes and options, shown in the module's repr."""
        return (
            f"cardinalities={self.cardinalities}, d_token={self.d_token}, "
            f"bias={self.bias is not None}, initialization={self.initialization!r}"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens of shape ``(B, n_tokens, d_token)`` for int64 codes ``x`` of shape ``(B, n)``."""
        out = self.embeddings(x + self.category_offsets)
        if self.bias is not None:
            out = out + self.bias
        return out


def categ_cardinalities(task: Task) -> list[int]:
    """Number of categories of each categorical feature, in ``torch_ingress_categ`` order.

    Factor and ordered features count their categories (also unused ones), logical
    features count 2. Other features are skipped.
    """
    types = task.feature_types
    names = [n for n in task.feature_names if types[n] in CATEG_FEATURE_TYPES]
    dtypes = task.data(rows=task.row_ids[:0], cols=names).dtypes
    return [2 if types[n] == "logical" else len(dtypes[n].categories) for n in names]


class PipeOpTorchTokenizerNum(PipeOpTorch):
    """Numeric features as tokens: ``(B, n) -> (B, n, d_token)`` (:class:`TokenizerNum`).

    ``n_features`` is the input width, which must be known.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(None, n_features, d_token)``.

    Parameters
    ----------
    d_token : int
        Size of each token (required).
    bias : bool, default True
        Add a learned bias per feature (set to True at construction).
    initialization : {"uniform", "normal"}, default "uniform"
        Initial distribution (set to "uniform" at construction).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("tokenizer_num", d_token=8).shapes_out([(None, 4)])
    [(None, 4, 8)]
    """

    module_class = TokenizerNum
    inferred = ("n_features",)

    def __init__(
        self, id: str = "nn_tokenizer_num", param_vals: dict[str, Any] | None = None
    ) -> None:
        param_set = ParamSet(
            d_token=p_int(1, tags={"train", "required"}),
            bias=p_lgl(default=True, init=True, tags="train"),
            initialization=p_fct(_INITIALIZATIONS, default="uniform", init="uniform", tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        assert_ndim(shapes_in[0], self.id, ndim=2)
        assert_known_dims(shapes_in[0], [1], self.id, "the feature dimension (dimension 1)")
        return super()._shapes_out(shapes_in, param_vals, task)

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        return {"n_features": shapes_in[0][1], **param_vals}


def _check_cardinalities(value: Any) -> str | None:
    ok = (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) > 0
        and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in value)
    )
    return None if ok else "a non-empty tuple of ints >= 1"


class PipeOpTorchTokenizerCateg(PipeOpTorch):
    """Categorical features as tokens: ``(B, n) -> (B, n, d_token)`` (:class:`TokenizerCateg`).

    The input holds int64 codes from 0 (as made by ``torch_ingress_categ``). Unless the
    ``cardinalities`` parameter is set, the number of categories of each feature comes
    from the task's factor, ordered (their categories) and logical (2) features, in
    feature order.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(None, n_tokens, d_token)``, ``n_tokens`` being the number of
    cardinalities.

    Parameters
    ----------
    d_token : int
        Size of each token (required).
    bias : bool, default True
        Add a learned bias per feature (set to True at construction).
    initialization : {"uniform", "normal"}, default "uniform"
        Initial distribution (set to "uniform" at construction).
    cardinalities : tuple of int, optional
        Number of categories of each input column; inferred from the task when unset.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("tokenizer_categ", d_token=8, cardinalities=(3, 2)).shapes_out([(None, 2)])
    [(None, 2, 8)]
    """

    module_class = TokenizerCateg
    inferred = ("cardinalities",)  # from the task when the parameter is unset
    trace_dtypes = (torch.int64,)

    def __init__(
        self, id: str = "nn_tokenizer_categ", param_vals: dict[str, Any] | None = None
    ) -> None:
        param_set = ParamSet(
            cardinalities=p_uty(
                custom_check=_check_cardinalities,
                expected="a non-empty tuple of ints >= 1",
                special_vals=(None,),
                tags="train",
            ),
            d_token=p_int(1, tags={"train", "required"}),
            bias=p_lgl(default=True, init=True, tags="train"),
            initialization=p_fct(_INITIALIZATIONS, default="uniform", init="uniform", tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _cardinalities(self, param_vals: dict[str, Any], task: Task | None) -> tuple[int, ...]:
        given = param_vals.get("cardinalities")
        if given is not None:
            return tuple(given)
        if task is None:
            raise ShapeError(
                f"PipeOp '{self.id}' needs the number of categories of each feature: set its "
                "'cardinalities' parameter, or give a task."
            )
        found = tuple(categ_cardinalities(task))
        if not found:
            raise ShapeError(
                f"PipeOp '{self.id}' infers its cardinalities from the categorical features "
                f"(factor, ordered, logical) of task '{task.id}', but it has none. Set the "
                "'cardinalities' parameter."
            )
        return found

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        shape = shapes_in[0]
        assert_ndim(shape, self.id, ndim=2)
        n_tokens = len(self._cardinalities(param_vals, task))
        if shape[1] is not None and shape[1] != n_tokens:
            raise ShapeError(
                f"PipeOp '{self.id}' has {n_tokens} cardinalities, so it needs an input with "
                f"{n_tokens} columns, but got the shape {shape_to_str(shape)}."
            )
        # an unknown width can only be n_tokens: trace with that
        return super()._shapes_out([(shape[0], n_tokens)], param_vals, task)

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        return {**param_vals, "cardinalities": self._cardinalities(param_vals, task)}


pipeops.register("nn_tokenizer_num", PipeOpTorchTokenizerNum)
pipeops.register("nn_tokenizer_categ", PipeOpTorchTokenizerCateg)
