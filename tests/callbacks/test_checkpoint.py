"""t_clbk("checkpoint"): files, frequencies, safety rules and the weights_only format."""

import math

import pandas as pd
import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.callbacks.checkpoint import CallbackSetCheckpoint
from torchweave.errors import InvalidParameterError, InvalidTypeError

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def learner(path, freq=1, callbacks=(), freq_type="epoch", **params):
    cb = tw.t_clbk("checkpoint", path=str(path), freq=freq, freq_type=freq_type)
    out = tw.LearnerTorchModel(
        network=nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),
        ingress_tokens={"x": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))},
        task_type="classif",
        callbacks=[cb, *callbacks],
    )
    return out.configure(**{"epochs": 3, "batch_size": 50, "device": "cpu", "seed": 1, **params})


def files(path):
    return sorted(p.name for p in path.iterdir())


def epoch_files(*epochs):
    return sorted(
        [f"{part}{n}.pt" for n in epochs for part in ("network", "optimizer", "state")]
        + ["run.json"]
    )


def test_checkpoint_is_registered_with_typed_parameters_and_runs_last():
    cb = tw.t_clbk("checkpoint", path="unused", freq=2)
    assert cb.param_set.ids() == ["path", "freq", "freq_type"]
    assert cb.param_set.params["freq_type"].default == "epoch"
    assert CallbackSetCheckpoint.weight == math.inf
    with pytest.raises(InvalidParameterError, match="freq"):
        cb.param_set.set_values(freq=0)


def test_freq_one_saves_every_epoch_and_each_file_loads_weights_only(tmp_path):
    trained = learner(tmp_path, freq=1).train(tw.tsk("iris"))
    assert files(tmp_path) == epoch_files(1, 2, 3)
    network = torch.load(tmp_path / "network3.pt", weights_only=True)
    for key, value in trained.model.network.state_dict().items():
        torch.testing.assert_close(network[key], value, rtol=0, atol=0)
    optimizer = torch.load(tmp_path / "optimizer3.pt", weights_only=True)
    assert optimizer["param_groups"][0]["lr"] == pytest.approx(0.001)
    state = torch.load(tmp_path / "state2.pt", weights_only=True)
    assert state["epoch"] == 2
    assert state["global_step"] == 6  # 3 batches of 50 per epoch
    assert set(state["rng"]) == {"torch", "loader"}
    assert trained.model.callbacks["checkpoint"] == {"path": str(tmp_path)}


def test_freq_two_saves_even_epochs_and_always_the_last(tmp_path):
    learner(tmp_path, freq=2).train(tw.tsk("iris"))
    assert files(tmp_path) == epoch_files(2, 3)


def test_step_checkpoints_are_named_by_global_step(tmp_path):
    learner(tmp_path, freq=4, freq_type="step", epochs=2).train(tw.tsk("iris"))
    names = files(tmp_path)
    assert "network_step4.pt" in names and "state_step4.pt" in names
    assert "network_step8.pt" not in names  # 2 epochs x 3 batches = 6 steps
    assert "network2.pt" in names  # the last epoch is saved as well


def test_the_state_holds_other_callbacks_states_and_validation_scores(tmp_path):
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    learner(
        tmp_path,
        callbacks=["history"],
        measures_valid="classif.acc",
        measures_train="classif.ce",
        validate="predefined",
    ).train(task)
    state = torch.load(tmp_path / "state3.pt", weights_only=True)
    assert state["callback_classes"] == {"history": "CallbackSetHistory"}
    assert "checkpoint" not in state["callbacks"]
    assert state["valid_scores"].keys() == {"classif.acc"}
    history = tw.training.checkpoint_io.decode_state(state["callbacks"]["history"])
    assert isinstance(history, pd.DataFrame)
    assert history["epoch"].tolist() == [1, 2, 3]
    run = tw.training.checkpoint_io.read_run(tmp_path)
    assert run["task_id"] == "iris"
    assert run["valid_row_ids"] == list(range(0, 150, 5))


