"""nn_tokenizer_num and nn_tokenizer_categ: shapes, values, cardinalities, errors, params."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import torchweave as tw
import torchweave.network.ops.tokenizer  # registers the operators
from tests.network.ops.helpers import assert_params_mirror_torch, make_md
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.ops.tokenizer import (
    PipeOpTorchTokenizerCateg,
    PipeOpTorchTokenizerNum,
    TokenizerCateg,
    TokenizerNum,
    categ_cardinalities,
    init_token_,
)


def _categ_task():
    """Factor (3 categories, one unused), logical, numeric and ordered (2) features."""
    df = pd.DataFrame(
        {
            "colour": pd.Categorical(["red", "green", "red", "green"], ["red", "green", "blue"]),
            "flag": [True, False, True, True],
            "num": [1.0, 2.0, 3.0, 4.0],
            "size": pd.Categorical(["s", "l", "l", "s"], ["s", "l"], ordered=True),
            "y": ["a", "b", "a", "b"],
        }
    )
    return tw.TaskClassif(df, "y")


# --- nn_tokenizer_num ----------------------------------------------------------------------------
def test_tokenizer_num_params_mirror_module():
    op = tw.nn("tokenizer_num")
    assert isinstance(op, PipeOpTorchTokenizerNum)
    assert op.id == "tokenizer_num"
    assert op.inferred == ("n_features",)
    assert_params_mirror_torch(op, TokenizerNum)
    assert op.param_set.values == {"bias": True, "initialization": "uniform"}
    assert op.param_set.params["initialization"].levels == ("uniform", "normal")


def test_tokenizer_num_on_a_task_infers_the_real_shape_and_computes_affine_tokens():
    task = tw.tsk("iris")
    md = (tw.po("torch_ingress_num") >> tw.nn("tokenizer_num", d_token=6)).train(task)
    md = md["tokenizer_num.output"]
    assert md.pointer_shape == (None, 4, 6)
    net = tw.model_descriptor_to_module(md)
    x = md.ingress["torch_ingress_num.input"](task.data(cols=task.feature_names).iloc[:5])
    y = net(x)
    assert tuple(y.shape) == (5, 4, 6)
    layer = net.layers["tokenizer_num"]
    assert isinstance(layer, TokenizerNum)
    assert (layer.n_features, layer.d_token) == (4, 6)
    expected = x[:, :, None] * layer.weight[None] + layer.bias[None]
    torch.testing.assert_close(y, expected)


def test_tokenizer_num_without_bias_is_linear_in_the_input():
    layer = TokenizerNum(3, 5, bias=False)
    assert layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    x = torch.randn(4, 3)
    torch.testing.assert_close(layer(2 * x), 2 * layer(x))
    torch.testing.assert_close(layer(torch.zeros(2, 3)), torch.zeros(2, 3, 5))


@pytest.mark.parametrize("initialization", ["uniform", "normal"])
def test_token_initialization_follows_rtdl(initialization):
    d = 256
    layer = TokenizerNum(64, d, initialization=initialization)
    bound = 1 / math.sqrt(d)
    for p in (layer.weight, layer.bias):
        values = p.detach()
        if initialization == "uniform":
            assert values.abs().max() <= bound
            assert values.abs().max() > 0.99 * bound
            assert values.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
        else:
            assert values.abs().max() > bound
            assert values.std().item() == pytest.approx(bound, rel=0.05)
        assert values.mean().item() == pytest.approx(0, abs=0.05 * bound)


def test_init_token_rejects_an_unknown_initialization():
    with pytest.raises(InvalidParameterError, match="must be 'uniform' or 'normal'. Got 'zeros'"):
        init_token_(torch.empty(3), 3, "zeros")
    with pytest.raises(InvalidParameterError, match="'initialization' parameter of PipeOp"):
        tw.nn("tokenizer_num", d_token=2, initialization="zeros")


@settings(max_examples=15, deadline=None)
@given(
    n_features=st.integers(1, 7),
    d_token=st.integers(1, 9),
    batch=st.integers(1, 4),
    bias=st.booleans(),
)
def test_tokenizer_num_inferred_shape_equals_real_shape(n_features, d_token, batch, bias):
    op = tw.nn("tokenizer_num", d_token=d_token, bias=bias)
    out = op.train([make_md((None, n_features))])[0]
    assert out.pointer_shape == (None, n_features, d_token)
    y = tw.model_descriptor_to_module(out)(torch.randn(batch, n_features))
    assert tuple(y.shape) == (batch, n_features, d_token)
    assert op.state["shapes_out"] == [(None, n_features, d_token)]


def test_tokenizer_num_shape_errors():
    op = tw.nn("tokenizer_num", d_token=4)
    with pytest.raises(ShapeError, match=r"'tokenizer_num' requires an input with 2 dimensions"):
        op.shapes_out([(None, 3, 4)])
    with pytest.raises(
        ShapeError,
        match=r"requires the feature dimension \(dimension 1\) of the input shape to be known, "
        r"but got shape \(None, None\)",
    ):
        op.shapes_out([(None, None)])


def test_tokenizer_num_needs_d_token():
    op = tw.nn("tokenizer_num")
    with pytest.raises(InvalidParameterError, match="required parameter.*'d_token'"):
        op.train([make_md((None, 3))])
    with pytest.raises(InvalidParameterError, match="'d_token' parameter .* >= 1. Got 0"):
        op.param_set.set_values(d_token=0)


# --- nn_tokenizer_categ --------------------------------------------------------------------------
def test_tokenizer_categ_params_mirror_module():
    op = tw.nn("tokenizer_categ")
    assert isinstance(op, PipeOpTorchTokenizerCateg)
    assert op.trace_dtypes == (torch.int64,)
    # cardinalities is both a parameter and, when unset, inferred from the task
    assert_params_mirror_torch(op, TokenizerCateg, optional_inferred=("cardinalities",))
    assert op.param_set.values == {"bias": True, "initialization": "uniform"}


def test_categ_cardinalities_follow_feature_order_and_count_logicals_as_two():
    task = _categ_task()
    assert categ_cardinalities(task) == [3, 2, 2]
    assert categ_cardinalities(tw.tsk("iris")) == []


def test_tokenizer_categ_infers_cardinalities_from_the_task_and_runs_real_batches():
    task = _categ_task().select(["colour", "flag", "size"])
    md = tw.po("torch_ingress_categ").train([task])[0]
    out = tw.nn("tokenizer_categ", d_token=5).train([md])[0]
    assert out.pointer_shape == (None, 3, 5)
    net = tw.model_descriptor_to_module(out)
    layer = net.layers["tokenizer_categ"]
    assert layer.cardinalities == (3, 2, 2)
    assert layer.embeddings.weight.shape == (7, 5)
    assert layer.category_offsets.tolist() == [0, 3, 5]
    assert "category_offsets" not in layer.state_dict()
    x = md.ingress["torch_ingress_categ.input"](task.data(cols=task.feature_names))
    assert x.dtype == torch.int64
    y = net(x)
    assert tuple(y.shape) == (4, 3, 5)
    assert torch.isfinite(y).all()


def test_tokenizer_categ_codes_are_zero_based_and_per_feature():
    layer = TokenizerCateg((3, 2, 2), d_token=4, bias=False)
    table = layer.embeddings.weight
    y = layer(torch.tensor([[0, 0, 0], [2, 1, 1]]))
    # code c of feature j is row offset_j + c
    torch.testing.assert_close(y[0], table[[0, 3, 5]])
    torch.testing.assert_close(y[1], table[[2, 4, 6]])
    # the same code gives a different embedding in each feature
    assert not torch.allclose(y[0, 0], y[0, 1])
    assert not torch.allclose(y[0, 1], y[0, 2])
    # with a bias, each feature adds its own bias row
    with_bias = TokenizerCateg((3, 2, 2), d_token=4)
    codes = torch.tensor([[1, 0, 1]])
    plain = with_bias.embeddings(codes + with_bias.category_offsets)
    torch.testing.assert_close(with_bias(codes), plain + with_bias.bias[None])


def test_tokenizer_categ_explicit_cardinalities_win_over_the_task():
    op = tw.nn("tokenizer_categ", d_token=2, cardinalities=(4, 5))
    md = make_md((None, 2), task=_categ_task())
    out = op.train([md])[0]
    assert out.pointer_shape == (None, 2, 2)
    assert tw.model_descriptor_to_module(out).layers["tokenizer_categ"].cardinalities == (4, 5)


def test_tokenizer_categ_shapes_out():
    task = _categ_task()
    op = tw.nn("tokenizer_categ", d_token=3)
    assert op.shapes_out([(None, 3)], task=task) == [(None, 3, 3)]
    # an unknown width can only be the number of tokens
    assert op.shapes_out([(None, None)], task=task) == [(None, 3, 3)]
    assert op.shapes_out([(8, 3)], task=task) == [(8, 3, 3)]


def test_tokenizer_categ_errors():
    op = tw.nn("tokenizer_categ", d_token=3)
    with pytest.raises(
        ShapeError, match="'tokenizer_categ' needs the number of categories .* 'cardinalities'"
    ):
        op.shapes_out([(None, 2)])
    with pytest.raises(ShapeError, match="task 'iris', but it has none"):
        op.shapes_out([(None, 2)], task=tw.tsk("iris"))
    with pytest.raises(
        ShapeError, match=r"has 3 cardinalities, so it needs an input with 3 columns.*\(None, 2\)"
    ):
        op.shapes_out([(None, 2)], task=_categ_task())
    with pytest.raises(ShapeError, match="requires an input with 2 dimensions"):
        op.shapes_out([(None, 3, 1)], task=_categ_task())
    for bad in [(), (2, 0), (2.0, 3), "ab", (True, 2)]:
        with pytest.raises(
            InvalidParameterError,
            match="'cardinalities' parameter .* must be a non-empty tuple of ints >= 1",
        ):
            op.param_set.set_values(cardinalities=bad)
    with pytest.raises(InvalidParameterError, match="at least one cardinality"):
        TokenizerCateg((), 3)


@settings(max_examples=15, deadline=None)
@given(
    cards=st.lists(st.integers(1, 5), min_size=1, max_size=5),
    d_token=st.integers(1, 6),
    batch=st.integers(1, 4),
)
def test_tokenizer_categ_inferred_shape_equals_real_shape(cards, d_token, batch):
    n = len(cards)
    out = tw.nn("tokenizer_categ", d_token=d_token, cardinalities=tuple(cards)).train(
        [make_md((None, n))]
    )[0]
    assert out.pointer_shape == (None, n, d_token)
    rng = np.random.default_rng(0)
    codes = torch.from_numpy(np.stack([rng.integers(0, c, batch) for c in cards], axis=1))
    y = tw.model_descriptor_to_module(out)(codes)
    assert tuple(y.shape) == (batch, n, d_token)


def _categ_graph(*preproc):
    graph = tw.po("select", selector=tw.selector_name(["island", "sex"]))
    for op in preproc:
        graph = graph >> op
    return tw.as_learner(
        graph
        >> tw.po("torch_ingress_categ")
        >> tw.nn("tokenizer_categ", d_token=4)
        >> tw.nn("flatten")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam")
        >> tw.po("torch_model_classif", epochs=1, batch_size=64, device="cpu", seed=1)
    )


def test_an_unseen_level_never_reaches_the_embedding_of_another_feature():
    """tokenizer_categ shares one embedding table: an unseen code would silently index
    the next feature's rows. The learner refuses it, naming the column and level."""
    task = tw.tsk("penguins")
    new = task.data().dropna().head(3)
    new["island"] = new["island"].astype(object)
    new.loc[new.index[0], "island"] = "Atlantis"
    learner = _categ_graph(tw.po("imputemode"))
    learner.train(task)
    with pytest.raises(
        tw.TaskError, match=r"factor column 'island' has the level\(s\) 'Atlantis'.*fixfactors"
    ):
        learner.predict_newdata(new)
    fixed = _categ_graph(tw.po("fixfactors"), tw.po("imputemode"))
    fixed.predict_type = "prob"
    fixed.train(task)
    with pytest.warns(UserWarning, match="Atlantis"):
        prediction = fixed.predict_newdata(new)
    assert len(prediction.response) == 3
    # the unseen level is predicted as the mode's level would be
    mode_island = task.data()["island"].mode()[0]
    as_mode = new.assign(island=[mode_island, *list(new["island"][1:])])
    np.testing.assert_array_equal(fixed.predict_newdata(as_mode).prob, prediction.prob)
