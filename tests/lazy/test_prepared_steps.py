"""The per-batch fast paths: prepared transform steps and direct lazy column batches.

Each fast path must give exactly what the checked path gives (values and random draws),
keep the checked path's errors, and pickle into DataLoader workers.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import torchweave as tw
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.lazy import as_lazy_tensor, transforms
from torchweave.lazy.lazy_tensor import TensorRowsDataset
from torchweave.lazy.ops.torch_ingress_ltnsr import _LazyTensorRows
from torchweave.lazy.preproc import BatchFn


def _images(n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 4, 5, generator=torch.Generator().manual_seed(seed))


@given(
    mean=st.floats(-3, 3, allow_nan=False),
    std=st.floats(0.01, 5, allow_nan=False),
    n=st.integers(1, 5),
)
@settings(max_examples=30, deadline=None)
def test_prepared_normalize_equals_the_checked_function(mean: float, std: float, n: int) -> None:
    x = _images(n)
    step = BatchFn(transforms.normalize, {"mean": mean, "std": std}, rowwise=False)
    assert step._prepared is not None
    torch.testing.assert_close(step(x), transforms.normalize(x, mean, std), rtol=0, atol=0)


def test_normalize_per_channel_values_keep_the_checked_path() -> None:
    step = BatchFn(transforms.normalize, {"mean": [0.5], "std": [0.2]}, rowwise=False)
    assert step._prepared is None
    x = _images()
    torch.testing.assert_close(step(x), (x - 0.5) / 0.2)


def test_prepared_normalize_keeps_the_shape_error() -> None:
    step = BatchFn(transforms.normalize, {"mean": 0.5, "std": 0.2}, rowwise=False)
    with pytest.raises(ShapeError, match="'trafo_normalize' needs an input of at least 2"):
        step(torch.ones(3))


def test_invalid_parameters_are_not_prepared_and_still_raise() -> None:
    step = BatchFn(transforms.normalize, {"mean": 0.5, "std": -1.0}, rowwise=False)
    assert step._prepared is None
    with pytest.raises(InvalidParameterError, match="'std' parameter of trafo_normalize"):
        step(_images())
    flip = BatchFn(transforms.random_horizontal_flip, {"p": 2.0}, rowwise=False)
    assert flip._prepared is None
    with pytest.raises(InvalidParameterError, match="'p' parameter of augment_random_horizontal"):
        flip(_images())


@pytest.mark.parametrize(
    ("fn", "dim"),
    [(transforms.random_horizontal_flip, -1), (transforms.random_vertical_flip, -2)],
)
@pytest.mark.parametrize("p", [0.0, 0.3, 1])
def test_prepared_flips_draw_the_same_numbers(fn: object, dim: int, p: float) -> None:
    x = _images(8)
    step = BatchFn(fn, {"p": p}, rowwise=False)  # type: ignore[arg-type]
    assert step._prepared is not None
    torch.manual_seed(3)
    fast = step(x)
    after_fast = torch.rand(1)
    torch.manual_seed(3)
    checked = fn(x, p=p)  # type: ignore[operator]
    after_checked = torch.rand(1)
    torch.testing.assert_close(fast, checked, rtol=0, atol=0)
    assert torch.equal(after_fast, after_checked)  # the RNG stream advanced alike
    if p == 1:
        torch.testing.assert_close(fast, x.flip(dim))


def test_prepared_flip_keeps_the_shape_error() -> None:
    step = BatchFn(transforms.random_vertical_flip, {"p": 0.5}, rowwise=False)
    with pytest.raises(ShapeError, match="'augment_random_vertical_flip' needs an input of at"):
        step(torch.ones(4, 5))


def test_prepared_steps_pickle() -> None:
    step = BatchFn(transforms.normalize, {"mean": 0.5, "std": 0.25}, rowwise=False)
    again = pickle.loads(pickle.dumps(step))
    x = _images()
    torch.testing.assert_close(again(x), step(x), rtol=0, atol=0)


def test_rowwise_steps_are_never_prepared() -> None:
    step = BatchFn(transforms.normalize, {"mean": 0.5, "std": 0.25}, rowwise=True)
    assert step._prepared is None
    x = _images()
    torch.testing.assert_close(step(x), (x - 0.5) / 0.25)


def test_tensor_rows_dataset_reads_an_id_array_like_getitems() -> None:
    data = TensorRowsDataset(torch.arange(20.0).view(10, 2))
    ids = np.array([4, 0, 9, 4], dtype=np.int64)
    assert torch.equal(data.getitems_array(ids)["x"], data.__getitems__(ids.tolist())["x"])


def _lazy_frame(x: torch.Tensor) -> pd.DataFrame:
    return pd.DataFrame({"img": as_lazy_tensor(x)})


def test_lazy_rows_direct_batches_equal_materialized_ones() -> None:
    x = _images(10)
    op = tw.po("trafo_normalize", mean=0.5, std=0.25)
    task = tw.TaskRegr(_lazy_frame(x).assign(y=np.arange(10.0)), target="y")
    out = op.train([task])[0]
    rows = _LazyTensorRows(out.data(cols="img"))
    assert rows.direct
    positions = np.array([7, 2, 2, 0], dtype=np.int64)
    got = rows(positions)
    torch.testing.assert_close(got, (x[[7, 2, 2, 0]] - 0.5) / 0.25, rtol=0, atol=0)
    assert rows(np.array([], dtype=np.int64)).shape[0] == 0


def test_lazy_rows_with_missing_elements_keep_the_checked_path() -> None:
    lazy = as_lazy_tensor(_images(4)).take([0, 1, -1, 3], allow_fill=True)
    frame = pd.DataFrame({"img": lazy})
    rows = _LazyTensorRows(frame)
    assert not rows.direct
    torch.testing.assert_close(rows(np.array([0, 1], dtype=np.int64)), _images(4)[[0, 1]])
    with pytest.raises(InvalidParameterError, match="lazy tensor 'img': it has missing elements"):
        rows(np.array([2], dtype=np.int64))
