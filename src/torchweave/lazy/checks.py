"""Checks a torch learner runs on the lazy tensor columns of a training task."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from torchweave.data.task import Task
from torchweave.errors import ShapeError
from torchweave.lazy.lazy_tensor import LazyTensorArray
from torchweave.network.shapes import shape_to_str, shapes_agree

__all__ = ["check_lazy_training"]


def check_lazy_training(task: Task, param_vals: Mapping[str, Any], learner_id: str) -> None:
    """Check the lazy tensor columns of a training task (mlr3torch §2.5 step 3).

    Parameters
    ----------
    task : Task
        The training task.
    param_vals : mapping
        The learner's parameter values (``tensor_dataset`` is looked at).
    learner_id : str
        The learner id, for messages.

    Raises
    ------
    ShapeError
        If a column's shape at predict time differs from its shape during training
        (an augmentation that runs only during training and changes the shape).

    Warns
    -----
    UserWarning
        With ``tensor_dataset`` set, for a column with a random augmentation: the data
        are materialized once, so the augmentation would be frozen.
    """
    lazy = [name for name, kind in task.feature_types.items() if kind == "lazy_tensor"]
    if not lazy:
        return
    head = task.data(rows=task.row_ids[:1], cols=lazy)
    # "auto" never preloads lazy tensors, so only True and "device" freeze augmentations.
    preload = param_vals.get("tensor_dataset", "auto") in (True, "device")
    for name in lazy:
        array = head[name].array
        if not isinstance(array, LazyTensorArray) or array.data_descriptor is None:
            continue
        dd = array.data_descriptor
        train, predict = dd.pointer_shape, dd.pointer_shape_predict
        if train is not None and predict is not None and not shapes_agree(train, predict):
            raise ShapeError(
                f"Lazy tensor column '{name}' has a different shape at predict time "
                f"{shape_to_str(predict)} than during training {shape_to_str(train)}: a "
                "preprocessing step that runs only during training (an augmentation) changes "
                f"it. Learner '{learner_id}' would get inputs of another shape at predict "
                "time; use a shape-preserving augmentation or apply the step at both stages."
            )
        if preload and dd._node.has_augmentation():
            steps = [n.id for n in dd._node.upstream() if n.augment]
            warnings.warn(
                f"Learner '{learner_id}' has tensor_dataset set: the lazy tensor column "
                f"'{name}' is materialized once, so its random augmentation "
                f"({', '.join(steps)}) is applied once and then frozen for every epoch. Set "
                "tensor_dataset=False to augment every batch anew.",
                UserWarning,
                stacklevel=4,
            )
