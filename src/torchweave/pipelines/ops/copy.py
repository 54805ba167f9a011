"""``po("copy", outnum=n)``: hands its input to ``n`` output channels."""

from __future__ import annotations

from typing import Any

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.pipelines.pipeop import ANY, Channel, PipeOp
from torchweave.registry import pipeops

__all__ = ["PipeOpCopy"]


class PipeOpCopy(PipeOp):
    """Copies its input to ``outnum`` output channels (to wire parallel branches with ``>>``).

    Each output gets its own clone of a Task, so the branches never share one;
    other objects are passed on as they are.

    Input and output channels
    -------------------------
    input : anything at train and predict.
    output1, ..., output<outnum> : the input (a clone of it for a Task).

    State
    -----
    An empty dict.

    Parameters
    ----------
    None. The number of outputs, ``outnum`` (an integer >= 1, default 1), is a
    constructor argument: ``po("copy", outnum=2)``.

    Examples
    --------
    >>> import torchweave as tw
    >>> op = tw.po("copy", outnum=2)
    >>> [ch.name for ch in op.output]
    ['output1', 'output2']
    >>> op.train([42])
    [42, 42]
    """

    def __init__(
        self, outnum: int = 1, id: str = "copy", param_vals: dict[str, Any] | None = None
    ) -> None:
        if isinstance(outnum, bool) or not isinstance(outnum, int) or outnum < 1:
            raise InvalidParameterError(
                f"The 'outnum' argument of PipeOp '{id}' must be an integer >= 1. "
                f"Got {outnum!r} instead."
            )
        self.outnum = outnum
        super().__init__(
            id,
            param_vals=param_vals,
            input=[Channel("input", ANY, ANY)],
            output=[Channel(f"output{i}", ANY, ANY) for i in range(1, outnum + 1)],
        )

    def _copies(self, value: Any) -> list[Any]:
        if isinstance(value, Task):
            return [value.clone() for _ in range(self.outnum)]
        return [value] * self.outnum

    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {}
        return self._copies(inputs[0])

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return self._copies(inputs[0])


pipeops.register("copy", PipeOpCopy)
