import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

import torchweave as tw
from torchweave.errors import TaskError
from torchweave.lazy import download as dl
from torchweave.lazy import tasks as lazy_tasks
from torchweave.lazy.image import task_from_image_folder
from torchweave.lazy.lazy_tensor import lazy_shape
from torchweave.lazy.materialize import materialize


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def lazy_column(task, name):
    return task.data(cols=[name])[name]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("TORCHWEAVE_CACHE", str(root))
    return root


@pytest.fixture
def fetches(monkeypatch):
    calls = []
    original = dl.fetch_url

    def counting(url, out):
        calls.append(url.rsplit("/", 1)[-1])
        original(url, out)

    monkeypatch.setattr(dl, "fetch_url", counting)
    return calls


# --- offline tasks --------------------------------------------------------------------------
def test_lazy_iris():
    task = tw.tsk("lazy_iris")
    iris = tw.tsk("iris")
    assert (task.id, task.nrow, task.feature_names) == ("lazy_iris", 150, ["x"])
    assert task.feature_types == {"x": "lazy_tensor"}
    assert task.target_names == ["species"]
    assert task.truth().tolist() == iris.truth().tolist()
    x = lazy_column(task, "x")
    assert lazy_shape(x) == (None, 4)
    values = materialize(x, rbind=True)
    assert values.dtype == torch.float32
    expected = torch.tensor(iris.data(cols=iris.feature_names).to_numpy(), dtype=torch.float32)
    torch.testing.assert_close(values, expected)


def test_digits():
    task = tw.tsk("digits")
    assert (task.id, task.nrow, task.feature_names) == ("digits", 1797, ["image"])
    assert task.class_names == [str(d) for d in range(10)]
    image = lazy_column(task, "image")
    assert lazy_shape(image) == (None, 1, 8, 8)
    rows = materialize(image[:5], rbind=True)
    bunch = load_digits()
    assert rows.shape == (5, 1, 8, 8) and rows.dtype == torch.float32
    torch.testing.assert_close(rows[:, 0], torch.tensor(bunch.images[:5] / 16, dtype=torch.float32))
    assert task.truth().tolist()[:5] == [str(t) for t in bunch.target[:5]]
    assert tw.tsk("digits") is not task
    table = tw.registry.tasks.table().set_index("key")
    assert {"lazy_iris", "digits", "mnist", "cifar10"} <= set(table.index)
    assert "\n" not in table.loc["mnist", "description"]


# --- mnist ----------------------------------------------------------------------------------
def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(
        f">{array.ndim}i", *array.shape
    )
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_files(tmp_path, monkeypatch):
    served = tmp_path / "mirror"
    served.mkdir()
    rng = np.random.default_rng(0)
    data = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.array([5, 0, 4, 1, 9]),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.array([7, 2, 1]),
    }
    for name, array in data.items():
        write_idx(served / name, array)
    monkeypatch.setattr(lazy_tasks, "MNIST_MIRRORS", (served.as_uri() + "/",))
    monkeypatch.setattr(
        lazy_tasks, "MNIST_RESOURCES", tuple((name, md5(served / name)) for name in data)
    )
    return served, data


def test_mnist_download_parse_and_cache_hit(cache, fetches, mnist_files):
    _, data = mnist_files
    task = tw.tsk("mnist")
    assert sorted(fetches) == sorted(data)
    assert (task.id, task.nrow, task.feature_names) == ("mnist", 8, ["image"])
    assert task.truth().tolist() == ["5", "0", "4", "1", "9", "7", "2", "1"]
    assert task.class_names == [str(d) for d in range(10)]
    split = task.data(cols=["split"])["split"]
    assert split.tolist() == ["train"] * 5 + ["test"] * 3
    image = lazy_column(task, "image")
    assert lazy_shape(image) == (None, 1, 28, 28)
    values = materialize(image, rbind=True)
    expected = np.concatenate(
        [data["train-images-idx3-ubyte.gz"], data["t10k-images-idx3-ubyte.gz"]]
    )
    torch.testing.assert_close(values[:, 0], torch.tensor(expected / 255, dtype=torch.float32))
    test_rows = task.row_ids[np.flatnonzero(split == "test")]
    test_task = task.clone().filter(test_rows)
    assert test_task.nrow == 3 and test_task.truth().tolist() == ["7", "2", "1"]
    torch.testing.assert_close(materialize(lazy_column(test_task, "image"), rbind=True), values[5:])
    entry = cache / "datasets" / "mnist"
    assert sorted(os.listdir(entry)) == ["images.npy", "labels.npy", "meta.json"]
    assert sorted(os.listdir(cache / "datasets")) == ["mnist"]

    again = tw.tsk("mnist")  # a cache hit: nothing fetched
    assert len(fetches) == 4
    assert again.nrow == 8 and again is not task
    torch.testing.assert_close(
        materialize(lazy_column(again, "image")[5:6], rbind=True), values[5:6]
    )


def test_mnist_checksum_failure_leaves_nothing(cache, fetches, mnist_files, monkeypatch):
    resources = list(lazy_tasks.MNIST_RESOURCES)
    resources[2] = (resources[2][0], "0" * 32)
    monkeypatch.setattr(lazy_tasks, "MNIST_RESOURCES", tuple(resources))
    with pytest.raises(dl.DownloadError, match=r"t10k-images-idx3-ubyte\.gz.*instead of 0{32}"):
        tw.tsk("mnist")
    assert os.listdir(cache / "datasets") == []


