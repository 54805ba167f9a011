"""Shared set-up of the layer operator tests: descriptors fed by hand, real forwards, mirrors.

``make_md``/``descriptors`` make ModelDescriptors whose pointers have given shapes (NOP inputs
fed by hand); ``run`` trains an operator on one and runs the built network on a real
batch; ``assert_fits`` compares an inferred shape with a real one;
``assert_params_mirror_torch`` compares a ParamSet with the torch constructor;
``assert_matches_torch`` and the hypothesis strategies serve the convolution and pooling
tests.
"""

import functools
import inspect
import warnings
from typing import NamedTuple

import torch
from hypothesis import strategies as st
from torch import nn

import torchweave as tw
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.network import ModelDescriptor, TorchIngressToken, batchgetter_num
from torchweave.network.module_graph import model_descriptor_to_module
from torchweave.network.pipeop_torch import signature_params
from torchweave.params.param import NO_DEFAULT
from torchweave.pipelines import Graph
from torchweave.pipelines.ops.nop import PipeOpNOP
from torchweave.testing.params import check_param_set


# --- descriptors and real forwards -------------------------------------------------------------
@functools.cache
def _iris():
    return tw.tsk("iris")


def descriptors(*shapes, task=None):
    """One ModelDescriptor per shape, each pointing at its own NOP input ``inp<i>`` of one graph."""
    graph = Graph()
    ingress = {}
    for i, shape in enumerate(shapes):
        graph.add_pipeop(PipeOpNOP(id=f"inp{i}"), clone=False)
        ingress[f"inp{i}.input"] = TorchIngressToken(["x"], batchgetter_num, shape)
    task = task if task is not None else _iris()
    return [
        ModelDescriptor(graph, ingress, task, pointer=(f"inp{i}", "output"), pointer_shape=s)
        for i, s in enumerate(shapes)
    ]


def make_md(shape, task=None):
    """A ModelDescriptor whose pointer (a NOP ``inp`` fed by hand) has ``shape``."""
    graph = Graph().add_pipeop(PipeOpNOP(id="inp"), clone=False)
    return ModelDescriptor(
        graph=graph,
        ingress={"inp.input": TorchIngressToken(["x"], batchgetter_num, shape)},
        task=task if task is not None else _iris(),
        pointer=("inp", "output"),
        pointer_shape=shape,
    )


def real_shape(shape, batch=5, sizes=(3, 4, 2, 5, 6)):
    """``shape`` with an unknown batch dim set to ``batch``, other unknowns from ``sizes``."""
    fill = iter(sizes)
    return tuple(
        batch if i == 0 and d is None else (next(fill) if d is None else d)
        for i, d in enumerate(shape)
    )


class Run(NamedTuple):
    """What :func:`run` gives back."""

    shape: tuple  # the inferred output shape
    x: torch.Tensor  # the real input
    y: torch.Tensor  # the network's output
    layer: nn.Module  # the operator's layer in the network


def run(op, shape, x=None, batch=5, sizes=(3, 4, 2, 5, 6)):
    """Train ``op`` on a descriptor of ``shape``; run the network on a real batch ``x``.

    ``x`` is a tensor, the shape of a random one, or None: a random one of
    ``real_shape(shape, batch, sizes)``. It is cloned for the forward, so in-place
    layers leave it as it was.
    """
    out = op.train([make_md(shape)])[0]
    net = model_descriptor_to_module(out)
    if not isinstance(x, torch.Tensor):
        x = torch.randn(*(real_shape(shape, batch, sizes) if x is None else x))
    return Run(out.pointer_shape, x, net(x.clone()), net.layers[op.id])


def assert_fits(inferred, real):
    """An inferred shape agrees with a real one: same length, known sizes equal."""
    assert len(inferred) == len(real), (inferred, real)
    assert all(i is None or i == r for i, r in zip(inferred, real, strict=True)), (inferred, real)


def outputs(y):
    """A network's outputs as a list (one tensor or a tuple of them)."""
    return list(y) if isinstance(y, tuple) else [y]


