"""``tw.save`` and ``tw.load``: a learner as JSON plus safetensors, loaded without pickle.

A saved model is a directory (or, for a path ending in ``.zip``, one zip file)
holding two files:

- ``model.json``: the format name and version, the torchweave, torch and Python
  versions, the task metadata a prediction needs, the learner's spec and its
  trained state (see :mod:`torchweave.io.spec`, :mod:`torchweave.io.state`), and
  the SHA-256 of the tensor file;
- ``tensors.safetensors``: every tensor and numeric array of the state.

The layout and its version rules are documented in docs/saving.md.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from torchweave._version import __version__
from torchweave.errors import Error
from torchweave.io.codec import TensorStore
from torchweave.io.errors import LoadError, SaveError
from torchweave.learners.learner import Learner

__all__ = ["FORMAT", "FORMAT_VERSION", "load", "read_document", "save"]

FORMAT = "torchweave.model"
#: The version of the saved layout this torchweave writes (and the newest it reads).
FORMAT_VERSION = 1
DOCUMENT = "model.json"
TENSORS = "tensors.safetensors"


def _task_metadata(learner: Learner, enc: Any) -> dict[str, Any] | None:
    state = learner.state
    if state is None:
        return None
    task = state.train_task
    data = task.data() if task is not None else None
    levels = {}
    if data is not None:
        for col in state.feature_names:
            dtype = data[col].dtype
            if isinstance(dtype, pd.CategoricalDtype):
                levels[col] = enc.encode(list(dtype.categories), f"levels of feature '{col}'")
    return {
        "task_type": learner.task_type,
        "target": list(task.target_names) if task is not None else None,
        "feature_names": list(state.feature_names),
        "feature_types": dict(state.feature_types),
        "factor_levels": levels,
        "class_names": enc.encode(state.class_names, "class names"),
        "positive": enc.encode(state.positive, "positive class"),
    }


def save(
    learner: Learner,
    path: str | os.PathLike[str],
    *,
    optimizer_state: bool = False,
) -> Path:
    """Save a learner (trained or not) without pickle.

    Parameters
    ----------
    learner : Learner
        A graph learner, a torch learner, or any learner whose parts are saveable
        (see docs/saving.md).
    path : str or path-like
        A directory (created if needed; its ``model.json`` and
        ``tensors.safetensors`` are replaced), or a file ending in ``.zip``.
    optimizer_state : bool, default False
        Also save the optimizers' states (Adam's moments, ...), which prediction
        does not need.

    Returns
    -------
    pathlib.Path
        Where the model was written.

    Raises
    ------
    SaveError
        If a part cannot be saved without pickle: a lambda, a class or function
        defined in ``__main__``, a fitted scikit-learn object, a torch module
        instance. The message names the part and says what to do.

    Examples
    --------
    >>> import tempfile, torchweave as tw
    >>> learner = tw.lrn("classif.featureless").train(tw.tsk("iris"))
    >>> folder = tempfile.mkdtemp()
    >>> tw.load(tw.save(learner, folder)).predict(tw.tsk("iris")).response[:2].tolist()
    ['setosa', 'setosa']
    """
    import safetensors.torch
    import torch

    from torchweave.io.state import StateCodec

    if not isinstance(learner, Learner):
        raise SaveError(f"tw.save takes a Learner. Got {type(learner).__name__} instead.")
    if learner.state is not None and "lazy_tensor" in learner.state.feature_types.values():
        raise SaveError(
            f"Cannot save learner '{learner.id}': it was trained on lazy tensor (image) "
            "features, whose datasets are Python objects that cannot be saved without "
            "pickle. Save its spec with tw.to_spec and train it again after loading that."
        )
    store = TensorStore()
    codec = StateCodec(store, optimizer_state=optimizer_state)
    encoded = codec.encode_learner(learner)
    blob = safetensors.torch.save(store.tensors) if store.tensors else safetensors.torch.save({})
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "torchweave_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "task": _task_metadata(learner, codec.enc),
        "learner": encoded["spec"],
        "state": encoded["state"],
        "tensors": {
            "file": TENSORS,
            "count": len(store.tensors),
            "sha256": hashlib.sha256(blob).hexdigest(),
        },
    }
    text = json.dumps(document, indent=1, allow_nan=False)
    target = Path(path)
    if target.suffix.lower() == ".zip":
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(DOCUMENT, text)
            archive.writestr(TENSORS, blob)
        tmp.replace(target)
    else:
        if target.exists() and not target.is_dir():
            raise SaveError(
                f"'{target}' is a file. tw.save writes a directory, or a zip file for a "
                "path ending in .zip."
            )
        target.mkdir(parents=True, exist_ok=True)
        (target / TENSORS).write_bytes(blob)
        (target / DOCUMENT).write_text(text, encoding="utf-8")
    return target


def _read_parts(target: Path) -> tuple[bytes, bytes]:
    if target.is_dir():
        files = [target / DOCUMENT, target / TENSORS]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise LoadError(
                f"'{target}' is not a saved torchweave model: it lacks {', '.join(missing)}."
            )
        return files[0].read_bytes(), files[1].read_bytes()
    if not target.exists():
        raise LoadError(f"'{target}' does not exist.")
    try:
        with zipfile.ZipFile(target) as archive:
            names = set(archive.namelist())
            missing = [n for n in (DOCUMENT, TENSORS) if n not in names]
            if missing:
                raise LoadError(
                    f"'{target}' is not a saved torchweave model: the zip file lacks "
                    f"{', '.join(missing)}."
                )
            return archive.read(DOCUMENT), archive.read(TENSORS)
    except (zipfile.BadZipFile, EOFError, OSError, zlib_error()) as exc:
        raise LoadError(
            f"'{target}' is not a readable zip file (corrupt or truncated): {exc}"
        ) from exc


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def read_document(path: str | os.PathLike[str]) -> tuple[dict[str, Any], bytes]:
    """The checked JSON document and the tensor bytes of a saved model.

    Raises
    ------
    LoadError
        For a missing, corrupt, truncated or newer-format model (naming the file).
    """
    target = Path(path)
    raw, blob = _read_parts(target)
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoadError(
            f"'{target}': {DOCUMENT} is not valid JSON (corrupt or truncated): {exc}"
        ) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise LoadError(f"'{target}' is not a saved torchweave model (no format '{FORMAT}').")
    version = document.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise LoadError(f"'{target}': invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise LoadError(
            f"'{target}' was saved in format version {version} by torchweave "
            f"{document.get('torchweave_version')}; this torchweave ({__version__}) reads "
            f"versions up to {FORMAT_VERSION}. Upgrade torchweave to load it."
        )
    expected = (document.get("tensors") or {}).get("sha256")
    if expected != hashlib.sha256(blob).hexdigest():
        raise LoadError(
            f"'{target}': {TENSORS} does not match the checksum in {DOCUMENT} (corrupt, "
            "truncated or from another model)."
        )
    return document, blob


def load(path: str | os.PathLike[str], *, device: str | None = None) -> Learner:
    """Load a learner saved by :func:`save`, without unpickling anything.

    Tensors are read onto the CPU. Classes and functions the model names
    (operators, losses, your own ``nn("module")`` classes...) are imported by
    name; load models only from sources you trust to name importable code.

    Parameters
    ----------
    path : str or path-like
        The directory or zip file.
    device : str, optional
        Set the ``device`` parameter of every torch learner inside (e.g. ``"cpu"``).
        By default the saved value is kept, except that a CUDA or MPS device this
        machine lacks becomes ``"cpu"``.

    Returns
    -------
    Learner
        The learner, trained as it was saved: it predicts as before.

    Raises
    ------
    LoadError
        If the model is missing, corrupt, truncated, of a newer format version, or
        names parts that cannot be imported here (the message names the file).
    """
    import safetensors.torch

    from torchweave.io.state import StateCodec

    target = Path(path)
    document, blob = read_document(target)
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as exc:
        raise LoadError(f"'{target}': {TENSORS} cannot be read: {exc}") from exc
    codec = StateCodec(TensorStore(tensors))
    try:
        learner = codec.decode_learner({"spec": document["learner"], "state": document["state"]})
        _set_devices(learner, device)
    except LoadError as exc:
        raise LoadError(f"Cannot load '{target}': {exc}") from exc
    except (Error, ImportError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise LoadError(f"Cannot load '{target}': {type(exc).__name__}: {exc}") from exc
    return learner


def _param_sets(learner: Learner) -> list[Any]:
    sets = [learner.param_set]
    graph = getattr(learner, "graph", None)
    if graph is not None:
        for op in graph.pipeops.values():
            sets.append(op.param_set)
            if isinstance(op.state, Learner):
                sets.extend(_param_sets(op.state))
    if learner.state is not None and isinstance(learner.state.model, dict):
        for value in learner.state.model.values():
            if isinstance(value, Learner):
                sets.extend(_param_sets(value))
    return sets


def _set_devices(learner: Learner, device: str | None) -> None:
    from torchweave.io.state import usable_device

    for param_set in _param_sets(learner):
        if "device" not in param_set.params or "device" not in param_set.values:
            continue
        current = param_set.values["device"]
        wanted = device if device is not None else usable_device(current)
        if wanted != current:
            param_set.set_values(device=wanted)
