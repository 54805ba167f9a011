"""Resampling strategies (mlr3's Resampling): how to split a task into train and test sets.

A resampling is constructed with its parameters and computes nothing until
:meth:`Resampling.instantiate` draws the splits for a task. The splits are stored as
row ids (``task.row_ids`` values, not positions), so they stay valid for clones of the
task and can be shared by every learner in a benchmark.

Column roles steer the splits:

* ``stratum``: the splits keep the proportions of the strata (the combinations of the
  values of every stratum column) in train and test sets.
* ``group``: rows of one group (one combination of the group columns' values) always
  land together, entirely in the train set or entirely in the test set. Sizes and
  ratios then count groups, not rows.

The strategies use scikit-learn's splitters (``KFold``, ``StratifiedKFold``,
``GroupKFold``, ``ShuffleSplit``, ...) and ``sklearn.utils.resample`` for the bootstrap.
"""

from __future__ import annotations

import abc
import copy
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from torchweave.data.task import Task
from torchweave.errors import (
    InvalidParameterError,
    InvalidTypeError,
    NotTrainedError,
    TaskError,
)
from torchweave.params.param import p_dbl, p_int
from torchweave.params.param_set import ParamSet
from torchweave.registry import resamplings
from torchweave.utils.text import format_value, quote_list

__all__ = [
    "Resampling",
    "ResamplingBootstrap",
    "ResamplingCV",
    "ResamplingCustom",
    "ResamplingHoldout",
    "ResamplingInsample",
    "ResamplingRepeatedCV",
    "ResamplingSubsampling",
]


def _ms() -> Any:
    """scikit-learn's model_selection, imported on first use (keeps import light)."""
    import sklearn.model_selection

    return sklearn.model_selection


def _sk_utils() -> Any:
    import sklearn.utils

    return sklearn.utils


Splits = tuple[list[np.ndarray], list[np.ndarray]]


@dataclass(frozen=True)
class SplitInput:
    """What a strategy needs to draw its splits: the rows, their strata and groups.

    Attributes
    ----------
    task_id : str
        Id of the task being split (for messages).
    n : int
        Number of rows in use.
    strata : numpy.ndarray or None
        One integer stratum code per row, or ``None`` without stratum columns.
    groups : numpy.ndarray or None
        One integer group code per row, or ``None`` without group columns.
    stratum_cols : list of str
        The stratum columns.
    group_cols : list of str
        The group columns.
    rng : numpy.random.RandomState
        The random number generator to draw from.
    """

    task_id: str
    n: int
    strata: np.ndarray | None
    groups: np.ndarray | None
    stratum_cols: list[str]
    group_cols: list[str]
    rng: np.random.RandomState

    @property
    def n_units(self) -> int:
        """Number of units that are split: groups when grouped, else rows."""
        return self.n if self.groups is None else len(np.unique(self.groups))

    @property
    def units(self) -> str:
        """The units in words, for messages: ``"rows"`` or ``"groups (column 'g')"``."""
        if self.groups is None:
            return "rows"
        return f"groups (column(s) {quote_list(self.group_cols)})"

    @property
    def features(self) -> np.ndarray:
        """A dummy feature matrix with one row per row, for scikit-learn's ``split``."""
        return np.zeros((self.n, 1))


def _codes(task: Task, cols: list[str]) -> np.ndarray | None:
    """One integer per row in use, equal for rows with equal values in all of ``cols``."""
    if not cols:
        return None
    return task.group_codes(cols)  # SQL for a database-backed task