# --- parameters mirror torch ---------------------------------------------------------------------
def assert_params_mirror_torch(op, module_class=None, optional_inferred=(), ordered=True):
    """The ParamSet of ``op`` (an operator, or a class built with defaults) mirrors torch.

    Its ids are the constructor arguments of ``module_class`` (default
    ``op.module_class``) minus the inferred and omitted ones (in torch's order unless
    ``ordered`` is false); torch's defaults are the defaults, arguments without one are
    tagged ``required`` (unless in ``optional_inferred``: inferred, but settable), all
    tagged ``train``; no value is set but inits; ``check_param_set`` passes.
    """
    op = op() if isinstance(op, type) else op
    module_class = module_class or op.module_class
    omitted = getattr(op, "omitted", ("device", "dtype"))
    excluded = [a for a in (*op.inferred, *omitted) if a not in optional_inferred]
    expected = signature_params(module_class, exclude=excluded)
    ps = op.param_set
    assert (ps.ids() if ordered else sorted(ps.ids())) == (
        list(expected) if ordered else sorted(expected)
    )
    for pid, default in expected.items():
        param = ps.params[pid]
        if default is inspect.Parameter.empty:
            required = pid not in optional_inferred
            assert param.tags == ({"train", "required"} if required else {"train"}), pid
            assert param.default is NO_DEFAULT, pid
        else:
            assert param.tags == {"train"}, pid
            assert param.default == default, pid
            assert param.check(default) is None, pid
    assert all(ps.params[pid].has_init for pid in ps.values)
    check_param_set(ps)
    # every omitted argument really is a torch argument (or device/dtype)
    sig = inspect.signature(module_class.__init__).parameters
    assert all(a in sig or a in ("device", "dtype") for a in excluded), module_class


# --- shape inference against torch (convolutions and pooling) ------------------------------------
def assert_matches_torch(op, shape, real_shape, make_module):
    """Check ``op``'s shape inference for ``shape`` against torch on an input of ``real_shape``.

    ``real_shape`` is ``shape`` with every ``None`` filled in. If torch computes an output,
    inference must succeed and agree on every dim it claims to know (and claim to know all
    of them when the input is fully known), and the network built by training ``op`` on a
    ModelDescriptor must give outputs of the inferred shapes. If torch fails on a fully
    known input (or returns an empty tensor), inference must fail too, with a torchweave
    error.

    Returns the inferred shapes, or the error inference raised.
    """
    try:
        inferred = op.shapes_out([shape])
    except (ShapeError, InvalidParameterError) as exc:
        inferred = exc
    x = torch.randn(real_shape)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            real = [tuple(y.shape) for y in outputs(make_module()(x))]
    except (RuntimeError, ValueError):
        real = None
    if real is not None and any(0 in r for r in real):
        real = None  # CPU kernels may return empty tensors; inference rejects such outputs
    fully_known = all(s is not None for s in shape[1:])
    if real is None:
        if fully_known:
            assert isinstance(inferred, Exception), (shape, real_shape, inferred)
        return inferred
    assert not isinstance(inferred, Exception), (shape, real_shape, inferred)
    assert len(inferred) == len(real)
    for inf, r in zip(inferred, real, strict=True):
        assert len(inf) == len(r)
        assert inf[0] == shape[0]  # the batch dim passes through
        assert all(a is None or a == b for a, b in zip(inf, r, strict=True)), (inf, r)
        if fully_known:
            assert inf[1:] == r[1:]
    # the network a graph builds gives tensors of the inferred shapes
    mds = op.train([make_md(shape)])
    assert [m.pointer_shape for m in mds] == inferred
    assert op.state["shapes_out"] == inferred
    net = model_descriptor_to_module(mds[0], [m.pointer for m in mds])
    got = [tuple(y.shape) for y in outputs(net(x))]
    assert got == real
    return inferred


def sizes(d, lower, upper):
    """An int or a tuple of ``d`` ints in [lower, upper]."""
    entry = st.integers(lower, upper)
    return st.one_of(entry, st.tuples(*[entry] * d))


def spatial_input(d, lower=1, upper=12):
    """(shape with some spatial dims unknown, the concrete shape)."""
    extents = st.lists(st.integers(lower, upper), min_size=d, max_size=d)
    unknown = st.lists(st.booleans(), min_size=d, max_size=d)
    return st.tuples(extents, unknown)


def shapes_from(channels, extents, unknown):
    """(shape with the unknown extents as None, the concrete shape with batch 3)."""
    shape = (None, channels, *[None if u else e for e, u in zip(extents, unknown, strict=True)])
    return shape, (3, channels, *extents)
