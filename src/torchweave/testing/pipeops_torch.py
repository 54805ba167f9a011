"""``check_pipeop_torch``: the conformance suite of the torch layer operators (``nn_*``).

For a :class:`~torchweave.network.PipeOpTorch` the suite checks what the general
:func:`~torchweave.testing.check_pipeop` cannot: that the inferred output shapes equal
the shapes of a real forward pass (on fixed input shapes and on random variations with
unknown dimensions), that the ParamSet mirrors the torch constructor, that the trained
operator and the module it builds survive cloning and pickling, that predict passes the
Task through, and that the module can be traced with ``torch.jit.trace``. It then runs
the general suite on ModelDescriptor inputs of a working shape.

The input ModelDescriptors are made by hand (a ``PipeOpNOP`` per input, fed by an
ingress token of the given shape), so any input shape can be tried without a task
that produces it. Operators that need constructor arguments are built by
:data:`CONSTRUCTION`; their input shapes come from :data:`SHAPES` and, where the task
matters, their task from :data:`TASKS`.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import random
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from torchweave import registry
from torchweave.data.task import Task
from torchweave.errors import ShapeError
from torchweave.network.ingress_token import TorchIngressToken, batchgetter_num
from torchweave.network.model_descriptor import ModelDescriptor
from torchweave.network.module_graph import ModuleGraph, model_descriptor_to_module
from torchweave.network.pipeop_torch import PipeOpTorch
from torchweave.network.shapes import Shape, shape_to_str
from torchweave.pipelines.graph import Graph
from torchweave.pipelines.ops.nop import PipeOpNOP
from torchweave.pipelines.pipeop import PipeOp
from torchweave.testing._checks import CheckFailedError as _CheckFailedError
from torchweave.testing._checks import refuse_unknown_checks, run_check
from torchweave.testing.pipeops import _difference, check_pipeop

__all__ = [
    "CONSTRUCTION",
    "GENERIC_SHAPES",
    "PIPEOP_TORCH_CHECKS",
    "SHAPES",
    "TASKS",
    "check_pipeop_torch",
]

#: Input shape lists tried, in order, for an operator without an entry in :data:`SHAPES`;
#: the first one the operator accepts is used.
GENERIC_SHAPES: list[list[Shape]] = [[(None, 4)], [(None, 3, 5)]]

# Sizes of the real batches: the batch dimension and unknown dims (dim j -> _FILL + j).
_BATCH = 3
_FILL = 4
_INPUT_ID = "check_input"


# --- how to build the operators ------------------------------------------------------------------
def scale_by(x: torch.Tensor, factor: float = 2.0) -> torch.Tensor:
    """Multiply ``x`` by ``factor`` (a picklable function for ``nn_fn``)."""
    return x * factor


def _nn(key: str, **kwargs: Any) -> Callable[[], PipeOp]:
    def make() -> PipeOp:
        from torchweave.pipelines.sugar import po

        return po(key, **kwargs)

    make.__name__ = f"make_{key}"
    return make


def _nn_block() -> PipeOp:
    from torchweave.network.sugar import nn
    from torchweave.pipelines.sugar import po

    block = nn("linear", out_features=4) >> nn("relu")
    return po("nn_block", block, n_blocks=2)


def _nn_module() -> PipeOp:
    from torchweave.pipelines.sugar import po

    return po("nn_module", module_class=torch.nn.Hardtanh)


def _categorical_task() -> Task:
    from torchweave.sugar import tsk

    task = tsk("penguins")
    return task.select(["island", "sex"])


#: Registry key -> a function building the operator to check, for operators that need
#: constructor arguments or required parameters. Other keys are built with
#: ``tw.po(key)``. The operators must pickle (module-level functions only).
CONSTRUCTION: dict[str, Callable[[], PipeOp]] = {
    "nn_linear": _nn("nn_linear", out_features=3),
    **{f"nn_conv{d}d": _nn(f"nn_conv{d}d", out_channels=3, kernel_size=3) for d in (1, 2, 3)},
    **{
        f"nn_conv_transpose{d}d": _nn(f"nn_conv_transpose{d}d", out_channels=3, kernel_size=3)
        for d in (1, 2, 3)
    },
    **{f"nn_max_pool{d}d": _nn(f"nn_max_pool{d}d", kernel_size=2) for d in (1, 2, 3)},
    **{f"nn_avg_pool{d}d": _nn(f"nn_avg_pool{d}d", kernel_size=2) for d in (1, 2, 3)},
    **{
        f"nn_adaptive_avg_pool{d}d": _nn(f"nn_adaptive_avg_pool{d}d", output_size=2)
        for d in (1, 2, 3)
    },
    "nn_layer_norm": _nn("nn_layer_norm", dims=1),
    "nn_softmax": _nn("nn_softmax", dim=-1),
    "nn_threshold": _nn("nn_threshold", threshold=0.1, value=0.0),
    "nn_reshape": _nn("nn_reshape", shape=(-1, 2, 2)),
    "nn_squeeze": _nn("nn_squeeze", dim=1),
    "nn_unsqueeze": _nn("nn_unsqueeze", dim=1),
    "nn_fn": _nn("nn_fn", fn=scale_by),
    "nn_module": _nn_module,
    "nn_block": _nn_block,
    "nn_multihead_attention": _nn("nn_multihead_attention", num_heads=2),
    "nn_transformer_encoder_layer": _nn("nn_transformer_encoder_layer", nhead=2),
    "nn_tokenizer_num": _nn("nn_tokenizer_num", d_token=3),
    "nn_tokenizer_categ": _nn("nn_tokenizer_categ", d_token=3),
    "nn_ft_transformer_block": _nn("nn_ft_transformer_block", attention_n_heads=2),
}

_SEQUENCE: list[list[Shape]] = [[(None, 3, 4)]]

#: Registry key -> the input shape lists to check (one shape per input channel; two for a
#: vararg channel). Every list must work. Keys without an entry try :data:`GENERIC_SHAPES`.
SHAPES: dict[str, list[list[Shape]]] = {
    "nn_linear": [[(None, 4)], [(None, 3, 5)]],
    "nn_head": [[(None, 4)]],
    "nn_conv1d": [[(None, 2, 9)]],
    "nn_conv2d": [[(None, 2, 9, 9)]],
    "nn_conv3d": [[(None, 2, 6, 6, 6)]],
    "nn_conv_transpose1d": [[(None, 2, 9)]],
    "nn_conv_transpose2d": [[(None, 2, 9, 9)]],
    "nn_conv_transpose3d": [[(None, 2, 6, 6, 6)]],
    **{
        f"nn_{kind}{d}d": [[(None, 2, *[8 if d < 3 else 6] * d)]]
        for kind in ("max_pool", "avg_pool", "adaptive_avg_pool")
        for d in (1, 2, 3)
    },
    "nn_batch_norm1d": [[(None, 4)], [(None, 3, 5)]],
    "nn_batch_norm2d": [[(None, 3, 5, 5)]],
    "nn_batch_norm3d": [[(None, 2, 4, 4, 4)]],
    "nn_layer_norm": [[(None, 4)], [(None, 3, 5)]],
    "nn_softmax": [[(None, 4)], [(None, 3, 5)]],
    "nn_glu": [[(None, 4)], [(None, 3, 6)]],
    "nn_reglu": [[(None, 4)], [(None, 3, 6)]],
    "nn_geglu": [[(None, 4)], [(None, 3, 6)]],
    "nn_reshape": [[(None, 4)], [(None, 2, 2)]],
    "nn_flatten": [[(None, 2, 3)], [(None, 2, 3, 4)]],
    "nn_squeeze": [[(None, 1, 4)]],
    "nn_unsqueeze": [[(None, 4)], [(None, 3, 5)]],
    "nn_merge_sum": [[(None, 4), (None, 4)], [(None, 1), (None, 4)]],
    "nn_merge_prod": [[(None, 4), (None, 4)], [(None, 1), (None, 4)]],
    "nn_merge_cat": [[(None, 4), (None, 4)], [(None, 4), (None, 3)]],
    "nn_fn": [[(None, 4)], [(None, 3, 5)]],
    "nn_block": [[(None, 4)]],
    "nn_multihead_attention": _SEQUENCE,
    "nn_transformer_encoder_layer": _SEQUENCE,
    "nn_tokenizer_num": [[(None, 4)]],
    "nn_tokenizer_categ": [[(None, 2)]],  # the two categorical features of TASKS' task
    "nn_ft_cls": _SEQUENCE,
    "nn_ft_transformer_block": _SEQUENCE,
}

#: Registry key -> a function making the task of the ModelDescriptors, for operators
#: that size themselves from the task. Other keys get ``tw.tsk("iris")``.
TASKS: dict[str, Callable[[], Task]] = {
    "nn_tokenizer_categ": _categorical_task,
}


# --- the context of one run ----------------------------------------------------------------------
@dataclass
class _Built:
    """An operator trained on hand-made ModelDescriptors, and the module it built."""

    shapes: list[Shape]
    op: PipeOpTorch
    inferred: list[Shape]
    module: ModuleGraph


@dataclass
class _Context:
    op: PipeOpTorch
    key: str | None
    task: Task
    shape_lists: list[list[Shape]] | None  # explicit lists (all must work); None: generic
    n_draws: int
    seed: int
    check: str = ""
    _working: list[_Built] | None = field(default=None, repr=False)

    def fail(self, message: str) -> _CheckFailedError:
        return _CheckFailedError(
            f"check_pipeop_torch: PipeOp '{self.op.id}' ({type(self.op).__name__}) fails check "
            f"'{self.check}': {message}"
        )

    def fresh(self) -> PipeOpTorch:
        op = self.op.clone(deep=True)
        op.state = None
        return op  # type: ignore[return-value]

    def n_inputs(self) -> int:
        return 2 if self.op.has_vararg else len(self.op.input)

    def mds(self, shapes: Sequence[Shape]) -> list[ModelDescriptor]:
        return [_hand_md(s, self.task, f"{_INPUT_ID}_{i + 1}") for i, s in enumerate(shapes)]

    def build(self, shapes: Sequence[Shape]) -> _Built:
        """Train a fresh copy on ``shapes`` and build its module (ShapeError passes)."""
        op = self.fresh()
        outputs = _seeded(lambda: op.train(self.mds(shapes)), self.seed)
        if len(outputs) != len(op.output) or not all(
            isinstance(md, ModelDescriptor) and md.pointer is not None for md in outputs
        ):
            raise self.fail("train() must return a ModelDescriptor with a pointer per output.")
        module = model_descriptor_to_module(outputs[0], [md.pointer for md in outputs])
        inferred: list[Shape] = [md.pointer_shape for md in outputs]
        return _Built(list(shapes), op, inferred, module)

    def working(self) -> list[_Built]:
        """The operator built on each working input shape list (computed once)."""
        if self._working is None:
            self._working = self._find_working()
        return self._working

    def _find_working(self) -> list[_Built]:
        if self.shape_lists is not None:
            built = []
            for shapes in self.shape_lists:
                try:
                    built.append(self.build(shapes))
                except _CheckFailedError:
                    raise
                except Exception as exc:
                    raise self.fail(
                        f"train() on ModelDescriptors of shape {shape_to_str(shapes)} raised "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
            return built
        refusals = []
        for shapes in _generic_shapes(self.n_inputs()):
            try:
                return [self.build(shapes)]
            except ShapeError as exc:
                refusals.append(f"{shape_to_str(shapes)}: {exc}")
            except _CheckFailedError:
                raise
            except Exception as exc:
                raise self.fail(
                    f"train() on ModelDescriptors of shape {shape_to_str(shapes)} raised "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        raise self.fail(
            "none of the generic input shapes works; add the operator to "
            "torchweave.testing.pipeops_torch.SHAPES (and CONSTRUCTION if it needs arguments). "
            + " | ".join(refusals)
        )


def _generic_shapes(n_inputs: int) -> list[list[Shape]]:
    return [shapes * n_inputs for shapes in GENERIC_SHAPES]


def _hand_md(shape: Shape, task: Task, name: str) -> ModelDescriptor:
    """A ModelDescriptor whose pointer is a NOP fed by an ingress token of ``shape``."""
    graph = Graph().add_pipeop(PipeOpNOP(id=name), clone=False)
    token = TorchIngressToken(list(task.feature_names), batchgetter_num, shape)
    return ModelDescriptor(
        graph=graph,
        ingress={f"{name}.input": token},
        task=task,
        pointer=(name, "output"),
        pointer_shape=shape,
    )


def _seeded(fn: Callable[[], Any], seed: int) -> Any:
    np.random.seed(seed)
    random.seed(seed)
    torch.manual_seed(seed)
    return fn()


# --- real batches --------------------------------------------------------------------------------
def _concrete(shape: Shape, batch: int) -> tuple[int, ...]:
    """Sizes of a real tensor: ``batch`` for an unknown batch dim, ``_FILL + j`` for dim j."""
    out = [batch if shape[0] is None else shape[0]]
    out.extend(_FILL + j if d is None else d for j, d in enumerate(shape[1:], start=1))
    return tuple(out)


def _dtype(op: PipeOpTorch, i: int) -> torch.dtype:
    dtypes = op.trace_dtypes or ()
    return dtypes[i] if i < len(dtypes) else torch.float32


def _tensors(op: PipeOpTorch, sizes: Sequence[tuple[int, ...]], seed: int) -> list[torch.Tensor]:
    """Random float inputs (zeros for integer and boolean dtypes, which are always in range)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i, size in enumerate(sizes):
        dtype = _dtype(op, i)
        if dtype.is_floating_point:
            out.append(torch.randn(size, generator=gen, dtype=dtype))
        else:
            out.append(torch.zeros(size, dtype=dtype))
    return out


