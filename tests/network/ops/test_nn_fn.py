"""nn_fn: any tensor function as a layer; parameters from its signature; shapes; pickling."""

import copy
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.functional import softmax

import torchweave as tw
import torchweave.network.ops.nn_fn  # registers the operator
from tests.network.ops.helpers import make_md, run
from torchweave.errors import InvalidParameterError, InvalidTypeError, ShapeError
from torchweave.network.ops.nn_fn import FnModule, PipeOpTorchFn, function_params
from torchweave.params import ParamSet, p_uty


# Module-level functions (picklable) with and without defaults.
def scale(x, factor, shift=0.0):
    return x * factor + shift


def mean_over(x, dim=-1, keepdim=False):
    return x.mean(dim=dim, keepdim=keepdim)


def first_half(x):
    return x[:, : x.shape[1] // 2]


def _shapes_first_half(shapes_in, param_vals, task):
    shape = shapes_in[0]
    return [(shape[0], None if shape[1] is None else shape[1] // 2)]


# --- parameters -------------------------------------------------------------------------------
def test_params_mirror_the_function_signature():
    op = tw.nn("fn", scale)
    assert op.param_set.ids() == ["factor", "shift"]
    assert "required" in op.param_set.params["factor"].tags
    assert op.param_set.params["factor"].kind == "untyped"
    assert op.param_set.default == {"shift": 0.0}
    assert op.param_set.params["shift"].tags == {"train"}
    assert op.param_set.values == {}
    op = tw.nn("fn", softmax, dim=1)
    # private arguments (_stacklevel) are left out
    assert op.param_set.ids() == ["dim", "dtype"]
    assert op.param_set.default == {"dim": None, "dtype": None}
    assert op.param_set.values == {"dim": 1}


def test_keyword_only_and_variadic_arguments():
    def fn(x, *args, a, b=2, **kwargs):
        return x

    ps = function_params(fn)
    assert ps.ids() == ["a", "b"]
    assert "required" in ps.params["a"].tags
    assert ps.default == {"b": 2}


def test_builtins_without_signature_have_no_params_unless_given():
    assert tw.nn("fn", torch.exp).param_set.ids() == []
    with pytest.raises(
        InvalidParameterError, match="'start_dim' is not a parameter of PipeOp 'fn'"
    ):
        tw.nn("fn", torch.flatten, start_dim=1)
    op = tw.nn(
        "fn",
        torch.flatten,
        param_set=ParamSet(start_dim=p_uty(default=0, tags="train")),
        start_dim=1,
    )
    inferred, x, y, _ = run(op, (None, 2, 5), (3, 2, 5))
    assert inferred == (None, 10)
    assert torch.equal(y, torch.flatten(x, start_dim=1))


def test_required_param_is_checked_at_train():
    with pytest.raises(
        InvalidParameterError, match=r"PipeOp 'fn' needs the required parameter\(s\) 'factor'"
    ):
        tw.nn("fn", scale).train([make_md((None, 3))])


def test_construction_errors():
    with pytest.raises(InvalidTypeError, match="PipeOp 'fn' needs a callable 'fn'.*Got int"):
        tw.nn("fn", 3)
    with pytest.raises(InvalidTypeError, match="takes the tensor as its first positional argument"):
        tw.nn("fn", lambda: None)

    def kw_only(*, x):
        return x

    with pytest.raises(InvalidTypeError, match="first positional argument"):
        PipeOpTorchFn(kw_only)
    with pytest.raises(
        InvalidTypeError, match="'shapes_out' argument of PipeOp 'nn_fn' must be a callable"
    ):
        PipeOpTorchFn(torch.exp, shapes_out=[(None, 3)])
    with pytest.raises(InvalidTypeError, match="needs a callable 'fn'"):
        PipeOpTorchFn("exp", param_set=ParamSet())


def test_key_and_ids():
    assert type(tw.po("nn_fn", torch.exp)) is PipeOpTorchFn
    assert tw.po("nn_fn", torch.exp).id == "nn_fn"
    assert tw.nn("fn", torch.exp).id == "fn"
    assert tw.nn("fn_2", torch.exp).id == "fn_2"


# --- shapes and forwards ------------------------------------------------------------------------
def test_traced_shapes_and_values():
    inferred, x, y, _ = run(tw.nn("fn", softmax, dim=1), (None, 3), (4, 3))
    assert inferred == (None, 3)
    assert torch.allclose(y, softmax(x, dim=1))
    inferred, x, y, _ = run(tw.nn("fn", mean_over, dim=1), (None, 3, None), (2, 3, 5))
    assert inferred == (None, None)
    assert torch.allclose(y, x.mean(dim=1))
    inferred, x, y, _ = run(tw.nn("fn", mean_over, keepdim=True), (None, 3, 4), (2, 3, 4))
    assert inferred == (None, 3, 1)
    assert y.shape == (2, 3, 1)
    inferred, x, y, _ = run(tw.nn("fn", scale, factor=2.0, shift=1.0), (None, 2), (3, 2))
    assert inferred == (None, 2)
    assert torch.allclose(y, 2 * x + 1)


def test_user_shapes_out_is_used_instead_of_tracing():
    calls = []

    def shapes_out(shapes_in, param_vals, task):
        calls.append((shapes_in, param_vals, task))
        return [(shapes_in[0][0], 7)]

    op = tw.nn("fn", scale, shapes_out=shapes_out, factor=3)
    assert op.shapes_out([(None, 4)]) == [(None, 7)]
    assert calls == [([(None, 4)], {"factor": 3}, None)]
    task = tw.tsk("iris")
    op.shapes_out([(None, 4)], task=task)
    assert calls[-1][2] is task


def test_user_shapes_out_may_return_a_single_shape():
    op = tw.nn("fn", first_half, shapes_out=lambda s, p, t: (s[0][0], 2))
    assert op.shapes_out([(None, 4)]) == [(None, 2)]
    op = tw.nn("fn", first_half, shapes_out=_shapes_first_half)
    inferred, x, y, _ = run(op, (None, 6), (2, 6))
    assert inferred == (None, 3)
    assert torch.equal(y, x[:, :3])


def test_user_shapes_out_returning_garbage_is_reported():
    with pytest.raises(ShapeError, match="'shapes_out' must return a list of shapes. Got int"):
        tw.nn("fn", torch.exp, shapes_out=lambda s, p, t: 3).shapes_out([(None, 4)])


def test_tracing_failure_is_a_shape_error():
    with pytest.raises(
        ShapeError, match=r"PipeOp 'fn' cannot process an input of shape \[\(None, 3\)\]"
    ):
        tw.nn(
            "fn", torch.matmul, param_set=ParamSet(other=p_uty()), other=torch.ones(4, 2)
        ).shapes_out([(None, 3)])


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=2, max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.data(),
)
def test_traced_shapes_match_real_batches(real, unknown, data):
    masked = tuple(None if u else r for r, u in zip(real, unknown, strict=False))
    dim = data.draw(st.integers(1, len(real) - 1))
    keepdim = data.draw(st.booleans())
    inferred, _, y, _ = run(tw.nn("fn", mean_over, dim=dim, keepdim=keepdim), masked, tuple(real))
    assert len(inferred) == y.dim()
    for i, r in zip(inferred, y.shape, strict=True):
        assert i is None or i == r


# --- modules and pickling -----------------------------------------------------------------------
def test_fn_module():
    module = FnModule(scale, {"factor": 2})
    x = torch.randn(3)
    assert torch.allclose(module(x), 2 * x)
    assert repr(module) == "FnModule(fn=scale, factor=2)"
    assert FnModule(torch.exp)(torch.zeros(2)).tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("fn", "params"), [(torch.exp, {}), (softmax, {"dim": -1}), (scale, {"factor": 2})]
)
def test_operator_and_network_pickle(fn, params):
    op = tw.nn("fn", fn, **params)
    clone = pickle.loads(pickle.dumps(op))
    assert clone.fn is fn
    assert clone.param_set.values == params
    md = op.train([make_md((None, 3))])[0]
    net = pickle.loads(pickle.dumps(tw.model_descriptor_to_module(md)))
    x = torch.randn(2, 3)
    assert torch.allclose(net(x), fn(x, **params))


def _lambda_graph():
    return (
        tw.po("torch_ingress_num")
        >> tw.nn("fn", lambda x: x * 2, shapes_out=lambda s, p, t: s)
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam", lr=0.05)
        >> tw.po("torch_model_classif", epochs=2, batch_size=50, device="cpu", seed=1)
    )


def test_lambdas_pickle_in_operator_graph_and_network():
    op = tw.nn("fn", lambda x, factor=3: x * factor, factor=2)
    clone = pickle.loads(pickle.dumps(op))
    x = torch.randn(2, 3)
    assert torch.equal(clone.fn(x, factor=2), x * 2)
    assert clone.param_set.values == {"factor": 2}
    graph = pickle.loads(pickle.dumps(_lambda_graph()))
    assert graph.pipeops["fn"].fn(torch.ones(1)).tolist() == [2.0]
    assert graph.pipeops["fn"].shapes_out([(None, 4)]) == [(None, 4)]
    md = op.train([make_md((None, 3))])[0]
    net = pickle.loads(pickle.dumps(tw.model_descriptor_to_module(md)))
    assert torch.equal(net(x), x * 2)
    assert (
        repr(net.layers["fn"])
        == "FnModule(fn=test_lambdas_pickle_in_operator_graph_and_network.<locals>.<lambda>, factor=2)"
    )


def test_trained_graph_learner_with_a_lambda_pickles_and_predicts_the_same():
    task = tw.tsk("iris")
    learner = tw.as_learner(_lambda_graph())
    learner.predict_type = "prob"
    learner.train(task)
    expected = learner.predict(task)
    for copy_of in (lambda obj: pickle.loads(pickle.dumps(obj)), copy.deepcopy):
        other = copy_of(learner)
        got = other.predict(task)
        np.testing.assert_array_equal(got.prob.to_numpy(), expected.prob.to_numpy())
        assert list(got.response) == list(expected.response)


def test_copies_share_the_function():
    fn = lambda x: x + 1  # noqa: E731
    op = tw.nn("fn", fn, shapes_out=lambda s, p, t: s)
    for other in (copy.deepcopy(op), copy.copy(op), op.clone()):
        assert other.fn is fn
        assert other.shapes_out([(None, 2)]) == [(None, 2)]
    module = FnModule(fn)
    assert copy.deepcopy(module).fn is fn


def test_in_a_graph_with_a_task():
    graph = tw.po("torch_ingress_num") >> tw.nn("fn", torch.tanh) >> tw.nn("head")
    task = tw.tsk("iris")
    md = graph.train(task)["head.output"]
    assert md.pointer_shape == (None, 3)
    assert graph.pipeops["fn"].state == {"shapes_out": [(None, 4)]}
    assert graph.predict(task)["head.output"].nrow == 150
