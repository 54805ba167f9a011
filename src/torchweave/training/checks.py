"""Checks of a torch learner's configuration before training."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torchweave.errors import InvalidParameterError

__all__ = ["check_measures"]


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
    return measures_train, measures_valid


def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, list | tuple) else [x]
