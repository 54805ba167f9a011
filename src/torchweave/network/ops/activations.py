"""Activation layers (``nn("relu")``, ...): shape-preserving one-liners.

Each operator's parameters mirror the constructor of its ``torch.nn`` class; the output
shape is the input shape (``preserves_shape``: no tracing needed).
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, assert_ndim, shape_to_str
from torchweave.params.param import Param, p_dbl, p_fct, p_int, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops
from torchweave.utils.docs import fill_doc, fill_docstring

__all__ = [
    "PipeOpTorchCELU",
    "PipeOpTorchELU",
    "PipeOpTorchGELU",
    "PipeOpTorchHardShrink",
    "PipeOpTorchHardSigmoid",
    "PipeOpTorchHardTanh",
    "PipeOpTorchLeakyReLU",
    "PipeOpTorchLogSigmoid",
    "PipeOpTorchPReLU",
    "PipeOpTorchRReLU",
    "PipeOpTorchReLU",
    "PipeOpTorchReLU6",
    "PipeOpTorchSELU",
    "PipeOpTorchSigmoid",
    "PipeOpTorchSoftPlus",
    "PipeOpTorchSoftShrink",
    "PipeOpTorchSoftSign",
    "PipeOpTorchTanh",
    "PipeOpTorchTanhShrink",
    "PipeOpTorchThreshold",
]


# --- the shared helper ----------------------------------------------------------------------
#: The docstring sections every activation shares: ``{io}`` and ``{inplace}`` lines in an
#: activation's docstring are replaced by them (:func:`~torchweave.utils.docs.fill_docstring`),
#: ``{example}`` by ``_EXAMPLE`` with the activation's key.
_DOC_SECTIONS = {
    "io": """
        Input and output channels
        -------------------------
        input : ModelDescriptor at train, Task at predict. output : likewise.

        State
        -----
        ``shapes_out``: the input shape.
    """,
    "inplace": """
        inplace : bool, default False
            Operate in place.
    """,
}


#: ``{example}``: the activation's key and default shape rule, at an input of shape (None, 3).
_EXAMPLE = """
    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("{key}").shapes_out([(None, 3)])
    [(None, 3)]