def _check_random_state(value: Any, owner: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        seed = int(value)
        if 0 <= seed < 2**32:
            return seed
    raise InvalidParameterError(
        f"The 'random_state' of {owner} must be None or an integer in [0, 2**32 - 1]. "
        f"Got {format_value(value)} instead."
    )


class Resampling(abc.ABC):
    """Abstract base of every resampling strategy.

    Subclasses declare their parameters and implement :meth:`_iters` and
    :meth:`_sample`; the base does the bookkeeping (strata, groups, the random
    state, storing the splits as row ids and checking indices).

    Parameters
    ----------
    id : str
        The resampling id, equal to its registry key (``"cv"``).
    param_set : ParamSet
        The parameters; its owner is set to ``"resampling '<id>'"``.
    random_state : int or None, default None
        Seed for reproducible splits. ``None`` draws from numpy's global random number
        generator, so ``np.random.seed`` governs the splits.
    label : str, default ""
        A human-readable name.
    **params
        Parameter values, validated by ``param_set``.

    Attributes
    ----------
    task_id : str or None
        Id of the task the resampling was instantiated on (``None`` before).
    task_nrow : int or None
        Number of rows of that task.
    """

    #: Whether the strategy can honour stratum and group columns at the same time.
    supports_strata_and_groups: ClassVar[bool] = False

    def __init__(
        self,
        id: str,
        param_set: ParamSet,
        random_state: int | None = None,
        label: str = "",
        **params: Any,
    ) -> None:
        self.id = id
        self.label = label
        self.param_set = param_set
        self.param_set.owner = f"resampling '{id}'"
        self.param_set.set_values(**params)
        self.random_state = random_state
        self.task_id: str | None = None
        self.task_nrow: int | None = None
        self._train_sets: list[np.ndarray] | None = None
        self._test_sets: list[np.ndarray] | None = None

    # --- fields -----------------------------------------------------------------------
    @property
    def random_state(self) -> int | None:
        """Seed of the splits, or ``None`` for numpy's global random number generator."""
        return self._random_state

    @random_state.setter
    def random_state(self, value: int | None) -> None:
        self._random_state = _check_random_state(value, f"resampling '{self.id}'")

    @property
    def is_instantiated(self) -> bool:
        """Whether the splits have been drawn."""
        return self._train_sets is not None

    @property
    def iters(self) -> int:
        """Number of iterations (train/test splits)."""
        if self._train_sets is not None:
            return len(self._train_sets)
        return self._iters()

    def _value(self, pid: str) -> Any:
        values = self.param_set.values
        return values[pid] if pid in values else self.param_set.default[pid]

    # --- hooks ------------------------------------------------------------------------
    @abc.abstractmethod
    def _iters(self) -> int:
        """Number of iterations implied by the parameters."""

    @abc.abstractmethod
    def _sample(self, data: SplitInput) -> Splits:
        """Draw the splits; return train and test sets as positions in ``0..n-1``."""

    # --- instantiation ----------------------------------------------------------------
    def instantiate(self, task: Task) -> Self:
        """Draw the train and test sets for ``task`` and store them as row ids.

        The task is not modified. Instantiating again draws new splits (the same
        ones when ``random_state`` is an integer).

        Parameters
        ----------
        task : Task
            The task to split.

        Returns
        -------
        Resampling
            ``self``.

        Raises
        ------
        TaskError
            If the task has too few rows (or groups, or members of a stratum) for the
            strategy's parameters.
        """
        row_ids = self._check_task_type(task)
        stratum_cols = task.col_roles["stratum"]
        group_cols = task.col_roles["group"]
        if stratum_cols and group_cols and not self.supports_strata_and_groups:
            raise TaskError(
                f"Resampling '{self.id}' cannot both stratify (column(s) "
                f"{quote_list(stratum_cols)}) and keep groups together (column(s) "
                f"{quote_list(group_cols)}) in task '{task.id}'. Remove one of the roles, "
                "or use rsmp('cv') / rsmp('repeated_cv'), which can do both."
            )
        data = SplitInput(
            task_id=task.id,
            n=len(row_ids),
            strata=_codes(task, stratum_cols),
            groups=_codes(task, group_cols),
            stratum_cols=stratum_cols,
            group_cols=group_cols,
            rng=_sk_utils().check_random_state(self._random_state),
        )
        train, test = self._sample(data)
        self._store(task, [row_ids[p] for p in train], [row_ids[p] for p in test])
        return self

    def _check_task_type(self, task: Task) -> np.ndarray:
        if not isinstance(task, Task):
            raise InvalidTypeError(
                f"Resampling '{self.id}' can only instantiate a Task. "
                f"Got {type(task).__name__} instead."
            )
        if task.nrow == 0:
            raise TaskError(
                f"Resampling '{self.id}' cannot split task '{task.id}': it has no rows."
            )
        return task.row_ids

    def _store(self, task: Task, train: list[np.ndarray], test: list[np.ndarray]) -> None:
        self._train_sets = [np.asarray(s, dtype=np.int64) for s in train]
        self._test_sets = [np.asarray(s, dtype=np.int64) for s in test]
        self.task_id = task.id
        self.task_nrow = task.nrow

    def _check_fits(self, task: Task) -> None:
        """Raise unless every row id of the splits is a row in use of ``task``."""
        if self._train_sets is None or self._test_sets is None:
            raise self._not_instantiated()
        used = np.unique(np.concatenate([*self._train_sets, *self._test_sets]))
        unknown = np.setdiff1d(used, task.row_ids)
        if unknown.size:
            raise TaskError(
                f"Resampling '{self.id}' was instantiated on task '{self.task_id}', and its "
                f"splits use row ids {quote_list(unknown.tolist(), limit=5)} that are not in use "
                f"in task '{task.id}'. Instantiate it on this task, or pass an uninstantiated "
                "resampling."
            )

    # --- access -----------------------------------------------------------------------
    def _not_instantiated(self) -> NotTrainedError:
        return NotTrainedError(
            f"Resampling '{self.id}' is not instantiated; call instantiate(task) first."
        )

    def _index(self, i: int) -> int:
        if self._train_sets is None:
            raise self._not_instantiated()
        n = len(self._train_sets)
        if not isinstance(i, numbers.Integral) or isinstance(i, bool) or not 0 <= i < n:
            raise InvalidParameterError(
                f"The iteration of resampling '{self.id}' must be an integer in [0, {n - 1}]. "
                f"Got {format_value(i)} instead."
            )
        return int(i)

    def train_set(self, i: int) -> np.ndarray:
        """Row ids of the train set of iteration ``i`` (0-based; a copy)."""
        idx = self._index(i)
        assert self._train_sets is not None
        return self._train_sets[idx].copy()

    def test_set(self, i: int) -> np.ndarray:
        """Row ids of the test set of iteration ``i`` (0-based; a copy)."""
        idx = self._index(i)
        assert self._test_sets is not None
        return self._test_sets[idx].copy()

    # --- misc -------------------------------------------------------------------------
    def clone(self) -> Self:
        """A deep, independent copy (the splits included)."""
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v!r}" for k, v in self.param_set.values.items()) or "-"
        try:
            n = self.iters
            iters = f" with {n} iteration{'' if n == 1 else 's'}"
        except NotTrainedError:  # custom splits have no count before instantiation
            iters = ""
        state = (
            "no" if self.task_id is None else f"on task '{self.task_id}' ({self.task_nrow} rows)"
        )
        return "\n".join(
            [
                f"<{type(self).__name__}:{self.id}>{iters}: {self.label}",
                f"* Parameters: {values}",
                f"* Random state: {self._random_state!r}",
                f"* Instantiated: {state}",
            ]
        )


