"""``po("unbranch")``: join the paths of a ``po("branch")`` again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from torchweave.errors import GraphError, InvalidParameterError
from torchweave.pipelines.pipeop import ANY, NO_OP, VARARG, Channel, PipeOp
from torchweave.registry import pipeops
from torchweave.utils.text import format_value

__all__ = ["PipeOpUnbranch"]


class PipeOpUnbranch(PipeOp):
    """Passes on the one input that is not NO_OP (the output of the selected path).

    Input and output channels
    -------------------------
    ``...`` (vararg), or one channel per option when ``options`` is given : anything
    or NO_OP. output : the input that is not NO_OP.

    State
    -----
    An empty dict.

    Parameters
    ----------
    None. Constructor arguments: ``options`` (a list of names or a number of input
    channels; default: one vararg channel), ``id`` (default ``"unbranch"``),
    ``param_vals``.

    Raises
    ------
    GraphError
        At train or predict time, when not exactly one input is active.

    Examples
    --------
    >>> import torchweave as tw
    >>> from torchweave.pipelines.pipeop import NO_OP
    >>> tw.po("unbranch").train([NO_OP, 42])
    [42]
    """

    handles_noop: ClassVar[bool] = True

    def __init__(
        self,
        options: int | Sequence[str] | None = None,
        id: str = "unbranch",
        param_vals: dict[str, Any] | None = None,
    ) -> None:
        if options is None:
            names = [VARARG]
        elif isinstance(options, int) and not isinstance(options, bool) and options >= 1:
            names = [f"input{i}" for i in range(1, options + 1)]
        elif (
            isinstance(options, Sequence)
            and not isinstance(options, str)
            and options
            and all(isinstance(n, str) and n for n in options)
            and len(set(options)) == len(options)
        ):
            names = list(options)
        else:
            raise InvalidParameterError(
                f"The 'options' argument of PipeOp '{id}' must be None, an integer >= 1 or a "
                f"list of distinct names. Got {format_value(options)} instead."
            )
        super().__init__(
            id,
            param_vals=param_vals,
            input=[Channel(name, ANY, ANY) for name in names],
            output=[Channel("output", ANY, ANY)],
        )

    def _join(self, inputs: list[Any], phase: str) -> list[Any]:
        active = [v for v in inputs if v is not NO_OP]
        if len(active) != 1:
            raise GraphError(
                f"PipeOp '{self.id}' needs exactly one active input at {phase} time (the "
                f"selected path of a po('branch')). Got {len(active)} of {len(inputs)}."
            )
        return active

    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {}
        return self._join(inputs, "train")

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return self._join(inputs, "predict")


pipeops.register("unbranch", PipeOpUnbranch)
