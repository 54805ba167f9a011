"""End-to-end checks on a CUDA device: graph learners, preloading, pinning, moving models.

Every test here is marked ``gpu`` and skipped without CUDA. The same functions run on the
CPU in ``test_cpu_twin_of_the_cuda_checks`` so that the checks themselves stay exercised on
machines without a GPU.
"""

import pickle

import numpy as np
import pytest
import torch

import torchweave as tw
from torchweave import nn, po

CUDA = torch.cuda.is_available()


def needs_cuda(test):
    """Mark a test ``gpu`` and skip it without CUDA."""
    return pytest.mark.gpu(pytest.mark.skipif(not CUDA, reason="needs a CUDA device")(test))


def penguin_graph(device, **model_args):
    """A graph learner on penguins: preprocessing, an MLP, validation and early stopping."""
    args = {
        "epochs": 6,
        "batch_size": 32,
        "seed": 3,
        "device": device,
        "shuffle": False,
        "measures_valid": tw.msr("classif.ce"),
        "patience": 3,
        **model_args,
    }
    graph = (
        po("imputemedian")
        >> po("imputemode")
        >> po("encode")
        >> po("scale")
        >> po("torch_ingress_num")
        >> nn("linear", out_features=16)
        >> nn("relu")
        >> nn("head")
        >> po("torch_loss", loss="cross_entropy")
        >> po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.01))
        >> po("torch_model_classif", **args)
    )
    learner = tw.as_learner(graph)
    learner.validate = 0.25
    learner.predict_type = "prob"
    return learner


def network_of(learner):
    return learner.graph.pipeops["torch_model_classif"].state.model.network


def check_graph_learner_trains_on(device):
    task = tw.tsk("penguins")
    learner = penguin_graph(device).train(task)
    assert all(p.device.type == device for p in network_of(learner).parameters())
    pred = learner.predict(task)
    assert pred.score(tw.msr("classif.acc"))["classif.acc"] > 0.9
    scores = learner.internal_valid_scores
    assert set(scores) == {"torch_model_classif.classif.ce"}
    assert np.isfinite(scores["torch_model_classif.classif.ce"])
    return learner, pred


def check_preloading_on(device):
    task = tw.tsk("penguins")
    preload = "device" if device == "cuda" else True
    fast = penguin_graph(device, tensor_dataset=preload).train(task)
    plain = penguin_graph(device).train(task)
    np.testing.assert_allclose(
        fast.predict(task).prob.to_numpy(), plain.predict(task).prob.to_numpy(), atol=1e-5
    )


def check_moving_a_trained_model(device):
    task = tw.tsk("penguins")
    learner, pred = check_graph_learner_trains_on(device)
    restored = pickle.loads(pickle.dumps(learner))
    assert all(p.device.type == "cpu" for p in network_of(restored).parameters())
    restored.graph.pipeops["torch_model_classif"].state.param_set.set_values(device="cpu")
    np.testing.assert_allclose(
        restored.predict(task).prob.to_numpy(), pred.prob.to_numpy(), atol=1e-5
    )


def test_cpu_twin_of_the_cuda_checks():
    device = "cpu"
    check_graph_learner_trains_on(device)
    check_preloading_on(device)
    check_moving_a_trained_model(device)


@needs_cuda
def test_graph_learner_trains_and_validates_on_cuda():
    device = "cuda"
    check_graph_learner_trains_on(device)


@needs_cuda
def test_tensor_dataset_device_equals_the_loader_on_cuda():
    device = "cuda"
    check_preloading_on(device)


@needs_cuda
def test_a_graph_learner_trained_on_cuda_predicts_on_the_cpu():
    device = "cuda"
    check_moving_a_trained_model(device)


@needs_cuda
def test_cuda_and_cpu_training_agree():
    task = tw.tsk("penguins")
    on_gpu, on_cpu = (penguin_graph(d, patience=0, measures_valid=[]) for d in ("cuda", "cpu"))
    on_gpu.validate = on_cpu.validate = None
    on_gpu.train(task)
    on_cpu.train(task)
    np.testing.assert_allclose(
        on_gpu.predict(task).prob.to_numpy(), on_cpu.predict(task).prob.to_numpy(), atol=1e-3
    )


@needs_cuda
def test_pin_memory_with_workers_on_cuda():
    task = tw.tsk("penguins")
    pinned = penguin_graph("cuda", pin_memory=True, num_workers=2).train(task)
    plain = penguin_graph("cuda").train(task)
    np.testing.assert_allclose(
        pinned.predict(task).prob.to_numpy(), plain.predict(task).prob.to_numpy(), atol=1e-5
    )


class HalfPrecision(tw.TrainLoop):
    """float16 autocast around forward pass and loss, with a gradient scaler (loop hooks)."""

    def wrap_compute_loss(self, compute_loss):
        device = self.ctx.device.type

        def autocast(x, y):
            with torch.autocast(device, dtype=torch.float16):
                return compute_loss(x, y)

        return autocast

    def make_backward(self):
        self.scaler = torch.amp.GradScaler("cuda")
        return lambda loss: self.scaler.scale(loss).backward()

    def make_optimizer_step(self, optimizer):
        def step():
            self.scaler.step(optimizer)
            self.scaler.update()

        return step


@needs_cuda
def test_mixed_precision_hooks_train_on_cuda():
    task = tw.tsk("penguins")
    learner = penguin_graph("cuda", epochs=20)
    learner.graph.pipeops["torch_model_classif"].learner.loop_class = HalfPrecision
    learner.train(task)
    assert learner.predict(task).score(tw.msr("classif.acc"))["classif.acc"] > 0.9


@needs_cuda
def test_early_stopping_reports_the_restored_epoch_on_cuda():
    task = tw.tsk("penguins")
    learner = penguin_graph("cuda", epochs=30, restore_best_weights=True).train(task)
    model = learner.graph.pipeops["torch_model_classif"].state.model
    assert model.best_epoch is not None and model.best_epoch <= model.epochs
    assert learner.internal_valid_scores == {
        f"torch_model_classif.{k}": v for k, v in model.best_scores.items()
    }


@needs_cuda
def test_zero_rows_predict_on_cuda():
    task = tw.tsk("penguins")
    learner = penguin_graph("cuda").train(task)
    empty = learner.predict(task, row_ids=[])
    assert empty.prob.shape == (0, 3)


@needs_cuda
def test_predicting_from_inputs_moved_at_once_equals_per_batch_moves_on_cuda():
    task = tw.tsk("penguins")
    learner = penguin_graph("cuda").train(task)
    at_once = learner.predict(task).prob.to_numpy()  # the inputs go to the GPU in one copy
    learner.param_set.set_values(**{"torch_model_classif.pin_memory": True})  # a DataLoader
    per_batch = learner.predict(task).prob.to_numpy()
    np.testing.assert_allclose(at_once, per_batch, atol=1e-6)