# --- shared split helpers -------------------------------------------------------------
def _split(resampling: Resampling, splitter: Any, data: SplitInput) -> Splits:
    """Run a scikit-learn splitter, turning its complaints into a TaskError."""
    try:
        pairs = list(splitter.split(data.features, data.strata, data.groups))
    except ValueError as exc:
        raise TaskError(
            f"Resampling '{resampling.id}' cannot split the {data.n} rows of task "
            f"'{data.task_id}'{_roles_text(data)}: {exc}"
        ) from exc
    return [tr for tr, _ in pairs], [te for _, te in pairs]


def _roles_text(data: SplitInput) -> str:
    parts = []
    if data.strata is not None:
        parts.append(f"stratified by {quote_list(data.stratum_cols)}")
    if data.groups is not None:
        parts.append(f"grouped by {quote_list(data.group_cols)}")
    return f" ({', '.join(parts)})" if parts else ""


def _check_folds(resampling: Resampling, data: SplitInput, folds: int) -> None:
    if data.n_units < folds:
        raise TaskError(
            f"Resampling '{resampling.id}' with folds={folds} needs at least {folds} "
            f"{data.units}, but task '{data.task_id}' has {data.n_units}. "
            f"Use at most {data.n_units} folds."
        )


def _kfold(folds: int, data: SplitInput, rng: Any) -> Any:
    if data.groups is not None and data.strata is not None:
        return _ms().StratifiedGroupKFold(folds, shuffle=True, random_state=rng)
    if data.groups is not None:
        return _ms().GroupKFold(folds, shuffle=True, random_state=rng)
    if data.strata is not None:
        return _ms().StratifiedKFold(folds, shuffle=True, random_state=rng)
    return _ms().KFold(folds, shuffle=True, random_state=rng)


