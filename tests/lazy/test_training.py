"""Torch learners on lazy tensor columns: workers, multimodal, warnings, shape checks."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

import torchweave as tw
from torchweave.errors import ShapeError
from torchweave.lazy import as_lazy_tensor, materialize, pipeop_preproc_torch
from torchweave.training.dataset import TaskDataset


def normalize(x, mean=0.5, std=0.25):
    return (x - mean) / std


def random_flip(x, p=0.5):
    flip = torch.rand(x.shape[0], device=x.device) < p
    return torch.where(flip.view(-1, *[1] * (x.dim() - 1)), x.flip(-1), x)


def crop(x, size=6):
    return x[..., :size, :size]


def crop_shape(shape, size=6):
    return None if shape is None else (*shape[:-2], size, size)


PipeOpPreprocTorchTrafoNorm = pipeop_preproc_torch("trafo_norm", normalize, shapes_out="infer")
PipeOpPreprocTorchAugmentFlip = pipeop_preproc_torch("augment_flip", random_flip, "infer")
PipeOpPreprocTorchAugmentCrop = pipeop_preproc_torch("augment_crop6", crop, crop_shape)


def image_task(n=60, seed=0):
    """Bright or dark 1x8x8 images (the class), plus a numeric column."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 1, 8, 8, generator=g) * 0.5 + 0.5 * labels.view(-1, 1, 1, 1)
    frame = pd.DataFrame(
        {
            "image": as_lazy_tensor(images),
            "noise": np.random.default_rng(seed).normal(size=n),
            "class": pd.Categorical(np.where(labels.numpy() == 1, "bright", "dark")),
        }
    )
    return tw.TaskClassif(frame, target="class", id="images")


def conv_graph(*preproc, **model_args):
    args = {"epochs": 3, "batch_size": 16, "seed": 1, **model_args}
    graph = None
    for op in preproc:
        graph = op if graph is None else graph >> op
    net = (
        tw.po("torch_ingress_ltnsr", feature_name="image")
        >> tw.nn("conv2d", out_channels=4, kernel_size=3, padding=1)
        >> tw.nn("relu")
        >> tw.nn("max_pool2d", kernel_size=2)
        >> tw.nn("flatten")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.05))
        >> tw.po("torch_model_classif", **args)
    )
    return net if graph is None else graph >> net


TRAIN = [i for i in range(60) if i % 4 < 2]
TEST = [i for i in range(60) if i % 4 >= 2]


def test_trains_and_predicts_on_a_lazy_column():
    task = image_task()
    learner = tw.as_learner(
        conv_graph(PipeOpPreprocTorchTrafoNorm(), PipeOpPreprocTorchAugmentFlip())
    )
    learner.train(task, row_ids=TRAIN)
    pred = learner.predict(task, row_ids=TEST)
    assert pred.score(tw.msr("classif.acc"))["classif.acc"] >= 0.9
    again = tw.as_learner(
        conv_graph(PipeOpPreprocTorchTrafoNorm(), PipeOpPreprocTorchAugmentFlip())
    ).train(task, row_ids=TRAIN)
    second = again.predict(task, row_ids=TEST)
    assert list(second.response) == list(pred.response)  # the seed covers the augmentation
    restored = pickle.loads(pickle.dumps(learner))
    assert list(restored.predict(task, row_ids=TEST).response) == list(pred.response)


def test_two_workers_give_the_same_model_as_none():
    task = image_task(n=40)

    def fit(workers):
        graph = conv_graph(
            PipeOpPreprocTorchTrafoNorm(), epochs=1, shuffle=False, num_workers=workers
        )
        learner = tw.as_learner(graph)
        learner.predict_type = "prob"
        return learner.train(task).predict(task).prob

    assert np.allclose(fit(0), fit(2), atol=1e-6)


def test_multimodal_lazy_and_numeric_branches():
    task = image_task()
    image = (
        PipeOpPreprocTorchTrafoNorm()
        >> tw.po("torch_ingress_ltnsr", feature_name="image")
        >> tw.nn("flatten")
    )
    numeric = tw.po("select", selector=tw.selector_type("numeric")) >> tw.po("torch_ingress_num")
    graph = (
        tw.po("copy", outnum=2)
        >> [image, numeric]
        >> tw.nn("merge_cat")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.05))
        >> tw.po("torch_model_classif", epochs=3, batch_size=16, seed=1)
    )
    md = graph.train(task)
    learner = graph.pipeops["torch_model_classif"].state
    assert set(learner.ingress_tokens) == {"torch_ingress_ltnsr.input", "torch_ingress_num.input"}
    # the head sees the 64 flattened pixels and the numeric column
    assert learner.network.layers.head.weight.shape == (1, 65)
    assert md == {"torch_model_classif.output": None}
    pred = graph.predict(task)["torch_model_classif.output"]
    assert pred.score(tw.msr("classif.acc"))["classif.acc"] >= 0.9


def test_tensor_dataset_freezes_random_augmentation_with_a_warning():
    graph = conv_graph(PipeOpPreprocTorchAugmentFlip(), epochs=1, tensor_dataset=True)
    with pytest.warns(UserWarning, match=r"random augmentation \(augment_flip.image\).*frozen"):
        tw.as_learner(graph).train(image_task(n=20))


def test_train_only_shape_change_is_refused():
    graph = conv_graph(PipeOpPreprocTorchAugmentCrop(), epochs=1)
    with pytest.raises(
        ShapeError,
        match=r"column 'image' has a different shape at predict time \(None, 1, 8, 8\) than "
        r"during training \(None, 1, 6, 6\)",
    ):
        tw.as_learner(graph).train(image_task(n=20))
    # at both stages the shapes agree and training works
    both = PipeOpPreprocTorchAugmentCrop(param_vals={"stages": "both"})
    tw.as_learner(conv_graph(both, epochs=1)).train(image_task(n=20))


