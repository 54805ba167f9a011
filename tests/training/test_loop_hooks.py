"""The hooks of TrainLoop: each extension is a small subclass, chosen once per fit."""

import copy

import pytest
import torch
from torch import nn

import torchweave as tw
from tests.training.helpers import iris_learner, iris_with_valid, mlp
from torchweave.training.loop import make_forward, make_to_device


def weights(learner):
    return {k: v.clone() for k, v in learner.network.state_dict().items()}


# --- wrap_network -------------------------------------------------------------------------
class Counting(nn.Module):
    """Wraps a network and counts its forward calls (stands in for torch.compile / DDP)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


class WrapNetworkLoop(tw.TrainLoop):
    wrapped: list = []

    def wrap_network(self, network):
        wrapper = Counting(network)
        WrapNetworkLoop.wrapped.append(wrapper)
        return wrapper


def test_wrap_network_runs_training_and_validation_through_the_wrapper():
    WrapNetworkLoop.wrapped = []
    learner = iris_learner(network=mlp(), epochs=2, measures_valid=tw.msr("classif.ce"))
    learner.validate = "predefined"
    learner.loop_class = WrapNetworkLoop
    learner.train(iris_with_valid())
    (wrapper,) = WrapNetworkLoop.wrapped
    # 120 training rows: 3 batches of 50 per epoch; 30 validation rows: 1 batch per epoch.
    assert wrapper.calls == 2 * 3 + 2 * 1
    # The learner keeps the plain network, not the wrapper.
    assert isinstance(learner.network, nn.Sequential)
    assert learner.predict(tw.tsk("iris")).response.shape == (150,)


def test_loop_class_survives_cloning_and_the_graph_operator():
    class Marker(tw.TrainLoop):
        pass

    learner = iris_learner()
    learner.loop_class = Marker
    assert learner.clone().loop_class is Marker
    op = tw.po("torch_model_classif", epochs=1, batch_size=50)
    op.learner.loop_class = Marker
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="sgd")
        >> op
    )
    trained = tw.as_learner(graph).train(tw.tsk("iris"))
    assert trained.model["torch_model_classif"].loop_class is Marker


# --- wrap_loss ------------------------------------------------------------------------------
class TwoHeads(nn.Module):
    """An ensemble of two heads: (B, 2, 3) while training, their mean in eval mode."""

    def __init__(self):
        super().__init__()
        self.heads = nn.Linear(4, 6)

    def forward(self, x):
        out = self.heads(x).reshape(-1, 2, 3)
        return out if self.training else out.mean(dim=1)


class MeanOverHeadsLoop(tw.TrainLoop):
    per_head: list = []

    def wrap_loss(self, loss_fn):
        def mean_over_heads(y_hat, y):
            losses = [loss_fn(y_hat[:, k], y) for k in range(y_hat.shape[1])]
            MeanOverHeadsLoop.per_head.append([v.item() for v in losses])
            return torch.stack(losses).mean()

        return mean_over_heads


def test_wrap_loss_averages_over_the_heads_of_an_ensemble_output():
    MeanOverHeadsLoop.per_head = []
    learner = iris_learner(network=TwoHeads(), epochs=3)
    learner.loop_class = MeanOverHeadsLoop
    losses = []

    class Last(tw.CallbackSet):
        def on_batch_end(self):
            losses.append(self.ctx.last_loss)

    learner.callbacks = [tw.TorchCallback(Last, id="last")]
    learner.train(tw.tsk("iris"))
    assert len(MeanOverHeadsLoop.per_head) == 3 * 3
    assert all(len(pair) == 2 for pair in MeanOverHeadsLoop.per_head)
    # The loop's loss is the mean of the two heads' losses.
    for pair, loss in zip(MeanOverHeadsLoop.per_head, losses, strict=True):
        assert loss == pytest.approx(sum(pair) / 2, rel=1e-5)
    # In eval mode the network averages its heads: one prediction per row.
    assert len(learner.predict(tw.tsk("iris")).response) == 150


# --- wrap_compute_loss: autocast around the forward pass and loss -----------------------------
class BFloat16Loop(tw.TrainLoop):
    def wrap_compute_loss(self, compute_loss):
        def autocast_compute_loss(x, y):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return compute_loss(x, y)

        return autocast_compute_loss


def test_wrap_compute_loss_runs_forward_and_loss_under_bfloat16_autocast():
    dtypes = []

    class Dtype(tw.CallbackSet):
        def on_after_backward(self):
            dtypes.append(self.ctx.y_hat.dtype)

    network = mlp()
    learner = iris_learner(network=network, callbacks=[tw.TorchCallback(Dtype, id="dtype")])
    learner.loop_class = BFloat16Loop
    learner.train(tw.tsk("iris"))
    assert dtypes == [torch.bfloat16] * 6
    # The weights stay float32 and were trained; prediction runs in full precision.
    trained = weights(learner)
    assert all(v.dtype == torch.float32 for v in trained.values())
    plain = iris_learner(network=network)
    plain.train(tw.tsk("iris"))
    assert not torch.equal(trained["0.weight"], weights(plain)["0.weight"])
    assert torch.allclose(trained["0.weight"], weights(plain)["0.weight"], atol=0.05)


# --- make_backward / make_optimizer_step: a gradient scaler ------------------------------------
class ScalerLoop(tw.TrainLoop):
    log: list = []

    def make_backward(self):
        self.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)

        def scaled_backward(loss):
            ScalerLoop.log.append("backward")
            self.scaler.scale(loss).backward()

        return scaled_backward

    def make_optimizer_step(self, optimizer):
        def scaled_step():
            ScalerLoop.log.append("step")
            self.scaler.step(optimizer)
            self.scaler.update()

        return scaled_step


def test_backward_and_step_hooks_drive_a_gradient_scaler_to_the_same_weights():
    ScalerLoop.log = []
    network = mlp()
    scaled = iris_learner(network=network, optimizer="sgd", epochs=3)
    scaled.loop_class = ScalerLoop
    scaled.train(tw.tsk("iris"))
    plain = iris_learner(network=network, optimizer="sgd", epochs=3)
    plain.train(tw.tsk("iris"))
    assert ScalerLoop.log == ["backward", "step"] * 9
    # The scaler unscales the gradients before each step: the same training.
    for name, value in weights(plain).items():
        torch.testing.assert_close(weights(scaled)[name], value, rtol=1e-5, atol=1e-6)


# --- the shared forward and device transfer ----------------------------------------------------
def test_make_forward_passes_one_input_positionally_and_several_by_name():
    class Two(nn.Module):
        def forward(self, a, b):
            return a - b

    x = {"a": torch.ones(2, 1), "b": torch.full((2, 1), 3.0)}
    assert torch.equal(make_forward(Two(), ["a", "b"])(x), torch.full((2, 1), -2.0))
    one = make_forward(nn.Identity(), ["anything"])
    assert torch.equal(one({"anything": x["a"]}), x["a"])


def test_make_to_device_moves_nothing_on_the_cpu_and_keeps_the_batch_otherwise():
    assert make_to_device(torch.device("cpu")) is None
    move = make_to_device(torch.device("meta"))
    batch = {"x": {"a": torch.ones(2, 1)}, "y": torch.zeros(2), "index": torch.arange(2)}
    original = copy.copy(batch)
    moved = move(batch)
    assert moved["x"]["a"].device.type == "meta" and moved["y"].device.type == "meta"
    assert moved["index"] is batch["index"]
    # The given batch is not mutated.
    assert all(batch[k] is original[k] for k in original)
    assert batch["x"]["a"].device.type == "cpu" and batch["y"].device.type == "cpu"
    assert move({"x": {"a": torch.ones(1)}, "index": None})["x"]["a"].device.type == "meta"
