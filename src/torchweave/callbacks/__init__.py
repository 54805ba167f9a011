"""The built-in callbacks (``t_clbk(key)``). Importing this package registers them."""

from torchweave.callbacks.checkpoint import CallbackSetCheckpoint
from torchweave.callbacks.history import CallbackSetHistory

__all__ = ["CallbackSetCheckpoint", "CallbackSetHistory"]
