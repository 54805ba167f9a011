"""resume: continuing from a checkpoint equals training in one go, and its safety checks."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.errors import InvalidParameterError, TaskError

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def dropout_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def learner(path=None, epochs=4, callbacks=("history",), **params):
    cbs = list(callbacks)
    if path is not None:
        cbs.append(tw.t_clbk("checkpoint", path=str(path), freq=1))
    out = tw.LearnerTorchModel(
        network=dropout_net(),
        ingress_tokens={"x": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))},
        task_type="classif",
        callbacks=cbs,
    )
    settings = {
        "epochs": epochs,
        "batch_size": 16,
        "device": "cpu",
        "seed": 7,
        "measures_train": "classif.ce",
        "measures_valid": "classif.acc",
        "validate": 0.2,
        **params,
    }
    return out.configure(**settings)


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("tensor_dataset", [False, True])
def test_four_epochs_then_resuming_to_eight_equals_eight_in_one_go(
    tmp_path, shuffle, tensor_dataset
):
    task = tw.tsk("iris")
    common = {"shuffle": shuffle, "tensor_dataset": tensor_dataset}
    learner(tmp_path, epochs=4, **common).train(task)
    resumed = learner(tmp_path, epochs=8, resume=True, **common).train(task)
    in_one_go = learner(tmp_path / "one", epochs=8, **common).train(task)
    assert resumed.model.epochs == 8
    assert_same_weights(resumed.model.network, in_one_go.model.network)
    pd.testing.assert_frame_equal(
        resumed.model.callbacks["history"], in_one_go.model.callbacks["history"]
    )
    assert resumed.internal_valid_scores == in_one_go.internal_valid_scores
    for key, state in in_one_go.model.optimizer["state"].items():
        torch.testing.assert_close(
            resumed.model.optimizer["state"][key]["exp_avg"], state["exp_avg"]
        )
    assert sorted(p.name for p in tmp_path.glob("network*.pt")) == [
        f"network{n}.pt" for n in range(1, 9)
    ]


def test_resuming_from_a_path_without_a_checkpoint_callback(tmp_path):
    task = tw.tsk("iris")
    learner(tmp_path, epochs=2).train(task)
    resumed = learner(None, epochs=3, resume=str(tmp_path)).train(task)
    in_one_go = learner(None, epochs=3).train(task)
    assert_same_weights(resumed.model.network, in_one_go.model.network)
    assert resumed.model.callbacks["history"]["epoch"].tolist() == [1, 2, 3]


def test_resuming_at_the_last_epoch_trains_nothing_and_returns_the_checkpoint(tmp_path):
    task = tw.tsk("iris")
    first = learner(tmp_path, epochs=3).train(task)
    batches = []
    counter = tw.torch_callback("count", on_batch_end=lambda self: batches.append(1))
    again = learner(tmp_path, epochs=3, resume=True, callbacks=["history", counter]).train(task)
    assert batches == []
    assert again.model.epochs == 3
    assert_same_weights(again.model.network, first.model.network)
    assert again.internal_valid_scores == first.internal_valid_scores
    pd.testing.assert_frame_equal(
        again.model.callbacks["history"], first.model.callbacks["history"]
    )


def test_fewer_epochs_than_the_checkpoint_is_an_error(tmp_path):
    task = tw.tsk("iris")
    learner(tmp_path, epochs=3).train(task)
    with pytest.raises(
        InvalidParameterError, match="already trained for 3 epochs, but 'epochs' is 2"
    ):
        learner(tmp_path, epochs=2, resume=True).train(task)


def test_resume_true_with_an_empty_folder_trains_from_scratch(tmp_path):
    task = tw.tsk("iris")
    resumed = learner(tmp_path / "new", epochs=2, resume=True).train(task)
    fresh = learner(tmp_path / "other", epochs=2).train(task)
    assert_same_weights(resumed.model.network, fresh.model.network)


def test_resume_true_needs_a_checkpoint_callback():
    with pytest.raises(InvalidParameterError, match="resume=True but no checkpoint callback"):
        learner(None, epochs=1, resume=True).train(tw.tsk("iris"))


def test_resuming_from_a_folder_of_other_files_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidParameterError, match="No checkpoint to resume from"):
        learner(None, epochs=1, resume=str(tmp_path)).train(tw.tsk("iris"))


def test_another_task_or_validation_split_is_refused(tmp_path):
    task = tw.tsk("iris")
    learner(tmp_path, epochs=2).train(task)
    other = tw.tsk("iris")
    other.id = "iris2"
    with pytest.raises(TaskError, match="written for task 'iris', not for task 'iris2'"):
        learner(tmp_path, epochs=3, resume=True).train(other)
    with pytest.raises(TaskError, match="validated on other rows"):
        learner(tmp_path, epochs=3, resume=True, seed=8).train(task)
    with pytest.raises(TaskError, match="had validation data, but this run has no"):
        learner(tmp_path, epochs=3, resume=True, validate=None, measures_valid=[]).train(task)


def test_the_global_step_continues_with_another_batch_size(tmp_path):
    task = tw.tsk("iris")
    learner(tmp_path, epochs=2, batch_size=50).train(task)  # 120 training rows: 3 batches
    steps = []
    record = tw.torch_callback(
        "steps", on_batch_end=lambda self: steps.append(self.ctx.global_step)
    )
    learner(tmp_path, epochs=3, batch_size=60, resume=True, callbacks=["history", record]).train(
        task
    )
    assert steps == [7, 8]


def test_an_incomplete_newer_checkpoint_is_ignored_with_a_warning(tmp_path):
    task = tw.tsk("iris")
    learner(tmp_path, epochs=2).train(task)
    (tmp_path / "state2.pt").unlink()  # as if the run died while saving epoch 2
    with pytest.warns(
        UserWarning, match=r"Ignoring incomplete checkpoint\(s\) of epoch\(s\) \[2\]"
    ):
        resumed = learner(tmp_path, epochs=3, resume=True).train(task)
    assert resumed.model.callbacks["history"]["epoch"].tolist() == [1, 2, 3]
    assert (tmp_path / "state2.pt").exists()  # rewritten by the resumed run


def test_callback_states_for_missing_or_changed_callbacks(tmp_path):
    task = tw.tsk("iris")
    learner(tmp_path, epochs=2).train(task)
    with pytest.warns(UserWarning, match="state for callback 'history', which this run does not"):
        learner(tmp_path, epochs=3, resume=True, callbacks=()).train(task)

    class CallbackSetImpostor(tw.CallbackSet):
        def on_epoch_end(self):
            pass

        def state_dict(self):
            return 1

        def load_state_dict(self, state_dict):
            pass

    impostor = tw.TorchCallback(CallbackSetImpostor, id="history")
    with pytest.raises(InvalidParameterError, match="'history' was a <CallbackSetHistory>"):
        learner(tmp_path / "b", epochs=2).train(task)
        learner(tmp_path / "b", epochs=3, resume=True, callbacks=[impostor]).train(task)


def test_early_stopping_state_is_restored_when_resuming(tmp_path):
    task = tw.tsk("iris")
    first = learner(tmp_path, epochs=3, patience=50).train(task)
    resumed = learner(tmp_path, epochs=5, resume=True, patience=50).train(task)
    in_one_go = learner(tmp_path / "one", epochs=5, patience=50).train(task)
    assert first.model.callbacks["early_stopping"]["best_epochs"] is not None
    assert resumed.model.callbacks["early_stopping"] == in_one_go.model.callbacks["early_stopping"]
    assert resumed.internal_tuned_values == in_one_go.internal_tuned_values


def test_best_weights_from_before_the_resume_are_restored(tmp_path):
    """restore_best_weights with the best epoch before the checkpoint: the resumed run
    ends with the same (best) weights as the run in one go."""
    task = tw.tsk("iris")
    # No later epoch improves by more than min_delta: epoch 1 stays the best.
    es = {"patience": 50, "min_delta": 10.0, "restore_best_weights": True}
    learner(tmp_path, epochs=3, **es).train(task)
    saved = torch.load(tmp_path / "state3.pt", weights_only=True)
    assert "best_weights" in str(saved["callbacks"]["early_stopping"])
    resumed = learner(tmp_path, epochs=6, resume=True, **es).train(task)
    in_one_go = learner(tmp_path / "one", epochs=6, **es).train(task)
    assert in_one_go.internal_tuned_values == {"epochs": 1}
    assert resumed.internal_tuned_values == {"epochs": 1}
    assert_same_weights(resumed.model.network, in_one_go.model.network)
    last = learner(tmp_path / "last", epochs=6).train(task)  # same run, no restoring
    assert not torch.equal(
        last.model.network.state_dict()["0.weight"], resumed.model.network.state_dict()["0.weight"]
    )
    assert "best_weights" not in resumed.model.callbacks["early_stopping"]  # model stays small


def test_resume_is_a_train_parameter_with_a_type_check():
    lrn = learner(None)
    assert lrn.param_set.params["resume"].default is False
    with pytest.raises(InvalidParameterError, match="resume"):
        lrn.param_set.set_values(resume=3)


def test_a_keyboard_interrupt_keeps_the_previous_model_and_runs_on_exit():
    exits, armed = [], []

    def interrupt(self):
        if armed and self.ctx.epoch == 2:
            raise KeyboardInterrupt

    cb = tw.torch_callback("ctrl_c", on_epoch_end=interrupt, on_exit=lambda self: exits.append(1))
    lrn = learner(None, epochs=3, callbacks=["history", cb])
    lrn.train(tw.tsk("iris"))  # a first, successful training
    model = lrn.model
    assert model is not None
    assert exits == [1]
    armed.append(True)
    with pytest.raises(KeyboardInterrupt):
        lrn.train(tw.tsk("iris"))
    assert exits == [1, 1]
    assert lrn.model is model  # the interrupted retrain loses nothing (issue 13)


def test_a_graph_learner_resumes_through_its_flat_parameters(tmp_path):
    def graph_learner(epochs, resume):
        graph = (
            tw.po("torch_ingress_num")
            >> tw.po("nn_linear", out_features=8)
            >> tw.po("nn_relu")
            >> tw.po("nn_dropout", p=0.2)
            >> tw.po("nn_head")
            >> tw.po("torch_callbacks", callbacks=["checkpoint"])
            >> tw.po("torch_loss", loss="cross_entropy")
            >> tw.po("torch_optimizer", optimizer="adam")
            >> tw.po("torch_model_classif", epochs=epochs, batch_size=32, seed=3)
        )
        glrn = tw.as_learner(graph)
        glrn.param_set.set_values(
            {
                "torch_callbacks.checkpoint.path": str(tmp_path / ("a" if resume else "b")),
                "torch_callbacks.checkpoint.freq": 1,
                "torch_model_classif.resume": resume,
            }
        )
        return glrn

    task = tw.tsk("iris")
    graph_learner(2, False).train(task)
    (tmp_path / "b").rename(tmp_path / "a")
    resumed = graph_learner(4, True).train(task)
    in_one_go = graph_learner(4, False).train(task)
    net = resumed.graph.pipeops["torch_model_classif"].state.model.network
    ref = in_one_go.graph.pipeops["torch_model_classif"].state.model.network
    assert_same_weights(net, ref)
    np.testing.assert_array_equal(
        np.asarray(resumed.predict(task).response), np.asarray(in_one_go.predict(task).response)
    )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_resuming_on_cuda_equals_one_go(tmp_path):
    task = tw.tsk("iris")
    learner(tmp_path, epochs=2, device="cuda").train(task)
    state = torch.load(tmp_path / "state2.pt", weights_only=True)
    assert "cuda" in state["rng"]
    resumed = learner(tmp_path, epochs=4, device="cuda", resume=True).train(task)
    in_one_go = learner(tmp_path / "one", epochs=4, device="cuda").train(task)
    assert_same_weights(resumed.model.network, in_one_go.model.network)
