"""LearnerTorchModel and PipeOpTorchModel: a given or graph-built network, trained and predicted."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.errors import InvalidParameterError, TaskError
from torchweave.training.learner_torch import UNSET

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_token(features=FEATURES) -> tw.TorchIngressToken:
    return tw.TorchIngressToken(list(features), tw.batchgetter_num, (None, len(features)))


def iris_learner(network: nn.Module, **params) -> tw.LearnerTorchModel:
    learner = tw.LearnerTorchModel(network, {"x": iris_token()}, task_type="classif")
    values = {"epochs": 2, "batch_size": 32, "device": "cpu", "seed": 1, "predict_type": "prob"}
    return learner.configure(**{**values, **params})


def weights(network: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


def assert_same_weights(a, b) -> None:
    sa = a if isinstance(a, dict) else a.state_dict()
    sb = b if isinstance(b, dict) else b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=key)


def differ(a: nn.Module, b: nn.Module) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return any(not torch.equal(x, y) for x, y in pairs)


def two_class_iris(positive: str | None = None) -> tw.TaskClassif:
    frame = tw.tsk("iris").data()
    frame = frame[frame["species"] != "virginica"].reset_index(drop=True)
    frame["species"] = frame["species"].cat.remove_unused_categories()
    return tw.TaskClassif(frame, "species", id="iris2", positive=positive)


def configured_graph(task_type: str = "classif", loss: bool = True, optimizer: bool = True):
    graph = tw.po("torch_ingress_num") >> tw.nn("linear", out_features=6) >> tw.nn("head")
    if loss:
        graph = graph >> tw.po(
            "torch_loss", loss="cross_entropy" if task_type == "classif" else "mse"
        )
    if optimizer:
        graph = graph >> tw.po("torch_optimizer", optimizer="adam")
    return graph >> tw.po(f"torch_model_{task_type}", epochs=2, batch_size=32, device="cpu", seed=4)


# --- construction ---------------------------------------------------------------------------------
def test_registered_learners_are_torch_models_without_a_network():
    for task_type in ("classif", "regr"):
        learner = tw.lrn(f"{task_type}.torch_model")
        assert isinstance(learner, tw.LearnerTorchModel)
        assert learner.id == f"{task_type}.torch_model"
        assert learner.task_type == task_type
        assert learner.network_template is None and learner.ingress_tokens is None
        assert {"validation", "internal_tuning"} <= learner.properties
    assert tw.lrn("classif.torch_model").predict_types == ["response", "prob"]
    assert tw.lrn("regr.torch_model").predict_types == ["response"]
    assert {"twoclass", "multiclass"} <= tw.lrn("classif.torch_model").properties


def test_training_without_network_or_ingress_tokens_is_an_error():
    learner = tw.lrn("classif.torch_model", epochs=1, batch_size=10, device="cpu")
    with pytest.raises(InvalidParameterError, match=r"Learner 'classif.torch_model' has no"):
        learner.train(tw.tsk("iris"))
    learner = tw.LearnerTorchModel(nn.Linear(4, 3)).configure(epochs=1, batch_size=10)
    with pytest.raises(InvalidParameterError, match=r"has no ingress_tokens set"):
        learner.train(tw.tsk("iris"))
    learner = tw.LearnerTorchModel(ingress_tokens={"x": iris_token()})
    with pytest.raises(InvalidParameterError, match=r"has no network to train"):
        learner.configure(epochs=1, batch_size=10, device="cpu").train(tw.tsk("iris"))


def test_network_must_be_a_module_and_tokens_must_be_tokens():
    with pytest.raises(InvalidParameterError, match=r"'network' must be a torch.nn.Module. Got"):
        tw.LearnerTorchModel(lambda x: x)
    with pytest.raises(InvalidParameterError, match=r"needs ingress_tokens"):
        tw.LearnerTorchModel(nn.Linear(4, 3), ingress_tokens={})
    with pytest.raises(InvalidParameterError, match=r"'x' are not TorchIngressTokens"):
        tw.LearnerTorchModel(nn.Linear(4, 3), ingress_tokens={"x": FEATURES})


def test_feature_types_restrict_the_tasks():
    learner = tw.LearnerTorchModel(
        nn.Linear(4, 3), {"x": iris_token()}, feature_types=("numeric",)
    ).configure(epochs=1, batch_size=10, device="cpu")
    with pytest.raises(TaskError, match=r"factor"):
        learner.train(tw.tsk("penguins"))


def test_a_regression_loss_on_a_classification_learner_is_an_error():
    with pytest.raises(TaskError, match=r"The loss 'mse' is for regr tasks"):
        tw.LearnerTorchModel(nn.Linear(4, 3), {"x": iris_token()}, loss="mse")


# --- training twice, clones, the template -------------------------------------------------------
def test_a_learner_trains_twice_from_the_network_as_given():
    task = tw.tsk("iris")
    learner = iris_learner(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    learner.train(task)
    first_network = learner.model.network
    first = weights(first_network)
    learner.train(task)
    assert learner.model.network is not first_network
    assert_same_weights(learner.model.network, first)  # same seed, same start: same result
    assert_same_weights(first_network, first)  # the first model is left alone


def test_the_template_network_is_never_modified():
    task = tw.tsk("iris")
    template = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 3))
    template.eval()
    before = weights(template)
    learner = iris_learner(template, epochs=3)
    learner.train(task)
    learner.predict(task)
    learner.train(task.clone().filter(task.row_ids[:60]))
    assert learner.network_template is template
    assert_same_weights(template, before)
    assert template.training is False
    assert differ(learner.model.network, template)


def test_a_given_network_is_not_reinitialised():
    task = tw.tsk("iris")
    template = nn.Linear(4, 3)
    learner = iris_learner(template, **{"opt.lr": 0.0}).train(task)
    assert_same_weights(learner.model.network, template)


def test_a_clone_of_a_trained_learner_is_independent():
    task = tw.tsk("iris")
    learner = iris_learner(nn.Linear(4, 3)).train(task)
    before = learner.predict(task).prob
    clone = learner.clone()
    assert clone.model.network is not learner.model.network
    assert clone.network_template is not learner.network_template
    clone.configure(epochs=4).train(task.clone().filter(task.row_ids[:50]))
    pd.testing.assert_frame_equal(learner.predict(task).prob, before)
    assert learner.model.epochs == 2 and clone.model.epochs == 4
    trained_clone = learner.clone()
    learner.configure(epochs=1).train(task)
    pd.testing.assert_frame_equal(trained_clone.predict(task).prob, before)


def test_optimizer_loss_and_callbacks_are_copies():
    opt = tw.t_opt("sgd", lr=0.3)
    learner = tw.LearnerTorchModel(nn.Linear(4, 3), {"x": iris_token()}, optimizer=opt)
    assert learner.optimizer is not opt
    learner.param_set.set_values(**{"opt.lr": 0.01})
    assert opt.param_set.values["lr"] == 0.3
    clone = learner.clone()
    clone.param_set.set_values(**{"opt.lr": 0.5})
    assert learner.param_set.values["opt.lr"] == 0.01


# --- graph-built networks (PipeOpTorchModel) --------------------------------------------------------
def configured_descriptor(task: tw.Task) -> tw.ModelDescriptor:
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=6)
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam")
    )
    return graph.train(task)["torch_optimizer.output"]


def test_graph_networks_are_reinitialised_under_the_seed():
    task = tw.tsk("iris")
    networks, inits = [], []
    for build_seed in (10, 20):
        torch.manual_seed(build_seed)  # the layers get their first weights here
        md = configured_descriptor(task)
        op = tw.po("torch_model_classif", epochs=2, batch_size=32, device="cpu", seed=4)
        op.train([md])
        inits.append(op.state.network_template)
        networks.append(op.state.model.network)
    assert differ(inits[0], inits[1])
    assert_same_weights(networks[0], networks[1])


def test_graph_learners_with_one_seed_agree_whatever_the_build_rng():
    task = tw.tsk("iris")
    trained = []
    for build_seed in (1, 2):
        torch.manual_seed(build_seed)
        learner = tw.as_learner(configured_graph())
        learner.predict_type = "prob"
        trained.append(learner.train(task))
    a, b = (t.model["torch_model_classif"] for t in trained)
    assert isinstance(a, tw.LearnerTorchModel)
    assert a.reset_parameters is True
    assert_same_weights(a.model.network, b.model.network)
    pd.testing.assert_frame_equal(trained[0].predict(task).prob, trained[1].predict(task).prob)


def test_pipeop_state_is_the_trained_learner_and_it_predicts():
    task = tw.tsk("iris")
    graph = configured_graph()
    graph.train(task)
    op = graph.pipeops["torch_model_classif"]
    assert isinstance(op.state, tw.LearnerTorchModel)
    assert op.learner_model is op.state
    assert op.state.loss.id == "cross_entropy" and op.state.optimizer.id == "adam"
    assert set(op.state.ingress_tokens) == {"torch_ingress_num.input"}
    prediction = graph.predict(task)["torch_model_classif.output"]
    assert isinstance(prediction, tw.PredictionClassif)
    assert len(prediction.response) == 150
    # the operator's own learner stays an untrained template without loss or optimizer
    assert not op.learner.is_trained
    assert op.learner.loss is UNSET and op.learner.optimizer is UNSET


def test_a_graph_without_a_loss_is_an_error():
    with pytest.raises(
        InvalidParameterError,
        match=r'^No loss configured in ModelDescriptor\. Use po\("torch_loss"\)\.',
    ):
        configured_graph(loss=False).train(tw.tsk("iris"))


def test_a_graph_without_an_optimizer_is_an_error():
    with pytest.raises(
        InvalidParameterError,
        match=r'^No optimizer configured in ModelDescriptor\. Use po\("torch_optimizer"\)\.',
    ):
        configured_graph(optimizer=False).train(tw.tsk("iris"))


# --- binary classification ---------------------------------------------------------------------------
@pytest.mark.parametrize("positive", ["setosa", "versicolor"])
def test_binary_classification_uses_one_logit_for_the_positive_class(positive):
    task = two_class_iris(positive)
    assert task.class_names == ["setosa", "versicolor"] and task.positive == positive
    learner = iris_learner(nn.Linear(4, 1), epochs=20, batch_size=100, **{"opt.lr": 0.1})
    learner.train(task)
    prediction = learner.predict(task)
    # the positive class's probability is the sigmoid of the one output
    x = torch.tensor(task.data(cols=FEATURES).to_numpy(dtype=np.float32))
    with torch.no_grad():
        p_positive = torch.sigmoid(learner.model.network(x)).numpy().ravel()
    np.testing.assert_allclose(prediction.prob[positive].to_numpy(), p_positive, rtol=1e-5)
    np.testing.assert_allclose(prediction.prob.sum(axis=1), 1.0, atol=1e-6)
    # the response is the class with the larger probability
    expected = np.where(p_positive >= 0.5, positive, task.negative)
    np.testing.assert_array_equal(np.asarray(prediction.response, dtype=object), expected)
    # the targets were encoded with the same positive class: the separable task is learned
    assert prediction.score(tw.msr("classif.acc"))["classif.acc"] == 1.0


def test_binary_response_agrees_with_prob_when_predicting_response_only():
    task = two_class_iris("versicolor")
    learner = iris_learner(nn.Linear(4, 1), epochs=3).train(task)
    with_prob = learner.predict(task)
    learner.predict_type = "response"
    response_only = learner.predict(task)
    assert response_only.prob is None
    np.testing.assert_array_equal(
        np.asarray(response_only.response, dtype=object),
        np.asarray(with_prob.response, dtype=object),
    )


def test_binary_graph_learner_has_a_one_unit_head():
    task = tw.tsk("breast_cancer")
    learner = tw.as_learner(
        tw.po("scale")
        >> tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam", lr=0.05)
        >> tw.po("torch_model_classif", epochs=3, batch_size=64, device="cpu", seed=1)
    )
    learner.predict_type = "prob"
    learner.train(task)
    network = learner.model["torch_model_classif"].model.network
    head = [m for m in network.modules() if isinstance(m, nn.Linear)][-1]
    assert head.out_features == 1
    prediction = learner.predict(task)
    assert list(prediction.prob.columns) == ["malignant", "benign"]
    assert prediction.score(tw.msr("classif.acc"))["classif.acc"] > 0.9


# --- regression ------------------------------------------------------------------------------------
def test_regression_on_mtcars():
    task = tw.tsk("mtcars")
    learner = tw.as_learner(
        tw.po("scale")
        >> tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="mse")
        >> tw.po("torch_optimizer", optimizer="sgd", lr=0.05)
        >> tw.po("torch_model_regr", epochs=150, batch_size=32, device="cpu", seed=1)
    )
    learner.train(task)
    prediction = learner.predict(task)
    assert isinstance(prediction, tw.PredictionRegr)
    response = np.asarray(prediction.response)
    assert response.dtype == np.float64 and response.shape == (32,)
    assert prediction.score(tw.msr("regr.rsq"))["regr.rsq"] > 0.75
    inner = learner.model["torch_model_regr"]
    assert inner.model.network.layers["head"].out_features == 1


def test_regression_learner_torch_model_on_mtcars_features():
    task = tw.tsk("mtcars")
    token = tw.TorchIngressToken(["hp", "wt"], tw.batchgetter_num, (None, 2))
    learner = tw.LearnerTorchModel(nn.Linear(2, 1), {"x": token}, task_type="regr")
    learner.configure(epochs=2, batch_size=8, device="cpu", seed=1).train(task)
    prediction = learner.predict(task)
    x = torch.tensor(task.data(cols=["hp", "wt"]).to_numpy(dtype=np.float32))
    with torch.no_grad():
        expected = learner.model.network(x).numpy().ravel()
    np.testing.assert_allclose(np.asarray(prediction.response), expected, rtol=1e-6)
    assert learner.predict_types == ["response"]


def test_an_ingress_token_feeds_the_features_in_the_order_given():
    task = tw.tsk("mtcars")  # its feature order has hp before wt
    token = tw.TorchIngressToken(["wt", "hp"], tw.batchgetter_num, (None, 2))
    assert token.feature_names(task) == ["wt", "hp"]


# --- several inputs ------------------------------------------------------------------------------------
def test_numeric_and_categorical_inputs_merged_on_penguins():
    numeric = tw.po("select", id="num", selector=tw.selector_type(["numeric", "integer"])) >> tw.po(
        "torch_ingress_num"
    )
    categorical = (
        tw.po("select", id="categ", selector=tw.selector_type("factor"))
        >> tw.po("torch_ingress_categ")
        >> tw.nn("tokenizer_categ", d_token=3)
        >> tw.nn("flatten")
    )
    graph = (
        tw.po("imputemedian")
        >> tw.po("imputemode")
        >> tw.po("scale")
        >> tw.po("copy", outnum=2)
        >> [numeric, categorical]
        >> tw.nn("merge_cat")
        >> tw.nn("linear", out_features=8)
        >> tw.nn("relu")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam", lr=0.05)
        >> tw.po("torch_model_classif", epochs=8, batch_size=64, device="cpu", seed=1)
    )
    task = tw.tsk("penguins")
    learner = tw.as_learner(graph)
    learner.predict_type = "prob"
    learner.train(task)
    inner = learner.model["torch_model_classif"]
    assert set(inner.ingress_tokens) == {"torch_ingress_num.input", "torch_ingress_categ.input"}
    prediction = learner.predict(task)
    assert len(prediction.response) == task.nrow == 344
    assert not pd.isna(np.asarray(prediction.response, dtype=object)).any()
    np.testing.assert_allclose(prediction.prob.sum(axis=1), 1.0, atol=1e-6)
    assert prediction.score(tw.msr("classif.acc"))["classif.acc"] > 0.8
    # the categorical input reaches the network: other islands give other predictions
    assert any(isinstance(m, nn.Embedding) for m in inner.model.network.modules())
    other = learner.predict_newdata(other_islands(task.data()))
    assert not np.allclose(other.prob.to_numpy(), prediction.prob.to_numpy())


ISLAND_SWAP = {"Biscoe": "Dream", "Dream": "Torgersen", "Torgersen": "Biscoe"}


def other_islands(frame: pd.DataFrame) -> pd.DataFrame:
    """The penguins with each island replaced by another, in the same categories."""
    island = frame["island"]
    values = island.astype(object).map(ISLAND_SWAP)
    return frame.assign(island=pd.Categorical(values, categories=island.cat.categories))


def penguins_categ_learner() -> tw.Learner:
    graph = (
        tw.po("imputemode")
        >> tw.po("select", selector=tw.selector_type("factor"))
        >> tw.po("torch_ingress_categ")
        >> tw.nn("tokenizer_categ", d_token=2)
        >> tw.nn("flatten")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam", lr=0.05)
        >> tw.po("torch_model_classif", epochs=2, batch_size=64, device="cpu", seed=1)
    )
    learner = tw.as_learner(graph)
    learner.predict_type = "prob"
    return learner


def test_new_data_with_categories_in_another_order_is_encoded_like_the_training_data():
    task = tw.tsk("penguins")
    learner = penguins_categ_learner().train(task)
    frame = task.data()
    expected = learner.predict_newdata(other_islands(frame))
    # the same values, with the categories in the order they are first mapped to
    reordered = frame.assign(island=frame["island"].map(ISLAND_SWAP))
    assert list(reordered["island"].cat.categories) != list(frame["island"].cat.categories)
    got = learner.predict_newdata(reordered)
    np.testing.assert_allclose(got.prob.to_numpy(), expected.prob.to_numpy())


def test_several_inputs_are_passed_by_name():
    class ByName(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.sepal = nn.Linear(2, 3)
            self.petal = nn.Linear(2, 3, bias=False)

        def forward(self, petal: torch.Tensor, sepal: torch.Tensor) -> torch.Tensor:
            return self.sepal(sepal) + self.petal(petal)

    tokens = {"sepal": iris_token(FEATURES[:2]), "petal": iris_token(FEATURES[2:])}
    task = tw.tsk("iris")
    learner = tw.LearnerTorchModel(ByName(), tokens).configure(
        epochs=1, batch_size=50, device="cpu", seed=1, predict_type="prob"
    )
    learner.train(task)
    network = learner.model.network
    data = task.data(cols=FEATURES).to_numpy(dtype=np.float32)
    with torch.no_grad():
        logits = network(petal=torch.tensor(data[:, 2:]), sepal=torch.tensor(data[:, :2]))
    np.testing.assert_allclose(
        learner.predict(task).prob.to_numpy(), torch.softmax(logits, 1).numpy(), rtol=1e-5
    )
