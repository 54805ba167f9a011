"""TorchCallback, the callback descriptor, and ``torch_callback``, callbacks from functions.

A :class:`TorchCallback` holds a :class:`~torchweave.callbacks.callback_set.CallbackSet`
subclass and a ParamSet mirroring its constructor; the learner builds the callback
when training starts. :func:`torch_callback` builds such a class from stage functions.
"""

from __future__ import annotations

import copyreg
import numbers
from collections.abc import Callable
from typing import Any, cast

from torchweave.callbacks.callback_set import STAGES, CallbackSet, closest_stage
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.params.param_set import ParamSet
from torchweave.training.descriptors import TorchDescriptor, _name_of, snake_case
from torchweave.utils.text import format_value, quote_list

__all__ = ["TorchCallback", "torch_callback"]


class TorchCallback(TorchDescriptor):
    """A callback to build when training starts.

    Parameters
    ----------
    callback_class : type
        A :class:`~torchweave.callbacks.callback_set.CallbackSet` subclass.
    id : str, optional
        Identifier (default: the class name without ``CallbackSet``, in snake case).
        Its parameters appear in a learner as ``cb.<id>.<name>``.
    param_set : ParamSet, optional
        Default: inferred from the class's ``__init__``. ``ctx`` and ``weight`` are
        reserved names.
    label : str, optional
        Human-readable name (default: the id).
    weight : float, optional
        Overrides the class's ``weight`` (order among callbacks; higher runs later).

    Examples
    --------
    >>> from torchweave.callbacks.callback_set import CallbackSet
    >>> from torchweave.callbacks.descriptor import TorchCallback
    >>> class CallbackSetCounter(CallbackSet):
    ...     def __init__(self, start=0):
    ...         super().__init__()
    ...         self.n = start
    >>> cb = TorchCallback(CallbackSetCounter, weight=5)
    >>> cb.id, cb.param_set.ids()
    ('counter', ['start'])
    >>> obj = cb.generate()
    >>> obj.n, obj.weight
    (0, 5)
    """

    kind = "callback"

    def __init__(
        self,
        callback_class: type[CallbackSet],
        id: str | None = None,
        param_set: ParamSet | None = None,
        label: str | None = None,
        weight: float | None = None,
    ) -> None:
        if not (isinstance(callback_class, type) and issubclass(callback_class, CallbackSet)):
            raise InvalidTypeError(
                "A TorchCallback needs a subclass of CallbackSet. Got "
                f"{format_value(callback_class, 60)} instead."
            )
        super().__init__(callback_class, id=id, param_set=param_set, label=label)
        reserved = [name for name in ("ctx", "weight") if name in self.param_set]
        if reserved:
            raise InvalidParameterError(
                f"The parameter name(s) {quote_list(reserved)} of callback '{self.id}' are "
                "reserved (ctx is the training context, weight the order among callbacks); "
                "rename the argument(s) of the callback's __init__."
            )
        self.weight = weight

    @classmethod
    def _default_id(cls, x: Callable[..., Any]) -> str:
        name = _name_of(x)
        if name.startswith("CallbackSet") and len(name) > len("CallbackSet"):
            name = name[len("CallbackSet") :]
        return snake_case(name)

    @property
    def weight(self) -> float | None:
        """Order among callbacks given to the instances (None: the class's own)."""
        return self._weight

    @weight.setter
    def weight(self, value: float | None) -> None:
        if value is not None and (
            not isinstance(value, numbers.Real) or isinstance(value, bool) or value != value
        ):
            raise InvalidParameterError(
                f"The weight of callback '{self.id}' must be a number or None. "
                f"Got {format_value(value)} instead."
            )
        self._weight = value

    def generate(self, **extra: Any) -> CallbackSet:
        """A new callback instance with the parameter values (and the weight, if set)."""
        obj: CallbackSet = self.cls(**self._values(), **extra)
        if self._weight is not None:
            obj.weight = self._weight
        return obj

    def _repr_lines(self) -> list[str]:
        weight = self._weight if self._weight is not None else getattr(self.cls, "weight", 0)
        return [*super()._repr_lines(), f"* Weight: {weight}"]


