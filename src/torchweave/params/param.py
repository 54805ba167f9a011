"""Parameter declarations: the typed, bounded building blocks of a ParamSet.

A :class:`Param` describes one hyperparameter as data (paradox's design): its kind,
bounds or levels, values that are always allowed (``special_vals``), the behaviour
when unset (``default``, documentation only), the value set at construction
(``init``), ``tags`` and an optional dependency on another parameter.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from torchweave.utils.text import quote_list

__all__ = [
    "NO_DEFAULT",
    "Condition",
    "Param",
    "ParamDbl",
    "ParamFct",
    "ParamInt",
    "ParamLgl",
    "ParamUty",
    "TuneToken",
    "p_dbl",
    "p_fct",
    "p_int",
    "p_lgl",
    "p_uty",
]


class _NoDefault:
    """Sentinel type for "no default" and "no init"."""

    _instance: _NoDefault | None = None

    def __new__(cls) -> _NoDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __reduce__(self) -> str:
        return "NO_DEFAULT"

    def __bool__(self) -> bool:
        return False


NO_DEFAULT: Any = _NoDefault()


class TuneToken:
    """Base of the values that mark a parameter for tuning (``tw.to_tune(...)``).

    A ParamSet accepts a token as the value of any parameter whose declaration the
    token fits (:meth:`check_param`); training refuses a learner that still holds one
    (:meth:`ParamSet.check_required`). The tokens themselves live in
    :mod:`torchweave.tuning.tokens`.
    """

    def check_param(self, param: Param) -> str | None:
        """``None`` if the token fits ``param``, else what was expected."""
        return None


@dataclass(frozen=True)
class Condition:
    """A parameter is only meaningful when ``on`` takes one of ``values``.

    Parameters
    ----------
    on : str
        Id of the parent parameter.
    values : sequence
        The parent values under which the dependent parameter may be set.
    """

    on: str
    values: tuple[Any, ...]

    def __init__(self, on: str, values: Any) -> None:
        if isinstance(values, str) or not isinstance(values, Iterable):
            values = (values,)
        object.__setattr__(self, "on", on)
        object.__setattr__(self, "values", tuple(values))

    def is_met(self, parent_value: Any) -> bool:
        """Whether ``parent_value`` satisfies the condition."""
        return any(parent_value == v for v in self.values)

    def __str__(self) -> str:
        if len(self.values) == 1:
            return f"'{self.on}' == {self.values[0]!r}"
        return f"'{self.on}' in {{{quote_list(self.values)}}}"


def _as_condition(depends: Condition | tuple[str, Any] | None) -> Condition | None:
    if depends is None or isinstance(depends, Condition):
        return depends
    on, values = depends
    return Condition(on, values)


@dataclass
class Param:
    """Abstract base of every parameter kind.

    Attributes
    ----------
    default : Any
        The behaviour when the parameter is not set (documentation only).
    init : Any
        The value set when the owning ParamSet is constructed.
    tags : frozenset of str
        Free-form tags such as ``"train"``, ``"predict"`` or ``"required"``.
    special_vals : tuple
        Values accepted regardless of the kind's own check (e.g. ``None``).
    depends : Condition or None
        The parameter may only be set while another one takes certain values.
    description : str
        One line of documentation.
    trafo : callable or None
        In a search space (``tw.ps``): maps a sampled value to the value the learner
        gets (e.g. ``lambda x: 2**x``). A ParamSet of a learner ignores it.
    logscale : bool
        In a search space: sample (and space grid points) uniformly on the log scale
        between the bounds (integers and floats with positive bounds).
    """

    default: Any = NO_DEFAULT
    init: Any = NO_DEFAULT
    tags: frozenset[str] = field(default_factory=frozenset)
    special_vals: tuple[Any, ...] = ()
    depends: Condition | None = None
    description: str = ""
    trafo: Callable[[Any], Any] | None = None
    logscale: bool = False

    kind: str = field(default="untyped", init=False)

    def __post_init__(self) -> None:
        if isinstance(self.tags, str):
            self.tags = frozenset({self.tags})
        else:
            self.tags = frozenset(self.tags)
        self.special_vals = tuple(self.special_vals)
        self.depends = _as_condition(self.depends)

    def __deepcopy__(self, memo: dict[int, Any]) -> Param:
        # Declarations are immutable once made: copies of a ParamSet share them.
        return self

    # --- subclass hooks -------------------------------------------------------------
    def _check_kind(self, value: Any) -> bool:
        """Whether ``value`` is valid for this kind (special values aside)."""
        return True

    def describe(self) -> str:
        """The expectation in words, e.g. ``"an integer >= 0"``."""
        return "any value"

    # --- public -----------------------------------------------------------------------
    @property
    def has_default(self) -> bool:
        """Whether a default is documented."""
        return self.default is not NO_DEFAULT

    @property
    def has_init(self) -> bool:
        """Whether a value is set at construction."""
        return self.init is not NO_DEFAULT

    @property
    def lower(self) -> float | None:
        """Lower bound (``None`` for kinds without bounds)."""
        return None

    @property
    def upper(self) -> float | None:
        """Upper bound (``None`` for kinds without bounds)."""
        return None

    @property
    def levels(self) -> tuple[Any, ...] | None:
        """Allowed levels (``None`` for kinds without levels)."""
        return None

    def check(self, value: Any) -> str | None:
        """Return ``None`` if ``value`` is valid, else what was expected.

        Parameters
        ----------
        value : Any
            The candidate value.

        Returns
        -------
        str or None
            ``None`` when valid, otherwise the expectation (``"an integer >= 0"``).
        """
        if any(_same(value, s) for s in self.special_vals):
            return None
        try:
            ok = self._check_kind(value)
        except Exception:  # a custom check that crashes counts as a failed check
            ok = False
        if ok:
            return None
        return self.expectation()

    def expectation(self) -> str:
        """The expectation including the special values."""
        text = self.describe()
        if self.special_vals:
            text += " or " + " or ".join(repr(s) for s in self.special_vals)
        return text


def _same(value: Any, special: Any) -> bool:
    if special is None:
        return value is None
    if isinstance(special, float) and math.isnan(special):
        return isinstance(value, float) and math.isnan(value)
    try:
        return type(value) is type(special) and bool(value == special)
    except Exception:
        return False


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _bounds_text(kind: str, lower: float | None, upper: float | None) -> str:
    lo = None if lower is None or lower == -math.inf else lower
    hi = None if upper is None or upper == math.inf else upper
    if lo is not None and hi is not None:
        return f"{kind} in [{_num(lo)}, {_num(hi)}]"
    if lo is not None:
        return f"{kind} >= {_num(lo)}"
    if hi is not None:
        return f"{kind} <= {_num(hi)}"
    return kind


def _num(x: float) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


@dataclass
class ParamInt(Param):
    """An integer parameter with optional inclusive bounds."""

    lower_bound: float | None = None
    upper_bound: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "integer"

    @property
    def lower(self) -> float | None:  # noqa: D102
        return self.lower_bound

    @property
    def upper(self) -> float | None:  # noqa: D102
        return self.upper_bound

    def _check_kind(self, value: Any) -> bool:
        if not _is_int(value):
            return False
        if self.lower_bound is not None and value < self.lower_bound:
            return False
        return not (self.upper_bound is not None and value > self.upper_bound)

    def describe(self) -> str:  # noqa: D102
        return _bounds_text("an integer", self.lower_bound, self.upper_bound)


@dataclass
class ParamDbl(Param):
    """A real-valued parameter with optional bounds (inclusive unless stated)."""

    lower_bound: float | None = None
    upper_bound: float | None = None
    lower_open: bool = False
    upper_open: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "double"

    @property
    def lower(self) -> float | None:  # noqa: D102
        return self.lower_bound

    @property
    def upper(self) -> float | None:  # noqa: D102
        return self.upper_bound

    def _check_kind(self, value: Any) -> bool:
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            return False
        value = float(value)
        if math.isnan(value):
            return False
        lo, hi = self.lower_bound, self.upper_bound
        if lo is not None and (value < lo or (self.lower_open and value == lo)):
            return False
        return not (hi is not None and (value > hi or (self.upper_open and value == hi)))

    def describe(self) -> str:  # noqa: D102
        lo, hi = self.lower_bound, self.upper_bound
        if lo is not None and hi is not None and lo != -math.inf and hi != math.inf:
            left = "(" if self.lower_open else "["
            right = ")" if self.upper_open else "]"
            return f"a float in {left}{_num(lo)}, {_num(hi)}{right}"
        if lo is not None and lo != -math.inf:
            return f"a float {'>' if self.lower_open else '>='} {_num(lo)}"
        if hi is not None and hi != math.inf:
            return f"a float {'<' if self.upper_open else '<='} {_num(hi)}"
        return "a float"


@dataclass
class ParamFct(Param):
    """A categorical parameter: one of a fixed set of levels."""

    level_values: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "factor"
        self.level_values = tuple(self.level_values)

    @property
    def levels(self) -> tuple[Any, ...] | None:  # noqa: D102
        return self.level_values

    def _check_kind(self, value: Any) -> bool:
        return any(type(value) is type(lv) and value == lv for lv in self.level_values)

    def describe(self) -> str:  # noqa: D102
        return "one of {" + quote_list(self.level_values) + "}"


@dataclass
class ParamLgl(Param):
    """A logical (``bool``) parameter."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "logical"

    @property
    def levels(self) -> tuple[Any, ...] | None:  # noqa: D102
        return (True, False)

    def _check_kind(self, value: Any) -> bool:
        return isinstance(value, bool) or type(value).__name__ == "bool_"

    def describe(self) -> str:  # noqa: D102
        return "a bool"