def test_mnist_corrupt_file_leaves_nothing(cache, mnist_files, monkeypatch):
    served, _ = mnist_files
    with gzip.open(served / "train-labels-idx1-ubyte.gz", "wb") as handle:
        handle.write(struct.pack(">BBBBi", 0, 0, 8, 1, 5) + bytes([1, 2]))  # truncated
    resources = dict(lazy_tasks.MNIST_RESOURCES)
    resources["train-labels-idx1-ubyte.gz"] = md5(served / "train-labels-idx1-ubyte.gz")
    monkeypatch.setattr(lazy_tasks, "MNIST_RESOURCES", tuple(resources.items()))
    with pytest.raises(TaskError, match=r"declares \(5,\) values but holds 2"):
        tw.tsk("mnist")
    assert os.listdir(cache / "datasets") == []


# --- cifar10 --------------------------------------------------------------------------------
CIFAR_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def add_member(archive, name, content):
    payload = content if isinstance(content, bytes) else pickle.dumps(content, protocol=2)
    info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
    info.size = len(payload)
    archive.addfile(info, io.BytesIO(payload))


def write_cifar(path, rows_per_batch=2, test_rows=3, replace=None):
    rng = np.random.default_rng(1)
    batches = {}
    with tarfile.open(path, "w:gz") as archive:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            n = test_rows if name == "test_batch" else rows_per_batch
            batch = {
                b"batch_label": name.encode(),
                b"labels": [int(v) for v in rng.integers(0, 10, n)],
                b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
                b"filenames": [f"img_{i}.png".encode() for i in range(n)],
            }
            batches[name] = batch
            add_member(archive, name, (replace or {}).get(name, batch))
        meta = {
            b"label_names": [c.encode() for c in CIFAR_CLASSES],
            b"num_cases_per_batch": rows_per_batch,
            b"num_vis": 3072,
        }
        add_member(archive, "batches.meta", meta)
    return batches


@pytest.fixture
def cifar_file(tmp_path, monkeypatch):
    path = tmp_path / "mirror" / "cifar-10-python.tar.gz"
    path.parent.mkdir()
    batches = write_cifar(path)
    monkeypatch.setattr(lazy_tasks, "CIFAR10_URLS", (path.as_uri(),))
    monkeypatch.setattr(lazy_tasks, "CIFAR10_MD5", md5(path))
    return path, batches


def test_cifar10_download_parse_and_cache_hit(cache, fetches, cifar_file):
    _, batches = cifar_file
    task = tw.tsk("cifar10")
    assert fetches == ["cifar-10-python.tar.gz"]
    assert (task.id, task.nrow, task.class_names) == ("cifar10", 13, CIFAR_CLASSES)
    order = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    labels = [label for name in order for label in batches[name][b"labels"]]
    assert task.truth().tolist() == [CIFAR_CLASSES[i] for i in labels]
    assert task.data(cols=["split"])["split"].tolist() == ["train"] * 10 + ["test"] * 3
    image = lazy_column(task, "image")
    assert lazy_shape(image) == (None, 3, 32, 32)
    values = materialize(image, rbind=True)
    raw = np.concatenate([batches[name][b"data"] for name in order]).reshape(-1, 3, 32, 32)
    torch.testing.assert_close(values, torch.tensor(raw / 255, dtype=torch.float32))
    # channel-first: the first 1024 values of a row are its red channel
    torch.testing.assert_close(
        values[0, 0].flatten(), torch.tensor(raw[0, 0].ravel() / 255, dtype=torch.float32)
    )
    assert sorted(os.listdir(cache / "datasets" / "cifar10")) == [
        "images.npy",
        "labels.npy",
        "meta.json",
    ]
    assert tw.tsk("cifar10").nrow == 13
    assert len(fetches) == 1


def test_cifar10_checksum_failure_leaves_nothing(cache, cifar_file, monkeypatch):
    monkeypatch.setattr(lazy_tasks, "CIFAR10_MD5", "f" * 32)
    with pytest.raises(dl.DownloadError, match=r"cifar-10-python\.tar\.gz.*instead of f{32}"):
        tw.tsk("cifar10")
    assert os.listdir(cache / "datasets") == []


class Evil:
    def __reduce__(self):
        return (os.system, ("echo unsafe",))


def test_cifar10_refuses_unsafe_pickles(cache, tmp_path, monkeypatch):
    path = tmp_path / "evil.tar.gz"
    write_cifar(path, replace={"data_batch_3": {b"data": Evil()}})
    monkeypatch.setattr(lazy_tasks, "CIFAR10_URLS", (path.as_uri(),))
    monkeypatch.setattr(lazy_tasks, "CIFAR10_MD5", md5(path))
    with pytest.raises(TaskError, match=r"data_batch_3.*'\w+\.system', which is not allowed"):
        tw.tsk("cifar10")
    assert os.listdir(cache / "datasets") == []


def test_cached_image_dataset_pickles(cache, mnist_files):
    task = tw.tsk("mnist")
    image = lazy_column(task, "image")
    again = pickle.loads(pickle.dumps(image))
    torch.testing.assert_close(materialize(again, rbind=True), materialize(image, rbind=True))


# --- done when: an image-folder task trains end to end --------------------------------------
def test_image_folder_task_trains_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    for cls, level in (("dark", 40), ("light", 215)):
        (tmp_path / "shades" / cls).mkdir(parents=True)
        for i in range(6):
            noise = rng.integers(-30, 30, (8, 8, 3))
            pixels = np.clip(level + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "shades" / cls / f"{i}.png")
    task = task_from_image_folder(tmp_path / "shades")
    graph = (
        tw.po("torch_ingress_ltnsr")
        >> tw.nn("flatten")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.05))
        >> tw.po("torch_model_classif", epochs=10, batch_size=4, device="cpu", seed=1)
    )
    learner = tw.as_learner(graph)
    learner.train(task)
    prediction = learner.predict(task)
    assert prediction.response.tolist() == task.truth().tolist()
    assert prediction.score(tw.msr("classif.acc"))["classif.acc"] == 1.0
