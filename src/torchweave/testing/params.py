"""``check_param_set``: the conformance suite of a ParamSet (paradox's invariants).

Every failed check raises an ``AssertionError`` whose message names the owner,
the parameter and what went wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torchweave.errors import InvalidParameterError
from torchweave.params.param import Param
from torchweave.params.param_set import REQUIRED, ParamSet, ParamSetCollection
from torchweave.testing._checks import CheckFailedError, refuse_unknown_checks, run_checks

__all__ = ["PARAM_SET_CHECKS", "check_param_set"]

_NOT_A_LEVEL = "__not_a_level__"


def _fail(ps: ParamSet, message: str) -> CheckFailedError:
    return CheckFailedError(f"ParamSet of {ps.owner}: {message}")


def _invalid_values(param: Param) -> list[Any]:
    """Values that a typed parameter must reject (candidates; special values are skipped)."""
    kind = param.kind
    out: list[Any] = []
    if kind in ("integer", "double"):
        lower, upper = param.lower, param.upper
        if lower is not None and math.isfinite(lower):
            out.append(lower - 1 if kind == "integer" else float(lower) - 1.0)
        if upper is not None and math.isfinite(upper):
            out.append(upper + 1 if kind == "integer" else float(upper) + 1.0)
        out.append("not a number")
        if kind == "integer":
            out.append(0.5)
    elif kind == "factor":
        out.extend([_NOT_A_LEVEL, object()])
    elif kind == "logical":
        out.extend(["yes", 2])
    # By the declaration these are invalid, unless declared special: the check must agree.
    return [v for v in out if not any(_is_special(v, s) for s in param.special_vals)]


def _is_special(value: Any, special: Any) -> bool:
    if special is None or value is None:
        return value is special
    return type(value) is type(special) and _equal(value, special)


def _valid_values(param: Param, current: Any) -> list[Any]:
    """Values that a parameter must accept, the current one first."""
    out: list[Any] = []
    if current is not None or param.check(None) is None:
        out.append(current)
    if param.has_default:
        out.append(param.default)
    if param.levels:
        out.extend(param.levels)
    lower, upper = param.lower, param.upper
    for bound in (lower, upper):
        if bound is not None and math.isfinite(bound):
            out.append(int(bound) if param.kind == "integer" else float(bound))
    return [v for v in out if param.check(v) is None]


def _owner_of(ps: ParamSet, pid: str) -> tuple[str, str]:
    """The member owner and member id that messages use for ``pid``."""
    if isinstance(ps, ParamSetCollection):
        member, member_id = ps._resolve()[pid]
        return member.owner, member_id
    return ps.owner, pid


def _member_of(ps: ParamSet, pid: str) -> ParamSet:
    """The set that declares ``pid`` (a member of a collection, or ``ps`` itself)."""
    if isinstance(ps, ParamSetCollection):
        return ps._resolve()[pid][0]
    return ps


def _is_dependency_error(exc: InvalidParameterError) -> bool:
    return "can only be set when" in str(exc)


def _same_values(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(a[k] is b[k] for k in a)


def _equal(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # arrays and frames have no single truth value
        return False


@dataclass
class _Context:
    """The set under check (``check`` is the name of the running check)."""

    ps: ParamSet
    check: str = ""


def _check_ids(ctx: _Context) -> None:
    ps, ids = ctx.ps, ctx.ps.ids()
    if len(ids) != len(set(ids)):
        raise _fail(ps, f"parameter ids are not unique: {ids}.")
    if not all(isinstance(pid, str) and pid for pid in ids):
        raise _fail(ps, f"parameter ids must be non-empty strings. Got {ids}.")


def _check_declarations(ctx: _Context) -> None:
    values = ctx.ps.values
    for pid, param in ctx.ps.params.items():
        _check_declaration(ctx.ps, pid, param, values)


def _check_each_rejects_invalid(ctx: _Context) -> None:
    for pid, param in ctx.ps.params.items():
        _check_rejects_invalid(ctx.ps, pid, param)


def _check_each_round_trip(ctx: _Context) -> None:
    for pid, param in ctx.ps.params.items():
        _check_round_trip(ctx.ps, pid, param)


def _check_declaration(ps: ParamSet, pid: str, param: Param, values: dict[str, Any]) -> None:
    if not isinstance(param.tags, frozenset) or not all(isinstance(t, str) for t in param.tags):
        raise _fail(ps, f"the tags of '{pid}' must be a frozenset of str. Got {param.tags!r}.")
    if param.has_init and param.check(param.init) is not None:
        raise _fail(
            ps,
            f"the init value {param.init!r} of '{pid}' fails its own check "
            f"(expected {param.check(param.init)}).",
        )
    if param.has_default and param.check(param.default) is not None:
        raise _fail(
            ps,
            f"the default {param.default!r} of '{pid}' is neither valid "
            f"({param.check(param.default)}) nor a special value.",
        )
    if pid in values and ps.check(pid, values[pid]) is not None:
        raise _fail(ps, f"the current value of '{pid}' is invalid: {ps.check(pid, values[pid])}")
    siblings = _member_of(ps, pid).params
    if param.depends is not None and param.depends.on not in siblings:
        raise _fail(
            ps, f"'{pid}' depends on '{param.depends.on}', which is not a parameter of the set."
        )


def _check_rejects_invalid(ps: ParamSet, pid: str, param: Param) -> None:
    owner, member_id = _owner_of(ps, pid)
    for bad in _invalid_values(param):
        before = ps.values
        try:
            ps.set_values({pid: bad})
        except InvalidParameterError as exc:
            message = str(exc)
        else:
            ps.values = before
            raise _fail(
                ps, f"set_values({pid}={bad!r}) was accepted; {param.kind} ({param.describe()})."
            )
        if f"'{member_id}'" not in message or owner not in message:
            raise _fail(
                ps,
                f"the error for {pid}={bad!r} must name the parameter '{member_id}' and the "
                f"owner {owner}. Got: {message}",
            )
        if not _same_values(before, ps.values):
            raise _fail(ps, f"a failed set_values({pid}={bad!r}) changed the values.")


def _check_round_trip(ps: ParamSet, pid: str, param: Param) -> None:
    current = ps.values.get(pid, param.init if param.has_init else None)
    for value in _valid_values(param, current)[:3]:
        copy = ps.clone()
        try:
            copy.set_values({pid: value})
        except InvalidParameterError as exc:
            if _is_dependency_error(exc):
                continue  # a dependency is not met by the current values: nothing to check
            raise _fail(ps, f"set_values({pid}={value!r}) of a valid value raised: {exc}") from exc
        got = copy.values.get(pid, _NOT_A_LEVEL)
        if not _equal(got, value):
            raise _fail(ps, f"set_values({pid}={value!r}) then values gives {got!r}.")
        if not _equal(copy.get_values().get(pid, _NOT_A_LEVEL), value):
            raise _fail(ps, f"set_values({pid}={value!r}) then get_values() lacks it.")


def _check_clone(ctx: _Context) -> None:
    ps = ctx.ps
    before = ps.values
    copy = ps.clone()
    if copy is ps:
        raise _fail(ps, "clone() returned the same object.")
    if copy.ids() != ps.ids():
        raise _fail(ps, f"clone() has ids {copy.ids()}, expected {ps.ids()}.")
    # Declarations (Param objects) are immutable and shared by copies; values are not.
    for pid in list(copy.values):
        copy.remove_values(pid)
    if not _same_values(before, ps.values):
        raise _fail(ps, "removing values from a clone changed the original's values.")
    for pid, param in ps.params.items():
        changed = [v for v in _valid_values(param, None) if not _equal(v, before.get(pid))]
        if not changed:
            continue
        other = ps.clone()
        try:
            other.set_values({pid: changed[0]})
        except InvalidParameterError as exc:
            if _is_dependency_error(exc):
                continue
            raise _fail(
                ps, f"set_values({pid}={changed[0]!r}) of a valid value raised: {exc}"
            ) from exc
        if not _same_values(before, ps.values):
            raise _fail(ps, f"setting '{pid}' on a clone changed the original's values.")


def _check_required(ctx: _Context) -> None:
    ps = ctx.ps
    values = ps.values
    missing = [pid for pid, p in ps.params.items() if REQUIRED in p.tags and pid not in values]
    if not missing:
        try:
            ps.check_required()
        except InvalidParameterError as exc:
            raise _fail(
                ps, f"check_required() raised although nothing required is unset: {exc}"
            ) from exc
        return
    try:
        ps.check_required()
    except InvalidParameterError as exc:
        for pid in missing:
            short = _owner_of(ps, pid)[1]
            if f"'{short}'" not in str(exc) and f"'{pid}'" not in str(exc):
                raise _fail(
                    ps,
                    f"check_required() must name the unset required parameter '{pid}'. Got: {exc}",
                ) from exc
    else:
        raise _fail(ps, f"check_required() passed although {missing} are required and unset.")
    try:
        ps.get_values(check_required=True)
    except InvalidParameterError:
        return
    raise _fail(ps, f"get_values(check_required=True) passed although {missing} are unset.")


#: The checks of :func:`check_param_set`, by name (the names ``skip`` takes).
PARAM_SET_CHECKS: dict[str, Callable[[_Context], None]] = {
    "ids": _check_ids,
    "declarations": _check_declarations,
    "rejects_invalid": _check_each_rejects_invalid,
    "round_trip": _check_each_round_trip,
    "clone": _check_clone,
    "required": _check_required,
}


def check_param_set(ps: ParamSet, skip: Mapping[str, str] | None = None) -> dict[str, str]:
    """Check that a ParamSet keeps paradox's invariants.

    The checks (the keys of :data:`PARAM_SET_CHECKS`): ``ids`` are unique strings;
    ``declarations``: every ``init`` and every current value passes its parameter's
    check, every documented ``default`` passes the check (or is a special value);
    ``rejects_invalid``: an invalid value for each typed parameter (below its lower
    bound, not a level, of the wrong type) raises
    :class:`~torchweave.errors.InvalidParameterError` naming the parameter and the
    owner, and leaves the values unchanged; ``round_trip``: values round-trip through
    ``set_values``/``values``; ``clone``: a clone is independent; ``required``:
    ``check_required`` raises exactly when a ``required`` parameter is unset.

    Parameters
    ----------
    ps : ParamSet
        The set to check (left as it was).
    skip : mapping of str to str, optional
        Checks to skip, with the reason. Names are the keys of :data:`PARAM_SET_CHECKS`.

    Returns
    -------
    dict of str to str
        For each check ``"passed"`` or ``"skipped: <reason>"``, as the other suites.

    Raises
    ------
    AssertionError
        On the first violated invariant, with a message naming it.

    Examples
    --------
    >>> from torchweave.params import ParamSet, p_int
    >>> from torchweave.testing.params import check_param_set
    >>> results = check_param_set(ParamSet(owner="learner 'toy'", epochs=p_int(1, init=5)))
    >>> results["rejects_invalid"]
    'passed'
    """
    if not isinstance(ps, ParamSet):
        raise AssertionError(f"Expected a ParamSet. Got {type(ps).__name__} instead.")
    skips = dict(skip or {})
    refuse_unknown_checks(skips, PARAM_SET_CHECKS, f"in the skips of the ParamSet of {ps.owner}")
    ctx = _Context(ps=ps)
    return run_checks(
        ctx, PARAM_SET_CHECKS, skips, f"check_param_set for the ParamSet of {ps.owner}"
    )
