"""The activation operators: shapes (inferred == real), params mirroring torch, errors."""

import inspect

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
from tests.network.ops.helpers import assert_fits, make_md, run
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network.module_graph import model_descriptor_to_module
from torchweave.network.ops import activations
from torchweave.network.pipeop_torch import signature_params
from torchweave.utils.docs import fill_docstring

# key -> (class, torch module class, some non-default parameter values)
ACTIVATIONS = {
    "celu": (activations.PipeOpTorchCELU, nn.CELU, {"alpha": 0.5}),
    "elu": (activations.PipeOpTorchELU, nn.ELU, {"alpha": 2.0}),
    "gelu": (activations.PipeOpTorchGELU, nn.GELU, {"approximate": "tanh"}),
    "hardshrink": (activations.PipeOpTorchHardShrink, nn.Hardshrink, {"lambd": 0.1}),
    "hardsigmoid": (activations.PipeOpTorchHardSigmoid, nn.Hardsigmoid, {"inplace": True}),
    "hardtanh": (activations.PipeOpTorchHardTanh, nn.Hardtanh, {"min_val": -2.0, "max_val": 3.0}),
    "leaky_relu": (activations.PipeOpTorchLeakyReLU, nn.LeakyReLU, {"negative_slope": 0.2}),
    "log_sigmoid": (activations.PipeOpTorchLogSigmoid, nn.LogSigmoid, {}),
    "prelu": (activations.PipeOpTorchPReLU, nn.PReLU, {"init": 0.1}),
    "relu": (activations.PipeOpTorchReLU, nn.ReLU, {"inplace": True}),
    "relu6": (activations.PipeOpTorchReLU6, nn.ReLU6, {"inplace": True}),
    "rrelu": (activations.PipeOpTorchRReLU, nn.RReLU, {"lower": 0.1, "upper": 0.2}),
    "selu": (activations.PipeOpTorchSELU, nn.SELU, {"inplace": True}),
    "sigmoid": (activations.PipeOpTorchSigmoid, nn.Sigmoid, {}),
    "softplus": (activations.PipeOpTorchSoftPlus, nn.Softplus, {"beta": 2.0, "threshold": 5.0}),
    "softshrink": (activations.PipeOpTorchSoftShrink, nn.Softshrink, {"lambd": 0.3}),
    "softsign": (activations.PipeOpTorchSoftSign, nn.Softsign, {}),
    "tanh": (activations.PipeOpTorchTanh, nn.Tanh, {}),
    "tanhshrink": (activations.PipeOpTorchTanhShrink, nn.Tanhshrink, {}),
    "threshold": (
        activations.PipeOpTorchThreshold,
        nn.Threshold,
        {"threshold": 0.1, "value": -1.0},
    ),
}
REQUIRED = {"threshold": {"threshold": 0.0, "value": 0.0}}


@pytest.mark.parametrize("key", sorted(ACTIVATIONS))
def test_registered_with_default_id_tag_and_short_id(key):
    cls = ACTIVATIONS[key][0]
    op = tw.po(f"nn_{key}")
    assert type(op) is cls
    assert op.id == f"nn_{key}"
    assert tw.nn(key).id == key
    assert "activation" in op.tags and "torch" in op.tags
    assert op.preserves_shape  # elementwise: the output shape is the input shape, no tracing
    assert [ch.name for ch in op.input] == ["input"]
    assert [ch.name for ch in op.output] == ["output"]


@pytest.mark.parametrize("key", sorted(ACTIVATIONS))
def test_params_mirror_the_torch_constructor(key):
    cls, module_class, _ = ACTIVATIONS[key]
    op = cls()
    assert op.module_class is module_class
    omitted = getattr(op, "omitted", ("device", "dtype"))
    expected = signature_params(module_class, exclude=(*op.inferred, *omitted))
    assert set(op.param_set.ids()) == set(expected)
    assert op.param_set.values == {}  # defaults are documented, not set
    for name, default in expected.items():
        if default is inspect.Parameter.empty:
            assert name not in op.param_set.default
            assert {"train", "required"} <= op.param_set.tags[name]
        else:
            assert op.param_set.default[name] == pytest.approx(default)
            assert op.param_set.tags[name] == {"train"}


