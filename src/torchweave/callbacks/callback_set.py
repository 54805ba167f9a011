"""CallbackSet and ContextTorch: how callbacks see and steer the training loop.

The callback machinery lives in :mod:`torchweave.callbacks`: this module (the base
class, the context and the stages), :mod:`~torchweave.callbacks.descriptor` (the
``TorchCallback`` descriptor and ``torch_callback``),
:mod:`~torchweave.callbacks.early_stopping` and the built-in callbacks.

A callback is a :class:`CallbackSet` with any of the twelve ``on_<stage>`` methods.
The loop calls, at each stage, only the callbacks that implement it, in the order of
their ``weight`` (higher runs later; ties keep the given order). Callbacks read and
steer training through ``self.ctx`` (a :class:`ContextTorch`): setting
``ctx.terminate = True`` stops training before the next epoch.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["STAGES", "CallbackSet", "ContextTorch"]

#: The callback stages, in the order the loop reaches them.
STAGES: tuple[str, ...] = (
    "on_begin",
    "on_epoch_begin",
    "on_batch_begin",
    "on_after_backward",
    "on_batch_end",
    "on_before_valid",
    "on_batch_valid_begin",
    "on_batch_valid_end",
    "on_valid_end",
    "on_epoch_end",
    "on_end",
    "on_exit",
)


@dataclass(eq=False)
class ContextTorch:
    """Everything the training loop knows, shared with the callbacks.

    Attributes
    ----------
    learner, task_train, task_valid
        The learner and the training / internal validation tasks.
    loader_train, loader_valid
        The batch iterables (``loader_valid`` is None without validation).
    measures_train, measures_valid : list of Measure
        Measures scored on training outputs and on the validation task.
    network, optimizer, loss_fn
        The live torch objects.
    total_epochs : int
        The ``epochs`` parameter.
    eval_freq : int
        Evaluate every ``eval_freq`` epochs (and always in the last one).
    device : torch.device
        The training device.
    epoch, step, global_step, step_valid : int
        Current epoch (1-based; 0 before the first), batch within the epoch, batches
        over all epochs, and batch within validation.
    batch : dict
        The current batch: ``{"x": {name: tensor}, "y": tensor, "index": tensor}``.
    y_hat, y_hats
        The network output of the current batch (``y_hat`` is the first one).
    last_loss : float
        Loss of the last training batch.
    last_scores_train, last_scores_valid : dict or None
        Scores of the last evaluated epoch by measure id (None in other epochs).
    terminate : bool
        Set to True to stop before the next epoch.
    callbacks : dict
        The active callbacks by id, in call order.
    grad_scaler : torch.amp.GradScaler or None
        The gradient scaler of ``precision="16-mixed"`` (saved in checkpoints).
    prediction_encoder : callable
        ``(network_output, task) -> dict`` used to score outputs.
    """

    learner: Any
    task_train: Any
    loader_train: Any
    network: Any
    optimizer: Any
    loss_fn: Any
    total_epochs: int
    device: Any
    prediction_encoder: Callable[..., Any]
    task_valid: Any = None
    loader_valid: Any = None
    measures_train: list[Any] = field(default_factory=list)
    measures_valid: list[Any] = field(default_factory=list)
    eval_freq: int = 1
    epoch: int = 0
    step: int = 0
    global_step: int = 0
    step_valid: int = 0
    batch: Any = None
    y_hat: Any = None
    y_hats: Any = None
    last_loss: float | None = None
    last_scores_train: dict[str, float] | None = field(default_factory=dict)
    last_scores_valid: dict[str, float] | None = field(default_factory=dict)
    terminate: bool = False
    callbacks: dict[str, Any] = field(default_factory=dict)
    grad_scaler: Any = None


class CallbackSet:
    """Base class of callbacks: implement any ``on_<stage>`` methods.

    Attributes
    ----------
    ctx : ContextTorch or None
        The training context while training runs, else None.
    weight : float
        Order among callbacks at each stage (higher runs later; default 0).
    saves_checkpoints : bool
        True for callbacks that write the other callbacks' states to checkpoints
        (``t_clbk("checkpoint")``): stateful callbacks must end their epochs before
        them, and ``resume=True`` resumes from their ``path``.

    Notes
    -----
    Defining a method named ``on_*`` that is not a stage (a typo such as
    ``on_epoch_edn``) warns when the class is created, suggesting the closest stage.
    Implement ``state_dict`` and ``load_state_dict`` together, or neither.

    Examples
    --------
    >>> import torchweave as tw
    >>> class Stopper(tw.CallbackSet):
    ...     def on_epoch_end(self):
    ...         if self.ctx.epoch >= 2:
    ...             self.ctx.terminate = True
    >>> Stopper().stages
    ['on_epoch_end']
    """

    weight: ClassVar[float] = 0.0
    saves_checkpoints: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _warn_unknown_stages(cls)

    def __init__(self) -> None:
        self.ctx: ContextTorch | None = None

    @property
    def stages(self) -> list[str]:
        """The stages this callback implements, in loop order."""
        return [s for s in STAGES if callable(getattr(self, s, None))]

    def state_dict(self) -> Any:
        """What to keep in ``learner.model.callbacks[id]`` (and in checkpoints)."""
        return None

    def load_state_dict(self, state_dict: Any) -> None:
        """Restore a state returned by :meth:`state_dict` (resuming)."""
        if state_dict is not None:
            warnings.warn(
                f"Callback of class <{type(self).__name__}> does not implement "
                "load_state_dict(), its state is ignored.",
                UserWarning,
                stacklevel=2,
            )

    def checkpoint_state(self) -> Any:
        """What checkpoints save for this callback (default: :meth:`state_dict`).

        Override it to save more than the trained model keeps: early stopping saves its
        best weights here, so that ``restore_best_weights`` still works after resuming,
        without keeping a second copy of the network in ``learner.model``.
        """
        return self.state_dict()

    def load_checkpoint_state(self, state: Any) -> None:
        """Restore a state of :meth:`checkpoint_state` (default: :meth:`load_state_dict`)."""
        self.load_state_dict(state)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>\n* Stages: {', '.join(self.stages) or '-'}"


def closest_stage(name: str) -> str:
    """``" Did you mean 'on_epoch_end'?"`` for the closest stage, or ``""``."""
    match = difflib.get_close_matches(name, STAGES, n=1, cutoff=0.6)
    return f" Did you mean '{match[0]}'?" if match else ""


def _warn_unknown_stages(cls: type) -> None:
    """Warn about methods named ``on_*`` that are no stage (a typo such as ``on_epoch_edn``)."""
    for name, value in vars(cls).items():
        if name.startswith("on_") and name not in STAGES and callable(value):
            hint = closest_stage(name) or f" Stages are {', '.join(STAGES)}."
            warnings.warn(
                f"Callback class <{cls.__name__}> has a method '{name}', which is not a "
                f"callback stage, so the training loop never calls it.{hint}",
                UserWarning,
                stacklevel=3,
            )
