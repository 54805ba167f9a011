"""DataDescriptor: a dataset, the preprocessing of its elements, and where the result is.

A lazy tensor column is a vector of row ids plus one DataDescriptor (mlr3torch §7.1).
The descriptor is immutable: preprocessing makes a new descriptor whose pointer is a
new step appended after the old one, over the same dataset.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from torchweave.errors import InvalidParameterError, InvalidTypeError, ShapeError
from torchweave.lazy._nodes import PreprocNode, digest, evaluate
from torchweave.network.shapes import Shape, as_shape, shape_to_str
from torchweave.utils.text import quote_list

__all__ = ["DataDescriptor"]

# One token per dataset object, so descriptors over the same dataset share its cache.
_TOKENS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_TOKENS_STRONG: dict[int, tuple[Any, str]] = {}


def _dataset_token(dataset: Any, token: str | None = None) -> str:
    """The token of a dataset object (``token`` registers a known one, after unpickling)."""
    try:
        known = _TOKENS.get(dataset)
        if known is None:
            known = token or uuid.uuid4().hex
            _TOKENS[dataset] = known
        return known
    except TypeError:  # not weak-referenceable or not hashable: keep it alive instead
        entry = _TOKENS_STRONG.get(id(dataset))
        if entry is None or entry[0] is not dataset:
            entry = (dataset, token or uuid.uuid4().hex)
            _TOKENS_STRONG[id(dataset)] = entry
        return entry[1]


def _row_shape(shape: Shape | None) -> str:
    return "unknown" if shape is None else shape_to_str(shape)


def _check_shapes(shapes: Any) -> dict[str, Shape | None]:
    if not isinstance(shapes, Mapping) or not shapes:
        raise InvalidParameterError(
            "'dataset_shapes' must be a non-empty dict from dataset element names to shapes "
            f"(None for unknown). Got {shapes!r} instead."
        )
    out: dict[str, Shape | None] = {}
    for name, shape in shapes.items():
        if not isinstance(name, str):
            raise InvalidParameterError(
                f"The names in 'dataset_shapes' must be strings. Got {name!r} instead."
            )
        if shape is None:
            out[name] = None
            continue
        checked = as_shape(shape, f"dataset shape of '{name}'")
        if checked[0] is not None:
            raise ShapeError(
                f"The dataset shape of '{name}' must have None as its first (batch) dimension. "
                f"Got {shape_to_str(checked)} instead."
            )
        out[name] = checked
    return out


def _infer_shapes(dataset: Any) -> dict[str, Shape | None]:
    if not hasattr(dataset, "__getitems__"):
        raise InvalidParameterError(
            "'dataset_shapes' must be provided if the dataset has no __getitems__ method "
            "(the shapes are inferred from a batch of one row)."
        )
    if len(dataset) == 0:
        raise InvalidParameterError(
            "'dataset_shapes' must be provided for an empty dataset (nothing to infer them from)."
        )
    batch = _as_batch(dataset.__getitems__([0]), "__getitems__")
    return {name: (None, *value.shape[1:]) for name, value in batch.items()}


def _as_batch(value: Any, where: str) -> dict[str, torch.Tensor]:
    """A dataset batch as a dict of tensors (a list of row dicts is stacked)."""
    if isinstance(value, list | tuple):
        if not value or not all(isinstance(row, Mapping) for row in value):
            raise InvalidTypeError(
                f"The dataset's {where} must return a dict of tensors. "
                f"Got a {type(value).__name__}."
            )
        return {k: torch.stack([row[k] for row in value]) for k in value[0]}
    if not isinstance(value, Mapping):
        raise InvalidTypeError(
            f"The dataset's {where} must return a dict of tensors. Got {type(value).__name__}."
        )
    return dict(value)


def _check_example(dataset: Any, shapes: Mapping[str, Shape | None]) -> None:
    """Compare the shapes with the first row of the dataset (names, tensors, dims)."""
    if len(dataset) == 0:
        return
    row = dataset[0]
    if not isinstance(row, Mapping):
        raise InvalidTypeError(
            f"The dataset's __getitem__ must return a dict of tensors. Got {type(row).__name__}."
        )
    missing = [name for name in shapes if name not in row]
    if missing:
        raise InvalidParameterError(
            f"'dataset_shapes' names {quote_list(missing)}, but the dataset returns only "
            f"{quote_list(list(row))}."
        )
    for name, shape in shapes.items():
        value = row[name]
        if not isinstance(value, torch.Tensor):
            raise InvalidTypeError(
                f"The dataset must return torch tensors; element '{name}' is a "
                f"{type(value).__name__}."
            )
        if shape is None:
            continue
        dims = shape[1:]
        agree = len(dims) == value.dim() and all(
            d is None or d == s for d, s in zip(dims, value.shape, strict=False)
        )
        if not agree:
            raise ShapeError(
                f"The dataset shape of '{name}' is {shape_to_str(shape)}, but its first row has "
                f"the shape {tuple(value.shape)} (without the batch dimension)."
            )


class DataDescriptor:
    """A dataset, the preprocessing graph of its elements, and the output that is meant.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        ``dataset[i]`` returns a dict of tensors (one row, no batch dimension). A
        ``__getitems__(ids)`` method returning a dict of batched tensors is used when
        present (one call per batch).
    dataset_shapes : dict of str to shape, optional
        The shape of each element, with ``None`` as the batch dimension (``None`` for a
        whole shape that is unknown or varies). Inferred from ``__getitems__([0])`` if
        omitted. Checked against the first row.
    graph : Graph, optional
        A preprocessing graph of ``PipeOpModule`` and ``PipeOpNOP`` operators. Default:
        no preprocessing.
    input_map : str or sequence of str, optional
        The dataset elements feeding the graph inputs, in order. Default: the only
        element.
    pointer : tuple of (op id, channel), optional
        The graph output this descriptor stands for. Default: the only output.
    pointer_shape : shape, optional
        The shape at the pointer (default: the element's shape without a graph;
        otherwise unknown).
    pointer_shape_predict : shape, optional
        The shape the pointer will have at predict time (set by preprocessing
        operators during training; a learner checks that it equals ``pointer_shape``).

    Attributes
    ----------
    dataset_hash : str
        Identifies the dataset object; descriptors sharing it read it once per batch.
    hash : str
        Identifies the dataset, the graph up to the pointer and the input map.

    Examples
    --------
    >>> import torch
    >>> from torchweave.lazy import DataDescriptor, as_lazy_tensor
    >>> class Squares(torch.utils.data.Dataset):
    ...     def __getitem__(self, i):
    ...         return {"x": torch.full((2,), float(i * i))}
    ...     def __len__(self):
    ...         return 5
    >>> dd = DataDescriptor(Squares(), dataset_shapes={"x": (None, 2)})
    >>> dd.pointer_shape
    (None, 2)
    >>> as_lazy_tensor(dd, ids=[1, 3])
    <ltnsr[len=2, shapes=(2)]>
    """

    def __init__(
        self,
        dataset: Any,
        dataset_shapes: Mapping[str, Any] | None = None,
        graph: Any = None,
        input_map: str | Sequence[str] | None = None,
        pointer: tuple[str, str] | None = None,
        pointer_shape: Any = None,
        pointer_shape_predict: Any = None,
    ) -> None:
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise InvalidTypeError(
                "'dataset' must be a torch Dataset with __getitem__ and __len__. "
                f"Got {type(dataset).__name__} instead."
            )
        if dataset_shapes is None:
            shapes = _infer_shapes(dataset)
        else:
            shapes = _check_shapes(dataset_shapes)
            _check_example(dataset, shapes)
        self.dataset = dataset
        self.dataset_shapes = shapes
        self.dataset_hash = _dataset_token(dataset)
        if isinstance(input_map, str):
            input_map = [input_map]
        if graph is None:
            if input_map is None:
                if len(shapes) != 1:
                    raise InvalidParameterError(
                        "'input_map' must say which dataset element to use: the dataset returns "
                        f"{quote_list(list(shapes))}."
                    )
                input_map = list(shapes)
            input_map = list(input_map)
            if len(input_map) != 1:
                raise InvalidParameterError(
                    "Without a graph, 'input_map' must name exactly one dataset element. Got "
                    f"{quote_list(input_map)}."
                )
            self._check_input_map(input_map)
            key = input_map[0]
            node = PreprocNode(
                f"nop.{self.dataset_hash[:6]}.{key}", key=key, salt=self.dataset_hash
            )
            self.input_map = input_map
            self._node = node
            self.pointer = (node.id, "output")
            if pointer_shape is None:
                pointer_shape = shapes[key]
        else:
            self._node, self.input_map, self.pointer = self._compile(graph, input_map, pointer)
        self.pointer_shape: Shape | None = (
            None if pointer_shape is None else as_shape(pointer_shape, "pointer_shape")
        )
        self.pointer_shape_predict: Shape | None = (
            None
            if pointer_shape_predict is None
            else as_shape(pointer_shape_predict, "pointer_shape_predict")
        )
        self._finish()

    # --- construction helpers ------------------------------------------------------------
    def _check_input_map(self, input_map: Sequence[str]) -> None:
        unknown = [k for k in input_map if k not in self.dataset_shapes]
        if unknown:
            raise InvalidParameterError(
                f"'input_map' names {quote_list(unknown)}, which the dataset does not return "
                f"(it returns {quote_list(list(self.dataset_shapes))})."
            )

    def _compile(
        self, graph: Any, input_map: Sequence[str] | None, pointer: tuple[str, str] | None
    ) -> tuple[PreprocNode, list[str], tuple[str, str]]:
        """Turn a Graph of PipeOpModule / PipeOpNOP operators into nodes."""
        from torchweave.network.module_graph import PipeOpModule
        from torchweave.pipelines.graph import Graph
        from torchweave.pipelines.ops.nop import PipeOpNOP

        if not isinstance(graph, Graph):
            raise InvalidTypeError(
                f"'graph' must be a torchweave Graph. Got {type(graph).__name__} instead."
            )
        inputs = graph.input_ports()
        names = list(self.dataset_shapes) if input_map is None else list(input_map)
        if len(names) != len(inputs):
            raise InvalidParameterError(
                f"'input_map' must name one dataset element per graph input "
                f"({quote_list([p.name for p in inputs])}). Got {quote_list(names)}."
            )
        self._check_input_map(names)
        feeds = {(p.op_id, p.channel.name): key for p, key in zip(inputs, names, strict=True)}
        sources: dict[str, PreprocNode] = {}
        outputs: dict[tuple[str, str], PreprocNode] = {}
        incoming = {
            (e.dst_id, e.dst_channel): (e.src_id, e.src_channel) for e in graph.edge_records()
        }
        for op_id in graph.ids():
            op = graph.pipeops[op_id]
            args = []
            for ch in op.input:
                if (op_id, ch.name) in incoming:
                    args.append(outputs[incoming[(op_id, ch.name)]])
                else:
                    key = feeds[(op_id, ch.name)]
                    if key not in sources:
                        sources[key] = PreprocNode(
                            f"nop.{self.dataset_hash[:6]}.{key}", key=key, salt=self.dataset_hash
                        )
                    args.append(sources[key])
            if isinstance(op, PipeOpNOP):
                outputs[(op_id, "output")] = args[0]
            elif isinstance(op, PipeOpModule):
                node = PreprocNode(op_id, fn=op.module, inputs=args)
                if len(op.output) == 1:
                    outputs[(op_id, op.output[0].name)] = node
                else:
                    for i, ch in enumerate(op.output):
                        outputs[(op_id, ch.name)] = PreprocNode(
                            f"{op_id}.{ch.name}", inputs=[node], pick=i
                        )
            else:
                raise InvalidTypeError(
                    "The graph of a DataDescriptor may hold only PipeOpModule and PipeOpNOP "
                    f"operators. PipeOp '{op_id}' is a {type(op).__name__}."
                )
        if pointer is None:
            ports = graph.output_ports()
            if len(ports) != 1:
                raise InvalidParameterError(
                    "'pointer' must say which graph output is meant: the graph has the outputs "
                    f"{quote_list([p.name for p in ports])}."
                )
            pointer = (ports[0].op_id, ports[0].channel.name)
        pointer = (str(pointer[0]), str(pointer[1]))
        if pointer not in outputs:
            raise InvalidParameterError(
                f"'pointer' {pointer!r} is not an output channel of the graph."
            )
        return outputs[pointer], names, pointer

    def _finish(self) -> None:
        self.hash = digest(self.dataset_hash, *self.input_map, self._node.token)
        self._varying = not hasattr(self.dataset, "__getitems__") and any(
            shape is None or None in shape[1:]
            for key, shape in self.dataset_shapes.items()
            if key in self.input_map
        )

    def _derive(
        self, node: PreprocNode, shape: Shape | None, shape_predict: Shape | None
    ) -> DataDescriptor:
        """A descriptor over the same dataset pointing at ``node`` (no checks)."""
        new = object.__new__(DataDescriptor)
        new.dataset = self.dataset
        new.dataset_shapes = self.dataset_shapes
        new.dataset_hash = self.dataset_hash
        new.input_map = self.input_map
        new._node = node
        new.pointer = (node.id, "output")
        new.pointer_shape = shape
        new.pointer_shape_predict = shape_predict
        new._finish()
        return new

    # --- running -------------------------------------------------------------------------
    def _fetch(self, ids: np.ndarray) -> dict[str, torch.Tensor]:
        dataset = self.dataset
        by_array = getattr(dataset, "getitems_array", None)
        if by_array is not None:  # torchweave's own tensor datasets: no list round trip
            return by_array(ids)
        if hasattr(dataset, "__getitems__"):
            return _as_batch(dataset.__getitems__(ids.tolist()), "__getitems__")
        rows = [dataset[i] for i in ids.tolist()]
        return {k: torch.stack([row[k] for row in rows]) for k in self.input_map}

    def _run(self, ids: Any, cache: dict[Any, Any] | None = None) -> torch.Tensor:
        """The pointer's output for a batch of dataset ids (a 1-d int64 array)."""
        memo: dict[Any, Any] = {} if cache is None else cache.setdefault(ids.tobytes(), {})
        data_key = ("data", self.dataset_hash)

        def fetch() -> dict[str, torch.Tensor]:
            batch = memo.get(data_key)
            if batch is None:
                batch = memo[data_key] = self._fetch(ids)
            return batch

        with torch.no_grad():
            out = evaluate(self._node, fetch, memo)
        if not isinstance(out, torch.Tensor):
            raise InvalidTypeError(
                f"The preprocessing step '{self._node.id}' must return a tensor. "
                f"Got {type(out).__name__}."
            )
        return out

    # --- inspection ----------------------------------------------------------------------
    @property
    def graph(self) -> Any:
        """The preprocessing graph up to the pointer, as a Graph (for printing and plots)."""
        from torchweave.network.module_graph import PipeOpModule
        from torchweave.pipelines.graph import Graph
        from torchweave.pipelines.ops.nop import PipeOpNOP

        graph = Graph()
        for node in self._node.upstream():
            if node.key is not None:
                graph.add_pipeop(PipeOpNOP(node.id), clone=False)
                continue
            fn = node.fn if node.pick is None else _Pick(node.pick)
            names = (
                ["input"]
                if len(node.inputs) == 1
                else [f"input{i + 1}" for i in range(len(node.inputs))]
            )
            graph.add_pipeop(PipeOpModule(node.id, fn, inname=names), clone=False)
            for parent, name in zip(node.inputs, names, strict=True):
                graph.add_edge(parent.id, node.id, src_channel="output", dst_channel=name)
        return graph

    @property
    def n_steps(self) -> int:
        """The number of preprocessing steps up to the pointer (sources excluded)."""
        return sum(node.key is None for node in self._node.upstream())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataDescriptor):
            return NotImplemented
        return self.hash == other.hash

    def __hash__(self) -> int:
        return hash(self.hash)

    def __copy__(self) -> DataDescriptor:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> DataDescriptor:
        return self  # immutable: copies of a lazy tensor share their descriptor

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # The unpickled dataset object is known by its old token, so descriptors built
        # on it later still share its cache.
        _dataset_token(self.dataset, self.dataset_hash)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {_row_shape(s)}" for k, s in self.dataset_shapes.items())
        return (
            f"<DataDescriptor: {self.n_steps} ops>\n"
            f"* dataset_shapes: [{shapes}]\n"
            f"* input_map: ({', '.join(self.input_map)}) -> Graph\n"
            f"* pointer: {self.pointer[0]}.{self.pointer[1]}\n"
            f"* shape(train): {_row_shape(self.pointer_shape)}\n"
            f"* shape(predict): {_row_shape(self.pointer_shape_predict or self.pointer_shape)}"
        )


class _Pick:
    """Element ``i`` of a tuple output (a node of :attr:`DataDescriptor.graph`)."""

    def __init__(self, i: int) -> None:
        self.i = i

    def __call__(self, x: Any) -> Any:
        return x[self.i]
