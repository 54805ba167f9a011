"""Every parameter of the torch learners (mlr3torch's PipeOpTorchModel page): its effect.

Each test shows what a parameter changes during training or prediction (batches seen,
threads in use, loaders built, scores recorded, weights kept), not only that it is
accepted. A probe callback records what the loop sees; small networks keep it fast.
"""

import builtins
import contextlib
import copy
import functools
import itertools
import math
import os
import pickle
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.errors import InvalidParameterError
from torchweave.training.dataset import SliceLoader, identity_collate

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
CUDA = torch.cuda.is_available()


# --- helpers ----------------------------------------------------------------------------------
class CallbackSetProbe(tw.CallbackSet):
    """Records what the loop shows a callback; kept as ``model.callbacks["probe"]``."""

    def __init__(self) -> None:
        super().__init__()
        self.rec: dict = {"batches": [], "weights": {}, "valid_batches": []}

    def on_begin(self) -> None:
        ctx = self.ctx
        self.rec["threads"] = torch.get_num_threads()
        self.rec["loader"] = ctx.loader_train
        self.rec["loader_valid"] = ctx.loader_valid
        self.rec["device"] = ctx.device

    def on_batch_begin(self) -> None:
        batch = self.ctx.batch
        self.rec["batches"].append((self.ctx.epoch, batch["index"].tolist()))
        self.rec["index_type"] = type(batch["index"])
        self.rec["x_device"] = next(iter(batch["x"].values())).device
        self.rec["y_first"] = batch["y"][:1].clone()

    def on_batch_valid_begin(self) -> None:
        self.rec["valid_batches"].append(len(self.ctx.batch["index"]))
        self.rec["valid_index_type"] = type(self.ctx.batch["index"])

    def on_valid_end(self) -> None:
        self.rec["weights"][self.ctx.epoch] = _weights(self.ctx.network)

    def on_epoch_end(self) -> None:
        self.rec.setdefault("epoch_end_weights", {})[self.ctx.epoch] = _weights(self.ctx.network)

    def state_dict(self) -> dict:
        return self.rec


PROBE = tw.TorchCallback(CallbackSetProbe, id="probe")


def _weights(network: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


def assert_same_weights(a: nn.Module | dict, b: nn.Module | dict) -> None:
    sa = a if isinstance(a, dict) else a.state_dict()
    sb = b if isinstance(b, dict) else b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=key)


def weights_differ(a: nn.Module, b: nn.Module) -> bool:
    return any(
        not torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def iris_token() -> tw.TorchIngressToken:
    return tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))


def iris_learner(network=None, callbacks=(PROBE,), **params):
    """A LearnerTorchModel on the iris features: 150 rows, 3 classes."""
    learner = tw.LearnerTorchModel(
        network=network if network is not None else nn.Linear(4, 3),
        ingress_tokens={"x": iris_token()},
        task_type="classif",
        callbacks=callbacks,
    )
    values = {"epochs": 2, "batch_size": 32, "device": "cpu", "seed": 1, "predict_type": "prob"}
    values.update(params)
    return learner.configure(**values)


def line_task(n: int = 64, seed: int = 0) -> tw.TaskRegr:
    """y = 2 x + noise: a regression a linear network learns steadily."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "y": 2 * x + 0.1 * rng.normal(size=n)})
    return tw.TaskRegr(frame, "y", id="line")


def line_learner(network=None, callbacks=(PROBE,), **params):
    """A linear regression network on ``line_task``, trained by full-batch SGD."""
    learner = tw.LearnerTorchModel(
        network=network if network is not None else nn.Linear(1, 1),
        ingress_tokens={"x": tw.TorchIngressToken(["x"], tw.batchgetter_num, (None, 1))},
        task_type="regr",
        optimizer=tw.t_opt("sgd", lr=0.1),
        callbacks=callbacks,
    )
    values = {"epochs": 5, "batch_size": 64, "device": "cpu", "seed": 1, "shuffle": False}
    return learner.configure(**{**values, **params})


def probe(learner) -> dict:
    return learner.model.callbacks["probe"]


def flat(batches: list[list[int]]) -> list[int]:
    return list(itertools.chain.from_iterable(batches))


def batches_per_epoch(learner) -> dict[int, list[list[int]]]:
    out: dict[int, list[list[int]]] = {}
    for epoch, idx in probe(learner)["batches"]:
        out.setdefault(epoch, []).append(idx)
    return out


class EvalBatchCounter(nn.Module):
    """A linear layer that records the batch size of every eval-mode forward call."""

    def __init__(self, n_in: int = 4, n_out: int = 3) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.eval_batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            self.eval_batches.append(x.shape[0])
        return self.linear(x)


class ThreadsSeen(nn.Module):
    """A linear layer that records torch's intra-op thread count in eval-mode calls."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.threads: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            self.threads.append(torch.get_num_threads())
        return self.linear(x)