"""


@fill_doc(**_DOC_SECTIONS)
class _PipeOpTorchActivation(PipeOpTorch):
    """An elementwise activation: the given train-time params, tag ``"activation"``.

    Subclasses' docstrings are filled from ``_DOC_SECTIONS``.

    {io}

    Parameters
    ----------
    id : str
        Operator id.
    param_vals : dict, optional
        Initial parameter values.
    **params : Param
        The parameters, mirroring ``module_class``.
    """

    preserves_shape = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        key = inspect.signature(cls.__init__).parameters["id"].default.removeprefix("nn_")
        example = _EXAMPLE.format(key=key)
        cls.__doc__ = fill_docstring(cls.__doc__ or "", {**_DOC_SECTIONS, "example": example})

    def __init__(self, id: str, param_vals: dict[str, Any] | None, **params: Param) -> None:
        super().__init__(
            id, param_set=ParamSet(params), param_vals=param_vals, tags=("activation",)
        )

    def _assert_ordered(
        self, param_vals: dict[str, Any], low: str, high: str, strict: bool
    ) -> None:
        """Raise unless ``param_vals[low]`` is below (or, unless strict, at) ``[high]``."""
        defaults = self.param_set.default
        lo, hi = param_vals.get(low, defaults[low]), param_vals.get(high, defaults[high])
        if hi < lo or (strict and hi == lo):
            relation = "greater than" if strict else "at least"
            raise InvalidParameterError(
                f"The '{high}' parameter of PipeOp '{self.id}' must be {relation} '{low}' "
                f"({lo}). Got {hi} instead."
            )


def _inplace() -> Param:
    return p_lgl(default=False, tags="train")


# --- the activations: ReLU, then alphabetically -----------------------------------------------
class PipeOpTorchReLU(_PipeOpTorchActivation):
    """``torch.nn.ReLU``: ``max(0, x)`` elementwise.

    {io}

    Parameters
    ----------
    {inplace}

    {example}
    """

    module_class = nn.ReLU

    def __init__(self, id: str = "nn_relu", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals, inplace=_inplace())


class PipeOpTorchCELU(_PipeOpTorchActivation):
    """``torch.nn.CELU``: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    {io}

    Parameters
    ----------
    alpha : float > 0, default 1.0
        Scale of the negative part.
    {inplace}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("celu", alpha=0.5).shapes_out([(None, 3)])
    [(None, 3)]
    """

    module_class = nn.CELU

    def __init__(self, id: str = "nn_celu", param_vals: dict[str, Any] | None = None) -> None:
        alpha = p_dbl(0, lower_open=True, default=1.0, tags="train")
        super().__init__(id, param_vals, alpha=alpha, inplace=_inplace())


class PipeOpTorchELU(_PipeOpTorchActivation):
    """``torch.nn.ELU``: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    {io}

    Parameters
    ----------
    alpha : float, default 1.0
        Scale of the negative part.
    {inplace}

    {example}
    """

    module_class = nn.ELU

    def __init__(self, id: str = "nn_elu", param_vals: dict[str, Any] | None = None) -> None:
        alpha = p_dbl(default=1.0, tags="train")
        super().__init__(id, param_vals, alpha=alpha, inplace=_inplace())


class PipeOpTorchGELU(_PipeOpTorchActivation):
    """``torch.nn.GELU``: ``x * Phi(x)``, ``Phi`` the standard normal distribution function.

    {io}

    Parameters
    ----------
    approximate : {"none", "tanh"}, default "none"
        ``"tanh"`` uses the tanh approximation of ``Phi``.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("gelu", approximate="tanh").shapes_out([(None, 2, 3)])
    [(None, 2, 3)]
    """

    module_class = nn.GELU

    def __init__(self, id: str = "nn_gelu", param_vals: dict[str, Any] | None = None) -> None:
        approximate = p_fct(["none", "tanh"], default="none", tags="train")
        super().__init__(id, param_vals, approximate=approximate)


class PipeOpTorchHardShrink(_PipeOpTorchActivation):
    """``torch.nn.Hardshrink``: ``x`` if ``|x| > lambd`` else 0.

    {io}

    Parameters
    ----------
    lambd : float, default 0.5
        The threshold.

    {example}
    """

    module_class = nn.Hardshrink

    def __init__(self, id: str = "nn_hardshrink", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals, lambd=p_dbl(default=0.5, tags="train"))


class PipeOpTorchHardSigmoid(_PipeOpTorchActivation):
    """``torch.nn.Hardsigmoid``: ``clamp(x / 6 + 1 / 2, 0, 1)``.

    {io}

    Parameters
    ----------
    {inplace}

    {example}
    """

    module_class = nn.Hardsigmoid

    def __init__(
        self, id: str = "nn_hardsigmoid", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals, inplace=_inplace())


class PipeOpTorchHardTanh(_PipeOpTorchActivation):
    """``torch.nn.Hardtanh``: ``clamp(x, min_val, max_val)``.

    {io}

    Parameters
    ----------
    min_val : float, default -1.0
        Lower end of the linear region.
    max_val : float, default 1.0
        Upper end of the linear region; must be greater than ``min_val``.
    {inplace}

    Notes
    -----
    Torch's deprecated aliases ``min_value`` and ``max_value`` are not parameters.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("hardtanh", min_val=-2.0, max_val=2.0).shapes_out([(None, 3)])
    [(None, 3)]
    """

    module_class = nn.Hardtanh
    omitted: ClassVar[tuple[str, ...]] = ("device", "dtype", "min_value", "max_value")

    def __init__(self, id: str = "nn_hardtanh", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(
            id,
            param_vals,
            min_val=p_dbl(default=-1.0, tags="train"),
            max_val=p_dbl(default=1.0, tags="train"),
            inplace=_inplace(),
        )

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        self._assert_ordered(param_vals, "min_val", "max_val", strict=True)
        return dict(param_vals)


class PipeOpTorchLeakyReLU(_PipeOpTorchActivation):
    """``torch.nn.LeakyReLU``: ``x`` if ``x >= 0`` else ``negative_slope * x``.

    {io}

    Parameters
    ----------
    negative_slope : float, default 0.01
        Slope for negative inputs.
    {inplace}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("leaky_relu", negative_slope=0.1).shapes_out([(None, 3)])
    [(None, 3)]
    """

    module_class = nn.LeakyReLU

    def __init__(self, id: str = "nn_leaky_relu", param_vals: dict[str, Any] | None = None) -> None:
        slope = p_dbl(default=0.01, tags="train")
        super().__init__(id, param_vals, negative_slope=slope, inplace=_inplace())


class PipeOpTorchLogSigmoid(_PipeOpTorchActivation):
    """``torch.nn.LogSigmoid``: ``log(1 / (1 + exp(-x)))``.

    {io}

    Parameters
    ----------
    None.

    {example}
    """

    module_class = nn.LogSigmoid

    def __init__(
        self, id: str = "nn_log_sigmoid", param_vals: dict[str, Any] | None = None
    ) -> None:
        super().__init__(id, param_vals)


class PipeOpTorchPReLU(_PipeOpTorchActivation):
    """``torch.nn.PReLU``: a leaky ReLU whose negative slope is learned.

    {io}

    Parameters
    ----------
    num_parameters : int >= 1, default 1
        Number of slopes: 1 (shared), or one per channel (dimension 1, 0-based), whose
        size must then equal ``num_parameters`` where it is known.
    init : float, default 0.25
        Initial slope.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("prelu", num_parameters=4).shapes_out([(None, 4, 8)])
    [(None, 4, 8)]
    """

    module_class = nn.PReLU

    def __init__(self, id: str = "nn_prelu", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(
            id,
            param_vals,
            num_parameters=p_int(1, default=1, tags="train"),
            init=p_dbl(default=0.25, tags="train"),
        )

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        shape, n = shapes_in[0], param_vals.get("num_parameters", 1)
        if n > 1:
            assert_ndim(shape, self.id, min=2)
            if shape[1] is None:  # permissive: an unknown channel dim may well match
                return [shape]
            if shape[1] != n:
                raise ShapeError(
                    f"PipeOp '{self.id}' has num_parameters = {n} (one per channel), so it "
                    f"requires dimension 1 of the input to have size {n}, but got shape "
                    f"{shape_to_str(shape)}."
                )
        return super()._shapes_out(shapes_in, param_vals, task)


class PipeOpTorchReLU6(_PipeOpTorchActivation):
    """``torch.nn.ReLU6``: ``min(max(0, x), 6)``.

    {io}

    Parameters
    ----------
    {inplace}

    {example}
    """

    module_class = nn.ReLU6

    def __init__(self, id: str = "nn_relu6", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals, inplace=_inplace())


class PipeOpTorchRReLU(_PipeOpTorchActivation):
    """``torch.nn.RReLU``: a leaky ReLU with a random slope in ``[lower, upper]`` in training.

    In evaluation mode the slope is ``(lower + upper) / 2``.

    {io}

    Parameters
    ----------
    lower : float, default 1/8
        Lower bound of the slope.
    upper : float, default 1/3
        Upper bound of the slope; at least ``lower``.
    {inplace}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("rrelu", lower=0.1, upper=0.2).shapes_out([(None, 3)])
    [(None, 3)]
    """

    module_class = nn.RReLU

    def __init__(self, id: str = "nn_rrelu", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(
            id,
            param_vals,
            lower=p_dbl(default=1.0 / 8, tags="train"),
            upper=p_dbl(default=1.0 / 3, tags="train"),
            inplace=_inplace(),
        )

    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        self._assert_ordered(param_vals, "lower", "upper", strict=False)
        return dict(param_vals)


class PipeOpTorchSELU(_PipeOpTorchActivation):
    """``torch.nn.SELU``: ``scale * elu(x, alpha)`` with the self-normalising constants.

    {io}

    Parameters
    ----------
    {inplace}

    {example}
    """

    module_class = nn.SELU

    def __init__(self, id: str = "nn_selu", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals, inplace=_inplace())


class PipeOpTorchSigmoid(_PipeOpTorchActivation):
    """``torch.nn.Sigmoid``: ``1 / (1 + exp(-x))``.

    {io}

    Parameters
    ----------
    None.

    {example}
    """

    module_class = nn.Sigmoid

    def __init__(self, id: str = "nn_sigmoid", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)


class PipeOpTorchSoftPlus(_PipeOpTorchActivation):
    """``torch.nn.Softplus``: ``log(1 + exp(beta * x)) / beta``, linear above ``threshold``.

    {io}

    Parameters
    ----------
    beta : float > 0, default 1.0
        Sharpness.
    threshold : float, default 20.0
        Where ``beta * x`` exceeds it, the output is ``x``.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("softplus", beta=2.0).shapes_out([(None, 3)])
    [(None, 3)]
    """

    module_class = nn.Softplus

    def __init__(self, id: str = "nn_softplus", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(
            id,
            param_vals,
            beta=p_dbl(0, lower_open=True, default=1.0, tags="train"),
            threshold=p_dbl(default=20.0, tags="train"),
        )


class PipeOpTorchSoftShrink(_PipeOpTorchActivation):
    """``torch.nn.Softshrink``: shrink ``x`` towards 0 by ``lambd``, 0 within ``[-lambd, lambd]``.

    {io}

    Parameters
    ----------
    lambd : float >= 0, default 0.5
        The threshold.

    {example}
    """

    module_class = nn.Softshrink

    def __init__(self, id: str = "nn_softshrink", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals, lambd=p_dbl(0, default=0.5, tags="train"))


class PipeOpTorchSoftSign(_PipeOpTorchActivation):
    """``torch.nn.Softsign``: ``x / (1 + |x|)``.

    {io}

    Parameters
    ----------
    None.

    {example}
    """

    module_class = nn.Softsign

    def __init__(self, id: str = "nn_softsign", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)


class PipeOpTorchTanh(_PipeOpTorchActivation):
    """``torch.nn.Tanh``: the hyperbolic tangent.

    {io}

    Parameters
    ----------
    None.

    {example}
    """

    module_class = nn.Tanh

    def __init__(self, id: str = "nn_tanh", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)


class PipeOpTorchTanhShrink(_PipeOpTorchActivation):
    """``torch.nn.Tanhshrink``: ``x - tanh(x)``.

    {io}

    Parameters
    ----------
    None.

    {example}
    """

    module_class = nn.Tanhshrink

    def __init__(self, id: str = "nn_tanhshrink", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)


class PipeOpTorchThreshold(_PipeOpTorchActivation):
    """``torch.nn.Threshold``: ``x`` if ``x > threshold`` else ``value``.

    {io}

    Parameters
    ----------
    threshold : float
        The threshold (required).
    value : float
        The replacement for inputs at or below it (required).
    {inplace}

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.nn("threshold", threshold=0.1, value=0.0).shapes_out([(None, 3)])
    [(None, 3)]
    """

    module_class = nn.Threshold

    def __init__(self, id: str = "nn_threshold", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(
            id,
            param_vals,
            threshold=p_dbl(tags={"train", "required"}),
            value=p_dbl(tags={"train", "required"}),
            inplace=_inplace(),
        )


pipeops.register("nn_relu", PipeOpTorchReLU)
pipeops.register("nn_celu", PipeOpTorchCELU)
pipeops.register("nn_elu", PipeOpTorchELU)
pipeops.register("nn_gelu", PipeOpTorchGELU)
pipeops.register("nn_hardshrink", PipeOpTorchHardShrink)
pipeops.register("nn_hardsigmoid", PipeOpTorchHardSigmoid)
pipeops.register("nn_hardtanh", PipeOpTorchHardTanh)
pipeops.register("nn_leaky_relu", PipeOpTorchLeakyReLU)
pipeops.register("nn_log_sigmoid", PipeOpTorchLogSigmoid)
pipeops.register("nn_prelu", PipeOpTorchPReLU)
pipeops.register("nn_relu6", PipeOpTorchReLU6)
pipeops.register("nn_rrelu", PipeOpTorchRReLU)
pipeops.register("nn_selu", PipeOpTorchSELU)
pipeops.register("nn_sigmoid", PipeOpTorchSigmoid)
pipeops.register("nn_softplus", PipeOpTorchSoftPlus)
pipeops.register("nn_softshrink", PipeOpTorchSoftShrink)
pipeops.register("nn_softsign", PipeOpTorchSoftSign)
pipeops.register("nn_tanh", PipeOpTorchTanh)
pipeops.register("nn_tanhshrink", PipeOpTorchTanhShrink)
pipeops.register("nn_threshold", PipeOpTorchThreshold)