def _shuffle_splits(resampling: Resampling, data: SplitInput, repeats: int, ratio: float) -> Splits:
    n_train = round(ratio * data.n_units)
    if n_train < 1 or n_train >= data.n_units:
        raise TaskError(
            f"Resampling '{resampling.id}' with ratio={ratio} cannot split the {data.n_units} "
            f"{data.units} of task '{data.task_id}' into a non-empty train and test set "
            f"(the train set would get {n_train})."
        )
    sizes: dict[str, Any] = {
        "n_splits": repeats,
        "train_size": n_train,
        "test_size": data.n_units - n_train,
        "random_state": data.rng,
    }
    if data.groups is not None:
        return _split(resampling, _ms().GroupShuffleSplit(**sizes), data)
    if data.strata is not None:
        return _split(resampling, _ms().StratifiedShuffleSplit(**sizes), data)
    return _split(resampling, _ms().ShuffleSplit(**sizes), data)


# --- strategies -----------------------------------------------------------------------
class ResamplingHoldout(Resampling):
    """Holdout: one random split into a train set (``ratio``) and a test set (the rest).

    With stratum columns the split is stratified (``StratifiedShuffleSplit``); with
    group columns, ``ratio`` is the share of groups in the train set
    (``GroupShuffleSplit``).

    Parameters
    ----------
    ratio : float, default 2/3
        Share of the rows (or groups) in the train set, in (0, 1). The train set gets
        ``round(ratio * n)`` of them.
    random_state : int or None, default None
        Seed for a reproducible split (``None``: numpy's global random state).

    Examples
    --------
    >>> import torchweave as tw
    >>> task = tw.tsk("iris")
    >>> r = tw.rsmp("holdout", ratio=0.8, random_state=1).instantiate(task)
    >>> len(r.train_set(0)), len(r.test_set(0))
    (120, 30)
    """

    def __init__(self, ratio: float = 2 / 3, random_state: int | None = None) -> None:
        super().__init__(
            "holdout",
            ParamSet(ratio=p_dbl(0, 1, lower_open=True, upper_open=True, default=2 / 3)),
            random_state=random_state,
            label="Holdout",
            ratio=ratio,
        )

    def _iters(self) -> int:
        return 1

    def _sample(self, data: SplitInput) -> Splits:
        return _shuffle_splits(self, data, 1, self._value("ratio"))


