"""The public names of :mod:`torchweave.callbacks`, each with the module defining it.

Torch-free: ``torchweave.callbacks`` and ``import torchweave`` read this list to load a
name's module on first use. The built-in callbacks register their keys when their
module is imported, which ``tw.registry.callbacks`` does on first use.
"""

__all__ = ["NAMES"]

NAMES: dict[str, str] = {
    "CallbackSet": "torchweave.callbacks.callback_set",
    "ContextTorch": "torchweave.callbacks.callback_set",
    "STAGES": "torchweave.callbacks.callback_set",
    "CallbackSetCheckpoint": "torchweave.callbacks.checkpoint",
    "CallbackSetCSV": "torchweave.callbacks.csv",
    "CallbackSetEarlyStopping": "torchweave.callbacks.early_stopping",
    "CallbackSetHistory": "torchweave.callbacks.history",
    "plot_history": "torchweave.callbacks.history",
    "CallbackSetLRScheduler": "torchweave.callbacks.lr_scheduler",
    "CallbackSetLRSchedulerOneCycle": "torchweave.callbacks.lr_scheduler",
    "CallbackSetLRSchedulerReduceOnPlateau": "torchweave.callbacks.lr_scheduler",
    "TorchCallbackLRScheduler": "torchweave.callbacks.lr_scheduler",
    "as_lr_scheduler": "torchweave.callbacks.lr_scheduler",
    "CallbackSetProgress": "torchweave.callbacks.progress",
    "Select": "torchweave.callbacks.select",
    "select_all": "torchweave.callbacks.select",
    "select_grep": "torchweave.callbacks.select",
    "select_invert": "torchweave.callbacks.select",
    "select_name": "torchweave.callbacks.select",
    "select_none": "torchweave.callbacks.select",
    "CallbackSetTB": "torchweave.callbacks.tb",
    "TorchCallback": "torchweave.callbacks.descriptor",
    "torch_callback": "torchweave.callbacks.descriptor",
    "CallbackSetUnfreeze": "torchweave.callbacks.unfreeze",
}
