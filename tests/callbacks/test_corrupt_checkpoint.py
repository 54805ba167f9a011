"""Corrupt checkpoint files are a CorruptCheckpointError naming the file (issue 13).

Each kind of damage is made from a real checkpoint: the first half of the file, random
bytes, an empty file, the zip archive without its pickle, and a pickle that references
``os.system``. None of the messages suggests loading the file with weights_only off.
"""

import os
import pickle
import zipfile

import numpy as np
import pytest
from torch import nn

import torchweave as tw
from torchweave.errors import CorruptCheckpointError
from torchweave.training.checkpoint_io import load_checkpoint, load_part

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
RAN = []


def _record(*args):
    RAN.append(args)
    return 0


def learner(path, epochs=2, resume=False):
    cb = tw.t_clbk("checkpoint", path=str(path), freq=1)
    out = tw.LearnerTorchModel(
        network=nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),
        ingress_tokens={"x": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))},
        task_type="classif",
        callbacks=[cb],
    )
    return out.configure(epochs=epochs, batch_size=50, device="cpu", seed=1, resume=resume)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    learner(folder).train(tw.tsk("iris"))
    return folder


def _truncated(raw, path):
    path.write_bytes(raw[: len(raw) // 2])


def _random_bytes(raw, path):
    path.write_bytes(np.random.default_rng(1).integers(0, 256, len(raw), dtype=np.uint8).tobytes())


def _empty(raw, path):
    path.write_bytes(b"")


def _rewrite_zip(raw, path, pickle_bytes):
    source = path.with_suffix(".orig")
    source.write_bytes(raw)
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w") as zout:
        for name in zin.namelist():
            if name.endswith("/data.pkl"):
                if pickle_bytes is not None:
                    zout.writestr(name, pickle_bytes)
            else:
                zout.writestr(name, zin.read(name))
    source.unlink()


def _missing_entry(raw, path):
    _rewrite_zip(raw, path, None)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo tampered",))


def _tampered(raw, path):
    _rewrite_zip(raw, path, pickle.dumps({"epoch": _Evil()}, protocol=2))


DAMAGE = {
    "truncated": _truncated,
    "random bytes": _random_bytes,
    "empty": _empty,
    "missing entry": _missing_entry,
    "tampered": _tampered,
}


def _damaged_copy(saved, tmp_path, part, damage):
    folder = tmp_path / "run"
    folder.mkdir()
    for entry in saved.iterdir():
        (folder / entry.name).write_bytes(entry.read_bytes())
    target = folder / f"{part}2.pt"
    DAMAGE[damage](target.read_bytes(), target)
    return folder, target


@pytest.mark.parametrize("part", ["network", "optimizer", "state"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_file_is_a_corrupt_checkpoint_error_naming_it(saved, tmp_path, part, damage):
    folder, target = _damaged_copy(saved, tmp_path, part, damage)
    with pytest.raises(CorruptCheckpointError, match=r"is corrupt") as info:
        load_checkpoint(folder, 2)
    message = str(info.value)
    assert str(target) in message
    assert "weights_only=False" not in message
    assert "weights_only" not in message
    assert info.value.__cause__ is None  # torch's advice to turn weights_only off is not chained
    assert isinstance(info.value, tw.Error)
    assert isinstance(info.value, ValueError)


def test_a_tampered_pickle_is_refused_without_running_it(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "system", _record)
    RAN.clear()
    _, target = _damaged_copy(saved, tmp_path, "state", "tampered")
    with pytest.raises(CorruptCheckpointError, match=r"tampered with") as info:
        load_part(target)
    assert RAN == []
    assert str(target) in str(info.value)
    assert "weights_only" not in str(info.value)


def test_resume_from_a_truncated_checkpoint_names_the_file(saved, tmp_path):
    folder, target = _damaged_copy(saved, tmp_path, "network", "truncated")
    assert target.name == "network2.pt"
    with pytest.raises(CorruptCheckpointError, match=r"network2\.pt' is corrupt") as info:
        learner(folder, epochs=3, resume=True).train(tw.tsk("iris"))
    assert "weights_only" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [([1, 2], "should hold a dict, but it holds a list"), ({"epoch": "2"}, "'epoch' entry")],
)
def test_a_readable_file_without_a_checkpoints_structure_is_corrupt(
    saved, tmp_path, content, problem
):
    import torch

    folder, target = _damaged_copy(saved, tmp_path, "state", "empty")
    torch.save(content, target)
    with pytest.raises(CorruptCheckpointError, match=problem) as info:
        load_checkpoint(folder, 2)
    assert str(target) in str(info.value)


def test_an_intact_checkpoint_still_loads(saved):
    out = load_checkpoint(saved, 2)
    assert out["state"]["epoch"] == 2
    assert set(out) == {"network", "optimizer", "state"}
