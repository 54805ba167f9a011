"""``classif.tabm`` / ``regr.tabm``: TabM, an efficient ensemble of k MLPs (mlr3torch's
``LearnerTorchTabM``; Gorishniy et al. 2024, "TabM: Advancing Tabular Deep Learning
with Parameter-Efficient Ensembling"; the ``tabm`` package, version 0.0.3).

The network returns ``(B, k, d_out)``: one prediction per ensemble member. Training
averages the loss over the k members (:class:`TabMLoop`); prediction and validation
average their *probabilities* (for regression, their values), not their logits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from torchweave.data.task import Task, TaskClassif
from torchweave.errors import InvalidParameterError
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.network.ops.nn_head import output_dim_for
from torchweave.network.ops.tokenizer import categ_cardinalities
from torchweave.params.param import p_dbl, p_fct, p_int, p_lgl, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.prebuilt.base import (
    LearnerTorchPrebuilt,
    categ_features,
    categ_token,
    num_token,
    numeric_features,
)
from torchweave.prebuilt.embeddings import (
    LinearReLUEmbeddings,
    PeriodicEmbeddings,
    PiecewiseLinearEmbeddings,
    compute_bins,
)
from torchweave.registry import learners
from torchweave.training.loop import Batch, TrainLoop

__all__ = [
    "LearnerTorchTabM",
    "LinearBatchEnsemble",
    "LinearEnsemble",
    "TabM",
    "TabMLoop",
    "TabMPredictor",
    "average_ensemble",
    "init_scaling_",
]

#: Default embedding sizes by embedding type (mlr3torch).
D_EMBEDDING = {"linear_relu": 32, "periodic": 24, "piecewise_linear": 16}


def init_scaling_(x: torch.Tensor, distribution: str, chunks: list[int] | None = None) -> None:
    """Fill scaling parameters: ``"ones"``, ``"normal"`` or ``"random-signs"`` (+-1).

    With ``chunks`` (sizes along the last dimension), each chunk of each row gets one
    draw: all entries of a feature's block share their scale.
    """
    with torch.no_grad():
        if distribution == "ones":
            x.fill_(1.0)
            return

        def draw(shape: tuple[int, ...]) -> torch.Tensor:
            if distribution == "normal":
                return torch.randn(shape, dtype=x.dtype)
            if distribution == "random-signs":
                return torch.bernoulli(torch.full(shape, 0.5, dtype=x.dtype)) * 2 - 1
            raise InvalidParameterError(
                "start_scaling_init must be 'random-signs' or 'normal'. "
                f"Got {distribution!r} instead."
            )

        if chunks is None:
            x.copy_(draw(tuple(x.shape)))
            return
        values = draw((*x.shape[:-1], len(chunks)))
        x.copy_(torch.repeat_interleave(values, torch.tensor(chunks), dim=-1))


class LinearBatchEnsemble(nn.Module):
    """k linear layers sharing one weight, with rank-1 adapters (BatchEnsemble).

    ``(B, k, d_in) -> (B, k, d_out)``: ``((x * r) @ W.T) * s + bias``.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        k: int,
        r_init: str,
        s_init: str = "ones",
        r_chunks: list[int] | None = None,
    ) -> None:
        super().__init__()
        bound = d_in**-0.5
        self.weight = nn.Parameter(nn.init.uniform_(torch.empty(d_out, d_in), -bound, bound))
        self.r = nn.Parameter(torch.empty(k, d_in))
        self.s = nn.Parameter(torch.empty(k, d_out))
        init_scaling_(self.r, r_init, r_chunks)
        init_scaling_(self.s, s_init)
        bias = nn.init.uniform_(torch.empty(d_out), -bound, bound)
        self.bias = nn.Parameter(bias.expand(k, d_out).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the k adapted layers."""
        return torch.addcmul(self.bias, (x * self.r) @ self.weight.T, self.s)


class LinearEnsemble(nn.Module):
    """k independent linear layers: ``(B, k, d_in) -> (B, k, d_out)``."""

    def __init__(self, d_in: int, d_out: int, k: int) -> None:
        super().__init__()
        bound = d_in**-0.5
        self.weight = nn.Parameter(nn.init.uniform_(torch.empty(k, d_in, d_out), -bound, bound))
        self.bias = nn.Parameter(nn.init.uniform_(torch.empty(k, d_out), -bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply layer ``i`` to ensemble member ``i``."""
        return (x.transpose(0, 1) @ self.weight).transpose(0, 1) + self.bias


def _activation(value: str | Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    if not isinstance(value, str):
        return value
    found = {name.lower(): getattr(nn, name) for name in dir(nn)}.get(value.lower())
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise InvalidParameterError(
            f"The activation {value!r} is not a torch.nn module (e.g. 'relu', 'gelu')."
        )
    return found


class TabM(nn.Module):
    """The TabM network: ``(x_num, x_cat) -> (B, k, d_out)``.

    Numeric features (optionally embedded, then flattened) and one-hot categorical
    features are concatenated, viewed k times, and run through ``n_blocks`` blocks
    ``linear -> activation -> dropout`` and a final ensemble of k linear layers.

    Parameters
    ----------
    n_num : int
        Numeric features (0 for none).
    cardinalities : list of int
        Category counts of the categorical features.
    d_out : int
        Outputs per member and row.
    k : int, default 32
        Ensemble size.
    arch_type : {"tabm", "tabm-mini"}, default "tabm"
        ``"tabm"``: BatchEnsemble layers (the first adapter ``r`` drawn from
        ``start_scaling_init`` per feature block, the others ones);
        ``"tabm-mini"``: one elementwise scaling ``(k, d_in)`` before shared layers.
    n_blocks : int, default 3
        Hidden blocks.
    d_block : int, default 512
        Hidden width.
    dropout : float, default 0.1
        Dropout after each activation.
    activation : str or callable, default "relu"
        A torch.nn module name or class.
    start_scaling_init : {"random-signs", "normal"}, default "random-signs"
        Distribution of the first scaling.
    num_embeddings : nn.Module, optional
        Embeds numeric features ``(B, n) -> (B, n, d)`` (shared by the members).
    d_embedding : int, optional
        The embedding size of ``num_embeddings``.
    """

    def __init__(
        self,
        n_num: int,
        cardinalities: list[int],
        d_out: int,
        k: int = 32,
        arch_type: str = "tabm",
        n_blocks: int = 3,
        d_block: int = 512,
        dropout: float = 0.1,
        activation: str | Callable[..., nn.Module] = "relu",
        start_scaling_init: str = "random-signs",
        num_embeddings: nn.Module | None = None,
        d_embedding: int | None = None,
    ) -> None:
        super().__init__()
        if n_num == 0 and not cardinalities:
            raise InvalidParameterError("TabM needs at least one feature.")
        if arch_type not in ("tabm", "tabm-mini"):
            raise InvalidParameterError(
                f"arch_type must be 'tabm' or 'tabm-mini'. Got {arch_type!r} instead."
            )
        self.k = k
        self.inputs = [
            n for n, has in (("x_num", n_num > 0), ("x_cat", bool(cardinalities))) if has
        ]
        self.num_embeddings = num_embeddings
        self.cardinalities = list(cardinalities)
        d_num = 1 if num_embeddings is None else int(d_embedding or 0)
        chunks = [d_num] * n_num + list(cardinalities)
        d_in = sum(chunks)
        act = _activation(activation)
        self.affine: nn.Parameter | None = None
        if arch_type == "tabm-mini":
            self.affine = nn.Parameter(torch.empty(k, d_in))
            init_scaling_(self.affine, start_scaling_init, chunks)
        blocks = []
        for i in range(n_blocks):
            width = d_in if i == 0 else d_block
            if arch_type == "tabm":
                linear: nn.Module = LinearBatchEnsemble(
                    width,
                    d_block,
                    k,
                    start_scaling_init if i == 0 else "ones",
                    "ones",
                    chunks if i == 0 else None,
                )
            else:
                linear = nn.Linear(width, d_block)
            blocks.append(nn.Sequential(linear, act(), nn.Dropout(dropout)))
        self.blocks = nn.Sequential(*blocks)
        self.output = LinearEnsemble(d_block if n_blocks else d_in, d_out, k)

    def forward(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        """The k members' outputs ``(B, k, d_out)``."""
        x = dict(zip(self.inputs, args, strict=False)) | kwargs
        parts = []
        x_num = x.get("x_num")
        if x_num is not None:
            parts.append(
                x_num if self.num_embeddings is None else self.num_embeddings(x_num).flatten(1)
            )
        x_cat = x.get("x_cat")
        if x_cat is not None:
            parts += [
                functional.one_hot(x_cat[:, i], c).to(parts[0].dtype if parts else torch.float32)
                for i, c in enumerate(self.cardinalities)
            ]
        h = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        h = h.unsqueeze(1).expand(-1, self.k, -1)
        if self.affine is not None:
            h = h * self.affine
        return self.output(self.blocks(h))


def average_ensemble(out: torch.Tensor, kind: str) -> torch.Tensor:
    """Average ``(B, k, d)`` member outputs into one output per row ``(B, d)``.

    ``kind`` ``"regr"``: the mean; ``"binary"``: the logit of the mean sigmoid
    probability (clamped to [1e-7, 1 - 1e-7]); ``"multiclass"``: the log of the mean
    softmax probabilities (clamped at 1e-30). Probabilities are averaged, not logits.
    """
    if kind == "regr":
        return out.mean(dim=1)
    if kind == "binary":
        return torch.logit(torch.sigmoid(out).mean(dim=1).clamp(1e-7, 1 - 1e-7))
    return torch.softmax(out, dim=-1).mean(dim=1).clamp_min(1e-30).log()


def _kind(task: Task) -> str:
    if not isinstance(task, TaskClassif):
        return "regr"
    return "binary" if len(task.class_names) == 2 else "multiclass"


class TabMPredictor(nn.Module):
    """TabM with averaged outputs outside training.

    In training mode it returns the members' outputs ``(B, k, d)`` (the loss is
    averaged over them); in eval mode (validation, prediction) their average
    (:func:`average_ensemble`).
    """

    def __init__(self, tabm: TabM, kind: str) -> None:
        super().__init__()
        self.tabm = tabm
        self.kind = kind

    def forward(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        """Member outputs (training) or their average (eval)."""
        out = self.tabm(*args, **kwargs)
        return out if self.training else average_ensemble(out, self.kind)


class _EnsembleLoss:
    """``loss(y_hat.flatten(0, 1), y.repeat_interleave(k))``: the mean over the members."""

    def __init__(self, loss_fn: Callable[..., torch.Tensor]) -> None:
        self.loss_fn = loss_fn

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        k = y_hat.shape[1]
        return self.loss_fn(y_hat.flatten(0, 1), y.repeat_interleave(k, dim=0))


class TabMLoop(TrainLoop):
    """The training loop of TabM: the loss is averaged over the k members.

    ``ctx.y_hats`` holds the members' outputs ``(B, k, d)``; ``ctx.y_hat`` is their
    average when training measures are scored in the epoch, else the same tensor.
    """

    def wrap_loss(self, loss_fn: Callable[[Any, Any], torch.Tensor]) -> Callable[..., Any]:
        """Flatten the members into the batch (each member's loss, averaged)."""
        return _EnsembleLoss(loss_fn)

    def compute_loss(self, x: Batch, y: torch.Tensor) -> torch.Tensor:
        """The forward pass and the loss over all members."""
        ctx = self.ctx
        ctx.y_hats = out = self._forward(x)
        ctx.y_hat = average_ensemble(out.detach(), _kind(ctx.task_train)) if self.collect else out
        return self._loss(out, y)


class LearnerTorchTabM(LearnerTorchPrebuilt):
    """TabM: k MLPs trained at once, sharing most weights; predictions are averaged.

    Takes numeric, integer, factor, ordered and logical features (categorical ones
    are one-hot encoded inside the network).

    Parameters
    ----------
    task_type : {"classif", "regr"}
        Task type.
    optimizer, loss, callbacks
        As for :class:`~torchweave.training.learner_torch.LearnerTorch`.

    Notes
    -----
    Own parameters (tagged ``train``), with mlr3torch's inits: ``arch_type``
    ("tabm"/"tabm-mini", "tabm"), ``k`` (32), ``n_blocks`` (unset: 3, or 2 with
    embeddings), ``d_block`` (512), ``dropout`` (0.1), ``activation`` ("relu"),
    ``start_scaling_init`` (unset: "random-signs", or "normal" with embeddings),
    ``num_embeddings`` ("none", "linear_relu", "periodic", "piecewise_linear"),
    ``d_embedding`` (unset: 32 / 24 / 16), ``n_frequencies`` (48),
    ``frequency_init_scale`` (0.01), ``lite`` (False), ``embedding_activation``
    (unset: True for periodic, False for piecewise_linear) and ``n_bins`` (48; bins
    from the training data's quantiles; fewer than the training rows).

    Examples
    --------
    >>> import torchweave as tw
    >>> learner = tw.lrn("classif.tabm", k=4, d_block=16, epochs=1, batch_size=32)
    >>> learner.train(tw.tsk("iris")).is_trained
    True
    """

    loop_class = TabMLoop

    def __init__(
        self,
        task_type: str = "classif",
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
    ) -> None:
        ps = ParamSet(
            arch_type=p_fct(("tabm", "tabm-mini"), init="tabm", tags="train"),
            k=p_int(1, init=32, tags="train"),
            n_blocks=p_int(1, tags="train"),
            d_block=p_int(1, init=512, tags="train"),
            dropout=p_dbl(0, 1, init=0.1, tags="train"),
            activation=p_uty(
                custom_check=check_activation,
                expected="a torch.nn module name or class",
                init="relu",
                tags="train",
            ),
            start_scaling_init=p_fct(("random-signs", "normal"), tags="train"),
            num_embeddings=p_fct(
                ("none", "linear_relu", "periodic", "piecewise_linear"), init="none", tags="train"
            ),
            d_embedding=p_int(1, tags="train"),
            n_frequencies=p_int(1, init=48, tags="train"),
            frequency_init_scale=p_dbl(0, init=0.01, tags="train"),
            lite=p_lgl(init=False, tags="train"),
            embedding_activation=p_lgl(tags="train"),
            n_bins=p_int(2, init=48, tags="train"),
        )
        super().__init__(
            f"{task_type}.tabm",
            task_type,
            param_set=ps,
            optimizer=optimizer,
            loss=loss,
            callbacks=callbacks,
            feature_types=("numeric", "integer", "logical", "factor", "ordered"),
            label="TabM",
        )

    def _ingress_tokens(
        self, task: Task, param_vals: dict[str, Any]
    ) -> dict[str, TorchIngressToken]:
        tokens = {}
        if numeric_features(task):
            tokens["x_num"] = num_token(task)
        if categ_features(task):
            tokens["x_cat"] = categ_token(task)
        return tokens

    def _embeddings(self, task: Task, pv: dict[str, Any]) -> tuple[nn.Module | None, int | None]:
        kind = pv.get("num_embeddings", "none")
        names = numeric_features(task)
        if kind == "none" or not names:
            return None, None
        d = pv.get("d_embedding") or D_EMBEDDING[kind]
        n = len(names)
        if kind == "linear_relu":
            return LinearReLUEmbeddings(n, d), d
        if kind == "periodic":
            act = pv.get("embedding_activation")
            return PeriodicEmbeddings(
                n,
                d,
                n_frequencies=pv.get("n_frequencies", 48),
                frequency_init_scale=pv.get("frequency_init_scale", 0.01),
                activation=True if act is None else act,
                lite=pv.get("lite", False),
            ), d
        x = num_token(task)(task.data(cols=names))
        bins = compute_bins(x, pv.get("n_bins", 48))
        act = pv.get("embedding_activation")
        return PiecewiseLinearEmbeddings(bins, d, activation=bool(act)), d

    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        pv = param_vals
        if pv.get("jit_trace"):
            raise InvalidParameterError(
                f"Learner '{self.id}' does not support jit_trace=True: its network returns "
                "the k heads in training and their average otherwise, and a trace would "
                "keep only the training branch."
            )
        embeddings, d_embedding = self._embeddings(task, pv)
        with_emb = embeddings is not None
        n_blocks = pv.get("n_blocks")
        init = pv.get("start_scaling_init")
        tabm = TabM(
            len(numeric_features(task)),
            categ_cardinalities(task) if categ_features(task) else [],
            output_dim_for(task),
            k=pv.get("k", 32),
            arch_type=pv.get("arch_type", "tabm"),
            n_blocks=(2 if with_emb else 3) if n_blocks is None else n_blocks,
            d_block=pv.get("d_block", 512),
            dropout=pv.get("dropout", 0.1),
            activation=pv.get("activation", "relu"),
            start_scaling_init=("normal" if with_emb else "random-signs") if init is None else init,
            num_embeddings=embeddings,
            d_embedding=d_embedding,
        )
        return TabMPredictor(tabm, _kind(task))


def check_activation(x: Any) -> str | None:
    """Accept a torch.nn module name (``"relu"``) or a module class."""
    if isinstance(x, str):
        try:
            _activation(x)
        except InvalidParameterError as exc:
            return str(exc)
        return None
    if callable(x) and not isinstance(x, nn.Module):
        return None
    return "a torch.nn module name or class"


def _classif_tabm() -> LearnerTorchTabM:
    """TabM, an efficient ensemble of MLPs (classification)."""
    return LearnerTorchTabM("classif")


def _regr_tabm() -> LearnerTorchTabM:
    """TabM, an efficient ensemble of MLPs (regression)."""
    return LearnerTorchTabM("regr")


learners.register("classif.tabm", _classif_tabm)
learners.register("regr.tabm", _regr_tabm)