def _ordered(module: Any, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The inputs (tensor ``i`` feeds hand-made input ``i``) in the module's argument order."""
    names = list(getattr(module, "input_names", []))
    if len(names) != len(tensors):
        return list(tensors)
    by_name = {f"{_INPUT_ID}_{i + 1}.input": t for i, t in enumerate(tensors)}
    return [by_name[n] for n in names] if set(names) == set(by_name) else list(tensors)


def _forward(module: Any, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return _call(module, _ordered(module, tensors))


def _call(module: Any, args: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    with torch.no_grad():
        out = module(*args)
    outs = list(out) if isinstance(out, tuple) else [out]
    return outs


def _run_real(
    ctx: _Context, built: _Built, sizes: Sequence[tuple[int, ...]], what: str
) -> list[torch.Tensor]:
    try:
        args = _tensors(built.op, sizes, ctx.seed)
        return _forward(built.module, args)
    except _CheckFailedError:
        raise
    except Exception as exc:
        raise ctx.fail(
            f"the module built for input shape(s) {shape_to_str(built.shapes)} fails on a real "
            f"batch of size(s) {list(sizes)} ({what}): {type(exc).__name__}: {exc}"
        ) from exc


def _compare(ctx: _Context, built: _Built, outs: list[torch.Tensor], what: str) -> None:
    names = [ch.name for ch in built.op.output]
    if len(outs) != len(built.inferred):
        raise ctx.fail(
            f"the module returned {len(outs)} output(s) for {len(built.inferred)} output "
            f"channel(s) ({what})."
        )
    for name, inferred, out in zip(names, built.inferred, outs, strict=True):
        if not isinstance(out, torch.Tensor):
            raise ctx.fail(
                f"output '{name}' of the module is a {type(out).__name__}, not a tensor."
            )
        real = tuple(out.shape)
        agree = len(real) == len(inferred) and all(
            d is None or d == r for d, r in zip(inferred, real, strict=True)
        )
        if not agree:
            raise ctx.fail(
                f"for input shape(s) {shape_to_str(built.shapes)} the inferred shape of output "
                f"'{name}' is {shape_to_str(inferred)}, but a real batch ({what}) gives "
                f"{shape_to_str(real)}."
            )


# --- the checks ----------------------------------------------------------------------------------
def _check_shapes(ctx: _Context) -> None:
    for built in ctx.working():
        sizes = [_concrete(s, _BATCH) for s in built.shapes]
        outs = _run_real(ctx, built, sizes, f"sizes {sizes}")
        _compare(ctx, built, outs, f"sizes {sizes}")


def _draw(
    rng: np.random.Generator, base: Sequence[Shape], first: bool
) -> tuple[list[Shape], list[tuple[int, ...]]]:
    """Input shapes with some known dims made unknown, and the sizes of a real batch.

    The first draw only makes the batch dimension known; later draws make it known with
    probability 1/4 and forget each known non-batch dim with probability 0.4.
    """
    batch = int(rng.integers(2, 7))
    known_batch = first or bool(rng.random() < 0.25)
    shapes, sizes = [], []
    for shape in base:
        real = _concrete(shape, batch)
        new: list[int | None] = [real[0] if (known_batch or shape[0] is not None) else None]
        for d in shape[1:]:
            forget = d is None or (not first and bool(rng.random() < 0.4))
            new.append(None if forget else d)
        shapes.append(tuple(new))
        sizes.append(real)
    return shapes, sizes


def _check_shapes_random(ctx: _Context) -> None:
    rng = np.random.default_rng(ctx.seed)
    bases = [b.shapes for b in ctx.working()]
    successes, refused = 0, []
    for i in range(ctx.n_draws):
        shapes, sizes = _draw(rng, bases[i % len(bases)], first=i == 0)
        try:
            built = ctx.build(shapes)
        except ShapeError as exc:
            refused.append(f"{shape_to_str(shapes)}: {str(exc).splitlines()[0]}")
            continue
        except _CheckFailedError:
            raise
        except Exception as exc:
            raise ctx.fail(
                f"train() on ModelDescriptors of shape {shape_to_str(shapes)} raised "
                f"{type(exc).__name__} (unknown dims must be refused with a ShapeError): {exc}"
            ) from exc
        outs = _run_real(ctx, built, sizes, f"sizes {sizes}")
        _compare(ctx, built, outs, f"sizes {sizes}")
        successes += 1
    if ctx.n_draws and not successes:
        raise ctx.fail(
            f"every one of {ctx.n_draws} drawn input shapes was refused: " + " | ".join(refused)
        )


def _signature_params(cls: type) -> dict[str, inspect.Parameter]:
    sig = inspect.signature(cls.__init__)  # type: ignore[misc]
    return {
        name: p
        for name, p in sig.parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def _equal(a: Any, b: Any) -> bool:
    """``a == b``, but a bool or a string never equals a value of another type."""
    for kind in (bool, str):
        if isinstance(a, kind) != isinstance(b, kind):
            return False
    try:
        return bool(a == b)
    except Exception:  # values without a boolean == (arrays, tensors)
        return False


def _check_signature(ctx: _Context) -> None:
    op = ctx.op
    cls: type = getattr(op, "module_class", None) or type(None)  # set: checked before
    torch_params = _signature_params(cls)
    inferred = tuple(getattr(op, "inferred", ()))
    omitted = tuple(getattr(op, "omitted", ("device", "dtype")))
    extra = tuple(getattr(op, "extra_params", ()))
    # device and dtype are omitted by default, also where the module does not take them.
    declared = [*inferred, *(o for o in omitted if o not in ("device", "dtype"))]
    foreign = [n for n in declared if n not in torch_params]
    if foreign:
        raise ctx.fail(
            f"inferred/omitted name(s) {foreign} that are not arguments of "
            f"{cls.__name__}.__init__ ({list(torch_params)})."
        )
    expected = [n for n in torch_params if n not in inferred and n not in omitted]
    ids = op.param_set.ids()
    missing = [n for n in expected if n not in ids]
    # An inferred argument may also be a parameter: it is inferred only when unset.
    unexpected = [n for n in ids if n not in expected and n not in extra and n not in inferred]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"lacks the torch argument(s) {missing}")
        if unexpected:
            parts.append(f"has parameter(s) {unexpected} that {cls.__name__} does not take")
        raise ctx.fail(
            "the ParamSet must mirror the torch constructor: it "
            + " and ".join(parts)
            + " (list deliberate deviations in the class attributes inferred, omitted or "
            "extra_params)."
        )
    params = op.param_set.params
    for name in expected:
        param, torch_default = params[name], torch_params[name].default
        if torch_default is inspect.Parameter.empty:
            if param.has_default:
                raise ctx.fail(
                    f"parameter '{name}' declares the default {param.default!r}, but torch's "
                    "argument has none."
                )
            if "required" not in param.tags and not param.has_init:
                raise ctx.fail(
                    f"torch requires the argument '{name}': tag the parameter 'required', give "
                    "it an init value, or list it in inferred if the operator infers it when "
                    "unset."
                )
            continue
        if not param.has_default or callable(torch_default) or callable(param.default):
            continue
        if not _equal(param.default, torch_default):
            raise ctx.fail(
                f"parameter '{name}' declares the default {param.default!r}, but torch's default "
                f"is {torch_default!r}."
            )


def _check_clone_pickle(ctx: _Context) -> None:
    built = ctx.working()[0]
    trained, shapes = built.op, built.shapes
    expected = trained.shapes_out(shapes, ctx.task)
    copies = {"clone(deep=True)": trained.clone(deep=True), "copy.deepcopy": copy.deepcopy(trained)}
    try:
        copies["a pickle round trip"] = pickle.loads(pickle.dumps(trained))
    except Exception as exc:
        raise ctx.fail(f"a trained operator must pickle: {type(exc).__name__}: {exc}") from exc
    for how, other in copies.items():
        diff = _difference(trained.state, other.state, "state")
        if diff is not None:
            raise ctx.fail(f"{how} of a trained operator changed its state: {diff}")
        got = other.shapes_out(shapes, ctx.task)  # type: ignore[attr-defined]
        if got != expected:
            raise ctx.fail(
                f"after {how} shapes_out gives {shape_to_str(got)} instead of "
                f"{shape_to_str(expected)}."
            )
    # The network pickles and computes the same after unpickling.
    module = built.module.eval()
    try:
        restored = pickle.loads(pickle.dumps(module)).eval()
    except Exception as exc:
        raise ctx.fail(f"the built module must pickle: {type(exc).__name__}: {exc}") from exc
    sizes = [_concrete(s, _BATCH) for s in shapes]
    args = _tensors(trained, sizes, ctx.seed)
    before, after = _forward(module, args), _forward(restored, args)
    for a, b in zip(before, after, strict=True):
        if not torch.equal(a, b):
            raise ctx.fail("the unpickled module computes other outputs than the original.")
    # Deep copies are independent of the original.
    original = ctx.fresh()
    values = copy.deepcopy(original.param_set.values)
    other = copy.deepcopy(original)
    if other.param_set is original.param_set:
        raise ctx.fail("copy.deepcopy shares the param_set with the original.")
    _change_a_value(other)
    diff = _difference(values, original.param_set.values, "param_set.values")
    if diff is not None:
        raise ctx.fail(f"changing a parameter of a deep copy changed the original: {diff}")
    _seeded(lambda: copy.deepcopy(original).train(ctx.mds(shapes)), ctx.seed)
    if original.state is not None:
        raise ctx.fail("training a deep copy trained the original.")


def _change_a_value(op: PipeOp) -> None:
    """Unset a value that is not required, or else set a documented default."""
    ps = op.param_set
    for pid in ps.values:
        if "required" not in ps.params[pid].tags:
            ps.remove_values(pid)
            return
    for pid, param in ps.params.items():
        if pid not in ps.values and param.has_default and ps.check(pid, param.default) is None:
            ps.set_values(**{pid: param.default})
            return


def _check_predict_passthrough(ctx: _Context) -> None:
    trained = ctx.working()[0].op
    task = ctx.task
    before = task.clone()
    try:
        outs = trained.predict([task] * ctx.n_inputs())
    except Exception as exc:
        raise ctx.fail(f"predict() raised {type(exc).__name__}: {exc}") from exc
    for ch, out in zip(trained.output, outs, strict=True):
        if not isinstance(out, Task):
            raise ctx.fail(f"predict() gives a {type(out).__name__} on output '{ch.name}'.")
        if out.feature_names != task.feature_names or out.nrow != task.nrow:
            raise ctx.fail(
                f"predict() must pass the task through: output '{ch.name}' has the features "
                f"{out.feature_names} and {out.nrow} rows instead of {task.feature_names} and "
                f"{task.nrow}."
            )
    diff = _difference(before, task, "task")
    if diff is not None:
        raise ctx.fail(f"predict() modified its input task: {diff}")


def _trace(module: torch.nn.Module, args: Sequence[torch.Tensor]) -> Any:
    with warnings.catch_warnings():
        # torch >= 2.9 deprecates tracing; the learner's jit_trace option still uses it.
        warnings.filterwarnings("ignore", message=r".torch\.jit\.", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # Without gradients, as at predict time: attention layers take another (fused)
        # path when gradients are on, which makes torch's trace sanity check fail.
        with torch.no_grad():
            return torch.jit.trace(module, tuple(args))


def _check_jit(ctx: _Context) -> None:
    built = ctx.working()[0]
    module = built.module.eval()
    sizes = [_concrete(s, _BATCH) for s in built.shapes]
    args = _tensors(built.op, sizes, ctx.seed)
    try:
        traced = _trace(module, _ordered(module, args))
    except Exception as exc:
        raise ctx.fail(
            f"torch.jit.trace failed: {type(exc).__name__}: {exc} (set the class attribute "
            "jit_unsupported to the reason where tracing cannot work)"
        ) from exc
    batches = [_BATCH]
    if all(s[0] is None for s in built.shapes):
        batches.append(_BATCH + 2)  # the last batch of an epoch is often smaller or larger
    for batch in batches:
        sizes = [_concrete(s, batch) for s in built.shapes]
        args = _ordered(module, _tensors(built.op, sizes, ctx.seed + batch))
        expected = _call(module, args)
        try:
            got = _call(traced, args)
        except Exception as exc:
            raise ctx.fail(
                f"the traced module fails on a batch of size {batch}: {type(exc).__name__}: {exc}"
            ) from exc
        for a, b in zip(expected, got, strict=True):
            if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-5, atol=1e-6):
                raise ctx.fail(
                    f"the traced module computes other outputs than the module on a batch of "
                    f"size {batch}."
                )


def _needs_arguments(key: str) -> bool:
    constructor = registry.pipeops.constructor(key)
    params = inspect.signature(constructor).parameters.values()
    return any(
        p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in params
    )


def _check_pipeop(ctx: _Context) -> None:
    shapes = ctx.working()[0].shapes
    skip = {}
    if ctx.key is not None and ctx.key in CONSTRUCTION and _needs_arguments(ctx.key):
        skip["registry"] = "needs constructor arguments (built by pipeops_torch.CONSTRUCTION)"
    try:
        check_pipeop(
            ctx.fresh(),
            inputs=ctx.mds(shapes),
            predict_inputs=[ctx.task] * ctx.n_inputs(),
            skip=skip,
        )
    except AssertionError as exc:
        raise ctx.fail(f"the general suite failed: {exc}") from exc


#: The checks of :func:`check_pipeop_torch`, by name (the keys of ``skip``).
PIPEOP_TORCH_CHECKS: dict[str, Callable[[_Context], None]] = {
    "shapes": _check_shapes,
    "shapes_random": _check_shapes_random,
    "signature": _check_signature,
    "clone_pickle": _check_clone_pickle,
    "predict_passthrough": _check_predict_passthrough,
    "jit": _check_jit,
    "pipeop": _check_pipeop,
}


def _not_applicable(ctx: _Context, name: str) -> str | None:
    if name == "signature" and getattr(ctx.op, "module_class", None) is None:
        return "the operator sets no module_class"
    if name == "shapes_random" and ctx.n_draws == 0:
        return "n_draws is 0"
    if name == "jit":
        reason = getattr(ctx.op, "jit_unsupported", "")
        if reason:
            return str(reason)
        if len(ctx.op.output) > 1:
            return "the operator has several outputs"
    return None


def _as_shape_lists(shapes_in: Any) -> list[list[Shape]]:
    lists = list(shapes_in)
    if lists and isinstance(lists[0], tuple):  # one list of shapes
        lists = [lists]
    return [[tuple(s) for s in shapes] for shapes in lists]


def _registry_key(op: PipeOp) -> str | None:
    keys = [k for k in registry.pipeops if registry.pipeops.constructor(k) is type(op)]
    return keys[0] if keys else None


def check_pipeop_torch(
    op: PipeOpTorch | str,
    shapes_in: Sequence[Sequence[Shape]] | Sequence[Shape] | None = None,
    task: Task | None = None,
    n_draws: int = 10,
    seed: int = 0,
    skip: Mapping[str, str] | None = None,
    checks: Iterable[str] | None = None,
) -> dict[str, str]:
    """Run the torch operator conformance suite.

    The checks (keys of :data:`PIPEOP_TORCH_CHECKS`):

    ``shapes``
        For each input shape list, train the operator on hand-made ModelDescriptors,
        build the module and run a real batch (batch size 3, unknown dim ``j`` filled
        with ``4 + j``; zeros for integer inputs, see ``trace_dtypes``). Every known
        inferred dim must equal the real one, and the number of dims must agree, for
        every output.
    ``shapes_random``
        ``n_draws`` variations of the working shapes: the batch dim sometimes known,
        known non-batch dims sometimes forgotten (``None``), other batch sizes. A
        draw the operator refuses with a ShapeError is skipped; one must work.
    ``signature``
        The ParamSet ids are the arguments of ``module_class.__init__`` minus the
        class attributes ``inferred`` and ``omitted`` (default ``("device",
        "dtype")``), plus ``extra_params``. Declared defaults equal torch's (callables
        aside); arguments torch requires are tagged ``"required"`` (or have an init).
    ``clone_pickle``
        Deep clones and a pickle round trip of the trained operator keep its state
        and ``shapes_out``; the module pickles and computes the same afterwards;
        changing a parameter of a deep copy leaves the original alone.
    ``predict_passthrough``
        Predict gives the input task (same features and rows) on every output.
    ``jit``
        ``torch.jit.trace`` works and the traced module computes the same, also on a
        batch of another size (skipped for several outputs, or with the reason in the
        class attribute ``jit_unsupported``).
    ``pipeop``
        The general :func:`~torchweave.testing.check_pipeop`, with the
        ModelDescriptors of the first working shape list as train inputs and the task
        as predict inputs.

    Parameters
    ----------
    op : PipeOpTorch or str
        The operator, or a registry key (built by :data:`CONSTRUCTION` or ``tw.po``).
    shapes_in : sequence, optional
        Input shape lists to check (one shape per input channel; two shapes for a
        vararg channel), or a single such list. Default: :data:`SHAPES` for the
        operator's key, else the first of :data:`GENERIC_SHAPES` the operator accepts.
    task : Task, optional
        The task of the ModelDescriptors (default :data:`TASKS` for the key, else
        ``tw.tsk("iris")``).
    n_draws : int, default 10
        Number of random shape variations.
    seed : int, default 0
        Seed of the draws, the module initialisation and the input tensors.
    skip : mapping of str to str, optional
        Checks to skip, with the reason.
    checks : iterable of str, optional
        Run only these checks.

    Returns
    -------
    dict of str to str
        For each check ``"passed"`` or ``"skipped: <reason>"``.

    Raises
    ------
    AssertionError
        On the first failed check, naming the operator and the check.

    Examples
    --------
    >>> from torchweave.testing.pipeops_torch import check_pipeop_torch
    >>> check_pipeop_torch("nn_relu", checks=["shapes", "signature"])
    {'shapes': 'passed', 'signature': 'passed'}
    """
    from torchweave.sugar import tsk

    key: str | None
    built: Any
    if isinstance(op, str):
        key = op
        built = CONSTRUCTION[key]() if key in CONSTRUCTION else registry.pipeops.get(key)
    elif isinstance(op, PipeOp):
        key, built = _registry_key(op), op
    else:
        raise AssertionError(
            f"check_pipeop_torch needs a PipeOpTorch or a key. Got {type(op).__name__}."
        )
    if not isinstance(built, PipeOpTorch):
        raise AssertionError(
            f"check_pipeop_torch: PipeOp '{built.id}' ({type(built).__name__}) is not a "
            "PipeOpTorch."
        )
    op = built
    skips = dict(skip or {})
    wanted = list(PIPEOP_TORCH_CHECKS) if checks is None else list(checks)
    refuse_unknown_checks([*skips, *wanted], PIPEOP_TORCH_CHECKS, f"for PipeOp '{op.id}'")
    if shapes_in is not None:
        shape_lists: list[list[Shape]] | None = _as_shape_lists(shapes_in)
    else:
        shape_lists = SHAPES.get(key) if key is not None else None
    if task is None:
        task = TASKS[key]() if key is not None and key in TASKS else tsk("iris")
    ctx = _Context(
        op=op.clone(deep=True),  # type: ignore[arg-type]
        key=key,
        task=task,
        shape_lists=shape_lists,
        n_draws=n_draws,
        seed=seed,
    )
    states = (np.random.get_state(), random.getstate(), torch.random.get_rng_state())
    results: dict[str, str] = {}
    try:
        for name, check in PIPEOP_TORCH_CHECKS.items():
            if name not in wanted:
                continue
            reason = skips.get(name) or _not_applicable(ctx, name)
            if reason is not None:
                results[name] = f"skipped: {reason}"
                continue
            run_check(ctx, name, check, f"check_pipeop_torch for PipeOp '{op.id}'")
            results[name] = "passed"
    finally:
        np.random.set_state(states[0])
        random.setstate(states[1])
        torch.random.set_rng_state(states[2])
    return results
