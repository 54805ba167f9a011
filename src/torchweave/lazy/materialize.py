"""materialize(): load lazy tensors, running the dataset and preprocessing once per batch.

A lazy column's rows are fetched with one ``__getitems__`` call (or one ``__getitem__``
per row, stacked) and the preprocessing runs once on the whole batch. With a cache
(a dict, created automatically for a DataFrame or list whose lazy columns share a
dataset), columns over the same dataset read it once and share preprocessing steps
they have in common (mlr3torch §7.3).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from torchweave.errors import InvalidParameterError, InvalidTypeError, ShapeError
from torchweave.lazy.lazy_tensor import LazyTensorArray, LazyTensorElement

__all__ = ["materialize", "materialize_array"]

Cache = dict[Any, Any]


def _empty(arr: LazyTensorArray, rbind: bool, device: torch.device | str) -> Any:
    if not rbind:
        return []
    shape = arr.shape_lazy
    dims = [] if shape is None else [d for d in shape[1:] if d is not None]
    if shape is not None and len(dims) == len(shape) - 1:
        return torch.empty((0, *dims), device=device)
    return torch.empty(0, device=device)


def materialize_array(
    arr: LazyTensorArray,
    device: torch.device | str = "cpu",
    rbind: bool = False,
    cache: Cache | None = None,
    name: str | None = None,
) -> Any:
    """Materialize one lazy tensor (see :func:`materialize`).

    Parameters
    ----------
    arr : LazyTensorArray
        The lazy tensor.
    device : torch.device or str
        Where the result goes.
    rbind : bool
        One tensor with the batch dimension first (True), or a list of per-row tensors.
    cache : dict, optional
        Shared by lazy tensors materialized for the same rows.
    name : str, optional
        The column name, for error messages.
    """
    if len(arr) == 0:
        return _empty(arr, rbind, device)
    ids = arr._ids
    dd = arr._dd
    if dd is None or (ids < 0).any():
        where = f" '{name}'" if name else ""
        raise InvalidParameterError(
            f"Cannot materialize the lazy tensor{where}: it has missing elements."
        )
    if not dd._varying:
        out = dd._run(ids, cache)
        out = out.to(device) if out.device != torch.device(device) else out
        return out if rbind else list(out.unbind(0))
    rows = [dd._run(ids[i : i + 1], cache).to(device) for i in range(len(ids))]
    if not rbind:
        return [row[0] for row in rows]
    shapes = {tuple(row.shape[1:]) for row in rows}
    if len(shapes) > 1:
        where = f" '{name}'" if name else ""
        shown = ", ".join(str(s) for s in sorted(shapes)[:3])
        raise ShapeError(
            f"Cannot rbind the lazy tensor{where}: its rows have different shapes ({shown}). "
            "Use rbind=False to get a list of tensors, or resize them to one shape."
        )
    return torch.cat(rows)


def _lazy_arrays(values: list[Any]) -> list[LazyTensorArray]:
    out = []
    for value in values:
        if isinstance(value, LazyTensorArray):
            out.append(value)
        elif isinstance(value, pd.Series) and isinstance(value.array, LazyTensorArray):
            out.append(value.array)
    return out


def _auto_cache(arrays: list[LazyTensorArray]) -> Cache | None:
    counts = Counter(arr._dd.dataset_hash for arr in arrays if arr._dd is not None)
    return {} if any(n > 1 for n in counts.values()) else None


def _resolve_cache(cache: Any, arrays: list[LazyTensorArray]) -> Cache | None:
    if isinstance(cache, str):
        if cache != "auto":
            raise InvalidParameterError(
                f"'cache' must be 'auto', a dict or None. Got {cache!r} instead."
            )
        return _auto_cache(arrays)
    if cache is None or isinstance(cache, dict):
        return cache
    raise InvalidTypeError(f"'cache' must be 'auto', a dict or None. Got {type(cache).__name__}.")


def materialize(
    x: Any,
    device: torch.device | str = "cpu",
    rbind: bool = False,
    cache: Cache | str | None = "auto",
) -> Any:
    """Load lazy tensors: run the dataset and the preprocessing once per call.

    Parameters
    ----------
    x : LazyTensorArray, Series, DataFrame, list or element
        What to materialize. Non-lazy columns of a DataFrame (and non-lazy list
        entries) are returned unchanged.
    device : torch.device or str, default "cpu"
        Where the tensors go.
    rbind : bool, default False
        One tensor per lazy tensor with the batch dimension first (an error if the
        rows' shapes differ), or a list of per-row tensors without it.
    cache : "auto", dict or None
        Shared by lazy tensors over the same dataset, so the dataset is read once and
        shared preprocessing steps run once. ``"auto"`` makes one when two lazy
        columns of a DataFrame or list share a dataset.

    Returns
    -------
    Tensor, list of Tensor, dict or list
        For a lazy tensor: a tensor (``rbind=True``) or a list of tensors. For a
        DataFrame: a dict from column name to the materialized column. For a list: a
        list. For one element: its tensor.

    Examples
    --------
    >>> import torch
    >>> from torchweave.lazy import as_lazy_tensor, materialize
    >>> x = as_lazy_tensor(torch.arange(6.0).reshape(3, 2))
    >>> materialize(x)[2]
    tensor([4., 5.])
    >>> materialize(x[:2], rbind=True).shape
    torch.Size([2, 2])
    """
    if isinstance(x, LazyTensorElement):
        arr = LazyTensorArray._simple_new(np.array([x.id], dtype=np.int64), x.data_descriptor)
        return materialize_array(arr, device, rbind=True, cache=_resolve_cache(cache, []))[0]
    if isinstance(x, LazyTensorArray):
        return materialize_array(x, device, rbind, _resolve_cache(cache, [x]))
    if isinstance(x, pd.Series):
        if not isinstance(x.array, LazyTensorArray):
            raise InvalidTypeError(
                f"materialize takes lazy tensors; the Series '{x.name}' has dtype {x.dtype}."
            )
        name = None if x.name is None else str(x.name)
        return materialize_array(x.array, device, rbind, _resolve_cache(cache, [x.array]), name)
    if isinstance(x, pd.DataFrame):
        columns = {str(c): x[c] for c in x.columns}
        shared = _resolve_cache(cache, _lazy_arrays(list(columns.values())))
        return {
            name: materialize_array(col.array, device, rbind, shared, name)
            if isinstance(col.array, LazyTensorArray)
            else col
            for name, col in columns.items()
        }
    if isinstance(x, list | tuple):
        shared = _resolve_cache(cache, _lazy_arrays(list(x)))
        out = []
        for value in x:
            array = value.array if isinstance(value, pd.Series) else value
            if isinstance(array, LazyTensorArray):
                out.append(materialize_array(array, device, rbind, shared))
            else:
                out.append(value)
        return out
    if isinstance(x, Mapping):
        raise InvalidTypeError("materialize takes a DataFrame, not a dict; use pd.DataFrame(x).")
    raise InvalidTypeError(
        "materialize takes a lazy tensor, a Series or DataFrame with lazy columns, or a list. "
        f"Got {type(x).__name__} instead."
    )