def test_hardtanh_omits_the_deprecated_aliases():
    assert set(activations.PipeOpTorchHardTanh.omitted) == {
        "device",
        "dtype",
        "min_value",
        "max_value",
    }


@pytest.mark.parametrize("key", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(None, 3), (None, None), (None, 2, None, 4), (None,)])
def test_inferred_shape_equals_real_shape(key, shape):
    _, _, values = ACTIVATIONS[key]
    op = tw.nn(key, **{**REQUIRED.get(key, {}), **values})
    inferred, x, y, _ = run(op, shape)
    assert inferred == shape
    assert op.state == {"shapes_out": [shape]}
    assert_fits(inferred, tuple(y.shape))
    assert y.shape == x.shape


@pytest.mark.parametrize("key", sorted(ACTIVATIONS))
def test_parameter_values_reach_the_module(key):
    _, module_class, values = ACTIVATIONS[key]
    op = tw.nn(key, **{**REQUIRED.get(key, {}), **values})
    _, _, _, layer = run(op, (None, 3))
    assert type(layer) is module_class
    for name, value in values.items():
        if name == "init":  # PReLU stores its initial slope as the weight
            assert layer.weight.detach().tolist() == pytest.approx([value])
        else:
            assert getattr(layer, name) == value


@pytest.mark.parametrize("key", sorted(ACTIVATIONS))
def test_output_equals_the_torch_module(key):
    _, module_class, values = ACTIVATIONS[key]
    vals = {
        **REQUIRED.get(key, {}),
        **values,
        **({"inplace": False} if "inplace" in values else {}),
    }
    op = tw.nn(key, **vals)
    out = op.train([make_md((None, 4))])[0]
    net = model_descriptor_to_module(out).eval()
    x = torch.randn(6, 4)
    torch.testing.assert_close(net(x), module_class(**vals).eval()(x))


@given(
    shape=st.lists(st.one_of(st.none(), st.integers(1, 4)), min_size=0, max_size=3).map(
        lambda rest: (None, *rest)
    ),
    key=st.sampled_from(sorted(ACTIVATIONS)),
)
def test_any_shape_is_preserved(shape, key):
    op = tw.nn(key, **REQUIRED.get(key, {}))
    assert op.shapes_out([shape]) == [shape]
    inferred, x, y, _ = run(op, shape)
    assert inferred == shape
    assert tuple(y.shape) == tuple(x.shape)


def test_predict_passes_the_task_through():
    task = tw.tsk("iris")
    op = tw.nn("elu")
    op.train([make_md((None, 4))])
    assert op.predict([task]) == [task]


# --- PReLU with one slope per channel ---------------------------------------------------------
def test_prelu_one_slope_per_channel():
    op = tw.nn("prelu", num_parameters=3)
    inferred, x, y, layer = run(op, (None, 3, None))
    assert inferred == (None, 3, None)
    assert y.shape == x.shape
    assert layer.weight.shape == (3,)


def test_prelu_unknown_channel_dim_is_accepted():
    assert tw.nn("prelu", num_parameters=3).shapes_out([(None, None, 5)]) == [(None, None, 5)]


def test_prelu_channel_mismatch():
    op = tw.nn("prelu", num_parameters=3)
    with pytest.raises(
        ShapeError,
        match=r"PipeOp 'prelu' has num_parameters = 3 \(one per channel\), so it requires "
        r"dimension 1 of the input to have size 3, but got shape \(None, 4\)\.",
    ):
        op.shapes_out([(None, 4)])
    with pytest.raises(ShapeError, match=r"PipeOp 'prelu' requires an input with at least 2"):
        op.shapes_out([(None,)])


def test_prelu_num_parameters_bound():
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'num_parameters' parameter of PipeOp 'prelu' must be an integer >= 1\. "
        r"Got 0 instead\.",
    ):
        tw.nn("prelu", num_parameters=0)


