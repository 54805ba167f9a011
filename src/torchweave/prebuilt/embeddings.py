"""Embeddings of numeric features for TabM (Gorishniy et al. 2022, "On Embeddings for
Numerical Features in Tabular Deep Learning"; the ``rtdl_num_embeddings`` package).

Each maps ``(B, n_features)`` to ``(B, n_features, d_embedding)``:

- :class:`LinearReLUEmbeddings`: ``relu(x * w + b)`` per feature.
- :class:`PeriodicEmbeddings`: ``cos`` / ``sin`` of learned frequencies, then a linear
  layer per feature (or one shared, ``lite``), then ReLU.
- :class:`PiecewiseLinearEmbeddings`: the piecewise-linear encoding over bins from the
  training data's quantiles (:func:`compute_bins`), a linear layer per feature, plus a
  linear embedding (rtdl's "version B").
"""

from __future__ import annotations

import math

import torch
from torch import nn

from torchweave.errors import InvalidParameterError

__all__ = [
    "LinearReLUEmbeddings",
    "PeriodicEmbeddings",
    "PiecewiseLinearEmbeddings",
    "compute_bins",
]


def _uniform_(tensor: torch.Tensor, fan: int) -> torch.Tensor:
    bound = fan**-0.5
    return nn.init.uniform_(tensor, -bound, bound)