class CountingDataset(torch.utils.data.Dataset):
    def __init__(self, x):
        self.x, self.batches = x, 0

    def __getitem__(self, i):
        return {"x": self.x[i]}

    def __getitems__(self, ids):
        self.batches += 1
        return {"x": self.x[ids]}

    def __len__(self):
        return len(self.x)


def test_task_dataset_reads_a_shared_dataset_once_per_batch():
    from torchweave.lazy import ingress_ltnsr

    data = CountingDataset(torch.rand(12, 2))
    lt = as_lazy_tensor(data)
    frame = pd.DataFrame({"a": lt, "b": lt[:], "y": np.arange(12.0)})
    task = tw.TaskRegr(frame, target="y")
    tokens = {"a": ingress_ltnsr(task, "a"), "b": ingress_ltnsr(task, "b")}
    dataset = TaskDataset(task, tokens)
    data.batches = 0
    batch = dataset.__getitems__([5, 2, 7])
    assert data.batches == 1
    assert torch.equal(batch["x"]["a"], data.x[[5, 2, 7]])
    assert torch.equal(batch["x"]["b"], batch["x"]["a"])
    assert batch["y"].flatten().tolist() == [5.0, 2.0, 7.0]


def test_task_dataset_of_a_lazy_column_pickles():
    task = image_task(n=8)
    graph = PipeOpPreprocTorchTrafoNorm() >> tw.po("torch_ingress_ltnsr", feature_name="image")
    md = graph.train(task)["torch_ingress_ltnsr.output"]
    dataset = TaskDataset(md.task, md.ingress)
    restored = pickle.loads(pickle.dumps(dataset))
    expected = dataset.__getitems__([3, 0])["x"]["torch_ingress_ltnsr.input"]
    got = restored.__getitems__([3, 0])["x"]["torch_ingress_ltnsr.input"]
    assert torch.equal(got, expected)
    raw = materialize(task.data(rows=[3], cols="image")["image"], rbind=True)
    assert torch.allclose(expected[:1], normalize(raw))


def test_digits_conv_net_done_when():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16
    frame = pd.DataFrame(
        {
            "image": as_lazy_tensor(images),
            "class": pd.Categorical(digits.target.astype(str)),
        }
    )
    task = tw.TaskClassif(frame, target="class", id="digits")
    graph = (
        PipeOpPreprocTorchTrafoNorm(param_vals={"mean": 0.3, "std": 0.4})
        >> PipeOpPreprocTorchAugmentFlip()
        >> tw.po("torch_ingress_ltnsr")
        >> tw.nn("conv2d", out_channels=8, kernel_size=3, padding=1)
        >> tw.nn("relu")
        >> tw.nn("max_pool2d", kernel_size=2)
        >> tw.nn("flatten")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.01))
        >> tw.po("torch_model_classif", epochs=4, batch_size=32, seed=1)
    )
    learner = tw.as_learner(graph)
    rr = tw.resample(task, learner, tw.rsmp("holdout", ratio=0.7, random_state=1))
    assert rr.aggregate(tw.msr("classif.acc"))["classif.acc"] >= 0.9


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("tensor_dataset", [False, "device"])
def test_lazy_column_trains_on_cuda_and_predicts_on_the_cpu_after_pickling(tensor_dataset):
    task = image_task()
    graph = conv_graph(PipeOpPreprocTorchTrafoNorm(), device="cuda", tensor_dataset=tensor_dataset)
    learner = tw.as_learner(graph).train(task, row_ids=TRAIN)
    network = learner.graph.pipeops["torch_model_classif"].state.model.network
    assert all(p.device.type == "cuda" for p in network.parameters())
    pred = learner.predict(task, row_ids=TEST)
    assert pred.score(tw.msr("classif.acc"))["classif.acc"] >= 0.9
    restored = pickle.loads(pickle.dumps(learner))
    restored.graph.pipeops["torch_model_classif"].state.param_set.set_values(device="cpu")
    assert list(restored.predict(task, row_ids=TEST).response) == list(pred.response)


def test_auto_trains_lazy_columns_batch_by_batch_without_freezing_augmentations():
    graph = conv_graph(PipeOpPreprocTorchAugmentFlip(), epochs=1)  # tensor_dataset="auto"
    learner = tw.as_learner(graph).train(image_task(n=20))  # warnings are errors here
    assert learner.base_learner().model.data_path == "loader"


def test_task_dataset_builds_lazy_batches_from_row_positions_like_the_batchgetter():
    task = image_task(n=12)
    graph = PipeOpPreprocTorchAugmentFlip() >> tw.po("torch_ingress_ltnsr", feature_name="image")
    md = graph.train(task)["torch_ingress_ltnsr.output"]
    dataset = TaskDataset(md.task, md.ingress)
    (name,) = md.ingress
    assert set(dataset.row_getters) == {name}  # no pandas slicing per batch
    positions = [7, 2, 2, 11, 0]
    torch.manual_seed(3)
    got = dataset.__getitems__(positions)["x"][name]
    torch.manual_seed(3)
    frame = dataset.frames[name].iloc[positions]
    expected = md.ingress[name].batchgetter(frame, cache={})
    assert got.shape == (5, 1, 8, 8)
    assert torch.equal(got, expected)
    restored = pickle.loads(pickle.dumps(dataset))  # spawned DataLoader workers pickle it
    torch.manual_seed(3)
    assert torch.equal(restored.__getitems__(positions)["x"][name], expected)
