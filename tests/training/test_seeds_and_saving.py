"""Reproducible torch training under a seed, saving trained learners, and the model's fields."""

import collections
import copy
import io
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.training.model import TorchModel

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
CUDA = torch.cuda.is_available()


def dropout_net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def iris_learner(network: nn.Module, **params) -> tw.LearnerTorchModel:
    learner = tw.LearnerTorchModel(
        network=network,
        ingress_tokens={"x": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))},
        task_type="classif",
        callbacks=["history"],
    )
    values = {
        "epochs": 3,
        "batch_size": 16,
        "device": "cpu",
        "seed": 11,
        "shuffle": True,
        "predict_type": "prob",
    }
    return learner.configure(**{**values, **params})


def graph_learner(**params) -> tw.Learner:
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=8)
        >> tw.nn("relu")
        >> tw.nn("dropout", p=0.2)
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam", lr=0.01)
        >> tw.po("torch_callbacks", callbacks="history")
        >> tw.po(
            "torch_model_classif",
            epochs=3,
            batch_size=16,
            device="cpu",
            seed=5,
            measures_train="classif.ce",
        )
    )
    learner = tw.as_learner(graph)
    learner.predict_type = "prob"
    learner.param_set.set_values(params)
    return learner


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=key)


def assert_same_prediction(a, b) -> None:
    np.testing.assert_array_equal(a.row_ids, b.row_ids)
    np.testing.assert_array_equal(np.asarray(a.response), np.asarray(b.response))
    pd.testing.assert_frame_equal(a.prob, b.prob, check_exact=True)


# --- an integer seed makes training reproducible -----------------------------------------------
def test_integer_seed_reproduces_shuffled_dropout_training_with_a_validation_split():
    task = tw.tsk("iris")
    template = dropout_net()
    runs = []
    for global_seed in (0, 99):
        torch.manual_seed(global_seed)  # neither torch's nor numpy's global RNG matters
        np.random.seed(global_seed)
        learner = iris_learner(
            template,
            validate=0.3,
            measures_train="classif.ce",
            measures_valid=["classif.ce", "classif.acc"],
        )
        runs.append(learner.train(task))
    a, b = runs
    assert_same_weights(a.model.network, b.model.network)
    pd.testing.assert_frame_equal(a.model.callbacks["history"], b.model.callbacks["history"])
    assert a.internal_valid_scores == b.internal_valid_scores
    assert_same_prediction(a.predict(task), b.predict(task))
    assert a.model.optimizer["state"].keys() == b.model.optimizer["state"].keys()
    for key, state in a.model.optimizer["state"].items():
        torch.testing.assert_close(state["exp_avg"], b.model.optimizer["state"][key]["exp_avg"])
    history = a.model.callbacks["history"]
    assert list(history.columns) == [
        "epoch",
        "train.classif.ce",
        "valid.classif.ce",
        "valid.classif.acc",
    ]
    # 30% of 150 rows are split off for validation (the same rows in both runs)
    assert round(a.internal_valid_scores["classif.acc"] * 45) == pytest.approx(
        a.internal_valid_scores["classif.acc"] * 45
    )


class CallbackSetSplit(tw.CallbackSet):
    """Keeps the row ids of the training and validation tasks in the model."""

    def on_begin(self) -> None:
        self.rows = (self.ctx.task_train.row_ids.tolist(), self.ctx.task_valid.row_ids.tolist())

    def state_dict(self) -> tuple[list[int], list[int]]:
        return self.rows


def test_the_seed_governs_the_validation_split():
    task = tw.tsk("iris")
    splits = []
    for seed in (1, 1, 2):
        np.random.seed(seed + len(splits))  # numpy's global RNG does not matter
        learner = iris_learner(nn.Linear(4, 3), seed=seed, validate=0.3, epochs=1)
        learner.callbacks = [tw.TorchCallback(CallbackSetSplit, id="split")]
        with pytest.warns(UserWarning, match="no measures_valid"):
            splits.append(learner.train(task).model.callbacks["split"])
    train, valid = splits[0]
    assert (len(train), len(valid)) == (105, 45)
    assert sorted(train + valid) == task.row_ids.tolist()
    assert splits[1] == splits[0]
    assert splits[2] != splits[0]


