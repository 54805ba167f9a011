"""TorchIngressToken: how one network input is built from a task's columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from torchweave.data.task import Task
from torchweave.errors import TaskError
from torchweave.network.shapes import Shape, as_shape, shape_to_str
from torchweave.pipelines.selectors import Selector, selector_name

__all__ = ["TorchIngressToken", "batchgetter_categ", "batchgetter_num"]


def batchgetter_num(data: pd.DataFrame) -> torch.Tensor:
    """Numeric and integer columns as a float32 matrix, in column order."""
    # pandas stores columns in blocks, so to_numpy is column-major: make rows contiguous.
    return torch.from_numpy(np.array(data.to_numpy(dtype=np.float32), order="C", copy=True))


def batchgetter_categ(data: pd.DataFrame) -> torch.Tensor:
    """Factor, ordered and logical columns as int64 codes starting at 0.

    Factor codes follow the category order; logicals give 0 for False and 1 for True.
    """
    columns = []
    for name in data.columns:
        col = data[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy(dtype=np.int64)
            if (codes < 0).any():  # an embedding has no row for them
                raise TaskError(
                    f"Factor column '{name}' has {int((codes < 0).sum())} value(s) that are "
                    f"missing or not among its levels {list(col.cat.categories)}. Impute them "
                    'first, e.g. with po("imputemode").'
                )
            columns.append(codes)
        else:
            columns.append(col.to_numpy(dtype=np.int64))
    matrix = np.stack(columns, axis=1) if columns else np.zeros((len(data), 0), dtype=np.int64)
    return torch.from_numpy(np.array(matrix, order="C", copy=True))


@dataclass(eq=False)
class TorchIngressToken:
    """Says which task columns feed one network input, and how to batch them.

    Parameters
    ----------
    features : list of str or Selector
        The task features to use.
    batchgetter : callable
        ``batchgetter(df) -> torch.Tensor``: turns the rows of a batch (a DataFrame of
        the features) into a tensor, batch dimension first. Use a module-level function
        so that learners pickle.
    shape : Shape, optional
        Shape of the produced tensor; the batch dimension is ``None``.
    cacheable : bool, optional
        Whether the batchgetter treats rows independently and cheaply, so a dataset
        may convert all rows once and index the result per batch. Default: True for
        the built-in ``batchgetter_num`` and ``batchgetter_categ``, else False.
    """

    features: Sequence[str] | Selector
    batchgetter: Callable[[pd.DataFrame], torch.Tensor]
    shape: Shape | None = None
    cacheable: bool | None = None

    def __post_init__(self) -> None:
        if self.cacheable is None:
            self.cacheable = self.batchgetter in (batchgetter_num, batchgetter_categ)
        if not isinstance(self.features, Selector):
            self.features = list(self.features)
        if self.shape is not None:
            self.shape = as_shape(self.shape, "ingress shape")

    def feature_names(self, task: Task) -> list[str]:
        """The features this token selects from ``task``."""
        if isinstance(self.features, Selector):
            names = self.features(task)
        else:
            # A written list keeps its order (the network's columns follow it).
            selector_name(self.features, assert_present=True)(task)
            names = list(self.features)
        if not names:
            raise TaskError(f"An ingress token selects no features of task '{task.id}'.")
        return names

    def __call__(self, data: pd.DataFrame) -> torch.Tensor:
        """Build the tensor for the rows in ``data``."""
        return self.batchgetter(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TorchIngressToken):
            return NotImplemented
        return (
            self.features == other.features
            and self.batchgetter is other.batchgetter
            and self.shape == other.shape
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        feats: Any = self.features
        if isinstance(feats, list) and len(feats) > 6:
            feats = [*feats[:6], "..."]
        return f"<TorchIngressToken: Task[{feats}] --> Tensor{shape_to_str(self.shape)}>"
