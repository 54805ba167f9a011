"""The generic encoder of values: JSON-ready trees plus a store of tensors.

:class:`Encoder` turns a value (parameter values, operator states, callback states)
into plain JSON data; every tensor and numeric array goes into a
:class:`TensorStore` (written as safetensors) and is referenced by name. Values
JSON cannot hold directly are written as one-key objects whose key starts with
``$`` (``{"$tuple": [...]}``, ``{"$frame": {...}}``, ``{"$ref": "module:name"}``).
:class:`Decoder` reverses it. Nothing is pickled: classes and functions are
stored by importable qualified name, and the only objects rebuilt from their
fields (``$object``) are instances of torchweave's own classes.

Kinds of values handled: ``None``, booleans, integers, floats (also NaN and
infinities), strings, lists, tuples, sets, dicts (any keys), numpy scalars and
arrays, torch tensors, pandas Series, DataFrames, Index, Categorical, dtypes,
``pd.NA``/``NaT``/Timestamps, regular expressions, enums, classes and functions
(by name), objects with ``_state_to_spec`` / ``_state_from_spec`` hooks, and
torchweave objects (by their fields). Registry objects (operators, learners,
measures, descriptors, sklearn estimators) are handled by the handlers that
:mod:`torchweave.io.spec` adds.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import math
import re
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from torchweave.io.errors import LoadError, SaveError

__all__ = ["Decoder", "Encoder", "TensorStore", "import_ref", "ref_of"]

#: An encoder handler: ``(value, encoder, where) -> encoded`` or ``NotImplemented``.
EncodeHandler = Callable[[Any, "Encoder", str], Any]
#: A decoder handler for one ``$`` key: ``(payload, decoder) -> value``.
DecodeHandler = Callable[[Any, "Decoder"], Any]

_MAIN_HINT = (
    "Define it at the top level of an importable module (a .py file on the Python "
    "path, not __main__, a notebook cell, a lambda or a function inside a function), "
    "and use that."
)


def ref_of(obj: Any, where: str) -> str:
    """``"module:qualname"`` of a class or function that can be imported back.

    Raises
    ------
    SaveError
        If ``obj`` cannot be found again by that name (a lambda, a local class or
        function, anything defined in ``__main__``).
    """
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    name = f"{module}.{qualname}" if module and qualname else repr(obj)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise SaveError(f"Cannot save {where}: {name} cannot be imported by name. {_MAIN_HINT}")
    try:
        found = import_ref(f"{module}:{qualname}")
    except Exception:
        found = None
    if found is not obj:
        raise SaveError(
            f"Cannot save {where}: importing {name} does not give back the same object. "
            f"{_MAIN_HINT}"
        )
    return f"{module}:{qualname}"


def import_ref(ref: str) -> Any:
    """The object named by ``"module:qualname"`` (imports the module)."""
    module, _, qualname = ref.partition(":")
    if not module or not qualname:
        raise LoadError(f"{ref!r} is not a 'module:qualname' reference.")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class TensorStore:
    """Named tensors, written together as one safetensors file.

    Parameters
    ----------
    tensors : dict of str to torch.Tensor, optional
        Tensors read from a file (for decoding). Without it the store collects.
    inline : bool, default False
        Write tensors and arrays into the JSON tree instead (for specs, which have
        no tensor file).
    """

    def __init__(self, tensors: Mapping[str, Any] | None = None, inline: bool = False) -> None:
        self.tensors: dict[str, Any] = dict(tensors or {})
        self.inline = inline

    def add(self, tensor: Any, hint: str | None = None) -> str:
        """Store a CPU copy of ``tensor`` under ``hint`` (made unique) or a new number."""
        name = re.sub(r"[^A-Za-z0-9_.\-/]", "_", hint) if hint else f"t{len(self.tensors)}"
        if name in self.tensors:
            i = 1
            while f"{name}#{i}" in self.tensors:
                i += 1
            name = f"{name}#{i}"
        # A private, contiguous CPU copy: safetensors refuses shared storage.
        self.tensors[name] = tensor.detach().to("cpu", copy=True).contiguous()
        return name

    def get(self, name: str) -> Any:
        """The tensor stored as ``name``."""
        if name not in self.tensors:
            raise LoadError(f"The tensor file lacks the tensor '{name}'.")
        return self.tensors[name]


def _is_plain_key(key: Any) -> bool:
    return isinstance(key, str) and not key.startswith("$")


class Encoder:
    """Encodes values into JSON data and a :class:`TensorStore`.

    Parameters
    ----------
    store : TensorStore
        Where tensors and numeric arrays go.
    handlers : list of callables, optional
        Tried first, in order: ``handler(value, encoder, where)`` returns the encoded
        value or ``NotImplemented``.
    """

    def __init__(self, store: TensorStore, handlers: list[EncodeHandler] | None = None) -> None:
        self.store = store
        self.handlers = list(handlers or [])

    def encode(self, value: Any, where: str) -> Any:
        """Encode ``value``; ``where`` names it in error messages (and tensor names)."""
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int) and not isinstance(value, enum.Enum):
            return int(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return {"$tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, dict) and type(value) in (dict, _ordered_dict()):
            return self._dict(value, where)
        for handler in self.handlers:
            out = handler(value, self, where)
            if out is not NotImplemented:
                return out
        return self._other(value, where)

    def _dict(self, value: dict[Any, Any], where: str) -> Any:
        if all(_is_plain_key(k) for k in value):
            return {k: self.encode(v, f"{where}.{k}") for k, v in value.items()}
        return {
            "$dict": [
                [self.encode(k, f"{where} (a key)"), self.encode(v, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
        }

    def _array(self, value: np.ndarray, where: str) -> Any:
        if value.dtype.kind in "biuf":
            if self.store.inline:
                return {
                    "$array": {
                        "dtype": value.dtype.str,
                        "shape": list(value.shape),
                        "data": [self.encode(x, where) for x in value.ravel().tolist()],
                    }
                }
            import torch

            name = self.store.add(torch.from_numpy(np.array(value, copy=True, order="C")))
            return {"$ndarray": name}
        if value.dtype.kind in "mM":
            return {
                "$datetimes": {
                    "dtype": value.dtype.str,
                    "values": self._array(value.view("i8"), where),
                }
            }
        return {
            "$objarray": {
                "dtype": value.dtype.str,
                "shape": list(value.shape),
                "data": [
                    self.encode(x, f"{where}[{i}]") for i, x in enumerate(value.ravel().tolist())
                ],
            }
        }

    def _other(self, value: Any, where: str) -> Any:
        import torch

        if isinstance(value, torch.Tensor):
            if self.store.inline:
                return {"$torch": self._array(value.detach().cpu().numpy(), where)}
            return {"$tensor": self.store.add(value)}
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, np.generic):
            return {"$scalar": [value.dtype.str, self.encode(value.item(), where)]}
        if isinstance(value, dict):  # dict subclasses (defaultdict, ...) as dicts
            return self._dict(dict(value), where)
        if isinstance(value, set | frozenset):
            items = [self.encode(v, f"{where} (an element)") for v in value]
            return {"$frozenset" if isinstance(value, frozenset) else "$set": items}
        if value is pd.NA:
            return {"$na": None}
        if value is pd.NaT:
            return {"$nat": None}
        if isinstance(value, pd.Timestamp):
            return {"$timestamp": value.isoformat()}
        if isinstance(value, pd.CategoricalDtype):
            cats = None if value.categories is None else list(value.categories)
            return {
                "$catdtype": {
                    "categories": self.encode(cats, where),
                    "ordered": bool(value.ordered),
                }
            }
        if isinstance(value, np.dtype | pd.api.extensions.ExtensionDtype):
            return {"$dtype": str(value)}
        if isinstance(value, pd.Categorical):
            return {
                "$categorical": {
                    "codes": self._array(np.asarray(value.codes), f"{where}.codes"),
                    "dtype": self.encode(value.dtype, where),
                }
            }
        if isinstance(value, pd.RangeIndex):
            return {"$range": [value.start, value.stop, value.step, self.encode(value.name, where)]}
        if isinstance(value, pd.MultiIndex):
            raise SaveError(f"Cannot save {where}: a pandas MultiIndex is not supported.")
        if isinstance(value, pd.Index):
            return {
                "$index": {
                    "values": self._values(value.array, value.dtype, where),
                    "name": self.encode(value.name, where),
                }
            }
        if isinstance(value, pd.Series):
            return {
                "$series": {
                    "values": self._values(value.array, value.dtype, where),
                    "index": self.encode(value.index, f"{where}.index"),
                    "name": self.encode(value.name, where),
                }
            }
        if isinstance(value, pd.DataFrame):
            if not value.columns.is_unique:
                raise SaveError(f"Cannot save {where}: a DataFrame with duplicate column names.")
            return {
                "$frame": {
                    "columns": [self.encode(c, f"{where} (a column name)") for c in value.columns],
                    "data": [
                        self._values(value[c].array, value[c].dtype, f"{where}.{c}")
                        for c in value.columns
                    ],
                    "index": self.encode(value.index, f"{where}.index"),
                }
            }
        if isinstance(value, re.Pattern):
            return {"$regex": [value.pattern, value.flags]}
        if isinstance(value, enum.Enum):
            return {"$enum": [ref_of(type(value), where), value.name]}
        if isinstance(value, type | types.FunctionType | types.BuiltinFunctionType):
            return {"$ref": ref_of(value, where)}
        hook = getattr(value, "_state_to_spec", None)
        if callable(hook) and hasattr(type(value), "_state_from_spec"):
            return {
                "$custom": {
                    "class": ref_of(type(value), where),
                    "spec": self.encode(hook(), where),
                }
            }
        cls = type(value)
        if cls.__module__.startswith("torchweave.") and hasattr(value, "__dict__"):
            import torch

            if not isinstance(value, torch.nn.Module):
                fields = (
                    {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
                    if dataclasses.is_dataclass(value)
                    else dict(vars(value))
                )
                return {
                    "$object": {
                        "class": ref_of(cls, where),
                        "fields": self._dict(fields, where),
                    }
                }
        raise SaveError(
            f"Cannot save {where}: an object of type {cls.__module__}.{cls.__qualname__} "
            "has no pickle-free format. Save values of the types listed in docs/saving.md "
            "(numbers, strings, lists, dicts, arrays, tensors, pandas objects, importable "
            "classes and functions, torchweave objects)."
        )

    def _values(self, array: Any, dtype: Any, where: str) -> Any:
        """The values of a pandas column or index, with their dtype."""
        if isinstance(dtype, pd.CategoricalDtype):
            return self.encode(pd.Categorical(array), where)
        if isinstance(dtype, np.dtype) and dtype.kind in "biufmM":
            return self._array(np.asarray(array), where)
        values = np.asarray(array, dtype=object)
        return {"$pdarray": {"dtype": str(dtype), "values": self._array(values, where)}}


def _ordered_dict() -> type:
    import collections

    return collections.OrderedDict


class Decoder:
    """Decodes what :class:`Encoder` wrote.

    Parameters
    ----------
    store : TensorStore
        The tensors read from the file.
    handlers : dict of str to callable, optional
        Handlers for extra ``$`` keys: ``handler(payload, decoder) -> value``.
    """

    def __init__(
        self, store: TensorStore, handlers: Mapping[str, DecodeHandler] | None = None
    ) -> None:
        self.store = store
        self.handlers: dict[str, DecodeHandler] = dict(handlers or {})

    def decode(self, data: Any) -> Any:
        """The value encoded as ``data``."""
        if data is None or isinstance(data, bool | int | float | str):
            return data
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if not isinstance(data, dict):
            raise LoadError(f"Unexpected {type(data).__name__} in the document.")
        if len(data) == 1:
            (key,) = data
            if isinstance(key, str) and key.startswith("$"):
                return self._marked(key, data[key])
        return {k: self.decode(v) for k, v in data.items()}

    def _marked(self, key: str, payload: Any) -> Any:
        if key in self.handlers:
            return self.handlers[key](payload, self)
        method = getattr(self, "_d_" + key[1:], None)
        if method is None:
            raise LoadError(f"Unknown value marker {key!r} (written by a newer torchweave?).")
        return method(payload)

    # --- markers ----------------------------------------------------------------------
    def _d_float(self, payload: str) -> float:
        return float(payload)

    def _d_tuple(self, payload: list[Any]) -> tuple[Any, ...]:
        return tuple(self.decode(v) for v in payload)

    def _d_set(self, payload: list[Any]) -> set[Any]:
        return {self.decode(v) for v in payload}

    def _d_frozenset(self, payload: list[Any]) -> frozenset[Any]:
        return frozenset(self.decode(v) for v in payload)

    def _d_dict(self, payload: list[list[Any]]) -> dict[Any, Any]:
        return {self.decode(k): self.decode(v) for k, v in payload}

    def _d_tensor(self, payload: str) -> Any:
        return self.store.get(payload)

    def _d_ndarray(self, payload: str) -> np.ndarray:
        return self.store.get(payload).numpy()

    def _d_array(self, payload: dict[str, Any]) -> np.ndarray:
        data = [self.decode(x) for x in payload["data"]]
        return np.asarray(data, dtype=np.dtype(payload["dtype"])).reshape(payload["shape"])

    def _d_torch(self, payload: Any) -> Any:
        import torch

        return torch.from_numpy(np.array(self.decode(payload), copy=True, order="C"))

    def _d_datetimes(self, payload: dict[str, Any]) -> np.ndarray:
        return np.asarray(self.decode(payload["values"])).view(np.dtype(payload["dtype"]))

    def _d_objarray(self, payload: dict[str, Any]) -> np.ndarray:
        out = np.empty(len(payload["data"]), dtype=object)
        for i, x in enumerate(payload["data"]):
            out[i] = self.decode(x)
        return out.astype(np.dtype(payload["dtype"])).reshape(payload["shape"])

    def _d_scalar(self, payload: list[Any]) -> Any:
        return np.dtype(payload[0]).type(self.decode(payload[1]))

    def _d_na(self, payload: Any) -> Any:
        return pd.NA

    def _d_nat(self, payload: Any) -> Any:
        return pd.NaT

    def _d_timestamp(self, payload: str) -> pd.Timestamp:
        return pd.Timestamp(payload)

    def _d_catdtype(self, payload: dict[str, Any]) -> pd.CategoricalDtype:
        return pd.CategoricalDtype(self.decode(payload["categories"]), ordered=payload["ordered"])

    def _d_dtype(self, payload: str) -> Any:
        return pd.api.types.pandas_dtype(payload)

    def _d_categorical(self, payload: dict[str, Any]) -> pd.Categorical:
        codes = np.asarray(self.decode(payload["codes"]))
        return pd.Categorical.from_codes(codes, dtype=self.decode(payload["dtype"]))

    def _d_range(self, payload: list[Any]) -> pd.RangeIndex:
        start, stop, step, name = payload
        return pd.RangeIndex(start, stop, step, name=self.decode(name))

    def _d_pdarray(self, payload: dict[str, Any]) -> Any:
        values = self.decode(payload["values"])
        dtype: Any = pd.api.types.pandas_dtype(payload["dtype"])
        return pd.array(list(values), dtype=dtype)

    def _values(self, data: Any) -> Any:
        return self.decode(data)

    def _d_index(self, payload: dict[str, Any]) -> pd.Index:
        return pd.Index(self._values(payload["values"]), name=self.decode(payload["name"]))

    def _d_series(self, payload: dict[str, Any]) -> pd.Series:
        return pd.Series(
            self._values(payload["values"]),
            index=self.decode(payload["index"]),
            name=self.decode(payload["name"]),
        )

    def _d_frame(self, payload: dict[str, Any]) -> pd.DataFrame:
        columns = [self.decode(c) for c in payload["columns"]]
        index = self.decode(payload["index"])
        data = {c: self._values(v) for c, v in zip(columns, payload["data"], strict=True)}
        frame = pd.DataFrame(
            {c: pd.Series(v, index=index) for c, v in data.items()}, index=index, columns=columns
        )
        return frame

    def _d_regex(self, payload: list[Any]) -> re.Pattern[str]:
        return re.compile(payload[0], payload[1])

    def _d_enum(self, payload: list[Any]) -> Any:
        return import_ref(payload[0])[payload[1]]

    def _d_ref(self, payload: str) -> Any:
        return import_ref(payload)

    def _d_custom(self, payload: dict[str, Any]) -> Any:
        cls = import_ref(payload["class"])
        return cls._state_from_spec(self.decode(payload["spec"]))

    def _d_object(self, payload: dict[str, Any]) -> Any:
        ref = payload["class"]
        if not ref.startswith("torchweave."):
            raise LoadError(
                f"Refusing to rebuild an object of class {ref!r} from its fields: only "
                "torchweave's own classes are rebuilt this way."
            )
        cls = import_ref(ref)
        if not isinstance(cls, type):
            raise LoadError(f"{ref!r} is not a class.")
        obj: Any = object.__new__(cls)
        fields = self.decode(payload["fields"])
        for key, value in fields.items():
            object.__setattr__(obj, key, value)
        return obj
