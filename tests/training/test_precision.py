"""The precision and compile parameters: autocast, the gradient scaler, torch.compile."""

import pickle

import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.errors import InvalidParameterError

from .helpers import iris_learner

CUDA = torch.cuda.is_available()


class DtypeProbe(nn.Module):
    """An MLP that records the dtype of its hidden activations and its autocast state."""

    seen: list = []

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.hidden = nn.Linear(4, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        DtypeProbe.seen.append(h.dtype)
        return self.out(h)


def train(device="cpu", epochs=3, **params):
    learner = iris_learner(
        network=DtypeProbe(), epochs=epochs, device=device, optimizer=tw.t_opt("adam", lr=0.02)
    )
    learner.predict_type = "prob"
    return learner.configure(**params).train(tw.tsk("iris"))


def weights(learner):
    return {k: v.detach().cpu() for k, v in learner.network.state_dict().items()}


def test_the_parameters_default_to_float32_without_compiling():
    ps = iris_learner().param_set
    assert ps.params["precision"].default == "32"
    assert ps.params["compile"].default is False
    assert {"train", "predict"} <= set(ps.params["precision"].tags)
    with pytest.raises(InvalidParameterError, match="precision"):
        ps.set_values(precision="fp8")


def test_float32_runs_without_autocast():
    DtypeProbe.seen = []
    learner = train()
    learner.predict(tw.tsk("iris"))
    assert set(DtypeProbe.seen) == {torch.float32}


def test_bf16_mixed_autocasts_training_validation_and_prediction_on_the_cpu():
    DtypeProbe.seen = []
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    learner = iris_learner(
        network=DtypeProbe(),
        epochs=30,
        precision="bf16-mixed",
        measures_valid="classif.acc",
        optimizer=tw.t_opt("adam", lr=0.02),
    )
    learner.validate = "predefined"
    learner.predict_type = "prob"
    learner.train(task)
    # 3 training + 1 validation batch per epoch, all in bfloat16.
    assert DtypeProbe.seen == [torch.bfloat16] * (30 * 4)
    DtypeProbe.seen = []
    prediction = learner.predict(tw.tsk("iris"))
    assert DtypeProbe.seen == [torch.bfloat16] * 3  # batch_size 50
    assert prediction.prob is not None and prediction.prob.sum(axis=1).round(5).eq(1).all()
    # The weights stay float32; training is close to (not equal to) the fp32 run.
    assert all(v.dtype == torch.float32 for v in weights(learner).values())
    plain = train(epochs=30)
    agree = (plain.predict(tw.tsk("iris")).response == prediction.response).mean()
    assert agree > 0.95
    short, short_plain = weights(train(precision="bf16-mixed")), weights(train())
    assert not torch.equal(short["hidden.weight"], short_plain["hidden.weight"])
    for key, value in short_plain.items():
        torch.testing.assert_close(short[key], value, atol=0.05, rtol=0.05, msg=key)
    assert learner.internal_valid_scores["classif.acc"] > 0.9


def test_16_mixed_needs_cuda_with_a_clear_error():
    if CUDA:
        pytest.skip("this machine has CUDA")
    with pytest.raises(InvalidParameterError, match="'16-mixed'.*needs a CUDA device.*'cpu'"):
        train(precision="16-mixed")
    learner = train()
    learner.configure(precision="16-mixed")
    with pytest.raises(InvalidParameterError, match="needs a CUDA device"):
        learner.predict(tw.tsk("iris"))


def test_compile_and_jit_trace_together_are_refused():
    with pytest.raises(InvalidParameterError, match="either jit_trace=True or compile=True"):
        train(compile=True, jit_trace=True)


def test_compiled_training_and_prediction_are_close_to_plain_ones():
    torch._dynamo.reset()
    compiled = train(epochs=10, compile=True)
    plain = train(epochs=10)
    # The learner keeps the plain module (it pickles), trained through the compiled one.
    assert type(compiled.network) is DtypeProbe
    for key, value in weights(plain).items():
        torch.testing.assert_close(weights(compiled)[key], value, atol=1e-4, rtol=1e-4)
    task = tw.tsk("iris")
    p_compiled, p_plain = compiled.predict(task), plain.predict(task)
    assert (p_compiled.prob - p_plain.prob).abs().to_numpy().max() < 1e-4
    restored = pickle.loads(pickle.dumps(compiled))
    assert (restored.predict(task).response == p_compiled.response).all()


# --- on a CUDA device ------------------------------------------------------------------------


def needs_cuda(test):
    """Mark a test ``gpu`` and skip it without CUDA."""
    return pytest.mark.gpu(pytest.mark.skipif(not CUDA, reason="needs a CUDA device")(test))


@needs_cuda
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_on_cuda_is_close_to_float32(precision):
    DtypeProbe.seen = []
    learner = train(device="cuda", epochs=30, precision=precision)
    expected = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    assert set(DtypeProbe.seen) == {expected}
    assert learner.predict(tw.tsk("iris")).score(tw.msr("classif.acc"))["classif.acc"] > 0.9
    # A few steps stay close to float32 (long runs drift apart, as on the CPU).
    short, plain = weights(train(device="cuda", precision=precision)), weights(train("cuda"))
    for key, value in plain.items():
        torch.testing.assert_close(short[key], value, atol=0.05, rtol=0.05, msg=key)


@needs_cuda
def test_16_mixed_saves_the_scaler_in_checkpoints_and_resumes_exactly(tmp_path):
    def run(path, epochs, **params):
        learner = iris_learner(
            network=DtypeProbe(),
            epochs=epochs,
            device="cuda",
            precision="16-mixed",
            callbacks=[tw.t_clbk("checkpoint", path=str(path), freq=1)],
        )
        return learner.configure(**params).train(tw.tsk("iris"))

    run(tmp_path / "a", 2)
    state = torch.load(tmp_path / "a" / "state2.pt", weights_only=True)
    assert state["grad_scaler"]["scale"] > 0
    resumed = run(tmp_path / "a", 4, resume=True)
    in_one_go = run(tmp_path / "b", 4)
    for key, value in weights(in_one_go).items():
        torch.testing.assert_close(weights(resumed)[key], value, rtol=0, atol=0, msg=key)
    final = torch.load(tmp_path / "a" / "state4.pt", weights_only=True)["grad_scaler"]
    assert final == torch.load(tmp_path / "b" / "state4.pt", weights_only=True)["grad_scaler"]


@needs_cuda
def test_16_mixed_refuses_a_loop_that_steps_the_optimizer_itself():
    class OwnStep(tw.TrainLoop):
        def make_optimizer_step(self, optimizer):
            return optimizer.step

    learner = iris_learner(network=DtypeProbe(), device="cuda", precision="16-mixed")
    learner.loop_class = OwnStep
    with pytest.raises(InvalidParameterError, match="overrides make_optimizer_step"):
        learner.train(tw.tsk("iris"))


@needs_cuda
def test_compile_on_cuda_is_close_to_plain():
    torch._dynamo.reset()
    compiled = train(device="cuda", epochs=10, compile=True)
    plain = train(device="cuda", epochs=10)
    for key, value in weights(plain).items():
        torch.testing.assert_close(weights(compiled)[key], value, atol=1e-3, rtol=1e-3)
