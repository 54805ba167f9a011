"""Behaviour of the prebuilt tabular learners: parameters, networks, errors, graphs."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.errors import InvalidParameterError, ShapeError, TaskError
from torchweave.prebuilt.tabm import TabMPredictor, _EnsembleLoss

TABULAR = ["mlp", "tab_resnet", "ft_transformer", "tabm", "torch_featureless", "module"]
SMALL = {
    "mlp": {"neurons": [8]},
    "tab_resnet": {
        "n_blocks": 1,
        "d_block": 8,
        "d_hidden": 8,
        "dropout1": 0.0,
        "dropout2": 0.0,
    },
    "ft_transformer": {"n_blocks": 1, "d_token": 8, "attention_n_heads": 2},
    "tabm": {"k": 4, "d_block": 16, "n_blocks": 1},
    "torch_featureless": {},
    "module": {},
}


def small(key, fast, **extra):
    return tw.lrn(key, **{**fast, **SMALL[key.split(".", 1)[1]], **extra})


def test_every_key_is_registered():
    keys = set(tw.registry.learners.keys())
    for name in TABULAR:
        assert {f"classif.{name}", f"regr.{name}"} <= keys
    assert "classif.resnet_small" in keys


def test_mlp_inits_and_network(fast):
    learner = tw.lrn("classif.mlp")
    values = learner.param_set.values
    assert values["neurons"] == [] and values["p"] == 0.1
    assert values["activation"] is nn.ReLU and values["activation_args"] == {}
    task = tw.tsk("iris")
    net = learner._network(task, values)
    assert [type(m) for m in net] == [nn.Linear]  # no hidden layer by default
    learner.configure(
        neurons=[5], n_layers=2, activation=nn.LeakyReLU, activation_args={"negative_slope": 0.3}
    )
    net = learner._network(task, learner.param_set.values)
    assert [type(m).__name__ for m in net] == [
        "Linear",
        "LeakyReLU",
        "Dropout",
        "Linear",
        "LeakyReLU",
        "Dropout",
        "Linear",
    ]
    assert net[1].negative_slope == 0.3 and net[6].out_features == 3
    learner.configure(neurons=[4, 5])
    with pytest.raises(InvalidParameterError, match=r"Can only supply `n_layers` when neurons"):
        learner._network(task, learner.param_set.values)
    with pytest.raises(InvalidParameterError, match=r"'p'"):
        learner.configure(p=1.5)


def test_tab_resnet_hidden_width_rules(fast):
    learner = tw.lrn("regr.tab_resnet", **fast, n_blocks=1, d_block=8, dropout1=0.1, dropout2=0.1)
    task = tw.tsk("mtcars")
    with pytest.raises(InvalidParameterError, match=r"exactly one of the parameters 'd_hidden'"):
        learner.train(task)
    learner.configure(d_hidden_multiplier=1.5)
    net = learner._network(task, learner.param_set.values)
    assert net.blocks[0].linear1.out_features == 12
    assert isinstance(net.head, nn.Linear) and net.head.in_features == 8
    learner.configure(d_hidden=4)
    with pytest.raises(InvalidParameterError, match=r"Got d_hidden = 4 and d_hidden_multiplier"):
        learner.train(task)


def test_tab_resnet_refuses_a_last_batch_of_one_row(fast):
    task = tw.tsk("mtcars")  # 32 rows
    learner = small("regr.tab_resnet", {**fast, "batch_size": 31})
    with pytest.raises(InvalidParameterError, match=r"last training batch would hold one row"):
        learner.train(task)
    learner.configure(drop_last=True).train(task)
    assert learner.is_trained


def test_required_parameters_are_reported(fast):
    learner = tw.lrn("regr.tab_resnet", **fast)
    with pytest.raises(InvalidParameterError, match=r"n_blocks"):
        learner.train(tw.tsk("mtcars"))


@pytest.mark.parametrize("name", ["mlp", "tab_resnet"])
def test_factors_and_missing_values_give_the_torch_learner_errors(name, fast):
    frame = pd.DataFrame(
        {"x": np.linspace(0, 1, 20), "f": pd.Categorical(["a", "b"] * 10), "y": np.arange(20.0)}
    )
    learner = small(f"regr.{name}", fast)
    with pytest.raises(TaskError, match=r"does not support the feature type\(s\) 'factor'.*encode"):
        learner.train(tw.TaskRegr(frame, target="y"))
    frame = frame.drop(columns="f")
    frame.loc[3, "x"] = np.nan
    with pytest.raises(TaskError, match=r"missing values in feature"):
        learner.train(tw.TaskRegr(frame, target="y"))


def test_mlp_takes_one_2d_lazy_tensor(fast):
    learner = small("classif.mlp", fast)
    learner.train(tw.tsk("lazy_iris"))
    assert learner.network[0].in_features == 4
    from torchweave.lazy import as_lazy_tensor

    frame = pd.DataFrame({"x": as_lazy_tensor(torch.zeros(6, 2, 2)), "y": np.arange(6.0)})
    with pytest.raises(ShapeError, match=r"expects an input shape of length 2"):
        small("regr.mlp", fast).train(tw.TaskRegr(frame, target="y"))


def test_ft_transformer_inits_categoricals_and_errors(fast):
    values = tw.lrn("classif.ft_transformer").param_set.values
    assert (values["n_blocks"], values["d_token"], values["attention_n_heads"]) == (3, 192, 8)
    assert values["attention_dropout"] == 0.2 and values["ffn_dropout"] == 0.1
    assert values["init_token"] == "uniform" and values["prenormalization"] is True
    task = tw.tsk("penguins")
    learner = tw.as_learner(
        tw.po("imputemedian")
        >> tw.po("imputemode")
        >> tw.po("learner", small("classif.ft_transformer", fast))
    )
    learner.train(task)
    net = learner.model["classif.ft_transformer"].model.network
    assert net.tokenizer_categ is not None and net.tokenizer_num is not None
    assert net.blocks[0].attention_normalization is None  # first block, prenormalization
    assert net.blocks[-1].query_idx == [-1]  # the CLS token, appended last
    bad = small("classif.ft_transformer", fast, d_token=6, attention_n_heads=4)
    with pytest.raises(InvalidParameterError, match=r"must be a multiple of attention_n_heads"):
        bad.train(tw.tsk("iris"))
    with pytest.raises(InvalidParameterError, match=r"set the 'ingress_tokens' parameter"):
        small("classif.ft_transformer", fast).train(tw.tsk("lazy_iris"))


def test_ft_transformer_on_lazy_tensors_with_ingress_tokens(fast):
    from torchweave.lazy.ops.torch_ingress_ltnsr import ingress_ltnsr

    task = tw.tsk("lazy_iris")
    learner = small(
        "classif.ft_transformer", fast, ingress_tokens={"num.input": ingress_ltnsr(task)}
    )
    learner.train(task)
    assert learner.network.tokenizer_num.n_features == 4


def test_tabm_inits_and_defaults_depend_on_embeddings(fast):
    learner = tw.lrn("regr.tabm")
    values = learner.param_set.values
    assert (values["arch_type"], values["k"], values["d_block"]) == ("tabm", 32, 512)
    assert values["num_embeddings"] == "none" and values["n_bins"] == 48
    task = tw.tsk("mtcars")
    net = learner._network(task, values).tabm
    assert len(net.blocks) == 3
    assert set(net.blocks[0][0].r.detach().abs().flatten().tolist()) == {1.0}  # random signs
    learner.configure(num_embeddings="periodic", d_block=16)
    net = learner._network(task, learner.param_set.values).tabm
    assert len(net.blocks) == 2 and net.num_embeddings.linear.weight.shape[-1] == 24
    learner.configure(num_embeddings="piecewise_linear", n_bins=40)
    with pytest.raises(InvalidParameterError, match=r"less than the number of training rows"):
        learner._network(task, learner.param_set.values)
    learner.configure(num_embeddings="periodic", frequency_init_scale=0.0)
    with pytest.raises(InvalidParameterError, match=r"frequency_init_scale must be > 0"):
        learner._network(task, learner.param_set.values)
    learner.configure(num_embeddings="none", jit_trace=True)
    with pytest.raises(InvalidParameterError, match=r"does not support jit_trace=True"):
        learner._network(task, learner.param_set.values)
    learner.configure(jit_trace=False, num_embeddings="periodic")
    learner.configure(frequency_init_scale=0.01, lite=True, embedding_activation=False)
    with pytest.raises(InvalidParameterError, match=r"lite periodic embeddings need"):
        learner._network(task, learner.param_set.values)


def test_tabm_loss_is_the_mean_over_heads_and_prediction_averages():
    torch.manual_seed(0)
    out = torch.randn(5, 3, 4)
    y = torch.randint(0, 4, (5,))
    loss = _EnsembleLoss(nn.CrossEntropyLoss())(out, y)
    per_head = torch.stack([nn.functional.cross_entropy(out[:, i], y) for i in range(3)])
    torch.testing.assert_close(loss, per_head.mean())
    net = tw.lrn("classif.tabm", k=3, d_block=8)._network(tw.tsk("iris"), {"k": 3, "d_block": 8})
    assert isinstance(net, TabMPredictor)
    x = torch.randn(4, 4)
    assert net.train()(x).shape == (4, 3, 3)
    net.eval()
    probs = torch.softmax(net.tabm(x), -1).mean(1)
    torch.testing.assert_close(net(x).exp(), probs)


@pytest.mark.parametrize("name", ["mlp", "tab_resnet", "ft_transformer", "tabm"])
def test_validation_early_stopping_and_internal_tuned_values(name, fast):
    learner = small(
        f"classif.{name}",
        {**fast, "epochs": 4},
        patience=1,
        measures_valid=[tw.msr("classif.ce")],
        validate=0.3,
    )
    learner.train(tw.tsk("iris"))
    tuned = learner.internal_tuned_values
    assert set(tuned) == {"epochs"} and 1 <= tuned["epochs"] <= 4
    assert set(learner.internal_valid_scores) == {"classif.ce"}


@pytest.mark.parametrize("name", ["tab_resnet", "tabm"])
def test_learner_runs_inside_a_graph_and_pickles(name, fast):
    graph = tw.po("scale") >> tw.po("learner", small(f"regr.{name}", fast))
    learner = tw.as_learner(graph)
    task = tw.tsk("mtcars")
    before = learner.train(task).predict(task).response
    again = pickle.loads(pickle.dumps(learner)).predict(task).response
    np.testing.assert_allclose(before, again)


def test_summary_before_and_after_training(fast):
    learner = small("classif.tabm", fast)
    with pytest.raises(tw.NotTrainedError, match=r"pass a task to summary"):
        learner.summary()
    table = learner.summary(tw.tsk("iris"))
    assert table.table["layer"].tolist() == ["tabm"]
    trained = small("classif.mlp", fast).train(tw.tsk("iris"))
    summary = trained.summary()
    assert summary.total_params == 4 * 8 + 8 + 8 * 3 + 3
    assert "Total params" in repr(summary)


def test_featureless_learns_a_constant(fast):
    task = tw.tsk("mtcars")
    learner = tw.lrn("regr.torch_featureless", **{**fast, "epochs": 60, "opt.lr": 0.5})
    prediction = learner.train(task).predict(task)
    assert np.ptp(prediction.response) == 0
    assert abs(prediction.response[0] - task.truth().mean()) < 1.5
    assert "missings" in learner.properties


def _generator(task, width=4, depth=1):
    layers = [nn.Linear(len(task.feature_names), width), nn.ReLU()] * depth
    return nn.Sequential(*layers[:2], nn.Linear(width, 3))


def test_module_learner_parameters_come_from_the_generator(fast):
    token = tw.TorchIngressToken(tw.tsk("iris").feature_names, tw.batchgetter_num, (None, 4))
    learner = tw.LearnerTorchModule(_generator, {"x": token}, task_type="classif")
    assert learner.param_set.values == {**learner.param_set.values, "width": 4, "depth": 1}
    learner.configure(**fast, width=6)
    learner.train(tw.tsk("iris"))
    assert learner.network[0].out_features == 6
    with pytest.raises(InvalidParameterError, match=r"must have 'task' as a parameter"):
        tw.LearnerTorchModule(lambda n: nn.Linear(n, 1), {"x": token})
    pickle.loads(pickle.dumps(learner))


def test_ppl_prebuilt_graphs(fast):
    assert tw.ppl_prebuilt("classif.mlp").ids() == [
        "imputemedian",
        "imputemode",
        "removeconstants",
        "encode",
        "scale",
        "classif.mlp",
    ]
    assert "encode" not in tw.ppl_prebuilt("classif.tabm").ids()
    assert tw.ppl_prebuilt("regr.tabm").ids()[-2:] == ["targettrafo", "regr.tabm"]
    assert tw.ppl_prebuilt("classif.torch_featureless").ids() == ["classif.torch_featureless"]
    learner = tw.as_learner(tw.ppl_prebuilt("classif.mlp", **fast, neurons=[8]))
    task = tw.tsk("penguins")
    assert learner.train(task).predict(task).response.shape == (task.nrow,)
    with pytest.raises(InvalidParameterError, match=r"only with a learner key"):
        tw.ppl_prebuilt(tw.lrn("classif.mlp"), epochs=1)
