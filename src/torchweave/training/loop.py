"""The training loop of one fit, as named steps.

:meth:`TrainLoop.run` (the whole fit) calls :meth:`~TrainLoop.train_epoch` per epoch,
which calls :meth:`~TrainLoop.train_step` per batch; a step moves the batch to the
device, runs :meth:`~TrainLoop.compute_loss` (the forward pass and the loss), the
backward pass and the optimizer step. :meth:`~TrainLoop.valid_epoch` and
:meth:`~TrainLoop.valid_step` score the validation data. Callbacks are notified at each
stage; only those that implement a stage are called for it.

Extension hooks are chosen once per fit, after ``on_begin`` and before the first
batch, so a loop without extensions pays nothing for them per batch:
:meth:`~TrainLoop.wrap_network`,
:meth:`~TrainLoop.wrap_loss`, :meth:`~TrainLoop.wrap_compute_loss`,
:meth:`~TrainLoop.make_backward` and :meth:`~TrainLoop.make_optimizer_step`. A
learner uses the loop class in its ``loop_class`` attribute.

:func:`make_forward` and :func:`make_to_device` are the one forward call and the one
device transfer of the package; training, validation and prediction all use them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from torchweave.callbacks.callback_set import STAGES, CallbackSet, ContextTorch
from torchweave.data.task import Task, TaskClassif
from torchweave.errors import InvalidParameterError, NonFiniteLossError, ShapeError
from torchweave.network.shapes import shape_to_str, shapes_agree
from torchweave.training.encode import score_outputs
from torchweave.training.model import TorchModel
from torchweave.training.precision import compile_network, make_grad_scaler, with_precision
from torchweave.training.resume import resume_folder, resume_training

__all__ = [
    "TrainLoop",
    "expected_outputs",
    "jit_trace",
    "make_forward",
    "make_to_device",
    "order_callbacks",
]

Batch = dict[str, Any]


def make_forward(network: Callable[..., Any], names: list[str]) -> Callable[[Batch], Any]:
    """The forward pass ``x -> network output`` for inputs named ``names``.

    One input is passed positionally (any name works), several by name.
    """
    if len(names) == 1:
        (name,) = names

        def forward_one(x: Batch) -> Any:
            return network(x[name])

        return forward_one

    def forward_named(x: Batch) -> Any:
        return network(**x)

    return forward_named


def make_to_device(device: torch.device) -> Callable[[Batch], Batch] | None:
    """Moving a batch (inputs, and the target if any) to ``device``; None on the CPU.

    Batches are built on the CPU, so there is nothing to move there; elsewhere the
    copies are non-blocking (they overlap with computation from pinned memory).
    """
    if device.type == "cpu":
        return None

    def to_device(batch: Batch) -> Batch:
        moved = {**batch, "x": {k: v.to(device, non_blocking=True) for k, v in batch["x"].items()}}
        y = batch.get("y")
        if y is not None:
            moved["y"] = y.to(device, non_blocking=True)
        return moved

    return to_device


def order_callbacks(callbacks: dict[str, CallbackSet]) -> dict[str, CallbackSet]:
    """The callbacks in call order: by ``weight``, ties in the given order.

    Raises
    ------
    InvalidParameterError
        If a weight is not a number, or a stateful callback would end its epochs after
        the checkpoint callback (its checkpoints would miss the latest state).
    """
    weights = {cb_id: getattr(cb, "weight", 0.0) for cb_id, cb in callbacks.items()}
    bad = [i for i, w in weights.items() if not isinstance(w, int | float) or math.isnan(w)]
    if bad:
        raise InvalidParameterError(f"The callback(s) {bad} have a weight that is not a number.")
    ordered = dict(sorted(callbacks.items(), key=lambda kv: weights[kv[0]]))  # stable
    ids = list(ordered)
    first = next((i for i, cb in enumerate(ordered.values()) if cb.saves_checkpoints), None)
    if first is None:
        return ordered
    late = [
        cb_id
        for cb_id in ids[first + 1 :]
        if not ordered[cb_id].saves_checkpoints
        and type(ordered[cb_id]).state_dict is not CallbackSet.state_dict
        and any(callable(getattr(ordered[cb_id], s, None)) for s in ("on_epoch_end", "on_end"))
    ]
    if late:
        raise InvalidParameterError(
            f"The stateful callback(s) {late} run after the checkpoint callback "
            f"'{ids[first]}' in on_epoch_end / on_end, so checkpoints would miss their latest "
            "state. Give them a lower weight than the checkpoint (whose weight is inf)."
        )
    return ordered


def jit_trace(network: nn.Module, dataset: Any, device: torch.device) -> nn.Module:
    """The network traced by TorchScript on an example batch (``jit_trace=True``)."""
    example = dataset.__getitems__(list(range(min(2, len(dataset)))))
    to_device = make_to_device(device)
    inputs = tuple((example if to_device is None else to_device(example))["x"].values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.trace(network, inputs, check_trace=False)


def expected_outputs(task: Task) -> int:
    """Network outputs per row for a task: k for k > 2 classes, else 1."""
    if isinstance(task, TaskClassif) and len(task.class_names) > 2:
        return len(task.class_names)
    return 1


class TrainLoop:
    """The training loop of one fit: epochs of training steps, validation, callbacks.

    Subclass it to extend the loop and set the subclass as the learner's
    ``loop_class``; override only the hooks (each called once per fit):

    - :meth:`wrap_network`: the module used for forward passes (``torch.compile``,
      ``DistributedDataParallel``); the learner keeps and returns the plain network.
    - :meth:`wrap_loss`: the loss applied to ``(y_hat, y)`` (e.g. averaging the loss
      over the k heads of an ensemble output).
    - :meth:`wrap_compute_loss`: wraps the forward pass and loss of each training
      batch, ``(x, y) -> loss`` (e.g. under ``torch.autocast``).
    - :meth:`make_backward`: ``loss -> None`` (e.g. through a gradient scaler).
    - :meth:`make_optimizer_step`: ``() -> None`` (e.g. ``scaler.step`` and
      ``scaler.update``).

    Parameters
    ----------
    ctx : ContextTorch
        The training context (network, optimizer, loss, loaders, measures, ...).
    callbacks : dict of str to CallbackSet
        The callbacks by id, in call order.
    ingress_shapes : mapping of str to tuple or None
        The declared shape of each network input (None: unknown); the first training
        batch is checked against them.
    resume : bool, str or None, optional
        The learner's ``resume`` parameter: continue from a checkpoint folder.
    precision : {"32", "bf16-mixed", "16-mixed"}, default "32"
        The learner's ``precision`` parameter: forward passes under autocast, and a
        gradient scaler (``ctx.grad_scaler``) for ``"16-mixed"`` (see
        :mod:`torchweave.training.precision`).
    compile : bool, default False
        The learner's ``compile`` parameter: ``torch.compile`` the (wrapped) network.
    """

    def __init__(
        self,
        ctx: ContextTorch,
        callbacks: dict[str, CallbackSet],
        ingress_shapes: Mapping[str, tuple[int | None, ...] | None],
        resume: Any = None,
        *,
        precision: str = "32",
        compile: bool = False,
    ) -> None:
        self.ctx = ctx
        self.resume = resume
        self.precision = precision
        self.compile = compile
        # Made before resuming, which restores its state from the checkpoint.
        self.grad_scaler = ctx.grad_scaler = make_grad_scaler(precision, ctx.device)
        self.callbacks = ctx.callbacks = callbacks
        self.ingress_shapes = dict(ingress_shapes)
        self.learner_id = getattr(ctx.learner, "id", "?")
        self._owner = {id(cb): cb_id for cb_id, cb in callbacks.items()}
        # Only callbacks that implement a stage are ever called for it.
        self.stage_calls: dict[str, list[Callable[[], None]]] = {
            s: [getattr(cb, s) for cb in callbacks.values() if callable(getattr(cb, s, None))]
            for s in STAGES
        }
        self._warned_frozen = False

    # --- hooks (once per fit; the defaults add nothing per batch) -----------------------------
    def wrap_network(self, network: nn.Module) -> Callable[..., Any]:
        """The callable used for forward passes (default: the network itself)."""
        return network

    def wrap_loss(self, loss_fn: Callable[[Any, Any], torch.Tensor]) -> Callable[..., Any]:
        """The loss applied to ``(y_hat, y)`` (default: the loss module itself)."""
        return loss_fn

    def wrap_compute_loss(
        self, compute_loss: Callable[[Batch, torch.Tensor], torch.Tensor]
    ) -> Callable[[Batch, torch.Tensor], torch.Tensor]:
        """Wrap the forward pass and loss of a training batch (default: unchanged)."""
        return compute_loss

    def make_backward(self) -> Callable[[torch.Tensor], Any]:
        """The backward pass ``loss -> None`` (default: ``loss.backward()``)."""
        return torch.Tensor.backward

    def make_optimizer_step(self, optimizer: torch.optim.Optimizer) -> Callable[[], Any]:
        """The optimizer step ``() -> None`` (default: ``optimizer.step()``)."""
        return optimizer.step

    # --- the loop -------------------------------------------------------------------------------
    def setup(self) -> None:
        """Pick the step functions of this fit (hooks included) once, before the first batch."""
        ctx = self.ctx
        names = list(self.ingress_shapes)
        network = self.wrap_network(ctx.network)
        if self.compile:
            network = compile_network(network)
        self.forward = with_precision(make_forward(network, names), self.precision, ctx.device)
        self.to_device = make_to_device(ctx.device)
        self.loss = self.wrap_loss(ctx.loss_fn)
        self.backward = self.make_backward()
        self.optimizer_step = self.make_optimizer_step(ctx.optimizer)
        if self.grad_scaler is not None:
            self._scale_gradients(self.grad_scaler)
        self.zero_grad = ctx.optimizer.zero_grad
        self.train_compute_loss = self.wrap_compute_loss(self.compute_loss)
        # The first training batch goes through checks, which then step aside.
        self._forward: Callable[[Batch], Any] = self._forward_checked
        self._loss: Callable[..., Any] = self._loss_checked

    def _scale_gradients(self, scaler: torch.amp.GradScaler) -> None:
        """Backward pass on the scaled loss; optimizer step and update through the scaler."""
        if type(self).make_optimizer_step is not TrainLoop.make_optimizer_step:
            raise InvalidParameterError(
                f"Learner '{self.learner_id}': precision='16-mixed' steps the optimizer through "
                f"its gradient scaler, but the loop {type(self).__name__} overrides "
                "make_optimizer_step. Use precision='bf16-mixed' or '32' with this loop."
            )
        backward, optimizer = self.backward, self.ctx.optimizer

        def scaled_backward(loss: torch.Tensor) -> Any:
            return backward(scaler.scale(loss))

        def scaled_step() -> None:
            scaler.step(optimizer)
            scaler.update()

        self.backward, self.optimizer_step = scaled_backward, scaled_step

    def run(self) -> TorchModel:
        """Train all epochs (or until a callback terminates) and return the model."""
        ctx, callbacks, call = self.ctx, self.callbacks, self.call
        for cb in callbacks.values():
            cb.ctx = ctx
        try:
            folder = resume_folder(self.resume, callbacks, self.learner_id)
            if folder is not None:
                resume_training(ctx, callbacks, folder)
            call("on_begin")
            # After on_begin: callbacks may have set up the optimizer (an LR scheduler
            # wraps optimizer.step) or the network's trainable weights.
            self.setup()
            ctx.network.train()
            while not ctx.terminate and ctx.epoch < ctx.total_epochs:
                ctx.epoch += 1
                call("on_epoch_begin")
                self.train_epoch()
                call("on_before_valid")
                evaluate = ctx.epoch % ctx.eval_freq == 0 or ctx.epoch == ctx.total_epochs
                if ctx.loader_valid is not None and evaluate:
                    self.valid_epoch()
                    call("on_valid_end")
                else:
                    ctx.last_scores_valid = None
                call("on_epoch_end")
            call("on_end")
            states = {cb_id: cb.state_dict() for cb_id, cb in callbacks.items()}
        finally:
            try:
                call("on_exit")  # early stopping restores the best weights (and their scores)
            finally:
                for cb in callbacks.values():
                    cb.ctx = None
        stopping = states.get("early_stopping") or {}
        return TorchModel(
            network=ctx.network,
            internal_valid_scores=dict(ctx.last_scores_valid or {}) if ctx.measures_valid else {},
            loss_fn=ctx.loss_fn.state_dict(),
            optimizer=ctx.optimizer.state_dict(),
            epochs=ctx.epoch,
            callbacks={k: v for k, v in states.items() if v is not None},
            best_epoch=stopping.get("best_epochs"),
            best_scores=stopping.get("best_scores"),
        )

    def call(self, stage: str) -> None:
        """Run the callbacks of one stage (an exception gets a note naming the callback)."""
        fn = None
        try:
            for fn in self.stage_calls[stage]:
                fn()
        except Exception as exc:
            self._note(exc, fn, stage)
            raise

    def train_epoch(self) -> None:
        """One pass over the training batches; scores the outputs when measures are due."""
        ctx = self.ctx
        self.collect = bool(ctx.measures_train) and (
            ctx.epoch % ctx.eval_freq == 0 or ctx.epoch == ctx.total_epochs
        )
        self.outputs: list[torch.Tensor] = []
        self.indices: list[torch.Tensor] = []
        ctx.step = 0
        train_step = self.train_step
        for batch in ctx.loader_train:
            train_step(batch)
        ctx.last_scores_train = (
            score_outputs(
                *self.gather_outputs(self.outputs, self.indices), ctx.task_train, ctx.measures_train
            )
            if self.collect
            else None
        )

    def gather_outputs(
        self, outputs: list[torch.Tensor], indices: list[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The outputs and row positions an epoch's scores are computed from.

        This process's own; a data-parallel loop gathers those of every rank here.
        """
        return outputs, indices

    def train_step(self, batch: Batch) -> None:
        """One batch: to the device, forward pass and loss, backward pass, optimizer step."""
        ctx = self.ctx
        ctx.step += 1
        ctx.global_step += 1
        if self.to_device is not None:
            batch = self.to_device(batch)
        ctx.batch = batch
        self.zero_grad()
        # Each stage's callbacks run inside a try block (free until an exception, since
        # Python 3.11), so that an exception gets a note naming the callback.
        fn = None
        try:
            for fn in self.stage_calls["on_batch_begin"]:
                fn()
        except Exception as exc:
            self._note(exc, fn, "on_batch_begin")
            raise
        loss = self.train_compute_loss(batch["x"], batch["y"])
        trainable = loss.requires_grad  # False while every weight is frozen
        if trainable:
            self.backward(loss)
        else:
            self._skip_frozen()
        try:
            for fn in self.stage_calls["on_after_backward"]:
                fn()
        except Exception as exc:
            self._note(exc, fn, "on_after_backward")
            raise
        ctx.last_loss = last = loss.item()
        if last - last:  # NaN for NaN and +-inf, 0.0 for finite losses
            raise NonFiniteLossError(
                f"Learner '{self.learner_id}': the training loss became {last} in epoch "
                f"{ctx.epoch}, batch {ctx.step}. Lower the learning rate, scale the features, "
                "or check the data for extreme values."
            )
        if self.collect:
            self.outputs.append(ctx.y_hat.detach())
            self.indices.append(batch["index"])
        if trainable:
            self.optimizer_step()
        try:
            for fn in self.stage_calls["on_batch_end"]:
                fn()
        except Exception as exc:
            self._note(exc, fn, "on_batch_end")
            raise

    def compute_loss(self, x: Batch, y: torch.Tensor) -> torch.Tensor:
        """The forward pass (kept in ``ctx.y_hats`` / ``ctx.y_hat``) and the loss."""
        ctx = self.ctx
        ctx.y_hats = y_hats = self._forward(x)
        ctx.y_hat = y_hat = y_hats[0] if isinstance(y_hats, tuple | list) else y_hats
        return self._loss(y_hat, y)

    def valid_epoch(self) -> None:
        """Predict the validation batches (eval mode, no gradients) and score them."""
        ctx = self.ctx
        ctx.network.eval()
        ctx.step_valid = 0
        self.valid_outputs: list[torch.Tensor] = []
        self.valid_indices: list[torch.Tensor] = []
        with torch.no_grad():
            for batch in ctx.loader_valid:
                self.valid_step(batch)
        ctx.network.train()
        ctx.last_scores_valid = score_outputs(
            *self.gather_outputs(self.valid_outputs, self.valid_indices),
            ctx.task_valid,
            ctx.measures_valid,
        )

    def valid_step(self, batch: Batch) -> None:
        """One validation batch: to the device, forward pass, keep the output."""
        ctx = self.ctx
        ctx.step_valid += 1
        if self.to_device is not None:
            batch = self.to_device(batch)
        ctx.batch = batch
        self.call("on_batch_valid_begin")
        ctx.y_hats = y_hats = self.forward(batch["x"])
        ctx.y_hat = y_hats[0] if isinstance(y_hats, tuple | list) else y_hats
        self.valid_outputs.append(ctx.y_hat)
        self.valid_indices.append(batch["index"])
        self.call("on_batch_valid_end")

    # --- checks of the first training batch ------------------------------------------------------
    def _forward_checked(self, x: Batch) -> Any:
        """Check the inputs against the declared ingress shapes, then step aside."""
        for name, declared in self.ingress_shapes.items():
            got = tuple(x[name].shape)
            if declared is not None and not shapes_agree(declared, got):
                raise ShapeError(
                    f"Learner '{self.learner_id}': ingress '{name}' declares the shape "
                    f"{shape_to_str(declared)}, but its first batch has the shape {got}. Make the "
                    "ingress token's shape match what its batchgetter returns."
                )
        self._forward = self.forward
        return self.forward(x)

    def _loss_checked(self, y_hat: Any, y: torch.Tensor) -> torch.Tensor:
        """Check the network output against the task, then step aside."""
        task = self.ctx.task_train
        expected = expected_outputs(task)
        shape = tuple(getattr(y_hat, "shape", ()))
        got = shape[-1] if len(shape) > 1 else 1
        if got != expected:
            if isinstance(task, TaskClassif):
                what = f"a task with {len(task.class_names)} classes"
            else:
                what = "a regression task"
            raise ShapeError(
                f"Learner '{self.learner_id}': the network returns {got} outputs per row "
                f"(output shape {shape}), but {what} needs {expected}. End the network with "
                'nn("head"), which sets the outputs from the task.'
            )
        self._loss = self.loss
        return self.loss(y_hat, y)

    def _skip_frozen(self) -> None:
        if not self._warned_frozen:
            self._warned_frozen = True
            warnings.warn(
                f"Learner '{self.learner_id}': no weight requires a gradient in epoch "
                f"{self.ctx.epoch}, batch {self.ctx.step} (all are frozen), so the backward "
                "pass and the optimizer step are skipped for such batches; no weights change "
                "in them. (This warning is shown once per training.)",
                UserWarning,
                stacklevel=2,
            )

    def _note(self, exc: BaseException, fn: Any, stage: str) -> None:
        cb_id = self._owner.get(id(getattr(fn, "__self__", None)))
        if cb_id is not None:
            ctx = self.ctx
            where = (
                f"validation batch {ctx.step_valid}" if "valid" in stage else f"batch {ctx.step}"
            )
            exc.add_note(
                f"(raised in callback '{cb_id}' at stage '{stage}', epoch {ctx.epoch}, {where})"
            )