@dataclass
class ParamUty(Param):
    """An untyped parameter, optionally with a custom check.

    ``custom_check`` returns ``None`` for a valid value, or the expectation as a
    phrase (``"a list of Measures"``); returning ``False``/``True`` also works.
    """

    custom_check: Callable[[Any], str | bool | None] | None = None
    expected: str = "any value"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "untyped"

    def check(self, value: Any) -> str | None:  # noqa: D102
        if any(_same(value, s) for s in self.special_vals) or self.custom_check is None:
            return None
        try:
            result = self.custom_check(value)
        except Exception as exc:  # a crashing check is a failed check, with its reason
            result = f"{self.expected} (the check raised {type(exc).__name__}: {exc})"
        if result is None or result is True:
            return None
        message = result if isinstance(result, str) else self.expected
        if self.special_vals:
            message += " or " + " or ".join(repr(s) for s in self.special_vals)
        return message

    def describe(self) -> str:  # noqa: D102
        return self.expected


TagsLike = str | Collection[str]


def _tags(tags: TagsLike | None) -> frozenset[str]:
    if tags is None:
        return frozenset()
    if isinstance(tags, str):
        return frozenset({tags})
    return frozenset(tags)


def p_int(
    lower: float | None = None,
    upper: float | None = None,
    *,
    default: Any = NO_DEFAULT,
    init: Any = NO_DEFAULT,
    tags: TagsLike | None = None,
    special_vals: Sequence[Any] = (),
    depends: Condition | tuple[str, Any] | None = None,
    description: str = "",
    trafo: Callable[[Any], Any] | None = None,
    logscale: bool = False,
) -> ParamInt:
    """Declare an integer parameter (bounds inclusive; ``math.inf`` for none).

    ``trafo`` and ``logscale`` only matter in a search space (:func:`torchweave.ps`).
    """
    return ParamInt(
        default=default,
        init=init,
        tags=_tags(tags),
        special_vals=tuple(special_vals),
        depends=_as_condition(depends),
        description=description,
        trafo=trafo,
        logscale=logscale,
        lower_bound=lower,
        upper_bound=upper,
    )


