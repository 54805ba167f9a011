"""The lazy tensor column type: a pandas extension array of row ids into one dataset.

A :class:`LazyTensorArray` holds int64 ids (0-based positions into the dataset; ``-1``
is missing) and one :class:`~torchweave.lazy.data_descriptor.DataDescriptor` shared by
all its elements (mlr3torch §7.2). It lives in a task's DataFrame like any column, and
tasks report its feature type as ``"lazy_tensor"``. Nothing is loaded until
:func:`~torchweave.lazy.materialize.materialize` (or a learner) asks for a batch.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from pandas.api.extensions import (
    ExtensionArray,
    ExtensionDtype,
    register_extension_dtype,
    take,
)
from pandas.api.indexers import check_array_indexer

from torchweave.data.feature_types import register_feature_type
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.lazy._nodes import PreprocNode
from torchweave.lazy.data_descriptor import DataDescriptor
from torchweave.lazy.image_dataset import open_images
from torchweave.network.shapes import Shape

__all__ = [
    "LazyTensorArray",
    "LazyTensorDtype",
    "LazyTensorElement",
    "TensorRowsDataset",
    "as_lazy_tensor",
    "is_lazy_tensor",
    "lazy_shape",
    "transform_lazy_tensor",
]


def format_lazy_shape(shape: Shape | None) -> str:
    """``1x8x8`` for the shape ``(None, 1, 8, 8)``; ``?`` marks unknown sizes."""
    if shape is None:
        return "?"
    return "x".join("?" if d is None else str(d) for d in shape[1:])


class LazyTensorElement:
    """One element of a lazy tensor: a row id and the shared DataDescriptor.

    Parameters
    ----------
    id : int
        The 0-based position in the dataset.
    data_descriptor : DataDescriptor
        The descriptor of the column.
    """

    __slots__ = ("data_descriptor", "id")

    def __init__(self, id: int, data_descriptor: DataDescriptor) -> None:
        self.id = int(id)
        self.data_descriptor = data_descriptor

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyTensorElement):
            return False
        return self.id == other.id and self.data_descriptor.hash == other.data_descriptor.hash

    def __hash__(self) -> int:
        return hash((self.id, self.data_descriptor.hash))

    def __getstate__(self) -> dict[str, Any]:
        return {"id": self.id, "data_descriptor": self.data_descriptor}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.id = state["id"]
        self.data_descriptor = state["data_descriptor"]

    def __repr__(self) -> str:
        return f"<tnsr[{format_lazy_shape(self.data_descriptor.pointer_shape)}]>"


@register_extension_dtype
class LazyTensorDtype(ExtensionDtype):
    """The pandas dtype of lazy tensor columns (``"lazy_tensor"``)."""

    name = "lazy_tensor"
    type = LazyTensorElement
    kind = "O"
    na_value = None

    @classmethod
    def construct_array_type(cls) -> builtins.type[LazyTensorArray]:
        """The array class of this dtype."""
        return LazyTensorArray

    def __repr__(self) -> str:
        return "lazy_tensor"


_DTYPE = LazyTensorDtype()


def _is_na(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and np.isnan(value)


def _incompatible(what: str) -> InvalidParameterError:
    return InvalidParameterError(f"{what} lazy tensors with the same data descriptor.")


class LazyTensorArray(ExtensionArray):
    """A pandas ExtensionArray of lazy tensor elements sharing one DataDescriptor.

    Parameters
    ----------
    ids : array-like of int
        0-based positions into the dataset; ``-1`` marks a missing element.
    data_descriptor : DataDescriptor or None
        The descriptor; ``None`` only for arrays without non-missing elements.

    Examples
    --------
    >>> import torch
    >>> from torchweave.lazy import as_lazy_tensor
    >>> x = as_lazy_tensor(torch.zeros(4, 1, 8, 8))
    >>> x
    <ltnsr[len=4, shapes=(1x8x8)]>
    >>> x[1]
    <tnsr[1x8x8]>
    """

    def __init__(self, ids: Any, data_descriptor: DataDescriptor | None) -> None:
        values = np.asarray(ids)
        if values.size and not np.issubdtype(values.dtype, np.integer):
            raise InvalidTypeError(
                f"Lazy tensor ids must be integers. Got an array of {values.dtype} instead."
            )
        values = values.astype(np.int64, copy=False).reshape(-1)
        if data_descriptor is not None and not isinstance(data_descriptor, DataDescriptor):
            raise InvalidTypeError(
                "'data_descriptor' must be a DataDescriptor. "
                f"Got {type(data_descriptor).__name__} instead."
            )
        if data_descriptor is None:
            if (values >= 0).any():
                raise InvalidParameterError("A lazy tensor with ids needs a data descriptor.")
        else:
            n = len(data_descriptor.dataset)
            bad = values[(values < -1) | (values >= n)]
            if bad.size:
                raise InvalidParameterError(
                    f"Lazy tensor ids must lie in [0, {n - 1}] (positions in the dataset) or be "
                    f"-1 (missing). Got {bad[:5].tolist()}."
                )
        self._ids = values
        self._dd = data_descriptor

    @classmethod
    def _simple_new(cls, ids: np.ndarray, dd: DataDescriptor | None) -> LazyTensorArray:
        new = object.__new__(cls)
        new._ids = ids
        new._dd = dd
        return new

    # --- what the column is ---------------------------------------------------------------
    @property
    def dtype(self) -> LazyTensorDtype:
        """The ``lazy_tensor`` dtype."""
        return _DTYPE

    @property
    def data_descriptor(self) -> DataDescriptor | None:
        """The DataDescriptor shared by all elements."""
        return self._dd

    @property
    def ids(self) -> np.ndarray:
        """The row ids into the dataset (a copy; ``-1`` is missing)."""
        return self._ids.copy()

    @property
    def shape_lazy(self) -> Shape | None:
        """The shape of the materialized column (batch dimension ``None``)."""
        return None if self._dd is None else self._dd.pointer_shape

    @property
    def nbytes(self) -> int:
        """Bytes used by the ids."""
        return int(self._ids.nbytes)

    def __len__(self) -> int:
        return len(self._ids)

    # --- construction (pandas protocol) ---------------------------------------------------
    @classmethod
    def _from_sequence(
        cls, scalars: Any, *, dtype: Any = None, copy: bool = False
    ) -> LazyTensorArray:
        if isinstance(scalars, LazyTensorArray):
            return scalars.copy() if copy else scalars
        if isinstance(scalars, pd.Series | pd.Index) and isinstance(scalars.array, LazyTensorArray):
            return cls._from_sequence(scalars.array, copy=copy)
        ids: list[int] = []
        dd: DataDescriptor | None = None
        for value in scalars:
            if _is_na(value):
                ids.append(-1)
                continue
            if not isinstance(value, LazyTensorElement):
                raise InvalidTypeError(
                    "A lazy tensor can only hold lazy tensor elements. "
                    f"Got a {type(value).__name__}."
                )
            if dd is None:
                dd = value.data_descriptor
            elif value.data_descriptor.hash != dd.hash:
                raise _incompatible("Can only combine")
            ids.append(value.id)
        return cls._simple_new(np.asarray(ids, dtype=np.int64), dd)

    @classmethod
    def _from_factorized(cls, values: np.ndarray, original: LazyTensorArray) -> LazyTensorArray:
        return cls._simple_new(np.asarray(values, dtype=np.int64), original._dd)

    def _values_for_factorize(self) -> tuple[np.ndarray, int]:
        return self._ids.copy(), -1

    def _values_for_argsort(self) -> np.ndarray:
        return self._ids

    @classmethod
    def _concat_same_type(cls, to_concat: Sequence[LazyTensorArray]) -> LazyTensorArray:
        dd: DataDescriptor | None = None
        for arr in to_concat:
            if arr._dd is None:
                continue
            if dd is None:
                dd = arr._dd
            elif arr._dd.hash != dd.hash:
                raise _incompatible("Can only concatenate")
        ids = np.concatenate([arr._ids for arr in to_concat]) if to_concat else np.zeros(0, int)
        return cls._simple_new(ids.astype(np.int64, copy=False), dd)

    # --- element access -------------------------------------------------------------------
    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, int | np.integer):
            i = int(item)
            value = self._ids[i]
            if value < 0:
                return None
            assert self._dd is not None
            return LazyTensorElement(int(value), self._dd)
        if isinstance(item, tuple) and len(item) == 1:
            item = item[0]
        if not isinstance(item, slice):
            item = check_array_indexer(self, item)
        return self._simple_new(self._ids[item], self._dd)

    def __setitem__(self, key: Any, value: Any) -> None:
        if not isinstance(key, int | np.integer | slice):
            key = check_array_indexer(self, key)
        dd: DataDescriptor | None
        ids: Any
        if isinstance(value, LazyTensorArray):
            ids, dd = value._ids, value._dd
        elif isinstance(value, LazyTensorElement):
            ids, dd = np.int64(value.id), value.data_descriptor
        elif _is_na(value):
            ids, dd = np.int64(-1), None
        elif isinstance(value, Iterable):
            other = LazyTensorArray._from_sequence(list(value))
            ids, dd = other._ids, other._dd
        else:
            raise InvalidTypeError(
                f"Only lazy tensor elements can be assigned to a lazy tensor. Got {value!r}."
            )
        if dd is not None:
            if self._dd is None:
                if (self._ids >= 0).any():  # pragma: no cover - such arrays cannot exist
                    raise _incompatible("Can only assign")
                self._dd = dd
            elif dd.hash != self._dd.hash:
                raise InvalidParameterError(
                    "Cannot assign a lazy tensor with a different data descriptor."
                )
        self._ids[key] = ids

    def isna(self) -> np.ndarray:
        """A boolean mask of the missing elements."""
        return self._ids < 0

    def take(
        self, indices: Any, *, allow_fill: bool = False, fill_value: Any = None
    ) -> LazyTensorArray:
        """Elements at ``indices`` (``-1`` gives a missing element with ``allow_fill``)."""
        fill = -1
        if allow_fill and not _is_na(fill_value):
            if not isinstance(fill_value, LazyTensorElement) or (
                self._dd is not None and fill_value.data_descriptor.hash != self._dd.hash
            ):
                raise InvalidParameterError(
                    "A lazy tensor can only be filled with elements of the same data descriptor."
                )
            fill = fill_value.id
        ids = take(self._ids, indices, allow_fill=allow_fill, fill_value=fill)
        return self._simple_new(np.asarray(ids, dtype=np.int64), self._dd)

    def copy(self) -> LazyTensorArray:
        """A copy of the ids (the data descriptor is immutable and shared)."""
        return self._simple_new(self._ids.copy(), self._dd)

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyTensorArray:
        return self.copy()

    def __getstate__(self) -> dict[str, Any]:
        # A column without elements (a learner's zero-row task prototype) pickles
        # without its descriptor, so saved learners do not carry the dataset.
        return {"_ids": self._ids, "_dd": self._dd if len(self._ids) else None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._ids = state["_ids"]
        self._dd = state["_dd"]

    def __eq__(self, other: Any) -> Any:
        if isinstance(other, pd.Series | pd.Index | pd.DataFrame):
            return NotImplemented
        if isinstance(other, LazyTensorElement):
            if self._dd is None or other.data_descriptor.hash != self._dd.hash:
                return np.zeros(len(self), dtype=bool)
            return self._ids == other.id
        if isinstance(other, LazyTensorArray):
            if len(other) != len(self):
                raise InvalidParameterError(
                    f"Cannot compare lazy tensors of lengths {len(self)} and {len(other)}."
                )
            if self._dd is None or other._dd is None or self._dd.hash != other._dd.hash:
                return np.zeros(len(self), dtype=bool)
            return (self._ids == other._ids) & (self._ids >= 0)
        return np.zeros(len(self), dtype=bool)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.empty(len(self), dtype=object)
        for i in range(len(self)):
            out[i] = self[i]
        return out

    def _formatter(self, boxed: bool = False) -> Callable[[Any], str]:
        return lambda x: "<NA>" if x is None else repr(x)

    def __repr__(self) -> str:
        if len(self) == 0:
            return "<ltnsr[len=0]>"
        shape = self.shape_lazy
        shapes = "unknown" if shape is None else f"({format_lazy_shape(shape)})"
        return f"<ltnsr[len={len(self)}, shapes={shapes}]>"


class TensorRowsDataset(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """A tensor as a dataset of its rows, element ``"x"`` (batches are one index).

    Parameters
    ----------
    x : torch.Tensor
        The data; rows along the first dimension.
    """

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i]}

    def __getitems__(self, ids: Sequence[int]) -> dict[str, torch.Tensor]:
        """The rows ``ids`` as one batch."""
        return {"x": self.x.index_select(0, torch.as_tensor(ids, dtype=torch.int64))}

    def getitems_array(self, ids: np.ndarray) -> dict[str, torch.Tensor]:
        """The rows ``ids`` (a 1-d int64 array) as one batch, without a list in between.

        Descriptors call this instead of ``__getitems__`` where a dataset has it.
        """
        return {"x": self.x.index_select(0, torch.from_numpy(ids))}


def _ids_for(dd: DataDescriptor, ids: Any) -> np.ndarray:
    if ids is None:
        return np.arange(len(dd.dataset), dtype=np.int64)
    values = np.asarray(ids)
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise InvalidTypeError(f"'ids' must be integers. Got {values.dtype} instead.")
    if values.size and (values < 0).any():
        raise InvalidParameterError("'ids' must be 0-based positions into the dataset (>= 0).")
    return values.astype(np.int64).reshape(-1)


def as_lazy_tensor(
    x: Any,
    ids: Any = None,
    dataset_shapes: dict[str, Any] | None = None,
    **kwargs: Any,
) -> LazyTensorArray:
    """Make a lazy tensor from a tensor, an array, a dataset, a descriptor or image files.

    Parameters
    ----------
    x : Tensor, numpy array, Dataset, DataDescriptor, LazyTensorArray or sequence of paths
        A tensor or array gives one element per row (first dimension; float64 arrays
        become float32). A dataset needs ``dataset_shapes`` unless it has
        ``__getitems__``. A sequence of image file paths is decoded lazily (see
        :func:`torchweave.lazy.image.lazy_tensor_from_images`).
    ids : array-like of int, optional
        0-based dataset positions (default: every row of the dataset, in order).
    dataset_shapes : dict, optional
        For a dataset: the shapes of its elements (see :class:`DataDescriptor`).
    **kwargs
        For a dataset: more :class:`DataDescriptor` arguments (``input_map``, ...).

    Returns
    -------
    LazyTensorArray

    Examples
    --------
    >>> import numpy as np
    >>> from torchweave.lazy import as_lazy_tensor, materialize
    >>> x = as_lazy_tensor(np.arange(6.0).reshape(3, 2))
    >>> materialize(x, rbind=True)
    tensor([[0., 1.],
            [2., 3.],
            [4., 5.]])
    """
    if isinstance(x, LazyTensorArray):
        return x if ids is None else x.take(_ids_for_positions(ids))
    if isinstance(x, pd.Series) and isinstance(x.array, LazyTensorArray):
        return as_lazy_tensor(x.array, ids=ids)
    if isinstance(x, DataDescriptor):
        return LazyTensorArray(_ids_for(x, ids), x)
    if isinstance(x, np.ndarray):
        if x.dtype == np.float64:
            x = x.astype(np.float32)
        if not (x.flags.writeable and x.flags.c_contiguous):
            x = np.array(x, order="C", copy=True)  # torch shares memory: it must be writable
        x = torch.from_numpy(x)
    if isinstance(x, torch.Tensor):
        if x.dim() == 0:
            raise InvalidParameterError(
                "A lazy tensor needs a tensor with at least one dimension (the rows)."
            )
        dd = DataDescriptor(TensorRowsDataset(x), {"x": (None, *x.shape[1:])})
        return LazyTensorArray(_ids_for(dd, ids), dd)
    if isinstance(x, torch.utils.data.Dataset):
        dd = DataDescriptor(x, dataset_shapes=dataset_shapes, **kwargs)
        return LazyTensorArray(_ids_for(dd, ids), dd)
    if (
        isinstance(x, Sequence)
        and not isinstance(x, str)
        and len(x) > 0
        and all(isinstance(p, str | os.PathLike) for p in x)
    ):
        dataset, declared = open_images(list(x))
        out = as_lazy_tensor(dataset, dataset_shapes={"x": declared})
        return out if ids is None else out.take(_ids_for_positions(ids))
    raise InvalidTypeError(
        "as_lazy_tensor takes a tensor, a numpy array, a torch Dataset, a DataDescriptor, a "
        f"lazy tensor or a sequence of image file paths. Got {type(x).__name__} instead."
    )


def _ids_for_positions(ids: Any) -> np.ndarray:
    return np.asarray(ids, dtype=np.int64).reshape(-1)


def is_lazy_tensor(x: Any) -> bool:
    """Whether ``x`` is a lazy tensor (a LazyTensorArray, or a Series holding one)."""
    if isinstance(x, pd.Series):
        return isinstance(x.dtype, LazyTensorDtype)
    return isinstance(x, LazyTensorArray)


def _as_array(x: Any, what: str = "x") -> LazyTensorArray:
    if isinstance(x, LazyTensorArray):
        return x
    if isinstance(x, pd.Series) and isinstance(x.array, LazyTensorArray):
        return x.array
    raise InvalidTypeError(f"'{what}' must be a lazy tensor. Got {type(x).__name__} instead.")


def lazy_shape(x: Any) -> Shape | None:
    """The shape of a lazy tensor once materialized (batch dimension ``None``).

    ``None`` means unknown (for example images of varying sizes).
    """
    return _as_array(x).shape_lazy


def transform_lazy_tensor(
    x: Any,
    fn: Callable[[torch.Tensor], torch.Tensor],
    id: str,
    shape: Shape | None,
    shape_predict: Shape | None = None,
    augment: bool = False,
) -> LazyTensorArray:
    """A lazy tensor with one more preprocessing step after the current pointer.

    Parameters
    ----------
    x : LazyTensorArray
        The lazy tensor (its ids are kept).
    fn : callable
        The step: a batch tensor in, a batch tensor out.
    id : str
        The step id (``"<operator id>.<column>"``).
    shape : Shape or None
        The shape after the step.
    shape_predict : Shape or None
        The shape it will have at predict time (``None``: unknown or the same).
    augment : bool
        Whether the step is a random augmentation.
    """
    arr = _as_array(x)
    dd = arr._dd
    if dd is None:
        return arr.copy()
    node = PreprocNode(id, fn=fn, inputs=[dd._node], augment=augment)
    return LazyTensorArray._simple_new(arr._ids.copy(), dd._derive(node, shape, shape_predict))


def _is_lazy_dtype(dtype: object) -> bool:
    return isinstance(dtype, LazyTensorDtype)


register_feature_type("lazy_tensor", _is_lazy_dtype)
