"""``to_tune``: mark a parameter value for tuning (mlr3's ``to_tune()``).

A token is set as the value of a parameter in any flat ParamSet (a learner's or a
graph's); :func:`~torchweave.tuning.tune` reads the tokens and builds the search space
from them. Three forms exist:

- ``to_tune(lower, upper, logscale=False)``: a number in ``[lower, upper]`` (an integer
  when the parameter is an integer one);
- ``to_tune([levels])``: one of the levels;
- ``to_tune(upper=U, internal=True)``: tuned by the learner itself while it trains
  (epochs with early stopping, see docs/tuning.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torchweave.errors import InvalidParameterError
from torchweave.params.param import (
    Param,
    ParamDbl,
    ParamInt,
    ParamLgl,
    ParamUty,
    TuneToken,
    p_dbl,
    p_fct,
    p_int,
)
from torchweave.utils.text import format_value

__all__ = ["InternalTuneToken", "LevelsTuneToken", "RangeTuneToken", "to_tune"]


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


class RangeTuneToken(TuneToken):
    """``to_tune(lower, upper, logscale)``: a number between two bounds.

    Parameters
    ----------
    lower, upper : float
        The inclusive bounds (``lower <= upper``).
    logscale : bool, default False
        Sample uniformly on the log scale (bounds must be positive).
    """

    def __init__(self, lower: float, upper: float, logscale: bool = False) -> None:
        if not (_is_number(lower) and _is_number(upper)) or lower > upper:
            raise InvalidParameterError(
                "to_tune(lower, upper) needs finite numbers with lower <= upper. "
                f"Got lower={format_value(lower)}, upper={format_value(upper)} instead."
            )
        if logscale and lower <= 0:
            raise InvalidParameterError(
                "to_tune(..., logscale=True) needs a lower bound > 0. "
                f"Got lower={format_value(lower)} instead."
            )
        self.lower, self.upper, self.logscale = lower, upper, bool(logscale)

    def _integer(self, param: Param) -> bool:
        """Integers for an integer parameter, or for an untyped one given int bounds."""
        if isinstance(param, ParamInt):
            return True
        if isinstance(param, ParamDbl):
            return False
        return isinstance(self.lower, int) and isinstance(self.upper, int)

    def check_param(self, param: Param) -> str | None:  # noqa: D102
        if not isinstance(param, ParamInt | ParamDbl | ParamUty):
            return f"{param.expectation()} (to_tune(lower, upper) needs a numeric parameter)"
        if isinstance(param, ParamInt) and not (
            float(self.lower).is_integer() and float(self.upper).is_integer()
        ):
            return f"{param.expectation()} (integer bounds for an integer parameter)"
        for bound in (self.lower, self.upper):
            value = int(bound) if self._integer(param) else float(bound)
            problem = param.check(value)
            if problem is not None:
                return f"{problem} (both bounds of to_tune must be valid values)"
        return None

    def domain(self, param: Param) -> Param:
        """The search-space parameter for the learner parameter ``param``."""
        if self._integer(param):
            return p_int(int(self.lower), int(self.upper), logscale=self.logscale)
        return p_dbl(float(self.lower), float(self.upper), logscale=self.logscale)

    def inactive_value(self, param: Param) -> Any:
        """A valid value to hold while the parameter is inactive (its lower bound)."""
        return int(self.lower) if self._integer(param) else float(self.lower)

    def __repr__(self) -> str:
        log = ", logscale=True" if self.logscale else ""
        return f"to_tune({self.lower!r}, {self.upper!r}{log})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RangeTuneToken) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


class LevelsTuneToken(TuneToken):
    """``to_tune([levels])``: one of a list of values.

    Parameters
    ----------
    levels : sequence
        The candidate values (at least one; each valid for the parameter).
    """

    def __init__(self, levels: Sequence[Any]) -> None:
        levels = list(levels)
        if not levels:
            raise InvalidParameterError("to_tune([levels]) needs at least one level. Got none.")
        self.levels = levels

    def check_param(self, param: Param) -> str | None:  # noqa: D102
        for level in self.levels:
            problem = param.check(level)
            if problem is not None:
                return f"{problem} (every level of to_tune must be a valid value)"
        return None

    def domain(self, param: Param) -> Param:
        """The search-space parameter: a factor over the levels."""
        if isinstance(param, ParamLgl) and sorted(self.levels) == [False, True]:
            return p_fct([True, False])
        return p_fct(self.levels)

    def inactive_value(self, param: Param) -> Any:
        """A valid value to hold while the parameter is inactive (the first level)."""
        return self.levels[0]

    def __repr__(self) -> str:
        return f"to_tune({self.levels!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LevelsTuneToken) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


class InternalTuneToken(TuneToken):
    """``to_tune(upper=U, internal=True)``: the learner tunes the value while training.

    Each evaluation trains with the value ``upper`` and early stopping; the learner's
    ``internal_tuned_values`` (the best epoch) of the resampling iterations are
    aggregated with ``aggr`` (default ``ceil(mean(...))``), and the final model is
    trained with that value, without validation and early stopping.

    Parameters
    ----------
    upper : int
        The largest value (e.g. the most epochs).
    aggr : callable, optional
        Maps the list of per-iteration values to one value.
    """

    def __init__(self, upper: int, aggr: Any = None) -> None:
        if not _is_number(upper) or not float(upper).is_integer() or upper < 1:
            raise InvalidParameterError(
                "to_tune(upper=..., internal=True) needs an integer upper >= 1. "
                f"Got {format_value(upper)} instead."
            )
        if aggr is not None and not callable(aggr):
            raise InvalidParameterError(
                f"The 'aggr' of to_tune must be callable. Got {format_value(aggr)} instead."
            )
        self.upper = int(upper)
        self.aggr = aggr

    def check_param(self, param: Param) -> str | None:  # noqa: D102
        if "internal_tuning" not in param.tags:
            return "a value (to_tune(internal=True) needs a parameter tagged 'internal_tuning')"
        return param.check(self.upper)

    def aggregate(self, values: Sequence[Any]) -> int:
        """``aggr(values)``, by default ``ceil(mean(values))``."""
        if self.aggr is not None:
            return int(self.aggr(list(values)))
        return math.ceil(sum(values) / len(values))

    def inactive_value(self, param: Param) -> Any:
        """The upper bound."""
        return self.upper

    def __repr__(self) -> str:
        return f"to_tune(upper={self.upper}, internal=True)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InternalTuneToken) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


def to_tune(
    lower: Any = None,
    upper: Any = None,
    logscale: bool = False,
    *,
    internal: bool = False,
    aggr: Any = None,
) -> TuneToken:
    """Mark a parameter value for tuning.

    Parameters
    ----------
    lower : float, or sequence of levels
        The lower bound; or a list of candidate values (``to_tune(["a", "b"])``).
    upper : float
        The upper bound.
    logscale : bool, default False
        Sample uniformly on the log scale.
    internal : bool, default False
        The learner tunes the value itself (only ``upper`` is given): each evaluation
        trains up to ``upper`` with early stopping.
    aggr : callable, optional
        With ``internal=True``: combines the per-iteration values (default
        ``ceil(mean)``).

    Returns
    -------
    TuneToken
        The token to set as the parameter's value.

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.to_tune(1e-4, 1e-1, logscale=True)
    to_tune(0.0001, 0.1, logscale=True)
    >>> tw.to_tune(["relu", "tanh"])
    to_tune(['relu', 'tanh'])
    >>> tw.to_tune(upper=100, internal=True)
    to_tune(upper=100, internal=True)
    """
    if internal:
        if lower is not None or upper is None:
            raise InvalidParameterError(
                "to_tune(internal=True) takes only 'upper' (the largest value, e.g. the most "
                f"epochs). Got lower={format_value(lower)}, upper={format_value(upper)}."
            )
        return InternalTuneToken(upper, aggr)
    if aggr is not None:
        raise InvalidParameterError("to_tune: 'aggr' only applies with internal=True.")
    if isinstance(lower, list | tuple) and upper is None:
        return LevelsTuneToken(lower)
    if lower is None or upper is None:
        raise InvalidParameterError(
            "to_tune needs bounds (to_tune(lower, upper)), levels (to_tune([a, b])) or "
            f"upper with internal=True. Got lower={format_value(lower)}, "
            f"upper={format_value(upper)}."
        )
    return RangeTuneToken(lower, upper, logscale)