def torch_callback(
    id: str,
    label: str | None = None,
    weight: float = 0.0,
    state_dict: Callable[[Any], Any] | None = None,
    load_state_dict: Callable[[Any, Any], None] | None = None,
    initialize: Callable[..., None] | None = None,
    **stages: Callable[[Any], None],
) -> Any:
    """Define a callback from functions and wrap it as a :class:`TorchCallback`.

    Parameters
    ----------
    id : str
        The callback id (its parameters appear as ``cb.<id>.<name>``).
    label : str, optional
        Human-readable name.
    weight : float, default 0
        Order among callbacks (higher runs later).
    state_dict, load_state_dict : callable, optional
        ``state_dict(self)`` and ``load_state_dict(self, state)``; both or neither.
    initialize : callable, optional
        ``initialize(self, **params)``: its keyword arguments become parameters.
    **stages : callable
        Stage functions taking ``self``: ``on_begin=...``, ``on_epoch_end=...``, ...

    Returns
    -------
    TorchCallback
        A descriptor, usable wherever callbacks are accepted.

    Examples
    --------
    >>> import torchweave as tw
    >>> def count(self):
    ...     self.n = getattr(self, "n", 0) + 1
    >>> cb = tw.torch_callback("counter", on_batch_end=count)
    >>> cb.id
    'counter'
    """
    unknown = [name for name in stages if name not in STAGES]
    if unknown:
        raise InvalidParameterError(
            f"torch_callback: {unknown} are not callback stages; stages are {list(STAGES)}."
            + closest_stage(unknown[0])
        )
    if (state_dict is None) != (load_state_dict is None):
        raise InvalidParameterError(
            "torch_callback: give both state_dict and load_state_dict, or neither."
        )
    spec = {
        "id": id,
        "weight": weight,
        "state_dict": state_dict,
        "load_state_dict": load_state_dict,
        "initialize": initialize,
        "stages": dict(stages),
    }
    cls = _function_callback_class(spec)
    return TorchCallback(cls, id=id, label=label or id.replace("_", " ").capitalize())


class _FunctionCallbackMeta(type):
    """Metaclass of the classes :func:`torch_callback` builds.

    Such a class exists only in the process that built it, so pickle cannot find it by
    name; a ``copyreg`` reducer for this metaclass pickles the functions it was built
    from instead and builds the class again on loading. The functions themselves must
    pickle (module-level functions do; lambdas need cloudpickle, as joblib uses).
    """


def _function_callback_class(spec: dict[str, Any]) -> type[CallbackSet]:
    """The CallbackSet subclass of a :func:`torch_callback` spec."""
    namespace: dict[str, Any] = dict(spec["stages"])
    namespace["weight"] = spec["weight"]
    namespace["_torch_callback_spec"] = spec
    if spec["state_dict"] is not None:
        namespace["state_dict"] = spec["state_dict"]
        namespace["load_state_dict"] = spec["load_state_dict"]
    initialize = spec["initialize"]
    if initialize is not None:

        def init(self: Any, **kwargs: Any) -> None:
            CallbackSet.__init__(self)
            initialize(self, **kwargs)

        init.__signature__ = _signature_without_self(initialize)  # type: ignore[attr-defined]
        namespace["__init__"] = init
    classname = "CallbackSet" + "".join(part.capitalize() for part in spec["id"].split("_"))
    cls = _FunctionCallbackMeta(classname, (CallbackSet,), namespace)
    return cast(type[CallbackSet], cls)


def _reduce_function_callback_class(cls: Any) -> tuple[Any, tuple[Any, ...]]:
    return _function_callback_class, (cls._torch_callback_spec,)


copyreg.pickle(_FunctionCallbackMeta, _reduce_function_callback_class)


def _signature_without_self(fn: Callable[..., Any]) -> Any:
    import inspect

    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1:]
    return sig.replace(
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *params]
    )
