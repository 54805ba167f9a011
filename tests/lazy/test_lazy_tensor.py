"""The lazy tensor column type: construction, pandas behaviour, tasks, pickling."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import torchweave as tw
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.lazy import (
    DataDescriptor,
    LazyTensorArray,
    LazyTensorDtype,
    LazyTensorElement,
    as_lazy_tensor,
    is_lazy_tensor,
    lazy_shape,
    materialize,
)

X = torch.arange(10 * 2 * 3, dtype=torch.float32).reshape(10, 2, 3)


class RowDataset(torch.utils.data.Dataset):
    """Rows of a tensor, without __getitems__."""

    def __init__(self, x):
        self.x = x

    def __getitem__(self, i):
        return {"x": self.x[i]}

    def __len__(self):
        return len(self.x)


def test_from_tensor_numpy_dataset_and_descriptor():
    x = as_lazy_tensor(X)
    assert isinstance(x, LazyTensorArray) and len(x) == 10
    assert lazy_shape(x) == (None, 2, 3)
    assert torch.equal(materialize(x, rbind=True), X)

    arr = as_lazy_tensor(np.arange(6.0).reshape(3, 2))
    assert materialize(arr, rbind=True).dtype == torch.float32
    assert lazy_shape(arr) == (None, 2)
    vec = as_lazy_tensor(np.arange(4))
    assert lazy_shape(vec) == (None,)
    assert materialize(vec)[3].item() == 3

    from_ds = as_lazy_tensor(RowDataset(X), dataset_shapes={"x": (None, 2, 3)}, ids=[4, 1])
    assert torch.equal(materialize(from_ds, rbind=True), X[[4, 1]])

    dd = DataDescriptor(RowDataset(X), dataset_shapes={"x": (None, 2, 3)})
    assert torch.equal(materialize(as_lazy_tensor(dd, ids=[9]), rbind=True), X[[9]])
    assert len(as_lazy_tensor(dd)) == 10
    assert as_lazy_tensor(x) is x
    assert as_lazy_tensor(pd.Series(x)) is not None


def test_bad_inputs_are_rejected():
    with pytest.raises(InvalidTypeError, match="as_lazy_tensor takes a tensor"):
        as_lazy_tensor({"a": 1})
    with pytest.raises(InvalidParameterError, match="at least one dimension"):
        as_lazy_tensor(torch.tensor(1.0))
    dd = DataDescriptor(RowDataset(X), dataset_shapes={"x": (None, 2, 3)})
    with pytest.raises(InvalidParameterError, match=r"ids must lie in \[0, 9\]"):
        LazyTensorArray([3, 10], dd)
    with pytest.raises(InvalidParameterError, match="0-based positions"):
        as_lazy_tensor(dd, ids=[-2])
    with pytest.raises(InvalidTypeError, match="must be integers"):
        LazyTensorArray([0.5], dd)
    with pytest.raises(InvalidParameterError, match="needs a data descriptor"):
        LazyTensorArray([1], None)
    with pytest.raises(InvalidTypeError, match="must be a lazy tensor"):
        lazy_shape(pd.Series([1.0]))


def test_printing():
    x = as_lazy_tensor(torch.zeros(3, 1, 8, 8))
    assert repr(x[0]) == "<tnsr[1x8x8]>"
    assert repr(x) == "<ltnsr[len=3, shapes=(1x8x8)]>"
    assert repr(x[:0]) == "<ltnsr[len=0]>"
    unknown = as_lazy_tensor(RowDataset(X), dataset_shapes={"x": None})
    assert repr(unknown[0]) == "<tnsr[?]>"
    assert repr(unknown) == "<ltnsr[len=10, shapes=unknown]>"
    text = repr(pd.Series(x))
    assert "<tnsr[1x8x8]>" in text and "dtype: lazy_tensor" in text


def test_dtype_and_predicates():
    x = as_lazy_tensor(X)
    series = pd.Series(x)
    assert series.dtype == "lazy_tensor"
    assert isinstance(series.dtype, LazyTensorDtype)
    assert is_lazy_tensor(x) and is_lazy_tensor(series)
    assert not is_lazy_tensor(X) and not is_lazy_tensor(pd.Series([1.0]))
    assert isinstance(x[0], LazyTensorElement) and x[0].id == 0
    assert (series.astype("lazy_tensor").array == x).all()
    objects = np.asarray(x)
    assert objects.dtype == object and objects[2] == x[2]


def test_equality_same_and_different_descriptors():
    x = as_lazy_tensor(X)
    y = as_lazy_tensor(X)  # another dataset
    assert (x == x.copy()).all()
    assert not (x == y).any()
    assert (x == x[::-1]).tolist() == [False] * 10
    assert (x[[1, 2, 2]] == x[[1, 3, 2]]).tolist() == [True, False, True]
    assert (x == x[4]).tolist() == [i == 4 for i in range(10)]
    assert not (x == 3).any()
    assert x[1] == x[1] and x[1] != x[2] and x[1] != y[1]


def test_concat_and_assignment_need_the_same_descriptor():
    x = as_lazy_tensor(X)
    y = as_lazy_tensor(X)
    both = pd.concat([pd.Series(x[:2]), pd.Series(x[5:7])], ignore_index=True)
    assert both.array.ids.tolist() == [0, 1, 5, 6]
    with pytest.raises(
        InvalidParameterError, match="Can only concatenate lazy tensors with the same"
    ):
        pd.concat([pd.Series(x), pd.Series(y)])
    z = x.copy()
    z[0] = x[9]
    z[1:3] = x[[7, 8]]
    assert z.ids[:3].tolist() == [9, 7, 8]
    assert x.ids[0] == 0  # the copy is independent
    with pytest.raises(InvalidParameterError, match="different data descriptor"):
        z[0] = y[0]
    with pytest.raises(InvalidTypeError, match="Only lazy tensor elements"):
        z[0] = 1.5
    z[2] = None
    assert z.isna().tolist() == [False, False, True] + [False] * 7


def test_missing_values_and_reindexing():
    x = as_lazy_tensor(X)
    series = pd.Series(x[:3])
    longer = series.reindex(range(5))
    assert longer.dtype == "lazy_tensor"
    assert longer.isna().tolist() == [False, False, False, True, True]
    with pytest.raises(InvalidParameterError, match="missing elements"):
        materialize(longer)
    assert x.take([1, -1], allow_fill=True).isna().tolist() == [False, True]
    assert x.take([1, -1], allow_fill=True, fill_value=x[3]).ids.tolist() == [1, 3]
    with pytest.raises(InvalidParameterError, match="same data descriptor"):
        x.take([-1], allow_fill=True, fill_value=as_lazy_tensor(X)[0])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=12), st.integers(-12, 12), st.integers(-12, 12))
def test_take_slice_and_concat_follow_the_ids(positions, start, stop):
    x = as_lazy_tensor(X)
    taken = x.take(positions)
    assert taken.ids.tolist() == positions
    assert torch.equal(materialize(taken, rbind=True).reshape(-1, 2, 3), X[positions])
    sliced = x[start:stop]
    assert sliced.ids.tolist() == list(range(10))[start:stop]
    joined = LazyTensorArray._concat_same_type([taken, sliced])
    assert joined.ids.tolist() == positions + list(range(10))[start:stop]
    assert joined.data_descriptor is x.data_descriptor
    mask = np.zeros(10, dtype=bool)
    mask[positions] = True
    assert x[mask].ids.tolist() == sorted(set(positions))


def test_unique_factorize_and_sorting():
    x = as_lazy_tensor(X)[[3, 1, 3, 2]]
    series = pd.Series(x)
    assert series.unique().ids.tolist() == [3, 1, 2]
    codes, uniques = pd.factorize(series)
    assert codes.tolist() == [0, 1, 0, 2] and uniques.array.ids.tolist() == [3, 1, 2]
    assert series.sort_values().array.ids.tolist() == [1, 2, 3, 3]
    assert series.equals(pd.Series(x.copy()))


def test_tasks_hold_lazy_columns():
    x = as_lazy_tensor(X)
    frame = pd.DataFrame({"img": x, "num": np.arange(10.0), "y": np.arange(10.0) * 2})
    task = tw.TaskRegr(frame, target="y", id="lazy")
    assert task.feature_types == {"img": "lazy_tensor", "num": "numeric"}
    assert "lazy_tensor (1): img" in repr(task)
    task.filter([7, 2, 5])
    assert task.data(cols="img")["img"].array.ids.tolist() == [7, 2, 5]
    clone = task.clone().select(["img"])
    assert clone.feature_names == ["img"] and task.feature_names == ["img", "num"]
    # replacing a column on some rows in use keeps the dtype (other rows are missing)
    new = pd.DataFrame({"img": x[[0, 1, 2]]})
    task.replace_features(new)
    assert task.feature_types["img"] == "lazy_tensor"
    assert task.data(cols="img")["img"].array.ids.tolist() == [0, 1, 2]
    assert task.missings(["img"]) == {"img": 0}
    # rbind with the same descriptor works, with another it does not
    more = pd.DataFrame({"img": x[[9]], "num": [1.0], "y": [0.0]})
    task.rbind(more)
    assert task.data(cols="img")["img"].array.ids.tolist() == [0, 1, 2, 9]
    other = pd.DataFrame({"img": as_lazy_tensor(X)[[0]], "num": [1.0], "y": [0.0]})
    with pytest.raises(InvalidParameterError, match="same data descriptor"):
        task.rbind(other)


def test_predict_newdata_conforms_lazy_columns():
    x = as_lazy_tensor(X)
    frame = pd.DataFrame({"img": x, "y": np.arange(10.0)})
    task = tw.TaskRegr(frame, target="y")
    new = task._empty_like(pd.DataFrame({"img": x[[2, 3]]}))
    assert new.feature_types == {"img": "lazy_tensor"} and new.nrow == 2


def test_pickle_and_copies_keep_the_descriptor():
    x = as_lazy_tensor(X)[[4, 2]]
    restored = pickle.loads(pickle.dumps(x))
    assert (restored == x).all()
    assert restored.data_descriptor == x.data_descriptor
    assert torch.equal(materialize(restored, rbind=True), X[[4, 2]])
    assert copy.deepcopy(x).data_descriptor is x.data_descriptor
    assert copy.copy(x).data_descriptor is x.data_descriptor
    element = pickle.loads(pickle.dumps(x[0]))
    assert element == x[0]
    # an empty column (a task prototype) pickles without its dataset
    empty = pickle.loads(pickle.dumps(x[:0]))
    assert len(empty) == 0 and empty.data_descriptor is None
    frame = pd.DataFrame({"img": x, "y": [1.0, 2.0]})
    task = pickle.loads(pickle.dumps(tw.TaskRegr(frame, target="y")))
    assert task.feature_types == {"img": "lazy_tensor"}


def test_a_read_only_numpy_array_is_copied_without_a_warning():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    values = frame.to_numpy(dtype=np.float32)
    values.setflags(write=False)
    lt = as_lazy_tensor(values)
    torch.testing.assert_close(materialize(lt, rbind=True), torch.tensor([[1.0, 3.0], [2.0, 4.0]]))
    assert not values.flags.writeable  # the caller's array is left as it was
