"""SliceLoader: batches of preloaded tensors, gathered chunk-wise when shuffling."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torchweave.training.dataset import SliceLoader, TensorDataset


def _data(n: int, with_y: bool = True) -> TensorDataset:
    x = torch.arange(n * 3, dtype=torch.float32).reshape(n, 3)
    img = torch.arange(n * 4, dtype=torch.float32).reshape(n, 1, 2, 2)
    y = torch.arange(n, dtype=torch.float32).reshape(n, 1) if with_y else None
    return TensorDataset({"x": x, "img": img}, y)


def _epoch(loader: SliceLoader) -> list[dict]:
    return list(loader)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 90),
    batch_size=st.integers(1, 17),
    chunk_batches=st.integers(1, 8),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    with_y=st.booleans(),
)
def test_batches_are_the_rows_at_their_index(
    n: int, batch_size: int, chunk_batches: int, shuffle: bool, drop_last: bool, with_y: bool
) -> None:
    data = _data(n, with_y)
    row_bytes = (3 + 4 + (1 if with_y else 0)) * 4
    loader = SliceLoader(
        data,
        batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(3),
        chunk_bytes=chunk_batches * batch_size * row_bytes,
    )
    batches = _epoch(loader)
    assert len(batches) == len(loader)
    expected_batches = n // batch_size if drop_last else math.ceil(n / batch_size)
    assert len(batches) == expected_batches
    seen = []
    for batch in batches:
        idx = batch["index"]
        assert idx.dtype == torch.int64
        assert len(idx) == (batch_size if drop_last else len(idx))
        assert 1 <= len(idx) <= batch_size
        for name, tensor in data.x.items():
            assert torch.equal(batch["x"][name], tensor[idx])
        if with_y:
            assert torch.equal(batch["y"], data.y[idx])
        else:
            assert "y" not in batch
        seen += idx.tolist()
    assert len(set(seen)) == len(seen)  # no row twice in an epoch
    if not drop_last:
        assert sorted(seen) == list(range(n))
    if not shuffle:
        assert seen == sorted(seen)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 80), batch_size=st.integers(1, 9), chunk_batches=st.integers(1, 5))
def test_chunk_size_does_not_change_the_batches(
    n: int, batch_size: int, chunk_batches: int
) -> None:
    def run(chunk_bytes: int) -> list[list[int]]:
        loader = SliceLoader(
            _data(n),
            batch_size,
            shuffle=True,
            drop_last=False,
            generator=torch.Generator().manual_seed(7),
            chunk_bytes=chunk_bytes,
        )
        return [[b["index"].tolist() for b in loader] for _ in range(2)]

    assert run(chunk_batches * batch_size * 32) == run(2**26)


def test_permutations_follow_the_dataloader_draws() -> None:
    """Same seed, same epoch orders as torch's shuffling DataLoader (lazy path)."""
    n, bs = 23, 5
    loader = SliceLoader(
        _data(n), bs, shuffle=True, drop_last=False, generator=torch.Generator().manual_seed(11)
    )
    reference = torch.utils.data.DataLoader(
        range(n), batch_size=bs, shuffle=True, generator=torch.Generator().manual_seed(11)
    )
    for _ in range(3):
        ours = [b["index"].tolist() for b in loader]
        theirs = [b.tolist() for b in reference]
        assert ours == theirs


def test_shuffled_batches_are_views_of_one_gathered_chunk() -> None:
    loader = SliceLoader(
        _data(40), 8, shuffle=True, drop_last=False, generator=torch.Generator().manual_seed(0)
    )
    batches = list(loader)  # kept alive: a freed chunk's memory could be reused
    bases = {b["x"]["x"].untyped_storage().data_ptr() for b in batches}
    assert len(bases) == 1  # 40 rows of 32 bytes: one chunk for the epoch
    small = SliceLoader(
        _data(40),
        8,
        shuffle=True,
        drop_last=False,
        generator=torch.Generator().manual_seed(0),
        chunk_bytes=16 * 32,
    )
    batches = list(small)
    assert len({b["x"]["x"].untyped_storage().data_ptr() for b in batches}) == 3  # 16+16+8 rows
