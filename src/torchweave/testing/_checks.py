"""What every conformance suite shares: the failure type, the skip check, running a check."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["CheckFailedError", "refuse_unknown_checks", "run_check", "run_checks"]


class CheckFailedError(AssertionError):
    """A failed conformance check (an ``AssertionError``)."""


def refuse_unknown_checks(names: Iterable[str], checks: Mapping[str, Any], what: str) -> None:
    """Raise an AssertionError for names (to skip or to run) that are not checks.

    ``what`` completes the message, e.g. ``"for PipeOp 'scale'"``.
    """
    unknown = sorted(set(names) - set(checks))
    if unknown:
        raise AssertionError(f"Unknown check(s) {unknown} {what}. Checks are {sorted(checks)}.")


def run_check(ctx: Any, name: str, check: Callable[[Any], None], where: str) -> None:
    """Run one check on ``ctx`` (setting ``ctx.check``); other errors get a note on ``where``."""
    ctx.check = name
    try:
        check(ctx)
    except CheckFailedError:
        raise
    except Exception as exc:
        exc.add_note(f"(in check '{name}' of {where})")
        raise


def run_checks(
    ctx: Any, checks: Mapping[str, Callable[[Any], None]], skips: Mapping[str, str], where: str
) -> dict[str, str]:
    """Run the checks in order (:func:`run_check`), but the skipped ones: the suite's report.

    Returns ``{name: "passed" or "skipped: <reason>"}``.
    """
    results: dict[str, str] = {}
    for name, check in checks.items():
        if name in skips:
            results[name] = f"skipped: {skips[name]}"
            continue
        run_check(ctx, name, check, where)
        results[name] = "passed"
    return results
