"""PipeOp: one operator of a pipeline graph (mlr3pipelines' PipeOp).

A PipeOp has typed input and output channels. ``train(inputs)`` and
``predict(inputs)`` check the inputs against the channel types, call the
subclass's ``_train`` / ``_predict``, check the outputs and keep ``state``.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from torchweave.errors import (
    ChannelTypeError,
    GraphError,
    InvalidParameterError,
    NotTrainedError,
)
from torchweave.params.param_set import ParamSet
from torchweave.utils.text import format_value

__all__ = [
    "ANY",
    "NO_OP",
    "VARARG",
    "Channel",
    "PipeOp",
    "register_composer",
    "type_name",
    "types_compatible",
]

#: The channel type that accepts any value.
ANY = "any"
#: The name of a vararg input channel, which takes any number of inputs.
VARARG = "..."

ChannelType = type | tuple[type, ...] | str | None


class _NoOp:
    """The value on the channels of a branch that is not selected (mlr3pipelines' NO_OP)."""

    _instance: _NoOp | None = None

    def __new__(cls) -> _NoOp:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_OP"

    def __reduce__(self) -> str:
        return "NO_OP"

    def __deepcopy__(self, memo: dict[int, Any]) -> _NoOp:
        return self


#: What an inactive branch carries: an operator whose inputs are all NO_OP does not
#: run, gets the state NO_OP and passes NO_OP on (``po("branch")``, ``po("unbranch")``).
NO_OP: Any = _NoOp()

# How ``>>`` joins operators. The graph module registers its ``concat_graphs`` when it is
# imported (``import torchweave`` does), so that this module, which the graph module
# builds on, does not import it back.
_composers: list[Callable[[Any, Any], Any]] = []


def register_composer(compose: Callable[[Any, Any], Any]) -> None:
    """Let ``left >> right`` with a PipeOp on either side return ``compose(left, right)``.

    :mod:`torchweave.pipelines.graph` registers :func:`~torchweave.pipelines.graph.concat_graphs`;
    a later registration replaces an earlier one.
    """
    _composers[:] = [compose]


def _compose(left: Any, right: Any) -> Any:
    if not _composers:
        raise GraphError(
            "'>>' needs the graph module, which registers itself on import; import "
            "torchweave (or torchweave.pipelines.graph) first."
        )
    return _composers[0](left, right)


def type_name(t: ChannelType) -> str:
    """A readable name for a channel type."""
    if t is None:
        return "None"
    if isinstance(t, str):
        return t
    if isinstance(t, tuple):
        return " | ".join(x.__name__ for x in t)
    return t.__name__


def _classes(t: ChannelType) -> tuple[type, ...]:
    if isinstance(t, tuple):
        return t
    assert isinstance(t, type)
    return (t,)


def types_compatible(produced: ChannelType, accepted: ChannelType) -> bool:
    """Whether values of type ``produced`` may flow into a channel accepting ``accepted``.

    ``"any"`` fits everything. ``None`` (nothing) fits only ``None``. Classes fit
    when one is a subclass of the other (a ``Task`` output may feed a
    ``TaskClassif`` input; the value is checked again at run time).
    """
    if produced == ANY or accepted == ANY:
        return True
    if produced is None or accepted is None:
        return produced is None and accepted is None
    if isinstance(produced, str) or isinstance(accepted, str):
        return produced == accepted
    return any(
        issubclass(p, a) or issubclass(a, p) for p in _classes(produced) for a in _classes(accepted)
    )


def _value_fits(value: Any, t: ChannelType) -> bool:
    if t == ANY:
        return True
    if t is None:
        return value is None
    if isinstance(t, str):
        return True
    return isinstance(value, t)


@dataclass(frozen=True)
class Channel:
    """An input or output channel.

    Attributes
    ----------
    name : str
        Channel name (``"input"``, ``"output"``, ``"..."`` for a vararg input).
    train : type, tuple of types, "any" or None
        What flows through the channel during training (``None``: nothing).
    predict : type, tuple of types, "any" or None
        What flows through it during prediction.
    """

    name: str
    train: ChannelType
    predict: ChannelType

    def __repr__(self) -> str:
        return f"{self.name} [{type_name(self.train)}, {type_name(self.predict)}]"

    def __deepcopy__(self, memo: dict[int, Any]) -> Channel:
        return self  # frozen: copies of an operator share their channel declarations


class PipeOp(abc.ABC):
    """Abstract base of every pipeline operator.

    Parameters
    ----------
    id : str
        The operator id, unique within a graph.
    param_set : ParamSet, optional
        The operator's hyperparameters.
    param_vals : mapping, optional
        Values to set on ``param_set`` after construction.
    input : sequence of Channel
        Input channels.
    output : sequence of Channel
        Output channels.
    tags : sequence of str
        Free-form tags (``"data transform"``, ``"learner"``, ``"torch"``, ...).
    """

    #: Capability flag for the conformance suite: predicting on the training data gives
    #: the training output. Operators that differ by design (augmentation) set False.
    predict_like_train: ClassVar[bool] = True
    #: Whether ``_train``/``_predict`` take NO_OP inputs themselves (``po("unbranch")``);
    #: other operators whose inputs are all NO_OP are skipped.
    handles_noop: ClassVar[bool] = False

    def __init__(
        self,
        id: str,
        param_set: ParamSet | None = None,
        param_vals: Mapping[str, Any] | None = None,
        input: Sequence[Channel] = (),
        output: Sequence[Channel] = (),
        tags: Sequence[str] = (),
    ) -> None:
        self.param_set = param_set if param_set is not None else ParamSet()
        self.id = id
        self.input = list(input)
        self.output = list(output)
        self.tags = list(tags)
        self.state: Any = None
        if param_vals:
            self.param_set.set_values(dict(param_vals))

    # --- fields -------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The operator id (also the prefix of its parameters in a graph)."""
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise InvalidParameterError(
                f"A PipeOp id must be a non-empty string. Got {value!r} instead."
            )
        self._id = value
        self.param_set.owner = f"PipeOp '{value}'"

    @property
    def is_trained(self) -> bool:
        """Whether the operator holds a trained state."""
        return self.state is not None

    @property
    def has_vararg(self) -> bool:
        """Whether the operator has a vararg input channel (``"..."``)."""
        return any(ch.name == VARARG for ch in self.input)

    def state_summary(self) -> str | None:
        """One short line about the trained state, shown under the operator in drawings.

        None (the default) shows nothing; torch layer operators give their output shapes.
        """
        return None

    @property
    def label(self) -> str:
        """First line of the class docstring."""
        doc = (type(self).__doc__ or "").strip()
        return doc.splitlines()[0] if doc else type(self).__name__

    # --- hooks ----------------------------------------------------------------------------
    @abc.abstractmethod
    def _train(self, inputs: list[Any]) -> list[Any]:
        """Train on ``inputs`` (one per input channel), set ``self.state``, return outputs."""

    @abc.abstractmethod
    def _predict(self, inputs: list[Any]) -> list[Any]:
        """Predict with ``self.state``; return one output per output channel."""

    # --- public ---------------------------------------------------------------------------
    def train(self, inputs: list[Any]) -> list[Any]:
        """Train the operator.

        Parameters
        ----------
        inputs : list
            One value per input channel (a vararg channel takes any number).

        Returns
        -------
        list
            One value per output channel.
        """
        if self._skipped(inputs):
            self.state = NO_OP
            return [NO_OP] * len(self.output)
        self._check_values(inputs, self.input, "train", "input")
        self.state = None
        try:
            outputs = self._train(list(inputs))
            if self.state is None:
                self.state = {}
            self._check_values(outputs, self.output, "train", "output")
        except BaseException as exc:
            self.state = None
            exc.add_note(f"(raised in PipeOp '{self.id}' during train)")
            raise
        return outputs

    def predict(self, inputs: list[Any]) -> list[Any]:
        """Predict with the trained operator; returns one value per output channel."""
        if not self.is_trained:
            raise NotTrainedError(
                f"PipeOp '{self.id}' has not been trained yet, so it cannot predict. "
                "Train it (or the graph holding it) first."
            )
        if self._skipped(inputs):
            return [NO_OP] * len(self.output)
        self._check_values(inputs, self.input, "predict", "input")
        try:
            outputs = self._predict(list(inputs))
            self._check_values(outputs, self.output, "predict", "output")
        except BaseException as exc:
            exc.add_note(f"(raised in PipeOp '{self.id}' during predict)")
            raise
        return outputs

    def _skipped(self, inputs: Any) -> bool:
        """An operator on an inactive branch: every input is NO_OP."""
        return (
            not self.handles_noop
            and isinstance(inputs, list)
            and bool(inputs)
            and all(v is NO_OP for v in inputs)
        )

    def _check_values(
        self, values: Any, channels: Sequence[Channel], phase: str, direction: str
    ) -> None:
        if not isinstance(values, list):
            raise ChannelTypeError(
                f"PipeOp '{self.id}' {phase}: the {direction}s must be a list. "
                f"Got {type(values).__name__} instead."
            )
        fixed = [ch for ch in channels if ch.name != VARARG]
        vararg = [ch for ch in channels if ch.name == VARARG]
        if (vararg and len(values) < len(fixed)) or (not vararg and len(values) != len(fixed)):
            expected = f"at least {len(fixed)}" if vararg else str(len(fixed))
            raise ChannelTypeError(
                f"PipeOp '{self.id}' {phase}: expected {expected} {direction}(s) "
                f"({', '.join(ch.name for ch in channels)}). Got {len(values)} instead."
            )
        for i, value in enumerate(values):
            ch = fixed[i] if i < len(fixed) else vararg[0]
            expected_type = ch.train if phase == "train" else ch.predict
            if not _value_fits(value, expected_type):
                raise ChannelTypeError(
                    f"PipeOp '{self.id}' {phase}: {direction} channel '{ch.name}' takes "
                    f"{type_name(expected_type)}. Got {type(value).__name__} "
                    f"({format_value(value, 60)}) instead."
                )

    # --- copying, composition, printing ------------------------------------------------
    def clone(self, deep: bool = True) -> PipeOp:
        """A copy; with ``deep=True`` (the default) fully independent, state included."""
        return copy.deepcopy(self) if deep else copy.copy(self)

    def __rshift__(self, other: Any) -> Any:
        """``self >> other``: a Graph that feeds this operator's outputs into ``other``."""
        return _compose(self, other)

    def __rrshift__(self, other: Any) -> Any:
        """``other >> self``: a Graph that feeds ``other``'s outputs into this operator."""
        return _compose(other, self)

    def __repr__(self) -> str:
        params = self.param_set.params
        shown = []
        for key, value in self.param_set.values.items():
            param = params[key]
            reference = param.init if param.has_init else param.default
            try:
                same = (param.has_init or param.has_default) and bool(reference == value)
            except Exception:  # values without a boolean == (arrays, frames) count as set
                same = False
            if not same:
                shown.append(f"{key}={format_value(value, 40)}")
        status = "trained" if self.is_trained else "not trained"
        return (
            f"<{type(self).__name__}:{self.id}> ({status})\n"
            f"  values: {', '.join(shown) or '-'}\n"
            f"  input:  {', '.join(repr(ch) for ch in self.input)}\n"
            f"  output: {', '.join(repr(ch) for ch in self.output)}"
        )