class NoisyOutput(nn.Module):
    """Adds torch-RNG noise to the output also in eval mode (shows the predict seed)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x)
        return out + torch.rand_like(out)


# --- the parameters exist ----------------------------------------------------------------------
SEED_PAGE_PARAMETERS = [
    "epochs",
    "device",
    "num_threads",
    "num_interop_threads",
    "seed",
    "tensor_dataset",
    "measures_train",
    "measures_valid",
    "eval_freq",
    "patience",
    "min_delta",
    "batch_size",
    "shuffle",
    "sampler",
    "batch_sampler",
    "num_workers",
    "collate_fn",
    "pin_memory",
    "drop_last",
    "timeout",
    "worker_init_fn",
    "worker_globals",
    "worker_packages",
]


@pytest.mark.parametrize("key", ["torch_model_classif", "torch_model_regr"])
def test_every_parameter_of_the_seed_page_exists_on_the_pipeop(key):
    op = tw.po(key)
    ids = op.param_set.ids()
    assert set(SEED_PAGE_PARAMETERS) <= set(ids)
    assert {"restore_best_weights", "batch_size_predict", "jit_trace"} <= set(ids)
    # no opt./loss./cb. parameters: they come from the ModelDescriptor
    assert not [i for i in ids if i.startswith(("opt.", "loss.", "cb."))]
    assert op.param_set.values == {
        "device": "auto",
        "num_threads": 1,
        "seed": "random",
        "eval_freq": 1,
        "measures_train": [],
        "measures_valid": [],
        "patience": 0,
        "min_delta": 0.0,
        "restore_best_weights": False,
        "shuffle": True,
        "tensor_dataset": "auto",  # issue 20: mlr3torch's init is False
        "jit_trace": False,
    }


def test_learner_parameters_include_optimizer_loss_and_callback_prefixes():
    learner = iris_learner(callbacks=["history", PROBE])
    ids = learner.param_set.ids()
    assert set(SEED_PAGE_PARAMETERS) <= set(ids)
    assert {"opt.lr", "opt.betas", "loss.reduction", "loss.label_smoothing"} <= set(ids)


def test_epochs_is_required():
    learner = iris_learner()
    learner.param_set.remove_values("epochs")
    with pytest.raises(InvalidParameterError, match=r"required parameter\(s\) 'epochs'"):
        learner.train(tw.tsk("iris"))


# --- epochs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("epochs", [0, 1, 3])
def test_epochs_sets_the_number_of_epochs_trained(epochs):
    learner = iris_learner(
        callbacks=["history", PROBE], epochs=epochs, batch_size=50, measures_train="classif.ce"
    )
    learner.train(tw.tsk("iris"))
    assert learner.model.epochs == epochs
    assert len(probe(learner)["batches"]) == 3 * epochs
    history = learner.model.callbacks.get("history")
    if epochs == 0:
        assert history is None or len(history) == 0
    else:
        assert history["epoch"].tolist() == list(range(1, epochs + 1))


def test_epochs_zero_leaves_the_network_as_given():
    learner = iris_learner(epochs=0)
    learner.train(tw.tsk("iris"))
    assert_same_weights(learner.model.network, learner.network_template)


# --- device ------------------------------------------------------------------------------------
def test_device_cpu_trains_and_predicts_on_the_cpu():
    learner = iris_learner(device="cpu")
    learner.train(tw.tsk("iris"))
    rec = probe(learner)
    assert rec["device"] == torch.device("cpu")
    assert rec["x_device"].type == "cpu"
    assert all(p.device.type == "cpu" for p in learner.model.network.parameters())
    assert len(learner.predict(tw.tsk("iris")).response) == 150


def test_device_auto_resolves_to_cpu_without_an_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert tw.resolve_device("auto") == torch.device("cpu")
    learner = iris_learner(device="auto")
    assert learner.param_set.values["device"] == "auto"
    learner.train(tw.tsk("iris"))
    assert probe(learner)["device"] == torch.device("cpu")
    assert len(learner.predict(tw.tsk("iris")).response) == 150


def test_device_auto_is_the_initial_value():
    learner = tw.LearnerTorchModel(nn.Linear(4, 3), {"x": iris_token()})
    assert learner.param_set.values["device"] == "auto"


def test_device_cuda_without_cuda_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    learner = iris_learner(device="cuda")
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'device' parameter is 'cuda', but no CUDA device is available\. "
        r"Use device='auto' or 'cpu'\.",
    ):
        learner.train(tw.tsk("iris"))
    assert not learner.is_trained


def test_device_must_be_a_known_device():
    with pytest.raises(InvalidParameterError, match=r"'device'"):
        iris_learner(device="gpu")


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_device_cuda_trains_on_the_gpu_and_matches_the_cpu():
    task = tw.tsk("iris")
    start = nn.Linear(4, 3)  # both learners start from the same weights
    on_gpu = iris_learner(
        network=copy.deepcopy(start), device="cuda", shuffle=False, epochs=3
    ).train(task)
    rec = probe(on_gpu)
    assert rec["device"].type == "cuda"
    assert rec["x_device"].type == "cuda"
    assert all(p.device.type == "cuda" for p in on_gpu.model.network.parameters())
    on_cpu = iris_learner(
        network=copy.deepcopy(start), device="cpu", shuffle=False, epochs=3
    ).train(task)
    np.testing.assert_allclose(
        on_gpu.predict(task).prob.to_numpy(), on_cpu.predict(task).prob.to_numpy(), atol=1e-4
    )


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_device_auto_picks_cuda_when_available():
    learner = iris_learner(device="auto").train(tw.tsk("iris"))
    assert probe(learner)["device"].type == "cuda"


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_tensor_dataset_device_preloads_on_the_gpu():
    learner = iris_learner(device="cuda", tensor_dataset="device").train(tw.tsk("iris"))
    loader = probe(learner)["loader"]
    assert isinstance(loader, SliceLoader)
    assert next(iter(loader.dataset.x.values())).device.type == "cuda"
    learner = iris_learner(device="cuda", tensor_dataset=True).train(tw.tsk("iris"))
    loader = probe(learner)["loader"]
    assert next(iter(loader.dataset.x.values())).device.type == "cpu"
    assert probe(learner)["x_device"].type == "cuda"  # moved per batch


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_pin_memory_pins_batches_on_a_gpu_machine():
    learner = iris_learner(device="cuda", pin_memory=True).train(tw.tsk("iris"))
    assert probe(learner)["loader"].pin_memory is True
    assert len(learner.predict(tw.tsk("iris")).response) == 150


# --- num_threads, num_interop_threads ---------------------------------------------------------
def test_num_threads_is_used_in_training_and_prediction_and_restored():
    before = torch.get_num_threads()
    wanted = before + 1
    learner = iris_learner(network=ThreadsSeen(), num_threads=wanted)
    learner.train(tw.tsk("iris"))
    assert probe(learner)["threads"] == wanted
    assert torch.get_num_threads() == before
    learner.predict(tw.tsk("iris"))
    assert set(learner.model.network.threads) == {wanted}
    assert torch.get_num_threads() == before


def test_num_threads_is_initialised_to_one():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        learner = tw.LearnerTorchModel(nn.Linear(4, 3), {"x": iris_token()}, callbacks=[PROBE])
        assert learner.param_set.values["num_threads"] == 1
        learner.configure(epochs=1, batch_size=50, device="cpu").train(tw.tsk("iris"))
        assert probe(learner)["threads"] == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def _lock_interop_threads() -> None:
    """Make any later change of the interop thread count fail (torch allows one)."""
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(torch.get_num_interop_threads())


def test_num_interop_threads_that_torch_refuses_warns_and_trains():
    _lock_interop_threads()
    current = torch.get_num_interop_threads()
    learner = iris_learner(num_interop_threads=current + 1)
    with pytest.warns(
        UserWarning, match=rf"Cannot set the number of interop threads to {current + 1}"
    ):
        learner.train(tw.tsk("iris"))
    assert learner.is_trained and learner.model.epochs == 2
    assert torch.get_num_interop_threads() == current
    with pytest.warns(UserWarning, match=r"interop threads"):
        prediction = learner.predict(tw.tsk("iris"))  # tagged predict too
    assert len(prediction.response) == 150


def test_num_interop_threads_equal_to_the_current_value_is_not_set():
    _lock_interop_threads()
    learner = iris_learner(num_interop_threads=torch.get_num_interop_threads())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner.train(tw.tsk("iris"))
    assert learner.is_trained


# --- seed ----------------------------------------------------------------------------------------
def _dropout_net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def test_integer_seed_reproduces_weights_predictions_and_history():
    task = tw.tsk("iris")
    template = _dropout_net()  # a given network is trained as it is (not re-initialised)

    def run():
        return iris_learner(
            network=template,
            callbacks=["history"],
            seed=7,
            epochs=3,
            shuffle=True,
            measures_train="classif.ce",
        ).train(task)

    torch.manual_seed(0)
    first = run()
    torch.manual_seed(123)  # the global RNG does not matter
    second = run()
    assert_same_weights(first.model.network, second.model.network)
    pd.testing.assert_frame_equal(
        first.model.callbacks["history"], second.model.callbacks["history"]
    )
    pd.testing.assert_frame_equal(first.predict(task).prob, second.predict(task).prob)
    assert first.model.seed == second.model.seed == 7


def test_integer_seed_reproduces_across_a_clone():
    task = tw.tsk("iris")
    learner = iris_learner(network=_dropout_net(), seed=3, shuffle=True)
    clone = learner.clone()
    learner.train(task)
    clone.train(task)
    assert_same_weights(learner.model.network, clone.model.network)
    trained_clone = learner.clone()
    pd.testing.assert_frame_equal(trained_clone.predict(task).prob, learner.predict(task).prob)


def test_different_seeds_give_different_networks():
    task = tw.tsk("iris")
    a = iris_learner(seed=1, shuffle=True).train(task)
    b = iris_learner(seed=2, shuffle=True).train(task)
    assert weights_differ(a.model.network, b.model.network)


def test_seed_random_draws_a_seed_stores_it_and_reuses_it_at_predict():
    task = tw.tsk("iris")
    learner = iris_learner(network=NoisyOutput(), seed="random", shuffle=True)
    learner.train(task)
    seed = learner.model.seed
    assert isinstance(seed, int) and 0 <= seed < 2**31
    assert learner.param_set.values["seed"] == "random"  # the parameter stays "random"
    # the network adds torch noise even in eval mode: equal predictions mean the same seed
    first, second = learner.predict(task), learner.predict(task)
    pd.testing.assert_frame_equal(first.prob, second.prob)
    # the drawn seed reproduces the training
    again = iris_learner(network=learner.network_template, seed=seed, shuffle=True).train(task)
    assert_same_weights(learner.model.network, again.model.network)


def test_seed_random_differs_between_trainings_unless_numpy_is_seeded():
    task = tw.tsk("iris")
    learner = iris_learner(seed="random", shuffle=True)
    np.random.seed(10)
    a = learner.clone().train(task)
    b = learner.clone().train(task)
    assert a.model.seed != b.model.seed
    assert weights_differ(a.model.network, b.model.network)
    np.random.seed(10)
    c = learner.clone().train(task)
    assert c.model.seed == a.model.seed
    assert_same_weights(a.model.network, c.model.network)


def test_seed_none_stores_none_and_uses_the_global_torch_rng():
    task = tw.tsk("iris")
    learner = iris_learner(seed=None, shuffle=True)
    torch.manual_seed(5)
    a = learner.clone().train(task)
    assert a.model.seed is None
    torch.manual_seed(5)
    b = learner.clone().train(task)
    torch.manual_seed(6)
    c = learner.clone().train(task)
    assert_same_weights(a.model.network, b.model.network)
    assert weights_differ(a.model.network, c.model.network)


def test_seed_none_predictions_follow_the_global_rng():
    task = tw.tsk("iris")
    learner = iris_learner(network=NoisyOutput(), seed=None).train(task)
    first, second = learner.predict(task), learner.predict(task)
    assert not np.allclose(first.prob.to_numpy(), second.prob.to_numpy())


@pytest.mark.parametrize("seed", [4, "random"])
def test_seeded_training_and_prediction_leave_the_global_torch_rng_alone(seed):
    task = tw.tsk("iris")
    learner = iris_learner(network=_dropout_net(), seed=seed, shuffle=True)
    state = torch.get_rng_state()
    learner.train(task)
    assert torch.equal(torch.get_rng_state(), state)
    learner.predict(task)
    assert torch.equal(torch.get_rng_state(), state)


# --- tensor_dataset -------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("tensor_dataset", [True, "device", "auto"])
def test_tensor_dataset_gives_the_same_model_as_lazy_loading(tensor_dataset, shuffle):
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    common = {
        "network": _dropout_net(),
        "callbacks": ["history", PROBE],
        "shuffle": shuffle,
        "epochs": 3,
        "measures_valid": "classif.ce",
        "validate": "predefined",
    }
    lazy = iris_learner(**common, tensor_dataset=False).train(task)
    loaded = iris_learner(**common, tensor_dataset=tensor_dataset).train(task)
    assert_same_weights(lazy.model.network, loaded.model.network)
    pd.testing.assert_frame_equal(
        lazy.model.callbacks["history"], loaded.model.callbacks["history"]
    )
    pd.testing.assert_frame_equal(lazy.predict(task).prob, loaded.predict(task).prob)
    assert probe(lazy)["batches"] == probe(loaded)["batches"]
    assert (lazy.model.data_path, loaded.model.data_path) == ("loader", "preloaded")


def test_tensor_dataset_preloads_into_a_slice_loader():
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    with pytest.warns(UserWarning, match="no measures_valid"):
        lazy = iris_learner(tensor_dataset=False, validate="predefined").train(task)
    assert isinstance(probe(lazy)["loader"], torch.utils.data.DataLoader)
    with pytest.warns(UserWarning, match="no measures_valid"):
        loaded = iris_learner(tensor_dataset=True, validate="predefined").train(task)
    loader = probe(loaded)["loader"]
    assert isinstance(loader, SliceLoader)
    assert loader.dataset.x["x"].shape == (120, 4)
    assert loader.dataset.x["x"].device.type == "cpu"
    # the validation data is preloaded too
    assert isinstance(probe(loaded)["loader_valid"], SliceLoader)
    assert probe(loaded)["loader_valid"].dataset.n == 30


def test_auto_is_the_init_and_preloads_in_memory_data_into_a_slice_loader():
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    learner = iris_learner(validate="predefined", measures_valid="classif.ce").train(task)
    assert learner.param_set.values["tensor_dataset"] == "auto"
    assert learner.model.data_path == "preloaded"
    assert "* Data:  preloaded" in repr(learner.model)
    assert isinstance(probe(learner)["loader"], SliceLoader)
    assert probe(learner)["loader"].dataset.x["x"].shape == (120, 4)
    assert isinstance(probe(learner)["loader_valid"], SliceLoader)
    restored = pickle.loads(pickle.dumps(learner))
    assert restored.model.data_path == "preloaded"
    forced = iris_learner(tensor_dataset=False).train(tw.tsk("iris"))
    assert forced.model.data_path == "loader"
    assert "* Data:  loader" in repr(forced.model)


def _sequential_sampler(dataset):
    return torch.utils.data.SequentialSampler(dataset)


def _batches_of_50(dataset):
    return torch.utils.data.BatchSampler(range(len(dataset)), 50, drop_last=False)


@pytest.mark.parametrize(
    "params",
    [
        {"sampler": _sequential_sampler},
        {"batch_sampler": _batches_of_50},
        {"num_workers": 1},
        {"collate_fn": identity_collate},
        {"num_workers": 1, "worker_globals": {"TW_AUTO": 1}},
    ],
    ids=["sampler", "batch_sampler", "num_workers", "collate_fn", "worker_globals"],
)
def test_auto_keeps_the_loader_when_a_setting_needs_a_dataloader(params):
    task, net = tw.tsk("iris"), nn.Linear(4, 3)  # one template: the same initial weights
    auto = iris_learner(net, **params, epochs=1).train(task)
    assert auto.model.data_path == "loader"
    assert isinstance(probe(auto)["loader"], torch.utils.data.DataLoader)
    loader = iris_learner(net, **params, epochs=1, tensor_dataset=False).train(task)
    assert_same_weights(auto.model.network, loader.model.network)


def test_auto_keeps_the_loader_above_the_memory_budget(monkeypatch):
    import torchweave.training.dataloader as dataloader_module

    # iris: 150 rows x 4 float32 features + 150 int64 classes = 2400 + 1200 bytes
    assert dataloader_module.PRELOAD_BUDGET_BYTES == 2**30
    monkeypatch.setattr(dataloader_module, "PRELOAD_BUDGET_BYTES", 3600)
    assert iris_learner(epochs=1).train(tw.tsk("iris")).model.data_path == "preloaded"
    monkeypatch.setattr(dataloader_module, "PRELOAD_BUDGET_BYTES", 3599)
    over = iris_learner(epochs=1).train(tw.tsk("iris"))
    assert over.model.data_path == "loader"
    assert isinstance(probe(over)["loader"], torch.utils.data.DataLoader)


def _noisy_batchgetter(frame: pd.DataFrame) -> torch.Tensor:
    """Not row-wise cacheable: new noise for every batch."""
    values = torch.tensor(frame.to_numpy(dtype="float32"))
    return values + 0.01 * torch.randn_like(values)


def test_auto_keeps_the_loader_for_batchgetters_that_run_per_batch():
    learner = tw.LearnerTorchModel(
        network=nn.Linear(4, 3),
        ingress_tokens={"x": tw.TorchIngressToken(FEATURES, _noisy_batchgetter, (None, 4))},
        task_type="classif",
        callbacks=[PROBE],
    ).configure(epochs=2, batch_size=32, device="cpu", seed=1)
    learner.train(tw.tsk("iris"))
    assert learner.model.data_path == "loader"
    assert not isinstance(probe(learner)["loader"], SliceLoader)


# --- measures_train, measures_valid, eval_freq --------------------------------------------------
def test_measures_train_give_train_columns_in_the_history():
    learner = iris_learner(
        callbacks=["history"], measures_train=[tw.msr("classif.ce"), "classif.acc"]
    )
    learner.train(tw.tsk("iris"))
    history = learner.model.callbacks["history"]
    assert list(history.columns) == ["epoch", "train.classif.ce", "train.classif.acc"]
    np.testing.assert_allclose(history["train.classif.ce"] + history["train.classif.acc"], 1.0)
    assert learner.internal_valid_scores == {}


def test_measures_valid_give_valid_columns_and_internal_valid_scores():
    task = tw.tsk("iris")
    learner = iris_learner(
        callbacks=["history"],
        epochs=3,
        measures_valid=["classif.ce", "classif.acc"],
        validate=0.2,
    )
    learner.train(task)
    history = learner.model.callbacks["history"]
    assert list(history.columns) == ["epoch", "valid.classif.ce", "valid.classif.acc"]
    assert history["epoch"].tolist() == [1, 2, 3]
    last = history.iloc[-1]
    assert learner.internal_valid_scores == pytest.approx(
        {"classif.ce": last["valid.classif.ce"], "classif.acc": last["valid.classif.acc"]}
    )
    # the scores are those of the final network on the validation rows (30 of 150)
    assert all(
        round(v * 30) == pytest.approx(v * 30) for v in learner.internal_valid_scores.values()
    )


def test_measures_valid_score_the_validation_task():
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    learner = iris_learner(measures_valid="classif.acc", validate="predefined", epochs=3)
    learner.train(task)
    expected = learner.predict(task.internal_valid_task).score(tw.msr("classif.acc"))["classif.acc"]
    assert learner.internal_valid_scores["classif.acc"] == pytest.approx(expected)


def test_measures_valid_without_validate_is_an_error():
    learner = iris_learner(measures_valid="classif.ce")
    with pytest.raises(
        InvalidParameterError, match=r"has measures_valid set, but its validate field is None"
    ):
        learner.train(tw.tsk("iris"))


def test_measures_of_the_other_task_type_are_an_error():
    learner = iris_learner(measures_train="regr.mse")
    with pytest.raises(InvalidParameterError, match=r"Measure 'regr.mse' is for regr tasks"):
        learner.train(tw.tsk("iris"))


def test_measures_must_have_unique_ids_and_not_be_called_epoch():
    with pytest.raises(InvalidParameterError, match=r"unique ids"):
        iris_learner(measures_train=["classif.ce", "classif.ce"])


@pytest.mark.parametrize(("eval_freq", "epochs_seen"), [(1, [1, 2, 3, 4, 5]), (2, [2, 4, 5])])
def test_eval_freq_sets_the_evaluated_epochs_and_the_last_always_counts(eval_freq, epochs_seen):
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    learner = iris_learner(
        callbacks=["history", PROBE],
        epochs=5,
        eval_freq=eval_freq,
        measures_train="classif.ce",
        measures_valid="classif.ce",
        validate="predefined",
        batch_size_predict=30,
    )
    learner.train(task)
    assert learner.model.callbacks["history"]["epoch"].tolist() == epochs_seen
    # validation runs only in evaluated epochs (one batch of 30 rows each)
    assert probe(learner)["valid_batches"] == [30] * len(epochs_seen)
    assert sorted(probe(learner)["weights"]) == epochs_seen


# --- patience, min_delta, restore_best_weights ---------------------------------------------------
def test_patience_stops_after_that_many_evaluations_without_improvement():
    task = line_task()
    task.internal_valid_task = task.row_ids[::4]
    learner = line_learner(
        epochs=10, patience=2, measures_valid="regr.mse", validate="predefined", **{"opt.lr": 0.0}
    )
    learner.train(task)  # lr 0: the first score is never beaten
    assert learner.model.epochs == 3
    assert learner.internal_tuned_values == {"epochs": 1}
    assert learner.model.callbacks["early_stopping"]["stagnation"] == 2


def test_patience_zero_trains_every_epoch():
    task = line_task()
    task.internal_valid_task = task.row_ids[::4]
    learner = line_learner(
        epochs=6, patience=0, measures_valid="regr.mse", validate="predefined", **{"opt.lr": 0.0}
    )
    learner.train(task)
    assert learner.model.epochs == 6
    assert "early_stopping" not in learner.model.callbacks
    assert learner.internal_tuned_values == {}


def test_patience_without_measures_valid_is_an_error():
    learner = line_learner(patience=2)
    with pytest.raises(
        InvalidParameterError, match=r"has a non 0 patience parameter but no measures_valid set"
    ):
        learner.train(line_task())


def test_min_delta_sets_how_much_improvement_counts():
    task = line_task()
    task.internal_valid_task = task.row_ids[::4]
    common = {
        "callbacks": ["history"],
        "epochs": 6,
        "patience": 1,
        "measures_valid": "regr.mse",
        "validate": "predefined",
    }
    steady = line_learner(**common, min_delta=0.0).train(task)
    history = steady.model.callbacks["history"]["valid.regr.mse"]
    assert history.is_monotonic_decreasing  # full-batch SGD on a line improves every epoch
    assert steady.model.epochs == 6
    demanding = line_learner(**common, min_delta=1e6).train(task)
    assert demanding.model.epochs == 2  # the second evaluation is no improvement of 1e6
    assert demanding.internal_tuned_values == {"epochs": 1}


class CallbackSetSabotage(tw.CallbackSet):
    """From epoch 3 on, shifts the weights before validation: later scores get worse."""

    def on_before_valid(self) -> None:
        if self.ctx.epoch >= 3:
            with torch.no_grad():
                for p in self.ctx.network.parameters():
                    p.add_(5.0)


@pytest.mark.parametrize("restore", [True, False])
def test_restore_best_weights_keeps_the_network_of_the_best_epoch(restore):
    task = line_task()
    task.internal_valid_task = task.row_ids[::4]
    learner = line_learner(
        callbacks=[PROBE, tw.TorchCallback(CallbackSetSabotage, id="sabotage"), "history"],
        epochs=10,
        patience=2,
        restore_best_weights=restore,
        measures_valid="regr.mse",
        validate="predefined",
    )
    learner.train(task)
    assert learner.model.epochs == 4  # best at 2, worse at 3 and 4
    assert learner.internal_tuned_values == {"epochs": 2}
    rec = probe(learner)
    assert_same_weights(rec["weights"][2], rec["epoch_end_weights"][2])
    kept = rec["weights"][2] if restore else rec["epoch_end_weights"][4]
    assert_same_weights(learner.model.network.state_dict(), kept)
    # The validation scores describe the returned network: the best epoch's when its
    # weights are restored, else the last epoch's. The best epoch is kept either way.
    history = learner.model.callbacks["history"]
    mse = dict(zip(history["epoch"], history["valid.regr.mse"], strict=True))
    assert mse[4] > 1.0 > mse[2]
    returned = 2 if restore else 4
    assert learner.internal_valid_scores == {"regr.mse": pytest.approx(mse[returned])}
    assert learner.model.best_epoch == 2
    assert learner.model.best_scores == {"regr.mse": pytest.approx(mse[2])}


# --- batch_size, batch_size_predict, drop_last, shuffle ------------------------------------------
def test_batch_size_sets_the_batches_per_epoch():
    learner = iris_learner(batch_size=32, epochs=2, shuffle=False).train(tw.tsk("iris"))
    per_epoch = batches_per_epoch(learner)
    assert sorted(per_epoch) == [1, 2]
    assert [len(b) for b in per_epoch[1]] == [32, 32, 32, 32, 22]
    learner = iris_learner(batch_size=150, epochs=2).train(tw.tsk("iris"))
    assert [len(b) for b in batches_per_epoch(learner)[1]] == [150]


def test_batch_size_is_used_for_prediction_without_batch_size_predict():
    learner = iris_learner(network=EvalBatchCounter(), batch_size=64).train(tw.tsk("iris"))
    learner.model.network.eval_batches.clear()
    learner.predict(tw.tsk("iris"))
    assert learner.model.network.eval_batches == [64, 64, 22]


def test_batch_size_predict_sets_the_prediction_and_validation_batches():
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::3]  # 50 validation rows
    learner = iris_learner(
        network=EvalBatchCounter(),
        batch_size=16,
        batch_size_predict=40,
        epochs=1,
        measures_valid="classif.ce",
        validate="predefined",
    )
    learner.train(task)
    assert learner.model.network.eval_batches == [40, 10]  # validation
    assert len(batches_per_epoch(learner)[1]) == 7  # 100 training rows in batches of 16
    learner.model.network.eval_batches.clear()
    learner.predict(tw.tsk("iris"))
    assert learner.model.network.eval_batches == [40, 40, 40, 30]


@pytest.mark.parametrize("tensor_dataset", [False, True])
def test_drop_last_drops_the_incomplete_training_batch_only(tensor_dataset):
    task = tw.tsk("iris")
    kept = iris_learner(batch_size=32, drop_last=False, tensor_dataset=tensor_dataset).train(task)
    assert [len(b) for b in batches_per_epoch(kept)[1]] == [32, 32, 32, 32, 22]
    dropped = iris_learner(
        network=EvalBatchCounter(), batch_size=32, drop_last=True, tensor_dataset=tensor_dataset
    ).train(task)
    assert [len(b) for b in batches_per_epoch(dropped)[1]] == [32] * 4
    dropped.model.network.eval_batches.clear()
    prediction = dropped.predict(task)
    assert len(prediction.response) == 150  # never for prediction
    assert dropped.model.network.eval_batches == [32, 32, 32, 32, 22]


def test_drop_last_with_too_few_rows_is_an_error():
    learner = iris_learner(batch_size=200, drop_last=True)
    with pytest.raises(InvalidParameterError, match=r"has no batches \(150 rows"):
        learner.train(tw.tsk("iris"))


@pytest.mark.parametrize("tensor_dataset", [False, True])
def test_shuffle_false_serves_rows_in_order(tensor_dataset):
    learner = iris_learner(shuffle=False, tensor_dataset=tensor_dataset).train(tw.tsk("iris"))
    for batches in batches_per_epoch(learner).values():
        assert flat(batches) == list(range(150))
        assert batches[0] == list(range(32))


@pytest.mark.parametrize("tensor_dataset", [False, True])
def test_shuffle_true_serves_a_new_permutation_each_epoch(tensor_dataset):
    learner = iris_learner(shuffle=True, tensor_dataset=tensor_dataset).train(tw.tsk("iris"))
    orders = [flat(b) for b in batches_per_epoch(learner).values()]
    assert len(orders) == 2
    for order in orders:
        assert sorted(order) == list(range(150))
        assert order != list(range(150))
    assert orders[0] != orders[1]


def test_shuffle_is_initialised_to_true():
    learner = tw.LearnerTorchModel(nn.Linear(4, 3), {"x": iris_token()})
    assert learner.param_set.values["shuffle"] is True


def test_shuffle_never_applies_to_prediction():
    task = tw.tsk("iris")
    learner = iris_learner(network=EvalBatchCounter(), shuffle=True).train(task)
    prediction = learner.predict(task)
    np.testing.assert_array_equal(prediction.row_ids, task.row_ids)
    x = torch.tensor(task.data(cols=FEATURES).to_numpy(dtype=np.float32))
    with torch.no_grad():
        expected = torch.softmax(learner.model.network.linear(x), dim=1).numpy()
    np.testing.assert_allclose(prediction.prob.to_numpy(), expected, rtol=1e-5, atol=1e-6)


# --- sampler, batch_sampler -----------------------------------------------------------------------
def sequential_sampler(dataset):
    return torch.utils.data.SequentialSampler(dataset)


def every_third_row(dataset):
    return list(range(0, len(dataset), 3))


def test_sampler_replaces_shuffling():
    learner = iris_learner(sampler=sequential_sampler, shuffle=True).train(tw.tsk("iris"))
    for batches in batches_per_epoch(learner).values():
        assert flat(batches) == list(range(150))


def test_sampler_decides_which_rows_are_trained_on():
    task = tw.tsk("iris")
    learner = iris_learner(network=EvalBatchCounter(), sampler=every_third_row, batch_size=10)
    learner.train(task)
    for batches in batches_per_epoch(learner).values():
        assert flat(batches) == list(range(0, 150, 3))
        assert [len(b) for b in batches] == [10] * 5
    # prediction uses no sampler: every row, in order
    learner.model.network.eval_batches.clear()
    assert len(learner.predict(task).response) == 150
    assert sum(learner.model.network.eval_batches) == 150


def test_sampler_factory_receives_the_training_dataset():
    seen = []

    def sampler(dataset):
        seen.append(len(dataset))
        return torch.utils.data.SequentialSampler(dataset)

    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    with pytest.warns(UserWarning, match="no measures_valid"):
        iris_learner(sampler=sampler, validate="predefined").train(task)
    assert seen == [120]  # built once, for training only (not for validation)


def custom_batches(dataset):
    return [[5, 1, 2], [0], [149, 148]]


def test_batch_sampler_makes_the_batches_without_a_batch_size():
    learner = iris_learner(batch_sampler=custom_batches, batch_size_predict=50, shuffle=True)
    learner.param_set.remove_values("batch_size")
    learner.train(tw.tsk("iris"))
    for batches in batches_per_epoch(learner).values():
        assert batches == [[5, 1, 2], [0], [149, 148]]
    assert len(learner.predict(tw.tsk("iris")).response) == 150


def test_batch_sampler_ignores_batch_size_and_drop_last():
    learner = iris_learner(batch_sampler=custom_batches, batch_size=2, drop_last=True)
    learner.train(tw.tsk("iris"))
    assert batches_per_epoch(learner)[1] == [[5, 1, 2], [0], [149, 148]]


def test_sampler_and_batch_sampler_together_are_an_error():
    learner = iris_learner(sampler=sequential_sampler, batch_sampler=custom_batches)
    with pytest.raises(
        InvalidParameterError,
        match=r"Providing both a 'sampler' and a 'batch_sampler' is not supported, set only one",
    ):
        learner.train(tw.tsk("iris"))


def test_training_without_batch_size_is_an_error():
    learner = iris_learner()
    learner.param_set.remove_values("batch_size")
    with pytest.raises(
        InvalidParameterError,
        match=r"Learner 'classif.torch_model': parameter 'batch_size' must be set for training, "
        r"unless a 'batch_sampler' is provided",
    ):
        learner.train(tw.tsk("iris"))


def test_prediction_without_batch_size_is_an_error():
    learner = iris_learner(batch_sampler=custom_batches)
    learner.param_set.remove_values("batch_size")
    learner.train(tw.tsk("iris"))
    with pytest.raises(
        InvalidParameterError,
        match=r"parameter 'batch_size' or 'batch_size_predict' must be set for prediction "
        r"\(this includes the validation data\)",
    ):
        learner.predict(tw.tsk("iris"))


def test_validation_without_a_prediction_batch_size_is_an_error():
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    learner = iris_learner(batch_sampler=custom_batches, validate="predefined")
    learner.param_set.remove_values("batch_size")
    with (
        pytest.warns(UserWarning, match="no measures_valid"),
        pytest.raises(InvalidParameterError, match=r"'batch_size_predict' must be set"),
    ):
        learner.train(task)


# --- collate_fn ------------------------------------------------------------------------------------
class RecordingCollate:
    """Records the batch sizes it sees; ``zero_x`` blanks the features."""

    def __init__(self, zero_x: bool = False) -> None:
        self.sizes: list[int] = []
        self.zero_x = zero_x

    def __call__(self, batch: dict) -> dict:
        assert set(batch) >= {"x", "index"}
        self.sizes.append(len(batch["index"]))
        if self.zero_x:
            batch = {**batch, "x": {k: torch.zeros_like(v) for k, v in batch["x"].items()}}
        return batch


def test_collate_fn_receives_each_whole_batch_in_training_and_prediction():
    collate = RecordingCollate()
    learner = iris_learner(collate_fn=collate, batch_size=50, epochs=2)
    learner.train(tw.tsk("iris"))
    assert collate.sizes == [50] * 6
    collate.sizes.clear()
    learner.predict(tw.tsk("iris"))
    assert collate.sizes == [50] * 3


def test_collate_fn_changes_what_the_network_sees():
    task = tw.tsk("iris")
    learner = iris_learner(collate_fn=RecordingCollate(zero_x=True)).train(task)
    prob = learner.predict(task).prob.to_numpy()
    # every row looks the same to the network: one probability vector for all
    np.testing.assert_allclose(prob, np.tile(prob[:1], (150, 1)))
    plain = iris_learner().train(task).predict(task).prob.to_numpy()
    assert not np.allclose(plain, np.tile(plain[:1], (150, 1)))


def test_collate_fn_can_transform_the_target():
    def negate_y(batch):
        return {**batch, "y": -batch["y"]}

    task = line_task()
    learner = line_learner(collate_fn=negate_y, epochs=40).train(task)
    slope = learner.model.network.weight.item()
    assert slope < -1.0  # learned y = -2 x instead of y = 2 x
    assert probe(learner)["y_first"].item() == pytest.approx(-task.truth().iloc[0], rel=1e-6)


# --- pin_memory ----------------------------------------------------------------------------------
@pytest.mark.skipif(CUDA, reason="checks the warning torch gives without an accelerator")
def test_pin_memory_reaches_the_data_loader_and_training_works_on_cpu():
    learner = iris_learner(pin_memory=True)
    with pytest.warns(
        UserWarning, match=r"'pin_memory' argument is set as true but no accelerator"
    ):
        learner.train(tw.tsk("iris"))
    loader = probe(learner)["loader"]
    assert isinstance(loader, torch.utils.data.DataLoader)
    assert loader.pin_memory is True
    assert learner.model.epochs == 2
    # the loader path's DataLoader (the defaults preload iris: see test_auto_preloads...)
    default_loader = iris_learner(tensor_dataset=False).train(tw.tsk("iris"))
    assert probe(default_loader)["loader"].pin_memory is False
    assert learner.model.data_path == "loader"  # pin_memory needs a DataLoader


# --- num_workers, timeout, worker_init_fn, worker_globals, worker_packages ------------------------
def test_num_workers_loads_in_worker_processes_with_the_same_result():
    task = tw.tsk("iris")
    common = {"network": _dropout_net(), "shuffle": True, "epochs": 2, "batch_size": 50}
    in_process = iris_learner(**common, num_workers=0, tensor_dataset=False).train(task)
    workers = iris_learner(**common, num_workers=1).train(task)
    assert probe(workers)["loader"].num_workers == 1
    assert probe(in_process)["loader"].num_workers == 0
    assert workers.model.data_path == "loader"  # "auto" keeps the loader for workers
    assert probe(workers)["batches"] == probe(in_process)["batches"]
    assert probe(workers)["index_type"] is torch.Tensor  # also when it came from a worker
    assert_same_weights(in_process.model.network, workers.model.network)
    pd.testing.assert_frame_equal(in_process.predict(task).prob, workers.predict(task).prob)


def test_validation_batches_from_workers_have_tensor_positions():
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    learner = iris_learner(
        num_workers=1,
        epochs=1,
        batch_size=60,
        validate="predefined",
        measures_valid="classif.acc",
    ).train(task)
    rec = probe(learner)
    assert rec["valid_batches"] == [30]
    assert rec["valid_index_type"] is torch.Tensor
    assert 0 <= learner.internal_valid_scores["classif.acc"] <= 1


def test_timeout_reaches_the_data_loader():
    learner = iris_learner(num_workers=1, timeout=7.5, epochs=1, batch_size=75)
    learner.train(tw.tsk("iris"))
    assert probe(learner)["loader"].timeout == 7.5
    plain = iris_learner(epochs=1, tensor_dataset=False).train(tw.tsk("iris"))
    assert probe(plain)["loader"].timeout == 0


def write_worker_info(folder: str, worker_id: int, module: str = "wave") -> None:
    """A worker_init_fn: records the worker, a global set by worker_globals and a module."""
    info = {
        "worker_id": worker_id,
        "pid": os.getpid(),
        "global": getattr(builtins, "TW_WORKER_GLOBAL", None),
        "module_loaded": module in sys.modules,
    }
    path = os.path.join(folder, f"worker_{os.getpid()}.txt")
    with open(path, "w") as f:
        f.write(repr(info))


def _worker_files(folder) -> list[dict]:
    return [eval(p.read_text()) for p in sorted(folder.iterdir())]


def test_worker_init_fn_runs_in_each_worker(tmp_path):
    learner = iris_learner(
        num_workers=2,
        epochs=1,
        batch_size=75,
        worker_init_fn=functools.partial(write_worker_info, str(tmp_path)),
    )
    learner.train(tw.tsk("iris"))
    infos = _worker_files(tmp_path)
    assert sorted(i["worker_id"] for i in infos) == [0, 1]
    assert all(i["pid"] != os.getpid() for i in infos)


def test_worker_globals_are_set_in_the_workers_only(tmp_path):
    learner = iris_learner(
        num_workers=1,
        epochs=1,
        batch_size=75,
        worker_globals={"TW_WORKER_GLOBAL": 42},
        worker_init_fn=functools.partial(write_worker_info, str(tmp_path)),
    )
    learner.train(tw.tsk("iris"))
    (info,) = _worker_files(tmp_path)
    assert info["global"] == 42
    assert not hasattr(builtins, "TW_WORKER_GLOBAL")


def test_worker_packages_are_imported_in_the_workers(tmp_path):
    unused = [m for m in ("wave", "tabnanny", "netrc", "mailbox") if m not in sys.modules]
    if not unused:
        pytest.skip("every candidate module is already imported in this process")
    module = unused[0]
    learner = iris_learner(
        num_workers=1,
        epochs=1,
        batch_size=75,
        worker_packages=[module],
        worker_init_fn=functools.partial(write_worker_info, str(tmp_path), module=module),
    )
    learner.train(tw.tsk("iris"))
    (info,) = _worker_files(tmp_path)
    assert info["module_loaded"] is True
    assert module not in sys.modules  # imported in the worker only


@pytest.mark.parametrize(("persistent", "starts"), [(False, 3), (True, 1)])
def test_persistent_workers_start_once_per_training(tmp_path, persistent, starts):
    net = _dropout_net()
    learner = iris_learner(
        network=net,
        num_workers=1,
        persistent_workers=persistent,
        epochs=3,
        batch_size=75,
        worker_init_fn=functools.partial(write_worker_info, str(tmp_path)),
    )
    learner.train(tw.tsk("iris"))
    assert len(_worker_files(tmp_path)) == starts  # one file per worker process
    # Reproducible under the seed. Persistent workers draw their base seed once, so the
    # shuffles differ from those of workers started every epoch.
    reference = iris_learner(
        network=net, num_workers=1, persistent_workers=persistent, epochs=3, batch_size=75
    ).train(tw.tsk("iris"))
    np.testing.assert_allclose(
        learner.predict(tw.tsk("iris")).prob.to_numpy(),
        reference.predict(tw.tsk("iris")).prob.to_numpy(),
        atol=1e-6,
    )


def test_persistent_workers_need_workers():
    with pytest.raises(
        InvalidParameterError, match=r"persistent_workers=True .* needs num_workers > 0"
    ):
        iris_learner(persistent_workers=True, epochs=1).train(tw.tsk("iris"))


def test_worker_parameters_are_checked():
    with pytest.raises(InvalidParameterError, match=r"worker_packages"):
        iris_learner(worker_packages="wave")
    with pytest.raises(InvalidParameterError, match=r"worker_globals"):
        iris_learner(worker_globals=["TW_WORKER_GLOBAL"])
    with pytest.raises(InvalidParameterError, match=r"worker_init_fn"):
        iris_learner(worker_init_fn=3)


# --- jit_trace -------------------------------------------------------------------------------------
def _relu_net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_jit_trace_trains_a_traced_network_with_the_same_result():
    task = tw.tsk("iris")
    template = _relu_net()
    plain = iris_learner(network=template, jit_trace=False, shuffle=True, epochs=3).train(task)
    traced = iris_learner(network=template, jit_trace=True, shuffle=True, epochs=3).train(task)
    assert isinstance(traced.model.network, torch.jit.ScriptModule)
    assert not isinstance(plain.model.network, torch.jit.ScriptModule)
    assert traced.model.jitted and not plain.model.jitted
    np.testing.assert_allclose(
        traced.predict(task).prob.to_numpy(), plain.predict(task).prob.to_numpy(), rtol=1e-5
    )
    for a, b in zip(
        plain.model.network.state_dict().values(),
        traced.model.network.state_dict().values(),
        strict=True,
    ):
        torch.testing.assert_close(a, b)


def test_jit_trace_with_two_inputs_passes_them_in_order():
    class TwoInputs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(2, 3)
            self.b = nn.Linear(2, 3)

        def forward(self, sepal: torch.Tensor, petal: torch.Tensor) -> torch.Tensor:
            return self.a(sepal) + self.b(petal)

    tokens = {
        "sepal": tw.TorchIngressToken(FEATURES[:2], tw.batchgetter_num, (None, 2)),
        "petal": tw.TorchIngressToken(FEATURES[2:], tw.batchgetter_num, (None, 2)),
    }
    task = tw.tsk("iris")
    results = []
    for jit in (False, True):
        learner = tw.LearnerTorchModel(TwoInputs(), tokens, task_type="classif")
        torch.manual_seed(0)
        learner.network_template = TwoInputs()
        learner.configure(
            epochs=2, batch_size=50, device="cpu", seed=1, jit_trace=jit, predict_type="prob"
        )
        results.append(learner.train(task).predict(task).prob.to_numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)


# --- optimizer, loss and callback parameters ---------------------------------------------------------
def test_opt_parameters_reach_the_optimizer():
    task = tw.tsk("iris")
    frozen = iris_learner(**{"opt.lr": 0.0}).train(task)
    assert_same_weights(frozen.model.network, frozen.network_template)
    assert frozen.model.optimizer["param_groups"][0]["lr"] == 0.0
    moving = iris_learner(**{"opt.lr": 0.05}).train(task)
    assert weights_differ(moving.model.network, moving.network_template)
    assert moving.model.optimizer["param_groups"][0]["lr"] == 0.05


def test_loss_parameters_reach_the_loss():
    task = line_task()
    template = nn.Linear(1, 1)
    mean = line_learner(template, epochs=1).train(task)
    summed = line_learner(template, epochs=1, **{"loss.reduction": "sum"}).train(task)
    # one full batch of 64 rows: the summed loss's step is 64 times the mean's
    step_mean = mean.model.network.weight - mean.network_template.weight
    step_sum = summed.model.network.weight - summed.network_template.weight
    torch.testing.assert_close(step_sum, 64 * step_mean, rtol=1e-4, atol=1e-6)


class CallbackSetScale(tw.CallbackSet):
    """Records its parameter in the model."""

    def __init__(self, factor: float = 1.0) -> None:
        super().__init__()
        self.factor = factor

    def state_dict(self) -> dict:
        return {"factor": self.factor}


def test_callback_parameters_reach_the_callback():
    learner = iris_learner(callbacks=[tw.TorchCallback(CallbackSetScale, id="scale")])
    assert "cb.scale.factor" in learner.param_set.ids()
    learner.configure(**{"cb.scale.factor": 2.5}).train(tw.tsk("iris"))
    assert learner.model.callbacks["scale"] == {"factor": 2.5}


# --- the same parameters in a graph (PipeOpTorchModel) -------------------------------------------
def _graph_learner(**params):
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam")
        >> tw.po("torch_callbacks", callbacks=[PROBE])
        >> tw.po("torch_model_classif", epochs=2, batch_size=32, device="cpu", seed=1)
    )
    learner = tw.as_learner(graph)
    learner.param_set.set_values(params)
    return learner


def test_pipeop_parameters_take_effect_in_a_graph_learner():
    task = tw.tsk("iris")
    learner = _graph_learner(
        **{
            "torch_model_classif.epochs": 3,
            "torch_model_classif.batch_size": 50,
            "torch_model_classif.shuffle": False,
            "torch_optimizer.lr": 0.0,
        }
    )
    learner.train(task)
    inner = learner.model["torch_model_classif"]
    assert inner.model.epochs == 3
    per_epoch = batches_per_epoch(inner)
    assert [flat(b) for b in per_epoch.values()] == [list(range(150))] * 3
    assert [len(b) for b in per_epoch[1]] == [50, 50, 50]
    assert inner.model.optimizer["param_groups"][0]["lr"] == 0.0


def test_pipeop_without_epochs_is_an_error():
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam")
        >> tw.po("torch_model_classif", batch_size=32)
    )
    with pytest.raises(
        InvalidParameterError, match=r"required parameter\(s\) 'torch_model_classif.epochs'"
    ):
        tw.as_learner(graph).train(tw.tsk("iris"))


def test_loader_length_is_the_number_of_batches_per_epoch():
    learner = iris_learner(batch_size=32).train(tw.tsk("iris"))
    assert len(probe(learner)["loader"]) == math.ceil(150 / 32)
