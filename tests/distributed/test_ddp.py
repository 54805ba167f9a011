"""Data-parallel training: 2 gloo processes equal one process with the same global batch."""

import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.distributed.ddp import _free_port, shard_loader
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.training.dataset import TensorDataset

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
CUDA = torch.cuda.is_available()


def initial_network():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def learner(batch_size, device="cpu", callbacks=("history",), **params):
    """A seeded MLP on iris, validated on 20% of the rows, in a fixed row order."""
    network = initial_network()
    out = tw.LearnerTorchModel(
        network=network,
        ingress_tokens={"x": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))},
        task_type="classif",
        callbacks=list(callbacks),
        optimizer=tw.t_opt("adam", lr=0.05),
    )
    out.validate = 0.2
    settings = {
        "epochs": 6,
        "batch_size": batch_size,
        "device": device,
        "seed": 3,
        "shuffle": False,
        "measures_train": "classif.logloss",
        "measures_valid": ["classif.logloss", "classif.acc"],
        **params,
    }
    return out.configure(**settings)


def assert_close_weights(a, b, atol=1e-5):
    sa, sb = a.network.state_dict(), b.network.state_dict()
    for key in sa:
        torch.testing.assert_close(sa[key].cpu(), sb[key].cpu(), atol=atol, rtol=1e-4, msg=key)


def test_two_gloo_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    task = tw.tsk("iris")
    # Early stopping needs an improvement of more than 1 in logloss: it stops after 3 epochs.
    stop = {"patience": 2, "min_delta": 1.0}
    single = learner(24, **stop).train(task)
    checkpoint = tw.t_clbk("checkpoint", path=str(tmp_path / "ckpt"), freq=1)
    ddp = learner(12, callbacks=["history", checkpoint], **stop)
    returned = tw.train_distributed(ddp, task, nprocs=2, backend="gloo")
    assert returned is ddp and ddp.is_trained
    assert_close_weights(ddp, single)
    # Trained: far from the initial weights.
    init = initial_network().state_dict()["0.weight"]
    assert not torch.allclose(ddp.network.state_dict()["0.weight"], init, atol=0.01)
    # Validation over all ranks: the scores of the single process; the same early stop.
    assert ddp.model.epochs == single.model.epochs == 3
    for key, value in single.internal_valid_scores.items():
        assert ddp.internal_valid_scores[key] == pytest.approx(value, abs=1e-5)
    history, reference = ddp.model.callbacks["history"], single.model.callbacks["history"]
    assert list(history["epoch"]) == [1, 2, 3]
    for column in ("train.classif.logloss", "valid.classif.logloss", "valid.classif.acc"):
        assert list(history[column]) == pytest.approx(list(reference[column]), abs=1e-5)
    # Rank 0 alone wrote the checkpoints, one per epoch.
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("network*.pt")) == [
        "network1.pt",
        "network2.pt",
        "network3.pt",
    ]
    # The learner keeps its own loop and seed, and predicts as usual.
    assert ddp.loop_class is tw.TrainLoop and ddp.param_set.values["seed"] == 3
    assert ddp.predict(task).score(tw.msr("classif.acc"))["classif.acc"] > 0.6


@pytest.fixture
def launched_by_torchrun(monkeypatch):
    """One launched process (RANK=0, WORLD_SIZE=1) stands in for torchrun's processes."""
    for name, value in {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
    }.items():
        monkeypatch.setenv(name, value)


def test_under_torchrun_each_launched_process_trains_its_rank(launched_by_torchrun):
    task = tw.tsk("iris")
    ddp = tw.train_distributed(learner(24, seed="random"), task)
    assert not torch.distributed.is_initialized()  # the group it made is gone again
    assert ddp.param_set.values["seed"] == "random"
    single = learner(24, seed=ddp.model.seed).train(task)
    assert_close_weights(ddp, single)


def test_a_graph_learner_trains_its_torch_model_data_parallel(launched_by_torchrun):
    def graph_learner():
        torch.manual_seed(0)
        graph = (
            tw.po("scale")
            >> tw.po("torch_ingress_num")
            >> tw.nn("linear", out_features=8)
            >> tw.nn("relu")
            >> tw.nn("head")
            >> tw.po("torch_loss", loss="cross_entropy")
            >> tw.po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.05))
            >> tw.po(
                "torch_model_classif", epochs=3, batch_size=30, seed=2, device="cpu", shuffle=False
            )
        )
        return tw.as_learner(graph)

    task = tw.tsk("iris")
    ddp = tw.train_distributed(graph_learner(), task)
    single = graph_learner().train(task)
    a = ddp.model["torch_model_classif"].network.state_dict()
    b = single.model["torch_model_classif"].network.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4)
    assert (ddp.predict(task).response == single.predict(task).response).all()


def test_the_shards_of_two_ranks_interleave_into_the_global_batches():
    data = TensorDataset({"x": torch.arange(20.0).reshape(20, 1)}, torch.zeros(20, 1))

    def batches(rank, shuffle, epoch=0, seed=7):
        loader = shard_loader(
            data, 3, shuffle=shuffle, drop_last=False, seed=seed, rank=rank, world_size=2
        )
        loader.sampler.set_epoch(epoch)
        return [b["index"].tolist() for b in loader]

    r0, r1 = batches(0, shuffle=False), batches(1, shuffle=False)
    assert r0[0] == [0, 2, 4] and r1[0] == [1, 3, 5]
    global_batches = [sorted(a + b) for a, b in zip(r0, r1, strict=True)]
    assert global_batches[:3] == [list(range(0, 6)), list(range(6, 12)), list(range(12, 18))]
    # Shuffled: seeded (the same on every call), new each epoch, the ranks disjoint.
    assert batches(0, True) == batches(0, True)
    assert batches(0, True, epoch=1) != batches(0, True)
    rows = [i for b in batches(0, True) + batches(1, True) for i in b]
    assert sorted(rows) == list(range(20))


def test_bad_arguments_are_refused_before_starting_processes():
    task = tw.tsk("iris")
    with pytest.raises(
        InvalidTypeError, match="needs a torch learner.*Got LearnerClassifFeatureless"
    ):
        tw.train_distributed(tw.lrn("classif.featureless"), task, nprocs=2)
    with pytest.raises(InvalidParameterError, match="'backend' must be 'gloo' or 'nccl'"):
        tw.train_distributed(learner(12), task, nprocs=2, backend="mpi")
    with pytest.raises(InvalidParameterError, match="'nprocs' must be a positive integer"):
        tw.train_distributed(learner(12), task, backend="gloo")
    with pytest.raises(InvalidParameterError, match="'sampler' cannot be used"):
        tw.train_distributed(learner(12, sampler=lambda d: None), task, nprocs=2)
    if not CUDA:
        with pytest.raises(InvalidParameterError, match="0 CUDA device"):
            tw.train_distributed(learner(12), task, nprocs=1, backend="nccl")


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_nccl_with_one_process_equals_the_single_process_loop_on_cuda():
    task = tw.tsk("iris")
    single = learner(24, device="cuda").train(task)
    ddp = tw.train_distributed(learner(24, device="cuda"), task, nprocs=1, backend="nccl")
    assert_close_weights(ddp, single, atol=1e-4)
    assert ddp.model.epochs == single.model.epochs
