"""The checkpoint folder format, shared by ``t_clbk("checkpoint")`` and ``resume``.

A checkpoint of epoch ``n`` is three files, written in this order and each one
atomically (a temporary file renamed into place): ``network<n>.pt`` (the network's
state dict), ``optimizer<n>.pt`` (the optimizer's state dict) and ``state<n>.pt``
(epoch, global step, last validation scores, the other callbacks' states and the
random number generator states). A checkpoint is complete when all three exist;
``state<n>.pt`` comes last, so a crash while saving leaves an incomplete one that is
ignored. ``run.json`` records the task and validation split the folder belongs to.
Checkpoints written every ``freq`` steps use the suffix ``_step<global step>``.

Everything is saved with :func:`torch.save` in a form that
``torch.load(..., weights_only=True)`` reads: tensors, numbers, strings, lists and
dicts. Data frames (the history) are stored as tagged dicts of columns. Loading
reads them back the same way, so a file that holds anything else (a tampered pickle)
is refused without running it. A file that cannot be read (truncated, garbage, an
entry missing, or not the structure a checkpoint has) is a
:class:`~torchweave.errors.CorruptCheckpointError` naming the file.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from torchweave.errors import CorruptCheckpointError, InvalidTypeError

__all__ = [
    "CHECKPOINT_PARTS",
    "RUN_FILE",
    "complete_checkpoints",
    "decode_state",
    "encode_state",
    "foreign_files",
    "latest_checkpoint",
    "load_checkpoint",
    "load_part",
    "read_run",
    "restore_rng_states",
    "rng_states",
    "save_atomic",
    "write_run",
]

#: The files of one checkpoint; the state file is written last.
CHECKPOINT_PARTS: tuple[str, ...] = ("network", "optimizer", "state")
RUN_FILE = "run.json"
FORMAT_VERSION = 1
_EPOCH_FILE = re.compile(r"^(network|optimizer|state)(\d+)\.pt$")
_STEP_FILE = re.compile(r"^(network|optimizer|state)_step(\d+)\.pt$")
_DATAFRAME_TAG = "__dataframe__"


def encode_state(obj: Any, owner: str) -> Any:
    """Make a callback state loadable with ``weights_only=True``.

    Data frames become tagged dicts of columns, numpy values become Python numbers or
    tensors. Anything else that is not a tensor, number, string, bool, None, list,
    tuple or dict is an error naming ``owner``.
    """
    if obj is None or isinstance(obj, bool | int | float | str | torch.Tensor):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj, copy=True))
    if isinstance(obj, pd.DataFrame):
        return {
            _DATAFRAME_TAG: {
                "columns": [str(c) for c in obj.columns],
                "dtypes": [str(t) for t in obj.dtypes],
                "data": [encode_state(obj[c].tolist(), owner) for c in obj.columns],
            }
        }
    if isinstance(obj, Mapping):
        return {k: encode_state(v, owner) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(encode_state(v, owner) for v in obj)
    raise InvalidTypeError(
        f"The state of {owner} holds a {type(obj).__name__}, which a checkpoint cannot store. "
        "A state_dict() may hold tensors, numbers, strings, lists, dicts and data frames."
    )


def decode_state(obj: Any) -> Any:
    """Reverse :func:`encode_state` (data frames come back as data frames)."""
    if isinstance(obj, dict):
        if set(obj) == {_DATAFRAME_TAG}:
            spec = obj[_DATAFRAME_TAG]
            frame = pd.DataFrame(dict(zip(spec["columns"], spec["data"], strict=True)))
            return frame.astype(dict(zip(spec["columns"], spec["dtypes"], strict=True)))
        return {k: decode_state(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(decode_state(v) for v in obj)
    return obj


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _scan(folder: Path, pattern: re.Pattern[str]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    if not folder.is_dir():
        return found
    for entry in folder.iterdir():
        match = pattern.match(entry.name)
        if match:
            found.setdefault(int(match.group(2)), set()).add(match.group(1))
    return found


def complete_checkpoints(folder: Path, step: bool = False) -> tuple[list[int], list[int]]:
    """Epochs (or steps) with a complete checkpoint, and those with an incomplete one."""
    found = _scan(folder, _STEP_FILE if step else _EPOCH_FILE)
    complete = sorted(n for n, parts in found.items() if parts == set(CHECKPOINT_PARTS))
    incomplete = sorted(n for n, parts in found.items() if parts != set(CHECKPOINT_PARTS))
    return complete, incomplete


def foreign_files(folder: Path) -> list[str]:
    """Entries of ``folder`` that no checkpoint run wrote (sorted names)."""
    if not folder.is_dir():
        return []
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if not (
            entry.name == RUN_FILE
            or _EPOCH_FILE.match(entry.name)
            or _STEP_FILE.match(entry.name)
            or (entry.name.startswith(".") and entry.name.endswith(".tmp"))
        )
    )


def latest_checkpoint(folder: Path) -> int | None:
    """The newest epoch with a complete checkpoint; newer incomplete ones get a warning."""
    complete, incomplete = complete_checkpoints(folder)
    newest = complete[-1] if complete else None
    skipped = [n for n in incomplete if newest is None or n > newest]
    if skipped:
        warnings.warn(
            f"Ignoring incomplete checkpoint(s) of epoch(s) {skipped} in '{folder}' (a run "
            "stopped while saving them).",
            UserWarning,
            stacklevel=3,
        )
    return newest


def load_checkpoint(folder: Path, epoch: int) -> dict[str, Any]:
    """The ``network``, ``optimizer`` and ``state`` of a complete checkpoint.

    Raises
    ------
    CorruptCheckpointError
        If one of the three files cannot be read, holds objects a checkpoint never
        holds, or lacks what a checkpoint has; the message names the file.
    """
    out = {part: load_part(folder / f"{part}{epoch}.pt") for part in CHECKPOINT_PARTS}
    state_file = folder / f"state{epoch}.pt"
    for key in ("epoch", "global_step"):
        value = out["state"].get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise CorruptCheckpointError(
                f"The checkpoint file '{state_file}' is corrupt: its '{key}' entry should be "
                f"an integer, but it is {type(value).__name__}. Delete the checkpoint (all "
                "three files of its epoch) to resume from the one before it."
            )
    out["state"] = decode_state(out["state"])
    return out


#: What torch.load raises for a file that is not a readable checkpoint (a truncated
#: or garbage zip archive, an archive with an entry missing, a broken pickle stream);
#: its zip reader also raises OSError (EINVAL) for some truncated files.
_READ_ERRORS = (
    RuntimeError,
    EOFError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    AttributeError,
    UnicodeDecodeError,
    zipfile.BadZipFile,
)


def load_part(path: Path) -> dict[str, Any]:
    """Load one checkpoint file with ``weights_only=True``; it must hold a dict.

    Only tensors, numbers, strings, lists and dicts are read back, so a tampered file
    is refused without running what it references.

    Raises
    ------
    CorruptCheckpointError
        If the file is truncated, garbage, misses an entry, holds other objects, or
        does not hold a dict. The message names the file (and never suggests loading it
        with ``weights_only`` off).
    """
    advice = (
        "Delete the checkpoint (all three files of its epoch) to resume from the one "
        "before it, or train from scratch."
    )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CorruptCheckpointError(
            f"The checkpoint file '{path}' is corrupt or was tampered with: it holds objects "
            "other than tensors, numbers, strings, lists and dicts, which torchweave never "
            f"writes, so it was refused without loading them. {advice}"
        ) from None
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise  # the file system's own errors say what is wrong
    except (*_READ_ERRORS, OSError) as exc:
        raise CorruptCheckpointError(
            f"The checkpoint file '{path}' is corrupt (truncated, overwritten or incomplete): "
            f"torch could not read it ({type(exc).__name__}). {advice}"
        ) from None
    if not isinstance(obj, dict):
        raise CorruptCheckpointError(
            f"The checkpoint file '{path}' is corrupt: it should hold a dict, but it holds "
            f"a {type(obj).__name__}. {advice}"
        )
    return obj


def write_run(folder: Path, task_id: str, valid_row_ids: list[int] | None) -> None:
    """Record which task and validation split the checkpoints of ``folder`` belong to."""
    run = {"format": FORMAT_VERSION, "task_id": task_id, "valid_row_ids": valid_row_ids}
    tmp = folder / f".{RUN_FILE}.tmp"
    tmp.write_text(json.dumps(run), encoding="utf-8")
    os.replace(tmp, folder / RUN_FILE)


def read_run(folder: Path) -> dict[str, Any] | None:
    """The contents of ``run.json``, or None if the folder has none."""
    path = folder / RUN_FILE
    if not path.is_file():
        return None
    run: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return run


def rng_states(ctx: Any) -> dict[str, Any]:
    """Torch's random number generator states that the rest of a run draws from."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    generator = getattr(ctx.loader_train, "generator", None)
    if isinstance(generator, torch.Generator):
        states["loader"] = generator.get_state()
    if ctx.device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(ctx.device)
    return states


def restore_rng_states(ctx: Any, states: dict[str, Any]) -> None:
    """Set the generators of a fresh run to the states :func:`rng_states` saved."""
    if "torch" in states:
        torch.set_rng_state(states["torch"])
    generator = getattr(ctx.loader_train, "generator", None)
    if "loader" in states and isinstance(generator, torch.Generator):
        generator.set_state(states["loader"])
    if "cuda" in states and ctx.device.type == "cuda":
        torch.cuda.set_rng_state(states["cuda"], ctx.device)