def p_dbl(
    lower: float | None = None,
    upper: float | None = None,
    *,
    lower_open: bool = False,
    upper_open: bool = False,
    default: Any = NO_DEFAULT,
    init: Any = NO_DEFAULT,
    tags: TagsLike | None = None,
    special_vals: Sequence[Any] = (),
    depends: Condition | tuple[str, Any] | None = None,
    description: str = "",
    trafo: Callable[[Any], Any] | None = None,
    logscale: bool = False,
) -> ParamDbl:
    """Declare a real-valued parameter.

    ``trafo`` and ``logscale`` only matter in a search space (:func:`torchweave.ps`).
    """
    return ParamDbl(
        default=default,
        init=init,
        tags=_tags(tags),
        special_vals=tuple(special_vals),
        depends=_as_condition(depends),
        description=description,
        trafo=trafo,
        logscale=logscale,
        lower_bound=lower,
        upper_bound=upper,
        lower_open=lower_open,
        upper_open=upper_open,
    )


def p_fct(
    levels: Sequence[Any],
    *,
    default: Any = NO_DEFAULT,
    init: Any = NO_DEFAULT,
    tags: TagsLike | None = None,
    special_vals: Sequence[Any] = (),
    depends: Condition | tuple[str, Any] | None = None,
    description: str = "",
    trafo: Callable[[Any], Any] | None = None,
) -> ParamFct:
    """Declare a categorical parameter taking one of ``levels``."""
    return ParamFct(
        default=default,
        init=init,
        tags=_tags(tags),
        special_vals=tuple(special_vals),
        depends=_as_condition(depends),
        description=description,
        trafo=trafo,
        level_values=tuple(levels),
    )


def p_lgl(
    *,
    default: Any = NO_DEFAULT,
    init: Any = NO_DEFAULT,
    tags: TagsLike | None = None,
    special_vals: Sequence[Any] = (),
    depends: Condition | tuple[str, Any] | None = None,
    description: str = "",
    trafo: Callable[[Any], Any] | None = None,
) -> ParamLgl:
    """Declare a logical parameter."""
    return ParamLgl(
        default=default,
        init=init,
        tags=_tags(tags),
        special_vals=tuple(special_vals),
        depends=_as_condition(depends),
        description=description,
        trafo=trafo,
    )


def p_uty(
    *,
    custom_check: Callable[[Any], str | bool | None] | None = None,
    expected: str = "any value",
    default: Any = NO_DEFAULT,
    init: Any = NO_DEFAULT,
    tags: TagsLike | None = None,
    special_vals: Sequence[Any] = (),
    depends: Condition | tuple[str, Any] | None = None,
    description: str = "",
) -> ParamUty:
    """Declare an untyped parameter, optionally validated by ``custom_check``."""
    return ParamUty(
        default=default,
        init=init,
        tags=_tags(tags),
        special_vals=tuple(special_vals),
        depends=_as_condition(depends),
        description=description,
        custom_check=custom_check,
        expected=expected,
    )