# --- parameters that constrain each other or are bounded -----------------------------------
@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"min_val": 1.0},
            r"'max_val' parameter of PipeOp 'hardtanh' must be greater than 'min_val' \(1\.0\)\. Got 1\.0",
        ),
        (
            {"min_val": 0.5, "max_val": 0.2},
            r"must be greater than 'min_val' \(0\.5\)\. Got 0\.2 instead\.",
        ),
    ],
)
def test_hardtanh_needs_max_above_min(values, message):
    op = tw.nn("hardtanh", **values)
    with pytest.raises(InvalidParameterError, match=message):
        op.shapes_out([(None, 3)])
    with pytest.raises(InvalidParameterError, match=message):
        op.train([make_md((None, 3))])
    assert not op.is_trained


def test_rrelu_needs_upper_at_least_lower():
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'upper' parameter of PipeOp 'rrelu' must be at least 'lower' \(0\.5\)\. "
        r"Got 0\.3333333333333333 instead\.",
    ):
        tw.nn("rrelu", lower=0.5).shapes_out([(None, 3)])
    assert tw.nn("rrelu", lower=0.2, upper=0.2).shapes_out([(None, 3)]) == [(None, 3)]


@pytest.mark.parametrize(
    ("key", "values", "expected"),
    [
        ("celu", {"alpha": 0.0}, "a float > 0"),
        ("softplus", {"beta": -1.0}, "a float > 0"),
        ("softshrink", {"lambd": -0.1}, "a float >= 0"),
        ("gelu", {"approximate": "erf"}, "one of"),
        ("elu", {"inplace": 1}, "a bool"),
    ],
)
def test_out_of_range_parameters(key, values, expected):
    name = next(iter(values))
    with pytest.raises(
        InvalidParameterError, match=rf"The '{name}' parameter of PipeOp '{key}' must be {expected}"
    ):
        tw.nn(key, **values)


def test_threshold_requires_its_values():
    op = tw.nn("threshold", value=0.0)
    with pytest.raises(InvalidParameterError, match=r"PipeOp 'threshold' .*'threshold'"):
        op.train([make_md((None, 3))])


def test_threshold_values():
    op = tw.nn("threshold", threshold=0.5, value=-7.0)
    out = op.train([make_md((None, 3))])[0]
    net = model_descriptor_to_module(out)
    y = net(torch.tensor([[0.25, 0.5, 0.75]]))
    assert y.tolist() == [[-7.0, -7.0, 0.75]]


def test_in_a_graph_on_a_task():
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=6)
        >> tw.nn("gelu")
        >> tw.nn("head")
    )
    md = graph.train(tw.tsk("iris"))["head.output"]
    assert md.pointer_shape == (None, 3)
    net = model_descriptor_to_module(md)
    assert net(torch.randn(7, 4)).shape == (7, 3)


# --- docstrings from the template ------------------------------------------------------------------
@pytest.mark.parametrize("key", ACTIVATIONS)
def test_docstrings_are_filled_from_the_template(key):
    cls, _, _ = ACTIVATIONS[key]
    doc = inspect.getdoc(cls)
    assert "{" not in doc.replace("{'", "").replace('{"', "")  # no placeholder left
    assert "Input and output channels\n-------------------------\ninput : ModelDescriptor" in doc
    assert "State\n-----\n``shapes_out``: the input shape." in doc
    assert f'Examples\n--------\n>>> import torchweave as tw\n>>> tw.nn("{key}"' in doc
    has_inplace = "inplace" in cls().param_set.ids()
    assert ("inplace : bool, default False\n    Operate in place." in doc) is has_inplace
    documented = [p.split(" : ")[0] for p in doc.split("\n") if " : " in p and p[0] != " "]
    assert [p for p in documented if p not in ("input", "output")] == list(cls().param_set.ids())


def test_fill_docstring_indents_sections_and_keeps_unknown_placeholders():
    doc = "Summary.\n\n    {a}\n\n        {b}\n    {unknown}\n    "
    filled = fill_docstring(doc, {"a": "\n    X\n      Y\n", "b": "Z"})
    assert filled == "Summary.\n\n    X\n      Y\n\n        Z\n    {unknown}\n    "
