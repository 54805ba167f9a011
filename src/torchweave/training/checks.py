"""Checks of a torch learner's configuration and task before training."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from torchweave.data.task import Task, TaskRegr
from torchweave.errors import InvalidParameterError

__all__ = ["TARGET_SCALE_LIMIT", "check_measures", "warn_target_scale"]

#: A regression target whose standard deviation or mean absolute value exceeds this
#: trains badly with unscaled losses; training warns and points to po("targettrafo").
TARGET_SCALE_LIMIT = 1e3


def check_measures(learner: Any, pv: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """The training and validation measures of a torch learner, checked.

    Parameters
    ----------
    learner : LearnerTorch
        The learner (its ``id``, ``task_type`` and ``validate``).
    pv : mapping
        Its parameter values (``measures_train``, ``measures_valid``, ``patience``).

    Returns
    -------
    tuple of list
        ``(measures_train, measures_valid)``.

    Raises
    ------
    InvalidParameterError
        A measure for another task type, validation measures without validation,
        patience without validation measures, or early stopping on a measure whose
        ``minimize`` is not a bool.
    """
    from torchweave.measures import as_measure

    measures_train = [as_measure(m) for m in _as_list(pv.get("measures_train", []))]
    measures_valid = [as_measure(m) for m in _as_list(pv.get("measures_valid", []))]
    for m in measures_train + measures_valid:
        if m.task_type != learner.task_type:
            raise InvalidParameterError(
                f"Measure '{m.id}' is for {m.task_type} tasks; learner '{learner.id}' is a "
                f"{learner.task_type} learner."
            )
    if measures_valid and learner.validate is None:
        raise InvalidParameterError(
            f"Learner '{learner.id}' has measures_valid set, but its validate field is None. "
            "Set learner.validate (a ratio, 'test' or 'predefined')."
        )
    patience = pv.get("patience", 0)
    if patience > 0 and not measures_valid:
        raise InvalidParameterError(
            f"Learner '{learner.id}' has a non 0 patience parameter but no measures_valid set."
        )
    if patience > 0 and not isinstance(measures_valid[0].minimize, bool):
        raise InvalidParameterError(
            f"Learner '{learner.id}' uses the validation measure '{measures_valid[0].id}' for "
            f"early stopping, but its minimize is {measures_valid[0].minimize!r}; early "
            "stopping needs True or False."
        )
    if learner.validate is not None and not measures_valid:
        example = "classif.acc" if learner.task_type == "classif" else "regr.mse"
        warnings.warn(
            f"Learner '{learner.id}' holds out validation data (validate="
            f"{learner.validate!r}) but has no measures_valid, so nothing is computed on it. "
            f'Set measures_valid (e.g. msrs("{example}")), or validate=None to train on all '
            "rows.",
            UserWarning,
            stacklevel=4,
        )
    return measures_train, measures_valid


def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, list | tuple) else [x]


def warn_target_scale(task: Task, owner: str) -> None:
    """Warn when a regression target's scale exceeds :data:`TARGET_SCALE_LIMIT`.

    The rule: the target's standard deviation or its mean absolute value is above
    1e3. Losses such as ``mse`` then start huge and networks with default
    initialisation train poorly; scaling the target (``po("targettrafo")``) helps.
    """
    if not isinstance(task, TaskRegr) or task.nrow == 0:
        return
    y = np.asarray(task.truth(), dtype=np.float64)
    y = y[np.isfinite(y)]
    if len(y) == 0:
        return
    sd, mean_abs = float(np.std(y)), float(np.mean(np.abs(y)))
    if max(sd, mean_abs) > TARGET_SCALE_LIMIT:
        warnings.warn(
            f"Learner '{owner}': the target '{task.target_names[0]}' of task '{task.id}' has "
            f"standard deviation {sd:.4g} and mean absolute value {mean_abs:.4g} (above "
            f"{TARGET_SCALE_LIMIT:g}), so the loss starts huge and training may fail "
            'silently. Scale the target, e.g. put po("targettrafo") before the learner.',
            UserWarning,
            stacklevel=4,
        )