class _LinearEmbeddings(nn.Module):
    """``x[..., None] * weight + bias`` with ``(n_features, d)`` weight and bias."""

    def __init__(self, n_features: int, d_embedding: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(_uniform_(torch.empty(n_features, d_embedding), d_embedding))
        self.bias = nn.Parameter(_uniform_(torch.empty(n_features, d_embedding), d_embedding))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One linear embedding per feature."""
        return torch.addcmul(self.bias, self.weight, x[..., None])


class _FeatureLinear(nn.Module):
    """A separate linear layer per feature: ``(B, n, d_in) -> (B, n, d_out)``."""

    def __init__(self, n: int, d_in: int, d_out: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(_uniform_(torch.empty(n, d_in, d_out), d_in))
        self.bias = nn.Parameter(_uniform_(torch.empty(n, d_out), d_in)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x[:, j] @ weight[j] + bias[j]`` for each feature ``j``."""
        out = torch.einsum("bni,nio->bno", x, self.weight)
        return out if self.bias is None else out + self.bias


class LinearReLUEmbeddings(nn.Module):
    """``relu(x * w + b)`` per feature: ``(B, n) -> (B, n, d_embedding)``.

    Parameters
    ----------
    n_features : int
        Number of numeric features.
    d_embedding : int, default 32
        Embedding size.
    """

    def __init__(self, n_features: int, d_embedding: int = 32) -> None:
        super().__init__()
        self.linear = _LinearEmbeddings(n_features, d_embedding)
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed each feature."""
        return self.activation(self.linear(x))


class PeriodicEmbeddings(nn.Module):
    """Periodic embeddings: ``linear(cat(cos(2 pi f x), sin(2 pi f x)))`` (then ReLU).

    Parameters
    ----------
    n_features : int
        Number of numeric features.
    d_embedding : int, default 24
        Embedding size.
    n_frequencies : int, default 48
        Learned frequencies per feature.
    frequency_init_scale : float, default 0.01
        Standard deviation of the initial frequencies (truncated at 3 of them); > 0.
    activation : bool, default True
        Apply ReLU at the end.
    lite : bool, default False
        Share the linear layer between features (needs ``activation``).

    Raises
    ------
    InvalidParameterError
        For ``frequency_init_scale <= 0`` or ``lite`` without ``activation``.
    """

    def __init__(
        self,
        n_features: int,
        d_embedding: int = 24,
        n_frequencies: int = 48,
        frequency_init_scale: float = 0.01,
        activation: bool = True,
        lite: bool = False,
    ) -> None:
        super().__init__()
        if frequency_init_scale <= 0:
            raise InvalidParameterError(
                f"frequency_init_scale must be > 0. Got {frequency_init_scale}."
            )
        if lite and not activation:
            raise InvalidParameterError(
                "lite periodic embeddings need the activation: set embedding_activation=True "
                "or lite=False."
            )
        sigma = frequency_init_scale
        self.frequencies = nn.Parameter(
            nn.init.trunc_normal_(
                torch.empty(n_features, n_frequencies), 0.0, sigma, -3 * sigma, 3 * sigma
            )
        )
        self.linear: nn.Module = (
            nn.Linear(2 * n_frequencies, d_embedding)
            if lite
            else _FeatureLinear(n_features, 2 * n_frequencies, d_embedding)
        )
        self.activation = nn.ReLU() if activation else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed each feature."""
        z = 2 * math.pi * self.frequencies * x[..., None]
        out = self.linear(torch.cat([torch.cos(z), torch.sin(z)], dim=-1))
        return out if self.activation is None else self.activation(out)


def compute_bins(x: torch.Tensor, n_bins: int = 48) -> list[torch.Tensor]:
    """Bin edges per column from quantiles: ``quantile(x[:, j], linspace(0, 1, n_bins + 1))``.

    Repeated quantiles collapse, so a column may get fewer bins.

    Parameters
    ----------
    x : torch.Tensor
        Training features, ``(n_rows, n_features)``, finite.
    n_bins : int, default 48
        Bins per feature; more than 1 and fewer than the rows.

    Raises
    ------
    InvalidParameterError
        For ``n_bins`` out of range, non-finite values or a constant column.
    """
    if x.ndim != 2 or x.shape[1] < 1:
        raise InvalidParameterError(f"compute_bins needs a (rows, features) matrix. Got {x.shape}.")
    if not 1 < n_bins < x.shape[0]:
        raise InvalidParameterError(
            f"n_bins must be more than 1 and less than the number of training rows "
            f"({x.shape[0]}). Got n_bins = {n_bins}."
        )
    if not torch.isfinite(x).all():
        raise InvalidParameterError("compute_bins needs finite values.")
    constant = [j for j in range(x.shape[1]) if bool((x[:, j] == x[0, j]).all())]
    if constant:
        raise InvalidParameterError(
            f"Piecewise linear embeddings need at least two distinct values per feature; the "
            f"feature(s) at position(s) {constant} are constant. Remove them first, e.g. "
            'with po("removeconstants").'
        )
    probs = torch.linspace(0.0, 1.0, n_bins + 1, dtype=x.dtype)
    return [q.unique() for q in torch.quantile(x, probs, dim=0).T]


class _PiecewiseLinearEncoding(nn.Module):
    """Piecewise-linear encoding over given bins: ``(B, n) -> (B, n, max_bins)``.

    Feature ``j`` with ``m`` bins takes the slots ``0 .. m-2`` and the last one (the
    slots between stay 0): slot ``t`` holds ``(x - left_t) / width_t``, clamped to
    ``<= 1`` for the first bin, to ``[0, 1]`` inside and to ``>= 0`` for the last
    (unclamped when the feature has a single bin).
    """

    weight: torch.Tensor
    bias: torch.Tensor
    single: torch.Tensor

    def __init__(self, bins: list[torch.Tensor]) -> None:
        super().__init__()
        counts = [len(b) - 1 for b in bins]
        width = max(counts)
        weight = torch.zeros(len(bins), width)
        bias = torch.zeros(len(bins), width)
        for j, edges in enumerate(bins):
            edges = edges.to(weight.dtype)
            w = 1.0 / edges.diff()
            b = -edges[:-1] * w
            m = counts[j]
            weight[j, : m - 1], bias[j, : m - 1] = w[:-1], b[:-1]
            weight[j, -1], bias[j, -1] = w[-1], b[-1]
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)
        self.register_buffer("single", torch.tensor(counts) == 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode each feature."""
        z = torch.addcmul(self.bias, self.weight, x[..., None])
        if z.shape[-1] == 1:
            return z
        last = z[..., -1:]
        last = torch.where(self.single[:, None], last, last.clamp_min(0.0))
        return torch.cat([z[..., :1].clamp_max(1.0), z[..., 1:-1].clamp(0.0, 1.0), last], -1)


class PiecewiseLinearEmbeddings(nn.Module):
    """Piecewise-linear embeddings: ``linear0(x) + act(linear(ple(x)))`` per feature.

    The encoding's linear layer starts at zero, so the module starts as a linear
    embedding (rtdl_num_embeddings' "version B", which TabM uses).

    Parameters
    ----------
    bins : list of torch.Tensor
        Bin edges per feature (:func:`compute_bins`).
    d_embedding : int, default 16
        Embedding size.
    activation : bool, default False
        ReLU after the encoding's linear layer.
    """

    def __init__(
        self, bins: list[torch.Tensor], d_embedding: int = 16, activation: bool = False
    ) -> None:
        super().__init__()
        self.linear0 = _LinearEmbeddings(len(bins), d_embedding)
        self.encoding = _PiecewiseLinearEncoding(bins)
        self.linear = _FeatureLinear(len(bins), self.encoding.weight.shape[1], d_embedding, False)
        nn.init.zeros_(self.linear.weight)
        self.activation = nn.ReLU() if activation else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed each feature."""
        ple = self.linear(self.encoding(x))
        if self.activation is not None:
            ple = self.activation(ple)
        return self.linear0(x) + ple
