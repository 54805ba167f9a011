"""Specs: a learner's structure as plain data (JSON / YAML), without its trained state.

A spec names every part by its registry key (or, for a part that is not
registered, by the importable name of its class) with its id, its constructor
arguments and its parameter values; a graph adds its edges. ``to_spec`` writes
one, ``learner_from_spec`` builds the (untrained) learner again. ``tw.save``
stores the same spec next to the trained state. See docs/saving.md.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torchweave import registry
from torchweave._version import __version__
from torchweave.errors import Error
from torchweave.io.codec import Decoder, Encoder, TensorStore, import_ref, ref_of
from torchweave.io.errors import LoadError, SaveError
from torchweave.learners.learner import Learner
from torchweave.measures.measure import Measure
from torchweave.pipelines.graph import Graph
from torchweave.pipelines.graph_learner import GraphLearner
from torchweave.pipelines.pipeop import PipeOp

__all__ = [
    "SPEC_FORMAT",
    "SPEC_VERSION",
    "graph_from_spec",
    "graph_spec",
    "learner_from_spec",
    "learner_spec",
    "make_decoder",
    "make_encoder",
    "pipeop_from_spec",
    "pipeop_spec",
    "to_spec",
]

SPEC_FORMAT = "torchweave.spec"
#: The version of the spec layout this torchweave writes (and the newest it reads).
SPEC_VERSION = 1

# Constructor arguments never taken from the object: given separately or inferred.
_SKIP_ARGS = {"self", "id", "param_vals", "param_set"}
# Torch learners: the descriptors are fields; network and tokens come from the graph.
_TORCH_FIELDS = {"optimizer", "loss", "callbacks", "network", "ingress_tokens"}
# Where an object keeps a constructor argument under another name.
_ALIASES: dict[str, tuple[str, ...]] = {"shapes_out": ("shapes_out_fn",)}

_probes: dict[tuple[str, str], Any] = {}
_MISSING = object()


# --- registry keys ---------------------------------------------------------------------
def _probe(reg: registry.Registry[Any], key: str) -> Any:
    """A default instance of a function-registered entry (cached), or None."""
    if (reg.name, key) not in _probes:
        try:
            _probes[(reg.name, key)] = reg.constructor(key)()
        except Exception:
            _probes[(reg.name, key)] = None
    return _probes[(reg.name, key)]


def registry_key(obj: Any, reg: registry.Registry[Any]) -> str | None:
    """The key under which ``obj``'s kind is registered in ``reg``, or None.

    A registered class matches its instances; an entry registered as a function
    matches instances of the type it returns with the same id (and task type).
    """
    cls, oid = type(obj), getattr(obj, "id", None)
    matches = []
    for key in reg:
        ctor = reg.constructor(key)
        if isinstance(ctor, type):
            if ctor is cls:
                matches.append(key)
            continue
        probe = _probe(reg, key)
        if (
            probe is not None
            and type(probe) is cls
            and getattr(probe, "id", None) == oid
            and getattr(probe, "task_type", None) == getattr(obj, "task_type", None)
        ):
            matches.append(key)
    if oid in matches:
        return str(oid)
    return matches[0] if matches else None


def _constructor(spec: Mapping[str, Any], reg: registry.Registry[Any], what: str) -> Any:
    if "key" in spec and spec["key"] is not None:
        return reg.constructor(spec["key"])
    if "class" in spec:
        return import_ref(spec["class"])
    raise LoadError(f"The spec of {what} has neither 'key' nor 'class'.")


def _ctor_args(obj: Any, ctor: Callable[..., Any], where: str, skip: set[str]) -> dict[str, Any]:
    """The constructor arguments of ``obj``, read back from its attributes."""
    try:
        signature = inspect.signature(ctor)
    except (TypeError, ValueError):
        return {}
    out: dict[str, Any] = {}
    for name, par in signature.parameters.items():
        if name in skip or par.kind in (par.VAR_POSITIONAL, par.VAR_KEYWORD):
            continue
        for attr in (name, f"_{name}", *_ALIASES.get(name, ())):
            value = getattr(obj, attr, _MISSING)
            if value is not _MISSING and not inspect.ismethod(value):
                out[name] = value
                break
        else:
            if par.default is par.empty:
                raise SaveError(
                    f"Cannot save {where}: its constructor argument '{name}' is not kept as "
                    f"an attribute ('{name}' or '_{name}'), so it cannot be rebuilt."
                )
    return out


def _key_or_class(obj: Any, reg: registry.Registry[Any], where: str) -> dict[str, Any]:
    key = registry_key(obj, reg)
    return {"key": key} if key is not None else {"class": ref_of(type(obj), where)}


def _set_params(param_set: Any, values: Mapping[str, Any]) -> None:
    """Set ``values`` on ``param_set`` (values not named keep their initial values)."""
    if values:
        param_set.set_values(dict(values))


# --- operators and graphs ----------------------------------------------------------------
def pipeop_spec(op: PipeOp, enc: Encoder) -> dict[str, Any]:
    """The spec of one operator: key (or class), id, constructor arguments, parameters."""
    where = f"PipeOp '{op.id}'"
    head = _key_or_class(op, registry.pipeops, where)
    ctor = registry.pipeops.constructor(head["key"]) if "key" in head else type(op)
    args = _ctor_args(op, ctor, where, _SKIP_ARGS)
    spec: dict[str, Any] = {**head, "id": op.id}
    if args:
        spec["args"] = {k: enc.encode(v, f"{where}, argument '{k}'") for k, v in args.items()}
    values = op.param_set.values
    if values:
        spec["params"] = {k: enc.encode(v, f"{where}, parameter '{k}'") for k, v in values.items()}
    return spec


def pipeop_from_spec(spec: Mapping[str, Any] | str, dec: Decoder) -> PipeOp:
    """Build the (untrained) operator a :func:`pipeop_spec` describes.

    A bare string is a key with default settings.
    """
    if isinstance(spec, str):
        spec = {"key": spec}
    ctor = _constructor(spec, registry.pipeops, "a PipeOp")
    kwargs = {k: dec.decode(v) for k, v in (spec.get("args") or {}).items()}
    op_id = spec.get("id")
    try:
        takes_id = "id" in inspect.signature(ctor).parameters
    except (TypeError, ValueError):
        takes_id = False
    if op_id is not None and takes_id:
        kwargs["id"] = op_id
    op = ctor(**kwargs)
    if not isinstance(op, PipeOp):
        raise LoadError(f"{spec.get('key') or spec.get('class')!r} did not build a PipeOp.")
    if op_id is not None and op.id != op_id:
        op.id = op_id
    params = spec.get("params")
    if params is not None:
        _set_params(op.param_set, {k: dec.decode(v) for k, v in params.items()})
    return op


def graph_spec(graph: Graph, enc: Encoder) -> dict[str, Any]:
    """The operators (in insertion order) and edges of a graph."""
    ops = graph.pipeops
    return {
        "pipeops": [pipeop_spec(ops[op_id], enc) for op_id in graph.ids(sorted=False)],
        "edges": [[e.src_id, e.src_channel, e.dst_id, e.dst_channel] for e in graph.edge_records()],
    }


def graph_from_spec(spec: Mapping[str, Any] | list[Any], dec: Decoder) -> Graph:
    """Build a graph from its spec; without ``edges``, the operators form a chain (``>>``)."""
    if isinstance(spec, list):
        spec = {"pipeops": spec}
    ops = [pipeop_from_spec(s, dec) for s in spec.get("pipeops") or []]
    if not ops:
        raise LoadError("A graph spec needs at least one operator under 'pipeops'.")
    edges = spec.get("edges")
    if edges is None:
        graph = Graph().add_pipeop(ops[0], clone=False)
        for op in ops[1:]:
            graph = graph >> op
        return graph
    graph = Graph()
    for op in ops:
        graph.add_pipeop(op, clone=False)
    for edge in edges:
        if not (isinstance(edge, list | tuple) and len(edge) == 4):
            raise LoadError(
                "Each edge of a graph spec is [src_id, src_channel, dst_id, dst_channel]. "
                f"Got {edge!r}."
            )
        src, src_ch, dst, dst_ch = edge
        graph.add_edge(src, dst, src_ch, dst_ch)
    return graph


# --- learners ----------------------------------------------------------------------------
def _is_torch_learner(learner: Any) -> bool:
    return hasattr(learner, "_torch_ps")


def learner_spec(learner: Learner, enc: Encoder) -> dict[str, Any]:
    """The spec of a learner: its kind, id, arguments, parameters and fields."""
    where = f"learner '{learner.id}'"
    spec: dict[str, Any]
    if isinstance(learner, GraphLearner):
        spec = {"graph": graph_spec(learner.graph, enc), "id": learner.id}
    else:
        head = _key_or_class(learner, registry.learners, where)
        ctor = registry.learners.constructor(head["key"]) if "key" in head else type(learner)
        torch_learner = _is_torch_learner(learner)
        fields: Any = learner  # a LearnerTorch when torch_learner
        skip = _SKIP_ARGS | (_TORCH_FIELDS if torch_learner else set())
        if torch_learner and getattr(learner, "network_template", None) is not None:
            raise SaveError(
                f"Cannot save {where}: it trains a given torch.nn.Module instance, which "
                "cannot be rebuilt without pickle. Declare the network as a graph "
                '(nn("module", module_class=YourModule, ...) or layer operators) or as a '
                "registered LearnerTorch subclass instead; see docs/saving.md."
            )
        spec = {**head, "id": learner.id}
        args = _ctor_args(learner, ctor, where, skip)
        if args:
            spec["args"] = {k: enc.encode(v, f"{where}, argument '{k}'") for k, v in args.items()}
        values = learner.param_set.values
        if torch_learner:
            values = {k: v for k, v in values.items() if not k.startswith(("opt.", "loss.", "cb."))}
            spec["optimizer"] = enc.encode(fields.optimizer, f"{where}, optimizer")
            spec["loss"] = enc.encode(fields.loss, f"{where}, loss")
            spec["callbacks"] = [
                enc.encode(cb, f"{where}, callback '{cb_id}'")
                for cb_id, cb in fields.callbacks.items()
            ]
        if values:
            spec["params"] = {
                k: enc.encode(v, f"{where}, parameter '{k}'") for k, v in values.items()
            }
    spec["predict_type"] = learner.predict_type
    if learner.validate is not None:
        spec["validate"] = enc.encode(learner.validate, f"{where}, validate")
    return spec


def learner_from_spec_data(spec: Mapping[str, Any], dec: Decoder) -> Learner:
    """Build the (untrained) learner a :func:`learner_spec` describes."""
    learner: Learner
    if "graph" in spec:
        learner = GraphLearner(graph_from_spec(spec["graph"], dec), id=spec.get("id"))
    else:
        ctor = _constructor(spec, registry.learners, "a learner")
        kwargs = {k: dec.decode(v) for k, v in (spec.get("args") or {}).items()}
        built = ctor(**kwargs)
        if not isinstance(built, Learner):
            raise LoadError(f"{spec.get('key') or spec.get('class')!r} did not build a Learner.")
        learner = built
        if spec.get("id") is not None and learner.id != spec["id"]:
            learner.id = spec["id"]
        values = {k: dec.decode(v) for k, v in (spec.get("params") or {}).items()}
        if _is_torch_learner(learner):
            for field in ("optimizer", "loss"):
                if field in spec:
                    setattr(learner, field, dec.decode(spec[field]))
            if "callbacks" in spec:
                callbacks = [dec.decode(cb) for cb in spec["callbacks"]]
                learner.callbacks = callbacks  # type: ignore[attr-defined]
        _set_params(learner.param_set, values)
    if "predict_type" in spec:
        learner.predict_type = spec["predict_type"]
    if spec.get("validate") is not None:
        learner.validate = dec.decode(spec["validate"])
    return learner


# --- registry objects as values ------------------------------------------------------------
def _descriptor_registry(kind: str) -> registry.Registry[Any]:
    regs = {
        "loss": registry.losses,
        "optimizer": registry.optimizers,
        "callback": registry.callbacks,
    }
    if kind not in regs:
        raise LoadError(f"Unknown descriptor kind {kind!r}.")
    return regs[kind]


def _encode_descriptor(desc: Any, enc: Encoder, where: str) -> dict[str, Any]:
    kind = desc.kind
    where = f"{where} ({kind} '{desc.id}')"
    reg = _descriptor_registry(kind)
    key = None
    candidates = [desc.id] + [k for k in reg if k != desc.id]
    for k in candidates:
        if k in reg:
            try:
                if reg.get(k).cls is desc.cls:
                    key = k
                    break
            except Exception:
                continue
    out: dict[str, Any] = {"kind": kind}
    if key is not None:
        out["key"] = key
    else:
        out["class"] = ref_of(desc.cls, where)
        if kind == "loss":
            out["task_types"] = list(desc.task_types)
            out["properties"] = list(desc.properties)
            out["tensor_params"] = list(desc.tensor_params)
        if desc.omitted:
            out["omitted"] = list(desc.omitted)
    out["id"] = desc.id
    if desc.label != desc.id:
        out["label"] = desc.label
    if kind == "callback" and desc.weight is not None:
        out["weight"] = desc.weight
    values = desc.param_set.values
    if values:
        out["params"] = {k: enc.encode(v, f"{where}, parameter '{k}'") for k, v in values.items()}
    return {"$descriptor": out}


def _decode_descriptor(payload: Any, dec: Decoder) -> Any:
    if isinstance(payload, str):
        raise LoadError(f"A descriptor needs its kind: {{kind: ..., key: {payload!r}}}.")
    kind = payload["kind"]
    reg = _descriptor_registry(kind)
    if payload.get("key") is not None:
        desc = reg.get(payload["key"])
    else:
        from torchweave.callbacks.descriptor import TorchCallback
        from torchweave.training.descriptors import TorchLoss, TorchOptimizer

        cls = import_ref(payload["class"])
        omitted = payload.get("omitted", [])
        if kind == "loss":
            desc = TorchLoss(
                cls,
                task_types=payload.get("task_types", ("classif", "regr")),
                omitted=omitted,
                properties=payload.get("properties", ("twoclass", "multiclass")),
                tensor_params=payload.get("tensor_params", ()),
            )
        elif kind == "optimizer":
            desc = TorchOptimizer(cls, omitted=omitted)
        else:
            desc = TorchCallback(cls)
    if payload.get("id") is not None:
        desc.id = payload["id"]
    desc.label = payload.get("label", desc.id)
    if kind == "callback" and "weight" in payload:
        desc.weight = payload["weight"]
    _set_params(
        desc.param_set, {k: dec.decode(v) for k, v in (payload.get("params") or {}).items()}
    )
    return desc


def _is_estimator(value: Any) -> bool:
    cls = type(value)
    return (
        callable(getattr(value, "get_params", None))
        and callable(getattr(value, "fit", None))
        and not isinstance(value, type)
        and cls.__module__.split(".")[0] != "torchweave"
    )


def _encode_estimator(value: Any, enc: Encoder, where: str) -> dict[str, Any]:
    fitted = [k for k in vars(value) if k.endswith("_") and not k.startswith("_")]
    if fitted:
        raise SaveError(
            f"Cannot save {where}: a fitted {type(value).__name__} (scikit-learn) holds "
            "arbitrary Python objects, which cannot be saved without pickle. Save the "
            "untrained spec (tw.to_spec) and train again, or keep such learners in pickle "
            "files from a trusted source."
        )
    params = value.get_params(deep=False)
    return {
        "$estimator": {
            "class": ref_of(type(value), where),
            "params": {k: enc.encode(v, f"{where}, parameter '{k}'") for k, v in params.items()},
        }
    }


def _decode_estimator(payload: dict[str, Any], dec: Decoder) -> Any:
    cls = import_ref(payload["class"])
    return cls(**{k: dec.decode(v) for k, v in payload["params"].items()})


def _encode_measure(value: Measure, enc: Encoder, where: str) -> dict[str, Any]:
    where = f"{where} (measure '{value.id}')"
    out: dict[str, Any] = _key_or_class(value, registry.measures, where)
    if value.id != out.get("key"):
        out["id"] = value.id
    values = value.param_set.values
    if values:
        out["params"] = {k: enc.encode(v, f"{where}, parameter '{k}'") for k, v in values.items()}
    return {"$measure": out}


def _decode_measure(payload: Any, dec: Decoder) -> Measure:
    if isinstance(payload, str):
        payload = {"key": payload}
    ctor = _constructor(payload, registry.measures, "a measure")
    measure = ctor()
    if payload.get("id") is not None:
        measure.id = payload["id"]
    _set_params(
        measure.param_set, {k: dec.decode(v) for k, v in (payload.get("params") or {}).items()}
    )
    return measure


def spec_handler(value: Any, enc: Encoder, where: str) -> Any:
    """The encoder handler for operators, graphs, learners, measures and descriptors."""
    if isinstance(value, Graph):
        return {"$graph": graph_spec(value, enc)}
    if isinstance(value, PipeOp):
        return {"$pipeop": pipeop_spec(value, enc)}
    if isinstance(value, Learner):
        return {"$learner": learner_spec(value, enc)}
    if isinstance(value, Measure):
        return _encode_measure(value, enc, where)
    if hasattr(value, "kind") and hasattr(value, "generate") and hasattr(value, "cls"):
        return _encode_descriptor(value, enc, where)
    if _is_estimator(value):
        return _encode_estimator(value, enc, where)
    if _is_module(value):
        raise SaveError(
            f"Cannot save {where}: a torch.nn.Module instance ({type(value).__name__}) "
            "cannot be rebuilt without pickle. Pass its class (nn('module', "
            "module_class=...)) so that it is built from the graph."
        )
    return NotImplemented


def _is_module(value: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def make_encoder(store: TensorStore, first: list[Any] | None = None) -> Encoder:
    """An encoder that also handles torchweave's registry objects."""
    return Encoder(store, [*(first or []), spec_handler])