def test_a_crash_in_epoch_three_keeps_only_the_complete_epochs(tmp_path):
    exits = []

    def crash(self):
        if self.ctx.epoch == 3 and self.ctx.step == 2:
            raise RuntimeError("disk on fire")

    boom = tw.torch_callback("boom", on_batch_end=crash, on_exit=lambda self: exits.append(1))
    lrn = learner(tmp_path, freq=1, callbacks=[boom])
    with pytest.raises(RuntimeError, match="disk on fire"):
        lrn.train(tw.tsk("iris"))
    assert files(tmp_path) == epoch_files(1, 2)
    assert exits == [1]
    assert lrn.model is None


def test_terminate_in_epoch_three_still_saves_epoch_three(tmp_path):
    def stop(self):
        if self.ctx.epoch == 3:
            self.ctx.terminate = True

    stopper = tw.torch_callback("stopper", on_epoch_end=stop)
    trained = learner(tmp_path, freq=2, epochs=5, callbacks=[stopper]).train(tw.tsk("iris"))
    assert trained.model.epochs == 3
    assert files(tmp_path) == epoch_files(2, 3)


def test_a_folder_with_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InvalidParameterError, match=r"not checkpoints \('notes.txt'\)"):
        learner(tmp_path).train(tw.tsk("iris"))
    assert files(tmp_path) == ["notes.txt"]


def test_a_path_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InvalidParameterError, match="is not a folder"):
        learner(target).train(tw.tsk("iris"))


def test_another_runs_checkpoints_are_never_overwritten(tmp_path):
    learner(tmp_path, freq=1).train(tw.tsk("iris"))
    before = {name: (tmp_path / name).read_bytes() for name in files(tmp_path)}
    with pytest.raises(InvalidParameterError, match=r"epoch\(s\) \[1, 2, 3\] written by another"):
        learner(tmp_path, freq=1, seed=2).train(tw.tsk("iris"))
    assert {name: (tmp_path / name).read_bytes() for name in files(tmp_path)} == before


def test_a_path_function_is_called_once_and_its_result_kept(tmp_path):
    calls = []

    def make_path():
        calls.append(1)
        return tmp_path / "run1"

    cb = tw.t_clbk("checkpoint", path=make_path, freq=3)
    lrn = learner(tmp_path / "unused")
    lrn.callbacks = [cb]
    trained = lrn.train(tw.tsk("iris"))
    assert calls == [1]
    assert trained.model.callbacks["checkpoint"] == {"path": str(tmp_path / "run1")}
    assert files(tmp_path / "run1") == epoch_files(3)


def test_a_state_a_checkpoint_cannot_store_is_an_error_naming_the_callback(tmp_path):
    bad = tw.torch_callback(
        "bad",
        on_epoch_end=lambda self: None,
        state_dict=lambda self: {"thing": object()},
        load_state_dict=lambda self, state: None,
    )
    bad.weight = -1
    with pytest.raises(InvalidTypeError, match="callback 'bad' holds a object"):
        learner(tmp_path, callbacks=[bad]).train(tw.tsk("iris"))


def test_a_stateful_callback_after_the_checkpoint_is_an_error_and_a_stateless_one_is_not(
    tmp_path,
):
    stateful = tw.torch_callback(
        "stateful",
        on_epoch_end=lambda self: None,
        state_dict=lambda self: 1,
        load_state_dict=lambda self, state: None,
    )
    stateful.weight = math.inf  # ties keep the given order: after the checkpoint
    with pytest.raises(InvalidParameterError, match=r"\['stateful'\] run after the checkpoint"):
        learner(tmp_path, callbacks=[stateful]).train(tw.tsk("iris"))
    stateless = tw.torch_callback("stateless", on_epoch_end=lambda self: None)
    stateless.weight = math.inf
    learner(tmp_path / "b", callbacks=[stateless]).train(tw.tsk("iris"))
    assert files(tmp_path / "b") == epoch_files(1, 2, 3)


def test_checkpoint_parameters_in_a_graph(tmp_path):
    graph = (
        tw.po("torch_ingress_num")
        >> tw.po("nn_head")
        >> tw.po("torch_callbacks", callbacks=["checkpoint"])
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam")
        >> tw.po("torch_model_classif", epochs=2, batch_size=50, seed=1)
    )
    glrn = tw.as_learner(graph)
    glrn.param_set.set_values(
        {"torch_callbacks.checkpoint.path": str(tmp_path), "torch_callbacks.checkpoint.freq": 1}
    )
    glrn.train(tw.tsk("iris"))
    assert files(tmp_path) == epoch_files(1, 2)
