"""Small generated tasks with a signal, one feature column per requested feature type."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from torchweave.data.task import Task, TaskClassif, TaskRegr
from torchweave.errors import InvalidParameterError
from torchweave.utils.text import quote_list

__all__ = ["GENERATED_FEATURE_TYPES", "generate_task"]

#: The feature types :func:`generate_task` can make.
GENERATED_FEATURE_TYPES = ("numeric", "integer", "factor", "ordered", "logical", "character")

_Column = tuple[pd.Series, np.ndarray]


def _numeric(rng: np.random.Generator, n: int, missings: np.ndarray | None) -> _Column:
    x = rng.normal(size=n)
    col = pd.Series(x, dtype="float64")
    if missings is not None:
        col[missings] = np.nan
    return col, x


def _integer(rng: np.random.Generator, n: int, missings: np.ndarray | None) -> _Column:
    x = rng.integers(0, 10, size=n)
    col = pd.Series(x, dtype="int64" if missings is None else "Int64")
    if missings is not None:
        col[missings] = pd.NA
    return col, (x - 4.5) / 3.0


def _levels(
    levels: list[str], ordered: bool
) -> Callable[[np.random.Generator, int, np.ndarray | None], _Column]:
    def make(rng: np.random.Generator, n: int, missings: np.ndarray | None) -> _Column:
        codes = rng.integers(0, len(levels), size=n)
        signal = codes - (len(levels) - 1) / 2.0
        if missings is not None:
            codes[missings] = -1
        col = pd.Series(
            pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(levels, ordered=ordered))
        )
        return col, signal

    return make


def _logical(rng: np.random.Generator, n: int, missings: np.ndarray | None) -> _Column:
    x = rng.random(n) < 0.5
    col = pd.Series(x, dtype="bool" if missings is None else "boolean")
    if missings is not None:
        col[missings] = pd.NA
    return col, np.where(x, 1.0, -1.0)


def _character(rng: np.random.Generator, n: int, missings: np.ndarray | None) -> _Column:
    words = np.array(["apple", "kiwi", "plum"], dtype=object)
    codes = rng.integers(0, len(words), size=n)
    values = words[codes]
    if missings is not None:
        values[missings] = None
    return pd.Series(values.tolist()), codes - 1.0


_MAKERS = {
    "numeric": _numeric,
    "integer": _integer,
    "factor": _levels(["a", "b", "c"], ordered=False),
    "ordered": _levels(["low", "mid", "high"], ordered=True),
    "logical": _logical,
    "character": _character,
}


def generate_task(
    task_type: str = "classif",
    feature_types: Iterable[str] = ("numeric",),
    n: int = 60,
    n_classes: int = 2,
    missings: bool = False,
    seed: int = 0,
) -> Task:
    """Generate a small task whose target depends on its features.

    Parameters
    ----------
    task_type : {"classif", "regr"}, default "classif"
        The kind of task.
    feature_types : iterable of str, default ("numeric",)
        One feature column per entry, named ``x_<type>`` (repeats get a suffix):
        ``numeric`` (float64), ``integer`` (int64), ``factor`` (category),
        ``ordered`` (ordered category), ``logical`` (bool) and ``character`` (str).
    n : int, default 60
        Number of rows.
    n_classes : int, default 2
        Number of classes (classification); the classes are ``"c1"``, ``"c2"``, ...
        and about equally frequent.
    missings : bool, default False
        Blank out about 10% of each feature column. Integer and logical columns then
        use pandas' nullable ``Int64`` and ``boolean`` dtypes.
    seed : int, default 0
        Seed of the generator: the same arguments give the same task.

    Returns
    -------
    Task
        A :class:`TaskClassif` (target ``y``, positive class ``"c1"`` when binary) or a
        :class:`TaskRegr` (target ``y``), with id ``"generated_<task_type>"``.

    Examples
    --------
    >>> from torchweave.testing.generate import generate_task
    >>> task = generate_task("classif", ["numeric", "factor"], n=30, n_classes=3)
    >>> task.feature_types, task.class_names
    ({'x_numeric': 'numeric', 'x_factor': 'factor'}, ['c1', 'c2', 'c3'])
    """
    types = list(feature_types)
    unknown = [t for t in types if t not in _MAKERS]
    if unknown:
        raise InvalidParameterError(
            f"The 'feature_types' parameter of generate_task must hold feature types among "
            f"{quote_list(GENERATED_FEATURE_TYPES)}. Got {quote_list(unknown)} instead."
        )
    if task_type not in ("classif", "regr"):
        raise InvalidParameterError(
            "The 'task_type' parameter of generate_task must be one of {'classif', 'regr'}. "
            f"Got {task_type!r} instead."
        )
    if not isinstance(n, int) or n < 2 * max(n_classes, 2):
        raise InvalidParameterError(
            "The 'n' parameter of generate_task must be an integer >= 2 * n_classes. "
            f"Got {n!r} instead."
        )
    if task_type == "classif" and (not isinstance(n_classes, int) or n_classes < 2):
        raise InvalidParameterError(
            f"The 'n_classes' parameter of generate_task must be an integer >= 2. "
            f"Got {n_classes!r} instead."
        )
    rng = np.random.default_rng(seed)
    columns: dict[str, pd.Series] = {}
    score = np.zeros(n)
    for ftype in types:
        name = f"x_{ftype}"
        suffix = 2
        while name in columns:
            name, suffix = f"x_{ftype}_{suffix}", suffix + 1
        blank = rng.choice(n, size=max(1, n // 10), replace=False) if missings else None
        col, signal = _MAKERS[ftype](rng, n, blank)
        columns[name] = col
        score = score + signal
    noisy = score + rng.normal(scale=0.5, size=n)
    if task_type == "regr":
        frame = pd.DataFrame({"y": 2.0 * noisy + 1.0, **columns})
        return TaskRegr(frame, target="y", id="generated_regr")
    # Classes by rank of the noisy score: every class gets about n / n_classes rows.
    ranks = np.argsort(np.argsort(noisy, kind="stable"), kind="stable")
    codes = ranks * n_classes // n
    classes = [f"c{i + 1}" for i in range(n_classes)]
    y = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(classes))
    frame = pd.DataFrame({"y": y, **columns})
    return TaskClassif(frame, target="y", id="generated_classif")
