"""``nn("ft_cls")``: append a learned CLS token to a sequence of tokens (FT-Transformer)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.network.ops.tokenizer import init_token_
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, assert_ndim
from torchweave.params.param import p_fct
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = ["CLS", "PipeOpTorchFTCLS"]


class CLS(nn.Module):
    """Append one learned token as the last one: ``(B, n, d) -> (B, n + 1, d)``.

    After the transformer blocks, the CLS token (``x[:, -1]``) summarises the row
    (Devlin et al. 2018; Gorishniy et al. 2021).

    Parameters
    ----------
    d_token : int
        Size of a token.
    initialization : {"uniform", "normal"}, default "uniform"
        Distribution of the initial token (see
        :func:`~torchweave.network.ops.tokenizer.init_token_`).
    """

    def __init__(self, d_token: int, initialization: str = "uniform") -> None:
        super().__init__()
        self.d_token = d_token
        self.initialization = initialization
        self.weight = nn.Parameter(torch.empty(d_token))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw a new CLS token from the chosen distribution."""
        init_token_(self.weight, self.d_token, self.initialization)

    def extra_repr(self) -> str:
        """The sizes and options, shown in the module's repr."""
        return f"d_token={self.d_token}, initialization={self.initialization!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The input with the CLS token appended along dimension 1."""
        cls = self.weight.view(1, 1, -1).expand(x.shape[0], 1, -1)
        return torch.cat([x, cls], dim=1)


class PipeOpTorchFTCLS(PipeOpTorch):
    """Append a learned CLS token last: ``(B, n, d) -> (B, n + 1, d)`` (:class:`CLS`).

    ``d_token`` is the size of dimension 2 of the input, which must be known.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict. output : likewise.

    State
    -----
    ``shapes_out``: ``(None, n + 1, d_token)`` (``None`` for an unknown ``n``).

    Parameters
    ----------
    initialization : {"uniform", "normal"}, default "uniform"
        Initial distribution of the token (set to "uniform" at construction).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("ft_cls").shapes_out([(None, 4, 8)])
    [(None, 5, 8)]
    """

    module_class = CLS
    inferred = ("d_token",)

    def __init__(self, id: str = "nn_ft_cls", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            initialization=p_fct(
                ("uniform", "normal"), default="uniform", init="uniform", tags="train"
            ),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        assert_ndim(shapes_in[0], self.id, ndim=3)
        assert_known_dims(shapes_in[0], [2], self.id, "the token dimension (dimension 2)")
        return super()._shapes_out(shapes_in, param_vals, task)

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        return {"d_token": shapes_in[0][2], **param_vals}


pipeops.register("nn_ft_cls", PipeOpTorchFTCLS)