class ResamplingCV(Resampling):
    """Cross-validation: ``folds`` disjoint test sets that together cover every row once.

    Splitters: ``KFold``, ``StratifiedKFold`` with stratum columns, ``GroupKFold`` with
    group columns (whole groups per fold, so ``folds`` counts groups), and
    ``StratifiedGroupKFold`` with both. Rows are shuffled before they are assigned to folds.

    Parameters
    ----------
    folds : int, default 10
        Number of folds, at least 2 and at most the number of rows (or groups).
    random_state : int or None, default None
        Seed for reproducible folds (``None``: numpy's global random state).

    Examples
    --------
    >>> import torchweave as tw
    >>> r = tw.rsmp("cv", folds=3).instantiate(tw.tsk("iris"))
    >>> r.iters, len(r.test_set(0))
    (3, 50)
    """

    supports_strata_and_groups = True

    def __init__(self, folds: int = 10, random_state: int | None = None) -> None:
        super().__init__(
            "cv",
            ParamSet(folds=p_int(2, default=10)),
            random_state=random_state,
            label="Cross-Validation",
            folds=folds,
        )

    def _iters(self) -> int:
        return int(self._value("folds"))

    def _sample(self, data: SplitInput) -> Splits:
        folds = self._value("folds")
        _check_folds(self, data, folds)
        return _split(self, _kfold(folds, data, data.rng), data)


class ResamplingRepeatedCV(Resampling):
    """Repeated cross-validation: ``repeats`` independent runs of ``folds``-fold CV.

    Iteration ``i`` is fold ``i % folds`` of repeat ``i // folds``. Splitters:
    ``RepeatedKFold``, ``RepeatedStratifiedKFold`` with stratum columns, and repeated
    ``GroupKFold`` / ``StratifiedGroupKFold`` with group columns.

    Parameters
    ----------
    folds : int, default 10
        Number of folds per repeat, at least 2.
    repeats : int, default 10
        Number of repeats, at least 1.
    random_state : int or None, default None
        Seed for reproducible folds (``None``: numpy's global random state).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.rsmp("repeated_cv", folds=3, repeats=2).iters
    6
    """

    supports_strata_and_groups = True

    def __init__(self, folds: int = 10, repeats: int = 10, random_state: int | None = None) -> None:
        super().__init__(
            "repeated_cv",
            ParamSet(folds=p_int(2, default=10), repeats=p_int(1, default=10)),
            random_state=random_state,
            label="Repeated Cross-Validation",
            folds=folds,
            repeats=repeats,
        )

    def _iters(self) -> int:
        return int(self._value("folds")) * int(self._value("repeats"))

    def _sample(self, data: SplitInput) -> Splits:
        folds, repeats = self._value("folds"), self._value("repeats")
        _check_folds(self, data, folds)
        if data.groups is None:
            kind = _ms().RepeatedKFold if data.strata is None else _ms().RepeatedStratifiedKFold
            splitter = kind(n_splits=folds, n_repeats=repeats, random_state=data.rng)
            return _split(self, splitter, data)
        # scikit-learn has no repeated group splitters; repeat as RepeatedKFold does,
        # drawing every repeat's shuffle from the same generator.
        train: list[np.ndarray] = []
        test: list[np.ndarray] = []
        for _ in range(repeats):
            tr, te = _split(self, _kfold(folds, data, data.rng), data)
            train += tr
            test += te
        return train, test