def make_decoder(store: TensorStore, extra: Mapping[str, Any] | None = None) -> Decoder:
    """The decoder matching :func:`make_encoder`."""
    handlers: dict[str, Any] = {
        "$graph": lambda p, d: graph_from_spec(p, d),
        "$pipeop": lambda p, d: pipeop_from_spec(p, d),
        "$learner": lambda p, d: learner_from_spec_data(p, d),
        "$measure": _decode_measure,
        "$descriptor": _decode_descriptor,
        "$estimator": _decode_estimator,
    }
    handlers.update(extra or {})
    return Decoder(store, handlers)


# --- public ----------------------------------------------------------------------------------
def _spec_document(learner: Learner) -> dict[str, Any]:
    enc = make_encoder(TensorStore(inline=True))
    return {
        "format": SPEC_FORMAT,
        "format_version": SPEC_VERSION,
        "torchweave_version": __version__,
        "learner": learner_spec(learner, enc),
    }


def to_spec(learner: Learner, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The spec of a learner (its structure and settings, no trained state).

    Parameters
    ----------
    learner : Learner
        Any learner: a graph learner, a torch learner, a registered learner.
    path : str or path-like, optional
        Also write the spec there: YAML for ``.yaml`` / ``.yml``, JSON for ``.json``.

    Returns
    -------
    dict
        The spec (plain data: dicts, lists, strings, numbers).

    Raises
    ------
    SaveError
        If a part cannot be written without pickle (the message says which).

    Examples
    --------
    >>> import torchweave as tw
    >>> spec = tw.to_spec(tw.po("scale") >> tw.po("learner", tw.lrn("classif.featureless")))
    >>> [op["key"] for op in spec["learner"]["graph"]["pipeops"]]
    ['scale', 'learner']
    """
    from torchweave.learners.convert import as_learner

    if not isinstance(learner, Learner):
        learner = as_learner(learner)
    doc = _spec_document(learner)
    if path is not None:
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix in (".yaml", ".yml"):
            import yaml

            text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        elif suffix == ".json":
            text = json.dumps(doc, indent=2, allow_nan=False)
        else:
            raise SaveError(
                f"to_spec writes YAML (.yaml, .yml) or JSON (.json) files. Got '{target}'."
            )
        target.write_text(text, encoding="utf-8")
    return doc


def read_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The spec document in a YAML or JSON file (checked for format and version)."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise LoadError(f"Cannot read the spec file '{target}': {exc}.") from exc
    try:
        if target.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise LoadError(f"The spec file '{target}' is not valid YAML / JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise LoadError(f"The spec file '{target}' must hold a mapping; got {type(data).__name__}.")
    return data


def check_spec_version(doc: Mapping[str, Any], source: str) -> None:
    """Raise a LoadError if the document was written by a newer format version."""
    version = doc.get("format_version", SPEC_VERSION)
    if not isinstance(version, int) or version < 1:
        raise LoadError(f"{source}: invalid format_version {version!r}.")
    if version > SPEC_VERSION:
        raise LoadError(
            f"{source} has format version {version}, newer than this torchweave "
            f"({__version__}) reads ({SPEC_VERSION}). Upgrade torchweave to load it."
        )


def learner_from_spec(spec: str | os.PathLike[str] | Mapping[str, Any]) -> Learner:
    """Build an untrained learner from a spec (a dict, or a YAML / JSON file).

    The spec is what :func:`to_spec` writes, or written by hand: ``learner`` holds
    either ``key`` (a registered learner) with ``params``, or ``graph`` with a list
    of operators under ``pipeops`` (``key``, optional ``id``, ``args`` and
    ``params``), connected in order unless ``edges`` are given. See docs/saving.md.

    Parameters
    ----------
    spec : str, path-like or mapping
        The spec document, or the path of a ``.yaml`` / ``.yml`` / ``.json`` file.

    Raises
    ------
    LoadError
        If the file cannot be read, is newer than this torchweave, or does not
        describe a learner (the message names the file and the problem).
    """
    source = "The spec"
    if isinstance(spec, str | os.PathLike):
        source = f"The spec file '{spec}'"
        doc = read_spec_file(spec)
    elif isinstance(spec, Mapping):
        doc = dict(spec)
    else:
        raise LoadError(f"learner_from_spec takes a path or a dict. Got {type(spec).__name__}.")
    check_spec_version(doc, source)
    data = doc.get("learner", doc)
    if not isinstance(data, Mapping) or not ({"graph", "key", "class"} & set(data)):
        raise LoadError(
            f"{source} does not describe a learner: it needs 'learner' with 'key' (a "
            "registered learner) or 'graph' (a list of operators)."
        )
    try:
        return learner_from_spec_data(data, make_decoder(TensorStore(inline=True)))
    except LoadError as exc:
        raise LoadError(f"{source}: {exc}") from exc
    except Error as exc:
        raise LoadError(f"{source} describes an invalid learner: {exc}") from exc
