"""PipeOpTorch: the base of every layer operator of a network graph.

At train time a PipeOpTorch receives ModelDescriptor(s), infers its output shapes
from the input shapes (by tracing the module on ``meta`` tensors, unless the operator
overrides ``_shapes_out``), builds its layer with the sizes it inferred, adds it to
the module graph under its own id, and passes on descriptors that point at its
outputs. At predict time it passes the Task through.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any, ClassVar

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import ShapeError
from torchweave.network.model_descriptor import ModelDescriptor, model_descriptor_union
from torchweave.network.module_graph import PipeOpModule
from torchweave.network.shapes import Shape, as_shape, infer_shapes, shape_to_str
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.pipeop import VARARG, Channel, PipeOp

__all__ = ["PipeOpTorch"]


def _layer_seed(op_id: str) -> int:
    """A seed for building layer ``op_id``: from torch's RNG state, which it leaves as it is.

    Layers built one after another from an RNG that does not advance would otherwise
    start from the same random numbers (two layers of one size would start equal).
    """
    state = torch.random.get_rng_state().numpy().tobytes()
    return int.from_bytes(hashlib.blake2b(state + op_id.encode(), digest_size=8).digest())


def _channel_names(names: str | Sequence[str], default: str) -> list[str]:
    if isinstance(names, str):
        return [names]
    return list(names) if names else [default]


class PipeOpTorch(PipeOp):
    """Abstract base of the layer operators (``nn_*``).

    Subclasses set ``module_class`` (a ``torch.nn.Module`` class) and, where sizes are
    inferred, override ``_shape_dependent_params`` to add them (``in_features``...).
    They override ``_shapes_out`` only when tracing cannot work or when an input must
    be checked first.

    Parameters
    ----------
    id : str
        Operator id; also the id of its layer in the module graph.
    param_set : ParamSet, optional
        Parameters mirroring the module's constructor (minus inferred arguments).
    param_vals : mapping, optional
        Initial values.
    inname, outname : str or sequence of str
        Channel names (``"..."`` is a vararg input).
    tags : sequence of str
        Extra tags (``"torch"`` is always added).
    """

    #: The layer class built by the default ``_make_module``.
    module_class: ClassVar[type[nn.Module] | None] = None
    #: Constructor arguments of ``module_class`` that are inferred, not parameters.
    inferred: ClassVar[tuple[str, ...]] = ()
    #: Dtypes of the inputs used when tracing (default: float32 for every input).
    trace_dtypes: ClassVar[tuple[torch.dtype, ...] | None] = None
    #: Elementwise layers (activations, dropout, normalisation) keep their input's
    #: shape: they skip tracing once their constructor arguments could be built.
    preserves_shape: ClassVar[bool] = False
    #: Where an inferred argument comes from, when not from the incoming shape; the
    #: message that refuses setting it by hand says so.
    inferred_from: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        id: str,
        param_set: ParamSet | None = None,
        param_vals: Mapping[str, Any] | None = None,
        inname: str | Sequence[str] = "input",
        outname: str | Sequence[str] = "output",
        tags: Sequence[str] = (),
    ) -> None:
        param_set = param_set if param_set is not None else ParamSet()
        # Answer an attempt to set an inferred size with where it comes from, not with a
        # spelling hint ("in_features" is not a misspelt "out_features").
        param_set.not_parameters = {
            name: (
                f"it is inferred from {self.inferred_from.get(name, 'the incoming shape')} "
                "when the graph is trained, so it cannot be set by hand."
            )
            for name in self.inferred
            if name not in param_set
        }
        super().__init__(
            id,
            param_set=param_set,
            param_vals=param_vals,
            input=[Channel(n, ModelDescriptor, Task) for n in _channel_names(inname, "input")],
            output=[Channel(n, ModelDescriptor, Task) for n in _channel_names(outname, "output")],
            tags=("torch", *tags),
        )

    # --- hooks ----------------------------------------------------------------------------
    def _shape_dependent_params(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> dict[str, Any]:
        """The module's constructor arguments: parameters plus inferred sizes."""
        return dict(param_vals)

    def _make_module(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> nn.Module:
        """Build the layer (``module_class`` with the shape-dependent arguments)."""
        if self.module_class is None:
            raise TypeError(f"{type(self).__name__} sets no module_class; override _make_module.")
        return self.module_class(**self._shape_dependent_params(shapes_in, param_vals, task))

    def _shapes_out(
        self, shapes_in: list[Shape], param_vals: dict[str, Any], task: Task | None
    ) -> list[Shape]:
        """Output shapes, by tracing the module on ``meta`` tensors (default)."""
        if self.preserves_shape:
            self._shape_dependent_params(shapes_in, param_vals, task)  # checks the input
            return list(shapes_in)
        with torch.device("meta"):
            module = self._make_module(shapes_in, param_vals, task)
        module.eval()
        dtypes = self.trace_dtypes or tuple([torch.float32] * len(shapes_in))
        return infer_shapes(module, shapes_in, self.id, dtypes=dtypes)

    # --- public ---------------------------------------------------------------------------
    def shapes_out(
        self, shapes_in: Shape | Sequence[Shape], task: Task | None = None
    ) -> list[Shape]:
        """The output shapes for the given input shapes (one per output channel).

        Parameters
        ----------
        shapes_in : Shape or sequence of Shape
            One shape per input channel (a single shape for one input).
        task : Task, optional
            The task (some operators, such as ``nn_head``, size themselves from it).

        Raises
        ------
        ShapeError
            If the operator cannot process inputs of these shapes.
        """
        self.param_set.check_required()
        if len(shapes_in) and not isinstance(shapes_in[0], tuple | list | torch.Size):
            shapes_in = [shapes_in]  # type: ignore[list-item]
        shapes = [as_shape(s, "input shape") for s in shapes_in]
        vararg = self.has_vararg
        if not vararg and len(shapes) != len(self.input):
            raise ShapeError(
                f"PipeOp '{self.id}' has {len(self.input)} input channel(s) "
                f"({', '.join(ch.name for ch in self.input)}), but {len(shapes)} input shape(s) "
                "were given."
            )
        out = self._shapes_out(shapes, self.param_set.values, task)
        if len(out) != len(self.output):
            raise ShapeError(
                f"PipeOp '{self.id}' inferred {len(out)} output shape(s) for "
                f"{len(self.output)} output channel(s)."
            )
        return [as_shape(s, "output shape") for s in out]

    # --- train / predict ------------------------------------------------------------------
    def _train(self, inputs: list[Any]) -> list[Any]:
        self.param_set.check_required()
        param_vals = self.param_set.values
        shapes_in = [md.pointer_shape for md in inputs]
        if any(s is None for s in shapes_in):
            raise ShapeError(f"PipeOp '{self.id}' received a ModelDescriptor without a pointer.")
        template: ModelDescriptor = reduce(model_descriptor_union, inputs)
        shapes = self.shapes_out(shapes_in, template.task)
        # Initialising the layer draws random numbers: draw them in a fork of torch's RNG,
        # so that training a graph leaves the caller's random stream as it was (the torch
        # model operator re-initialises the network under its own seed).
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(_layer_seed(self.id))
            module = self._make_module(shapes_in, param_vals, template.task)
        node = PipeOpModule(
            self.id,
            module,
            inname=[ch.name for ch in self.input],
            outname=[ch.name for ch in self.output],
        )
        node.shapes_out = shapes
        template.graph.add_pipeop(node, clone=False)
        for md, ch in zip(inputs, self._input_channels_for(len(inputs)), strict=True):
            assert md.pointer is not None
            template.graph.add_edge(md.pointer[0], self.id, md.pointer[1], ch)
        self.state = {"shapes_out": shapes}
        return [
            template.with_pointer((self.id, ch.name), s)
            for ch, s in zip(self.output, shapes, strict=True)
        ]

    def _input_channels_for(self, n: int) -> list[str]:
        if self.has_vararg:
            return [VARARG] * n
        return [ch.name for ch in self.input]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        task = inputs[0]
        if len(inputs) > 1:
            from torchweave.pipelines.ops.featureunion import PipeOpFeatureUnion

            task = PipeOpFeatureUnion(id=f"{self.id}_union").train(list(inputs))[0]
        return [task] * len(self.output)

    def state_summary(self) -> str | None:
        """The output shape(s) once trained (``"output: (None, 32)"``), else None."""
        if not self.is_trained or "shapes_out" not in self.state:
            return None
        shapes = self.state["shapes_out"]
        if len(shapes) == 1:
            return f"output: {shape_to_str(shapes[0])}"
        return f"outputs: {shape_to_str(shapes)}"

    def __repr__(self) -> str:
        text = super().__repr__()
        if self.is_trained and "shapes_out" in self.state:
            text += f"\n  shapes: {shape_to_str(self.state['shapes_out'])}"
        return text


def signature_params(module_class: type, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """The defaults of a module constructor's arguments (for ParamSet tests)."""
    sig = inspect.signature(module_class)
    return {
        name: p.default
        for name, p in sig.parameters.items()
        if name not in ("self", *exclude) and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