class ResamplingBootstrap(Resampling):
    """Bootstrap: train on a sample drawn with replacement, test on the out-of-bag rows.

    Each repeat draws ``round(ratio * n)`` rows with replacement as the train set (so
    train sets contain repeated row ids); the test set is every row not drawn. With
    stratum columns each stratum is sampled in proportion to its size; with group
    columns whole groups are drawn (``ratio`` then counts groups), and the test set is
    every group not drawn. Uses ``sklearn.utils.resample``.

    Parameters
    ----------
    repeats : int, default 30
        Number of bootstrap samples, at least 1.
    ratio : float, default 1
        Size of each sample relative to the number of rows (or groups), > 0.
    random_state : int or None, default None
        Seed for reproducible samples (``None``: numpy's global random state).

    Examples
    --------
    >>> import torchweave as tw
    >>> r = tw.rsmp("bootstrap", repeats=3, random_state=1).instantiate(tw.tsk("iris"))
    >>> len(r.train_set(0))
    150
    """

    def __init__(
        self, repeats: int = 30, ratio: float = 1.0, random_state: int | None = None
    ) -> None:
        super().__init__(
            "bootstrap",
            ParamSet(repeats=p_int(1, default=30), ratio=p_dbl(0, lower_open=True, default=1.0)),
            random_state=random_state,
            label="Bootstrap",
            repeats=repeats,
            ratio=ratio,
        )

    def _iters(self) -> int:
        return int(self._value("repeats"))

    def _sample(self, data: SplitInput) -> Splits:
        repeats, ratio = self._value("repeats"), self._value("ratio")
        size = round(ratio * data.n_units)
        if size < 1:
            raise TaskError(
                f"Resampling '{self.id}' with ratio={ratio} draws no rows from the "
                f"{data.n_units} {data.units} of task '{data.task_id}'. Increase 'ratio'."
            )
        positions = np.arange(data.n)
        train: list[np.ndarray] = []
        test: list[np.ndarray] = []
        for _ in range(repeats):
            if data.groups is None:
                try:
                    drawn = _sk_utils().resample(
                        positions, n_samples=size, random_state=data.rng, stratify=data.strata
                    )
                except ValueError as exc:
                    raise TaskError(
                        f"Resampling '{self.id}' cannot draw {size} rows from task "
                        f"'{data.task_id}'{_roles_text(data)}: {exc}"
                    ) from exc
                in_bag = np.isin(positions, drawn)
            else:
                chosen = _sk_utils().resample(
                    np.unique(data.groups), n_samples=size, random_state=data.rng
                )
                drawn = np.concatenate([positions[data.groups == g] for g in chosen])
                in_bag = np.isin(data.groups, chosen)
            train.append(np.asarray(drawn))
            test.append(positions[~in_bag])
        return train, test


class ResamplingSubsampling(Resampling):
    """Subsampling: ``repeats`` independent holdout splits (drawn without replacement).

    Splitters: ``ShuffleSplit``, ``StratifiedShuffleSplit`` with stratum columns and
    ``GroupShuffleSplit`` with group columns (``ratio`` then counts groups).

    Parameters
    ----------
    repeats : int, default 30
        Number of splits, at least 1.
    ratio : float, default 2/3
        Share of the rows (or groups) in each train set, in (0, 1).
    random_state : int or None, default None
        Seed for reproducible splits (``None``: numpy's global random state).

    Examples
    --------
    >>> import torchweave as tw
    >>> r = tw.rsmp("subsampling", repeats=2, ratio=0.6).instantiate(tw.tsk("iris"))
    >>> r.iters, len(r.train_set(1))
    (2, 90)
    """

    def __init__(
        self, repeats: int = 30, ratio: float = 2 / 3, random_state: int | None = None
    ) -> None:
        super().__init__(
            "subsampling",
            ParamSet(
                repeats=p_int(1, default=30),
                ratio=p_dbl(0, 1, lower_open=True, upper_open=True, default=2 / 3),
            ),
            random_state=random_state,
            label="Subsampling",
            repeats=repeats,
            ratio=ratio,
        )

    def _iters(self) -> int:
        return int(self._value("repeats"))

    def _sample(self, data: SplitInput) -> Splits:
        return _shuffle_splits(self, data, self._value("repeats"), self._value("ratio"))


class ResamplingInsample(Resampling):
    """Insample: one iteration that trains and tests on all rows (an optimistic estimate).

    Parameters
    ----------
    random_state : int or None, default None
        Accepted for a uniform interface; the split is not random.

    Examples
    --------
    >>> import torchweave as tw
    >>> r = tw.rsmp("insample").instantiate(tw.tsk("iris"))
    >>> (r.train_set(0) == r.test_set(0)).all()
    np.True_
    """

    supports_strata_and_groups = True

    def __init__(self, random_state: int | None = None) -> None:
        super().__init__("insample", ParamSet(), random_state=random_state, label="Insample")

    def _iters(self) -> int:
        return 1

    def _sample(self, data: SplitInput) -> Splits:
        everything = np.arange(data.n)
        return [everything], [everything.copy()]


