"""Selectors over network parameter names, for ``t_clbk("unfreeze")``.

A :class:`Select` is a small callable object: given the names of a network's
parameters (``[name for name, _ in network.named_parameters()]``), it returns the
selected names, in the order given. Selectors pickle and print readably, so a learner
that holds them can be saved and inspected.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Sequence
from typing import Any

from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.utils.text import format_value, quote_list

__all__ = [
    "Select",
    "select_all",
    "select_grep",
    "select_invert",
    "select_name",
    "select_none",
]


class Select(abc.ABC):
    """Base class of parameter-name selectors: ``select(names) -> selected names``.

    Subclasses implement :meth:`_select`, which returns the set of selected names;
    :meth:`__call__` keeps the input order.

    Examples
    --------
    >>> from torchweave.callbacks.select import select_grep, select_invert
    >>> sel = select_invert(select_grep("bias$"))
    >>> sel
    select_invert(select_grep('bias$'))
    >>> sel(["0.weight", "0.bias", "2.weight", "2.bias"])
    ['0.weight', '2.weight']
    """

    @abc.abstractmethod
    def _select(self, names: list[str]) -> set[str]:
        """The selected names (a set; :meth:`__call__` restores the order)."""

    def __call__(self, names: Iterable[str]) -> list[str]:
        """The selected names among ``names``, in their order."""
        names = list(names)
        bad = [n for n in names if not isinstance(n, str)]
        if bad:
            raise InvalidTypeError(
                f"{self!r} selects among parameter names (strings). Got "
                f"{format_value(bad[0])} among them."
            )
        chosen = self._select(names)
        return [n for n in names if n in chosen]

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))


class _SelectAll(Select):
    def _select(self, names: list[str]) -> set[str]:
        return set(names)

    def __repr__(self) -> str:
        return "select_all()"


class _SelectNone(Select):
    def _select(self, names: list[str]) -> set[str]:
        return set()

    def __repr__(self) -> str:
        return "select_none()"


class _SelectGrep(Select):
    def __init__(self, pattern: str, ignore_case: bool, fixed: bool) -> None:
        self.pattern = pattern
        self.ignore_case = ignore_case
        self.fixed = fixed

    def _select(self, names: list[str]) -> set[str]:
        if self.fixed:
            needle = self.pattern.lower() if self.ignore_case else self.pattern
            return {n for n in names if needle in (n.lower() if self.ignore_case else n)}
        regex = re.compile(self.pattern, re.IGNORECASE if self.ignore_case else 0)
        return {n for n in names if regex.search(n)}

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}=True" for name in ("ignore_case", "fixed") if getattr(self, name)
        )
        return f"select_grep({self.pattern!r}{extra})"


class _SelectName(Select):
    def __init__(self, names: tuple[str, ...], assert_present: bool) -> None:
        self.names = names
        self.assert_present = assert_present

    def _select(self, names: list[str]) -> set[str]:
        if self.assert_present:
            missing = [n for n in self.names if n not in names]
            if missing:
                raise InvalidParameterError(
                    f"select_name: the parameter(s) {quote_list(missing)} are not in the "
                    f"network, whose parameters are {quote_list(names)}."
                )
        return set(self.names)

    def __repr__(self) -> str:
        extra = "" if self.assert_present else ", assert_present=False"
        return f"select_name({list(self.names)!r}{extra})"


class _SelectInvert(Select):
    def __init__(self, select: Select) -> None:
        self.select = select

    def _select(self, names: list[str]) -> set[str]:
        return set(names) - set(self.select(names))

    def __repr__(self) -> str:
        return f"select_invert({self.select!r})"


def select_all() -> Select:
    """Select every parameter.

    Examples
    --------
    >>> from torchweave.callbacks.select import select_all
    >>> select_all()(["0.weight", "0.bias"])
    ['0.weight', '0.bias']
    """
    return _SelectAll()


def select_none() -> Select:
    """Select no parameter.

    Examples
    --------
    >>> from torchweave.callbacks.select import select_none
    >>> select_none()(["0.weight", "0.bias"])
    []
    """
    return _SelectNone()


def select_grep(pattern: str, ignore_case: bool = False, fixed: bool = False) -> Select:
    """Select the parameters whose name matches a regular expression.

    Parameters
    ----------
    pattern : str
        A regular expression (``re.search``: it may match anywhere in the name).
    ignore_case : bool, default False
        Match regardless of case.
    fixed : bool, default False
        Treat ``pattern`` as a plain substring, not a regular expression.

    Returns
    -------
    Select

    Raises
    ------
    InvalidParameterError
        If ``pattern`` is not a valid regular expression.

    Examples
    --------
    >>> from torchweave.callbacks.select import select_grep
    >>> select_grep("^0[.]")(["0.weight", "0.bias", "10.weight"])
    ['0.weight', '0.bias']
    >>> select_grep("0.", fixed=True)(["0.weight", "10.weight", "1.bias"])
    ['0.weight', '10.weight']
    """
    if not isinstance(pattern, str):
        raise InvalidTypeError(
            f"The 'pattern' of select_grep must be a str. Got {format_value(pattern)} instead."
        )
    if not fixed:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidParameterError(
                f"The 'pattern' of select_grep must be a valid regular expression. "
                f"Got {pattern!r} instead ({exc})."
            ) from exc
    return _SelectGrep(pattern, bool(ignore_case), bool(fixed))


def select_name(names: str | Sequence[str], assert_present: bool = True) -> Select:
    """Select parameters by their exact names.

    Parameters
    ----------
    names : str or sequence of str
        The parameter names, e.g. ``["0.weight", "0.bias"]``.
    assert_present : bool, default True
        Raise when a name is not a parameter of the network.

    Returns
    -------
    Select
        Selects the names that are present, in the network's order.

    Examples
    --------
    >>> from torchweave.callbacks.select import select_name
    >>> select_name(["2.bias", "0.bias"])(["0.weight", "0.bias", "2.weight", "2.bias"])
    ['0.bias', '2.bias']
    >>> select_name("9.bias", assert_present=False)(["0.bias"])
    []
    """
    items = [names] if isinstance(names, str) else list(names)
    bad = [n for n in items if not isinstance(n, str)]
    if bad:
        raise InvalidTypeError(
            f"The 'names' of select_name must be strings. Got {format_value(bad[0])} among them."
        )
    return _SelectName(tuple(items), bool(assert_present))


def select_invert(select: Select) -> Select:
    """Select the parameters that ``select`` does not select.

    Examples
    --------
    >>> from torchweave.callbacks.select import select_invert, select_name
    >>> select_invert(select_name("0.bias"))(["0.weight", "0.bias"])
    ['0.weight']
    """
    if not isinstance(select, Select):
        raise InvalidTypeError(
            "select_invert needs a Select (select_all(), select_grep(...), ...). Got "
            f"{format_value(select)} instead."
        )
    return _SelectInvert(select)


def is_select(x: Any) -> str | None:
    """Custom ParamSet check: ``None`` for a :class:`Select`, else what was expected."""
    return None if isinstance(x, Select) else _SELECT_EXPECTED


_SELECT_EXPECTED = "a Select (select_all(), select_none(), select_grep(...), select_name(...))"
