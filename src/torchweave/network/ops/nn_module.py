"""``nn("module", MyModule, infer=...)``: any ``torch.nn.Module`` class as a layer.

The class's constructor arguments become parameters, except those named in ``infer``,
which are computed from the input shapes when the network is built.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, InvalidTypeError, ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_known_dims, shape_to_str
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.pipeop import VARARG
from torchweave.registry import pipeops
from torchweave.utils.text import did_you_mean, quote_list

__all__ = ["PipeOpTorchModule"]

InferRule = int | Callable[[list[Shape], Task | None], Any]
_OMITTED = ("device", "dtype")


def _constructor_args(module_class: type[nn.Module]) -> list[inspect.Parameter]:
    """Keyword-able constructor arguments; ``device``/``dtype`` with defaults are left out."""
    try:
        signature = inspect.signature(module_class.__init__)
    except (TypeError, ValueError):
        return []
    return [
        p
        for name, p in signature.parameters.items()
        if name != "self"
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY)
        and not (name in _OMITTED and p.default is not p.empty)
    ]


def _forward_inputs(module_class: type[nn.Module]) -> list[str]:
    """Input channels from ``forward``: ``"..."`` for ``*args``, names for 2+ arguments."""
    try:
        params = list(inspect.signature(module_class.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return ["input"]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return [VARARG]
    required = [
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return required if len(required) >= 2 else ["input"]


class PipeOpTorchModule(PipeOpTorch):
    """Any ``torch.nn.Module`` class as a layer; constructor arguments are parameters.

    ``infer`` names constructor arguments computed from the input shapes instead: an
    int is a (0-based, negative from the end) dimension of the first input whose size
    is passed, a callable ``(shapes_in, task) -> value`` computes anything else.
    Output shapes come from tracing the module on ``meta`` tensors.

    Input and output channels
    -------------------------
    input : ModelDescriptor at train, Task at predict; several channels named after
    the required arguments of ``forward`` when it takes two or more, or a vararg
    channel ``"..."`` when it takes ``*args``. output : likewise.

    State
    -----
    ``shapes_out``: the output shape.

    Parameters
    ----------
    One untyped parameter per constructor argument not in ``infer`` (``device`` and
    ``dtype`` with defaults are left out), with the constructor's default as
    ``default`` (required when there is none).

    Examples
    --------
    >>> import torchweave as tw
    >>> from torch import nn
    >>> op = tw.po("nn_module", nn.Linear, infer={"in_features": -1}, out_features=2)
    >>> op.param_set.ids()
    ['out_features', 'bias']
    >>> op.shapes_out([(None, 5)])
    [(None, 2)]
    """

    def __init__(
        self,
        module_class: type[nn.Module],
        id: str = "nn_module",
        param_vals: dict[str, Any] | None = None,
        infer: Mapping[str, InferRule] | None = None,
    ) -> None:
        if not (isinstance(module_class, type) and issubclass(module_class, nn.Module)):
            raise InvalidTypeError(
                f"PipeOp '{id}' needs a torch.nn.Module class (not an instance). "
                f"Got {module_class!r}."
            )
        args = _constructor_args(module_class)
        names = [p.name for p in args]
        infer = dict(infer or {})
        for key, rule in infer.items():
            if key not in names:
                raise InvalidParameterError(
                    f"The 'infer' argument of PipeOp '{id}' names '{key}', which is not an "
                    f"argument of {module_class.__name__} ({quote_list(names)})."
                    f"{did_you_mean(key, names)}"
                )
            if not (callable(rule) or (isinstance(rule, int) and not isinstance(rule, bool))):
                raise InvalidParameterError(
                    f"The 'infer' rule for '{key}' of PipeOp '{id}' must be an int (a dimension "
                    f"of the input) or a callable (shapes_in, task) -> value. Got {rule!r}."
                )
        param_set = ParamSet()
        for p in args:
            if p.name in infer:
                continue
            if p.default is p.empty:
                param_set.add(p.name, p_uty(tags={"train", "required"}))
            else:
                param_set.add(p.name, p_uty(default=p.default, tags="train"))
        # Per-instance values of what layer operators declare per class.
        self.module_class = module_class  # type: ignore[misc]
        self.inferred = tuple(infer)  # type: ignore[misc]
        self.infer = infer
        super().__init__(
            id,
            param_set=param_set,
            param_vals=param_vals,
            inname=_forward_inputs(module_class),
        )

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        inferred: dict[str, Any] = {}
        shape = shapes_in[0]
        for name, rule in self.infer.items():
            if callable(rule):
                inferred[name] = rule(list(shapes_in), task)
                continue
            dim = rule + len(shape) if rule < 0 else rule
            if not 0 <= dim < len(shape):
                raise ShapeError(
                    f"PipeOp '{self.id}' infers '{name}' from dimension {rule} of the input, "
                    f"but the input shape {shape_to_str(shape)} has {len(shape)} dimension(s)."
                )
            assert_known_dims(shape, [dim], self.id, f"dimension {dim} (for '{name}')")
            inferred[name] = shape[dim]
        return {**param_vals, **inferred}


pipeops.register("nn_module", PipeOpTorchModule)