class ResamplingCustom(Resampling):
    """Custom splits: train and test sets given as row ids when instantiating.

    Parameters
    ----------
    random_state : int or None, default None
        Accepted for a uniform interface; the splits are given.

    Examples
    --------
    >>> import torchweave as tw
    >>> task = tw.tsk("iris")
    >>> r = tw.rsmp("custom").instantiate(task, train_sets=[[0, 1, 2]], test_sets=[[3, 4]])
    >>> r.iters, r.test_set(0).tolist()
    (1, [3, 4])
    """

    supports_strata_and_groups = True

    def __init__(self, random_state: int | None = None) -> None:
        super().__init__("custom", ParamSet(), random_state=random_state, label="Custom Splits")

    def _iters(self) -> int:
        raise self._not_instantiated()

    def _not_instantiated(self) -> NotTrainedError:
        return NotTrainedError(
            f"Resampling '{self.id}' is not instantiated; call "
            "instantiate(task, train_sets=[...], test_sets=[...]) first."
        )

    def _sample(self, data: SplitInput) -> Splits:
        raise self._not_instantiated()

    def instantiate(
        self,
        task: Task,
        train_sets: Sequence[Iterable[int]] | None = None,
        test_sets: Sequence[Iterable[int]] | None = None,
    ) -> Self:
        """Store the given splits after checking them against ``task``.

        Parameters
        ----------
        task : Task
            The task the row ids refer to.
        train_sets : sequence of sequences of int
            Row ids of the train set of each iteration.
        test_sets : sequence of sequences of int
            Row ids of the test set of each iteration (as many as train sets).

        Returns
        -------
        ResamplingCustom
            ``self``.

        Raises
        ------
        TaskError
            If a set is missing, the counts differ, a set is not 1-d integer, or it
            refers to rows that are not in use in ``task``.
        """
        row_ids = self._check_task_type(task)
        if train_sets is None or test_sets is None:
            raise self._not_instantiated()
        if len(train_sets) == 0 or len(train_sets) != len(test_sets):
            raise TaskError(
                f"Resampling '{self.id}' needs as many test sets as train sets (at least one). "
                f"Got {len(train_sets)} train set(s) and {len(test_sets)} test set(s)."
            )
        train = [self._check_set(task, row_ids, s, "train", i) for i, s in enumerate(train_sets)]
        test = [self._check_set(task, row_ids, s, "test", i) for i, s in enumerate(test_sets)]
        self._store(task, train, test)
        return self

    def _check_set(
        self, task: Task, row_ids: np.ndarray, ids: Iterable[int], kind: str, i: int
    ) -> np.ndarray:
        values = np.asarray(list(ids))
        if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
            raise TaskError(
                f"The {kind} set {i} of resampling '{self.id}' must be a 1-d sequence of "
                f"integer row ids. Got {format_value(ids)} instead."
            )
        if kind == "train" and values.size == 0:
            raise TaskError(f"The train set {i} of resampling '{self.id}' is empty.")
        unknown = np.setdiff1d(values, row_ids)
        if unknown.size:
            raise TaskError(
                f"The {kind} set {i} of resampling '{self.id}' has row ids "
                f"{quote_list(unknown.tolist(), limit=5)} that are not in use in task '{task.id}'."
            )
        return values.astype(np.int64)


resamplings.register("holdout", ResamplingHoldout)
resamplings.register("cv", ResamplingCV)
resamplings.register("repeated_cv", ResamplingRepeatedCV)
resamplings.register("bootstrap", ResamplingBootstrap)
resamplings.register("subsampling", ResamplingSubsampling)
resamplings.register("insample", ResamplingInsample)
resamplings.register("custom", ResamplingCustom)
