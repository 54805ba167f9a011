"""The built-in callbacks (``t_clbk(key)``). Importing this package registers them."""

from torchweave.callbacks.checkpoint import CallbackSetCheckpoint
from torchweave.callbacks.csv import CallbackSetCSV
from torchweave.callbacks.history import CallbackSetHistory, plot_history
from torchweave.callbacks.lr_scheduler import (
    CallbackSetLRScheduler,
    CallbackSetLRSchedulerOneCycle,
    CallbackSetLRSchedulerReduceOnPlateau,
    TorchCallbackLRScheduler,
    as_lr_scheduler,
)
from torchweave.callbacks.progress import CallbackSetProgress
from torchweave.callbacks.select import (
    Select,
    select_all,
    select_grep,
    select_invert,
    select_name,
    select_none,
)
from torchweave.callbacks.tb import CallbackSetTB
from torchweave.callbacks.unfreeze import CallbackSetUnfreeze

__all__ = [
    "CallbackSetCSV",
    "CallbackSetCheckpoint",
    "CallbackSetHistory",
    "CallbackSetLRScheduler",
    "CallbackSetLRSchedulerOneCycle",
    "CallbackSetLRSchedulerReduceOnPlateau",
    "CallbackSetProgress",
    "CallbackSetTB",
    "CallbackSetUnfreeze",
    "Select",
    "TorchCallbackLRScheduler",
    "as_lr_scheduler",
    "plot_history",
    "select_all",
    "select_grep",
    "select_invert",
    "select_name",
    "select_none",
]
