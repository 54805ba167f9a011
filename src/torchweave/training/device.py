"""The training device and torch's global settings during train and predict."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch

from torchweave.distributed.threads import cap_threads
from torchweave.errors import InvalidParameterError

__all__ = ["resolve_device", "torch_settings"]


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is cuda, then mps, then cpu; an unavailable device is an error."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(
            "The 'device' parameter is 'cuda', but no CUDA device is available. "
            "Use device='auto' or 'cpu'."
        )
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InvalidParameterError(
                "The 'device' parameter is 'mps', but no MPS device is available."
            )
    return torch.device(device)


@contextlib.contextmanager
def torch_settings(
    seed: int | None, num_threads: int, num_interop_threads: int | None, device: torch.device
) -> Iterator[None]:
    """Seed torch and set its threads for a block; restore both afterwards."""
    old_threads = torch.get_num_threads()
    torch.set_num_threads(cap_threads(num_threads))  # a joblib worker's cap, if any
    if num_interop_threads is not None and num_interop_threads != torch.get_num_interop_threads():
        try:
            torch.set_num_interop_threads(num_interop_threads)
        except RuntimeError as exc:
            warnings.warn(
                f"Cannot set the number of interop threads to {num_interop_threads}: torch "
                f"allows it once per process, before parallel work ({exc}).",
                UserWarning,
                stacklevel=3,
            )
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                # Only the generators this device uses: torch.manual_seed would also queue
                # seeds (with a stack trace each) for every accelerator backend torch has.
                torch.random.default_generator.manual_seed(seed)
                if device.type == "cuda":
                    torch.cuda.manual_seed_all(seed)
                elif device.type == "mps":
                    torch.mps.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(old_threads)
