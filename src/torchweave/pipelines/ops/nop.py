"""``po("nop")``: passes its input through unchanged."""

from __future__ import annotations

from typing import Any

from torchweave.pipelines.pipeop import ANY, Channel, PipeOp
from torchweave.registry import pipeops

__all__ = ["PipeOpNOP"]


class PipeOpNOP(PipeOp):
    """Passes its input on unchanged (a placeholder branch, e.g. a residual connection).

    Input and output channels
    -------------------------
    input : anything at train and predict. output : the same object.

    State
    -----
    An empty dict.

    Parameters
    ----------
    None.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.po("nop").train([42])
    [42]
    """

    def __init__(self, id: str = "nop", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(
            id,
            param_vals=param_vals,
            input=[Channel("input", ANY, ANY)],
            output=[Channel("output", ANY, ANY)],
        )

    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {}
        return inputs

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return inputs


pipeops.register("nop", PipeOpNOP)
