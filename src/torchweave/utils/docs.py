"""Docstring templates: sections that several classes share are written once."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from typing import TypeVar

__all__ = ["fill_doc", "fill_docstring", "with_params_doc"]

_T = TypeVar("_T")


def fill_docstring(doc: str, sections: Mapping[str, str]) -> str:
    r"""Replace each line that is only ``{name}`` by ``sections[name]``, at that line's indent.

    The section text is dedented, stripped of leading and trailing blank lines and then
    indented like the placeholder line. Placeholders without a section stay as they are.

    Parameters
    ----------
    doc : str
        The docstring.
    sections : mapping of str to str
        The text of each placeholder.

    Returns
    -------
    str
        The filled docstring.

    Examples
    --------
    >>> print(fill_docstring("Summary.\n\n    {more}", {"more": "A\n  B"}))
    Summary.
    <BLANKLINE>
        A
          B
    """
    out: list[str] = []
    for line in doc.split("\n"):
        name = line.strip()
        if not (name.startswith("{") and name.endswith("}") and name[1:-1] in sections):
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        text = textwrap.dedent(sections[name[1:-1]]).strip("\n")
        out.extend(indent + row if row.strip() else "" for row in text.split("\n"))
    return "\n".join(out)


def fill_doc(**sections: str) -> Callable[[type[_T]], type[_T]]:
    """Class decorator: fill the ``{name}`` lines of the docstring (:func:`fill_docstring`)."""

    def decorate(cls: type[_T]) -> type[_T]:
        cls.__doc__ = fill_docstring(cls.__doc__ or "", sections)
        return cls

    return decorate


def with_params_doc(text: str) -> Callable[[type[_T]], type[_T]]:
    """Class decorator: put ``text`` (a numpydoc section) where the docstring says ``{params}``.

    The 1d, 2d and 3d variants of an operator share their parameter documentation.
    """
    return fill_doc(params=text)
