"""materialize(): values, order, caching across columns, varying shapes (§11 items 74-75)."""

import pandas as pd
import pytest
import torch

from torchweave.errors import InvalidParameterError, InvalidTypeError, ShapeError
from torchweave.lazy import DataDescriptor, as_lazy_tensor, materialize, transform_lazy_tensor

X = torch.randn(10, 3, 2)


class Counting(torch.utils.data.Dataset):
    """Rows of X; counts __getitem__ calls (no __getitems__)."""

    def __init__(self):
        self.calls = 0

    def __getitem__(self, i):
        self.calls += 1
        return {"x": X[i]}

    def __len__(self):
        return 10


class Batched(Counting):
    """Also fetches whole batches, and counts them."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def __getitems__(self, ids):
        self.batches += 1
        return {"x": X[ids]}


class Sizes(torch.utils.data.Dataset):
    """Rows of different lengths (no __getitems__)."""

    def __getitem__(self, i):
        return {"x": torch.arange(float(i + 1))}

    def __len__(self):
        return 4


class CountingFn:
    """A preprocessing step that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return x + 1


def test_rbind_equals_the_dataset_batch_in_id_order():
    ds = Batched()
    lt = as_lazy_tensor(ds, ids=[4, 0, 7, 4])
    assert torch.equal(materialize(lt, rbind=True), ds.__getitems__([4, 0, 7, 4])["x"])
    rows = materialize(lt)
    assert isinstance(rows, list) and len(rows) == 4
    assert torch.equal(rows[2], ds[7]["x"])
    assert torch.equal(materialize(lt[1]), X[0])


def test_dataset_without_getitems_is_read_row_by_row():
    ds = Counting()
    lt = as_lazy_tensor(ds, dataset_shapes={"x": (None, 3, 2)})
    ds.calls = 0
    assert torch.equal(materialize(lt, rbind=True), X)
    assert ds.calls == 10


def test_columns_over_one_dataset_read_it_once():
    ds = Counting()
    lt = as_lazy_tensor(ds, dataset_shapes={"x": (None, 3, 2)})
    step = CountingFn()
    shifted = transform_lazy_tensor(lt, step, "shift.a", (None, 3, 2))
    frame = pd.DataFrame({"a": lt, "b": shifted, "c": shifted, "num": range(10)})
    ds.calls = 0
    out = materialize(frame, rbind=True)
    assert ds.calls == 10  # once per row, not once per column
    assert step.calls == 1  # the step shared by b and c ran once
    assert torch.equal(out["b"], X + 1) and torch.equal(out["a"], X)
    assert out["num"].tolist() == list(range(10))
    # without a cache every column reads the dataset
    ds.calls = 0
    materialize(frame, rbind=True, cache=None)
    assert ds.calls == 30 and step.calls == 3


def test_a_list_shares_the_cache_too():
    ds = Batched()
    lt = as_lazy_tensor(ds)
    out = materialize([lt, lt, "other"], rbind=True)
    assert ds.batches == 1 + 1  # one batch while inferring the shapes, one for both
    assert torch.equal(out[0], out[1]) and out[2] == "other"


def test_varying_shapes_give_a_list():
    lt = as_lazy_tensor(Sizes(), dataset_shapes={"x": None})
    rows = materialize(lt)
    assert [r.shape[0] for r in rows] == [1, 2, 3, 4]
    assert torch.equal(rows[2], torch.arange(3.0))
    with pytest.raises(ShapeError, match="rows have different shapes"):
        materialize(lt, rbind=True)
    same = as_lazy_tensor(Sizes(), dataset_shapes={"x": None}, ids=[1, 1])
    assert materialize(same, rbind=True).shape == (2, 2)


def test_empty_and_missing():
    lt = as_lazy_tensor(X)
    assert materialize(lt[:0]) == []
    assert materialize(lt[:0], rbind=True).shape == (0, 3, 2)
    unknown = as_lazy_tensor(Sizes(), dataset_shapes={"x": None})
    assert materialize(unknown[:0], rbind=True).shape == (0,)
    with pytest.raises(InvalidParameterError, match="lazy tensor 'z': it has missing"):
        materialize(pd.DataFrame({"z": pd.Series(lt[:2]).reindex(range(3))}))


def test_device_and_bad_inputs():
    lt = as_lazy_tensor(X)
    assert materialize(lt, device="cpu", rbind=True).device.type == "cpu"
    assert torch.equal(materialize(pd.Series(lt), rbind=True), X)
    with pytest.raises(InvalidTypeError, match="takes lazy tensors"):
        materialize(pd.Series([1.0]))
    with pytest.raises(InvalidTypeError, match="not a dict"):
        materialize({"a": lt})
    with pytest.raises(InvalidTypeError, match="materialize takes a lazy tensor"):
        materialize(3)
    with pytest.raises(InvalidParameterError, match="'cache' must be"):
        materialize(lt, cache="yes")


def test_descriptor_with_batch_dataset_runs_steps_once_per_batch():
    ds = Batched()
    dd = DataDescriptor(ds)
    step = CountingFn()
    lt = transform_lazy_tensor(as_lazy_tensor(dd), step, "shift.x", (None, 3, 2))
    ds.batches = 0
    out = materialize(lt, rbind=True)
    assert ds.batches == 1 and step.calls == 1
    assert torch.equal(out, X + 1)