def test_a_graph_learner_with_a_seed_is_reproducible():
    task = tw.tsk("iris")
    torch.manual_seed(1)
    a = graph_learner().train(task)
    torch.manual_seed(2)  # the modules are built with other random weights ...
    b = graph_learner().train(task)
    net_a = a.model["torch_model_classif"].model.network
    net_b = b.model["torch_model_classif"].model.network
    assert_same_weights(net_a, net_b)  # ... and re-initialised under the seed
    assert_same_prediction(a.predict(task), b.predict(task))
    pd.testing.assert_frame_equal(
        a.model["torch_model_classif"].model.callbacks["history"],
        b.model["torch_model_classif"].model.callbacks["history"],
    )


# --- pickling --------------------------------------------------------------------------------------
def test_pickled_torch_learner_predicts_identically():
    task = tw.tsk("iris")
    learner = iris_learner(dropout_net()).train(task)
    restored = pickle.loads(pickle.dumps(learner))
    assert isinstance(restored, tw.LearnerTorchModel)
    assert restored.param_set.values == learner.param_set.values
    assert restored.optimizer.id == "adam" and restored.loss.id == "cross_entropy"
    assert list(restored.callbacks) == ["history"]
    assert_same_weights(restored.model.network, learner.model.network)
    assert_same_prediction(restored.predict(task), learner.predict(task))
    assert restored.model.seed == learner.model.seed == 11
    assert restored.model.epochs == 3
    pd.testing.assert_frame_equal(
        restored.model.callbacks["history"], learner.model.callbacks["history"]
    )


def test_pickled_torch_learner_trains_again_like_the_original():
    task = tw.tsk("iris")
    learner = iris_learner(dropout_net())
    restored = pickle.loads(pickle.dumps(learner))
    assert_same_weights(restored.network_template, learner.network_template)
    learner.train(task)
    restored.train(task)
    assert_same_weights(restored.model.network, learner.model.network)


def test_pickled_graph_learner_predicts_identically():
    task = tw.tsk("iris")
    learner = graph_learner().train(task)
    restored = pickle.loads(pickle.dumps(learner))
    assert_same_prediction(restored.predict(task), learner.predict(task))
    inner = restored.model["torch_model_classif"]
    assert isinstance(inner, tw.LearnerTorchModel)
    assert inner.model.epochs == 3
    assert inner.model.seed == 5


def test_pickled_traced_learner_predicts_identically():
    task = tw.tsk("iris")
    network = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    learner = iris_learner(network, jit_trace=True).train(task)
    assert isinstance(learner.model.network, torch.jit.ScriptModule)
    restored = pickle.loads(pickle.dumps(learner))
    assert isinstance(restored.model.network, torch.jit.ScriptModule)
    assert restored.model.jitted
    assert_same_prediction(restored.predict(task), learner.predict(task))


def test_pickled_model_keeps_state_dict_types_and_puts_tensors_on_the_cpu():
    task = tw.tsk("iris")
    learner = iris_learner(dropout_net()).train(task)
    model = pickle.loads(pickle.dumps(learner.model))
    assert isinstance(model, TorchModel)
    assert type(model.loss_fn) is type(learner.model.loss_fn)
    assert isinstance(model.optimizer, dict)
    assert model.optimizer["param_groups"] == learner.model.optimizer["param_groups"]
    for state in model.optimizer["state"].values():
        assert all(v.device.type == "cpu" for v in state.values() if torch.is_tensor(v))
    assert all(p.device.type == "cpu" for p in model.network.parameters())


def test_pickling_does_not_change_the_original_model():
    task = tw.tsk("iris")
    learner = iris_learner(dropout_net()).train(task)
    network, optimizer = learner.model.network, learner.model.optimizer
    pickle.dumps(learner)
    assert learner.model.network is network and isinstance(network, nn.Module)
    assert learner.model.optimizer is optimizer


