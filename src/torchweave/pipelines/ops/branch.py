"""``po("branch", options=[...])``: route the input to one of several paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torchweave.errors import InvalidParameterError
from torchweave.params.param import p_fct, p_int
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.pipeop import ANY, NO_OP, Channel, PipeOp
from torchweave.registry import pipeops
from torchweave.utils.text import format_value

__all__ = ["PipeOpBranch"]


def _check_options(options: Any, id: str) -> list[Any]:
    if isinstance(options, int) and not isinstance(options, bool):
        if options < 1:
            raise InvalidParameterError(
                f"The 'options' argument of PipeOp '{id}' must be an integer >= 1 or a list of "
                f"distinct names. Got {options!r} instead."
            )
        return list(range(1, options + 1))
    if isinstance(options, str) or not isinstance(options, Sequence):
        raise InvalidParameterError(
            f"The 'options' argument of PipeOp '{id}' must be an integer >= 1 or a list of "
            f"distinct names. Got {format_value(options)} instead."
        )
    names = list(options)
    if names and names == list(range(1, len(names) + 1)):
        return names  # the numbered paths 1..n, as options=n keeps them (specs save this)
    if (
        not names
        or not all(isinstance(n, str) and n and n != "..." for n in names)
        or len(set(names)) != len(names)
    ):
        raise InvalidParameterError(
            f"The 'options' argument of PipeOp '{id}' must be an integer >= 1 or a list of "
            f"distinct, non-empty names. Got {format_value(options)} instead."
        )
    return names


class PipeOpBranch(PipeOp):
    """Sends its input down the path named by ``selection``; the other paths get NO_OP.

    Operators whose inputs are all NO_OP do not run, so only the selected path trains
    and predicts; ``po("unbranch")`` joins the paths again. Tuning ``selection``
    (``tw.to_tune(["a", "b"])``) chooses between architectures or preprocessings, and
    :func:`torchweave.tune` makes the parameters of the other paths inactive.

    Input and output channels
    -------------------------
    input : anything. One output per option (named after it; ``output1``, ... when
    ``options`` is a number): the input on the selected one, NO_OP on the others.

    State
    -----
    An empty dict.

    Parameters
    ----------
    selection : str or int
        The option to take (default: the first). A factor of the option names, or
        an integer in ``[1, options]`` when ``options`` is a number.

    Constructor arguments: ``options`` (a list of names or a number of paths,
    default 2), ``id`` (default ``"branch"``), ``param_vals``.

    Examples
    --------
    >>> import torchweave as tw
    >>> op = tw.po("branch", options=["pca", "nop"])
    >>> [ch.name for ch in op.output]
    ['pca', 'nop']
    >>> op.param_set.set_values(selection="nop").values
    {'selection': 'nop'}
    >>> op.train([42])
    [NO_OP, 42]
    """

    def __init__(
        self,
        options: int | Sequence[str] = 2,
        id: str = "branch",
        param_vals: dict[str, Any] | None = None,
    ) -> None:
        self.options = _check_options(options, id)
        numbered = isinstance(self.options[0], int)
        selection = (
            p_int(1, len(self.options), init=1, tags={"train", "predict", "required"})
            if numbered
            else p_fct(self.options, init=self.options[0], tags={"train", "predict", "required"})
        )
        names = [f"output{i}" for i in self.options] if numbered else list(self.options)
        super().__init__(
            id,
            param_set=ParamSet(selection=selection),
            param_vals=param_vals,
            input=[Channel("input", ANY, ANY)],
            output=[Channel(name, ANY, ANY) for name in names],
        )

    def _route(self, value: Any) -> list[Any]:
        selected = self.options.index(self.param_set.values["selection"])
        return [value if i == selected else NO_OP for i in range(len(self.options))]

    def _train(self, inputs: list[Any]) -> list[Any]:
        self.state = {}
        return self._route(inputs[0])

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return self._route(inputs[0])


pipeops.register("branch", PipeOpBranch)