def test_a_model_saved_with_torch_save_loads_back():
    task = tw.tsk("iris")
    learner = iris_learner(dropout_net()).train(task)
    buffer = io.BytesIO()
    torch.save(learner, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    assert_same_prediction(restored.predict(task), learner.predict(task))


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_a_learner_trained_on_the_gpu_unpickles_onto_the_cpu():
    task = tw.tsk("iris")
    learner = iris_learner(dropout_net(), device="cuda").train(task)
    assert next(learner.model.network.parameters()).device.type == "cuda"
    restored = pickle.loads(pickle.dumps(learner))
    assert next(restored.model.network.parameters()).device.type == "cpu"
    for state in restored.model.optimizer["state"].values():
        assert all(v.device.type == "cpu" for v in state.values() if torch.is_tensor(v))
    restored.param_set.set_values(device="cpu")
    np.testing.assert_allclose(
        restored.predict(task).prob.to_numpy(), learner.predict(task).prob.to_numpy(), atol=1e-5
    )


# --- the model and its fields -----------------------------------------------------------------------
def test_model_fields():
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    learner = iris_learner(
        dropout_net(), measures_valid="classif.ce", validate="predefined", patience=5
    ).train(task)
    model = learner.model
    assert isinstance(model, TorchModel)
    assert model.network is learner.network
    assert isinstance(model.network, nn.Sequential)
    assert model.epochs == 3
    assert model.seed == 11
    assert set(model.internal_valid_scores) == {"classif.ce"}
    assert model.internal_valid_scores == learner.internal_valid_scores
    # the optimizer's and the loss's state dicts
    assert model.optimizer["param_groups"][0]["lr"] == 0.001
    assert len(model.optimizer["state"]) == 4  # Adam moments for the 4 parameter tensors
    assert model.optimizer["state"][0]["step"].item() == 3 * 8  # 3 epochs of 8 batches
    assert isinstance(model.loss_fn, collections.OrderedDict)
    # callback states by id, with early stopping's
    assert list(model.callbacks) == ["history", "early_stopping"]
    assert isinstance(model.callbacks["history"], pd.DataFrame)
    assert model.callbacks["early_stopping"]["measure"] == "classif.ce"


def test_model_without_callbacks_or_seed():
    task = tw.tsk("iris")
    learner = tw.LearnerTorchModel(
        nn.Linear(4, 3), {"x": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))}
    )
    learner.configure(epochs=1, batch_size=50, device="cpu", seed=None).train(task)
    assert learner.model.callbacks == {}
    assert learner.model.seed is None
    assert learner.model.internal_valid_scores == {}


def test_model_repr_shows_epochs_network_callbacks_and_seed():
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    learner = iris_learner(
        nn.Linear(4, 3), measures_valid="classif.ce", validate="predefined"
    ).train(task)
    text = repr(learner.model)
    assert text.startswith("<TorchModel> trained for 3 epochs")
    assert "* Network:  <Linear> with 15 parameters" in text
    assert "* Callbacks:  history" in text
    assert "* Validation scores:  classif.ce = " in text
    assert "* Seed:  11" in text
    assert "network, internal_valid_scores, loss_fn, optimizer, epochs, callbacks, seed" in text


def test_learner_repr_names_optimizer_loss_and_callbacks():
    text = repr(iris_learner(nn.Linear(4, 3)))
    assert "* Optimizer: adam" in text
    assert "* Loss: cross_entropy" in text
    assert "* Callbacks: history" in text


def test_deep_copies_of_a_trained_model_are_independent():
    task = tw.tsk("iris")
    learner = iris_learner(dropout_net()).train(task)
    before = learner.predict(task)
    clone = learner.clone()
    assert clone.model.network is not learner.model.network
    with torch.no_grad():
        for p in clone.model.network.parameters():
            p.zero_()
    assert_same_prediction(learner.predict(task), before)
    copied = copy.deepcopy(learner.model)
    assert copied.network is not learner.model.network
    assert_same_weights(copied.network, learner.model.network)
