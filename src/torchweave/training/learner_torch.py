"""LearnerTorch: the base of every torch learner, and the training loop.

The loop is a visible stack of small named steps — :meth:`LearnerTorch._train_loop`,
``_train_epoch``, ``_validate`` and ``_score`` — each notifying the callbacks that
implement the stage (and only those). Batches come whole from the dataset; with
``tensor_dataset`` they are slices of preloaded tensors.
"""

from __future__ import annotations

import abc
import contextlib
import copy
import importlib
import io
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from torchweave.callbacks.callback_set import STAGES, CallbackSet, ContextTorch
from torchweave.callbacks.early_stopping import CallbackSetEarlyStopping
from torchweave.data.prediction import PredictionClassif, PredictionRegr
from torchweave.data.task import Task, TaskClassif
from torchweave.errors import InvalidParameterError, NonFiniteLossError, TaskError
from torchweave.learners.learner import ALL_FEATURE_TYPES, Learner
from torchweave.network.ingress_token import TorchIngressToken
from torchweave.params.param_set import ParamSet, ParamSetCollection
from torchweave.training.dataset import (
    SliceLoader,
    TaskDataset,
    TensorDataset,
    identity_collate,
)
from torchweave.training.paramset import paramset_torchlearner
from torchweave.training.resume import resume_folder, resume_training
from torchweave.utils.text import quote_list

__all__ = ["UNSET", "LearnerTorch", "TorchModel", "encode_prediction", "resolve_device"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:
        return "UNSET"


#: Marks a loss / optimizer that is not configured yet (PipeOpTorchModel sets them).
UNSET: Any = _Unset()


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
    torch.set_num_threads(num_threads)
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


def encode_prediction(output: torch.Tensor, task: Task, with_prob: bool) -> dict[str, Any]:
    """Turn network outputs into ``{"response": ..., "prob": ...}`` for a task.

    Multiclass: softmax over k logits, response the argmax. Binary: one logit for the
    positive class. Regression: the single output column.
    """
    out = output.detach().float().cpu()
    if isinstance(task, TaskClassif):
        classes = task.class_names
        if len(classes) == 2:
            p_pos = torch.sigmoid(out.reshape(-1)).numpy().astype(np.float64)
            pos_first = classes[0] == task.positive
            prob = np.stack([p_pos, 1 - p_pos] if pos_first else [1 - p_pos, p_pos], axis=1)
        else:
            prob = torch.softmax(out, dim=1).numpy().astype(np.float64)
        codes = np.argmax(prob, axis=1)
        codes[~np.isfinite(prob).all(axis=1)] = -1  # a NaN output has no class
        response = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(classes))
        return {"response": response, "prob": prob if with_prob else None}
    return {"response": out.reshape(-1).numpy().astype(np.float64)}


@dataclass
class TorchModel:
    """What a trained torch learner keeps (``learner.model``).

    Attributes
    ----------
    network : torch.nn.Module
        The trained network.
    internal_valid_scores : dict
        Validation scores of the last evaluated epoch.
    loss_fn, optimizer : dict
        State dicts of the loss and optimizer.
    epochs : int
        Epochs actually trained.
    callbacks : dict
        Callback states by id (``callbacks["history"]`` is a DataFrame).
    seed : int or None
        The seed used (also for prediction).
    """

    network: nn.Module
    internal_valid_scores: dict[str, float]
    loss_fn: dict[str, Any]
    optimizer: dict[str, Any]
    epochs: int
    callbacks: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    jitted: bool = False

    def __getstate__(self) -> dict[str, Any]:
        # Networks are saved through torch and load onto the CPU, wherever they trained.
        state = dict(self.__dict__)
        buffer = io.BytesIO()
        if self.jitted:
            with warnings.catch_warnings():  # torch deprecates TorchScript; jit_trace uses it
                warnings.simplefilter("ignore", DeprecationWarning)
                torch.jit.save(self.network, buffer)
        else:
            torch.save(self.network, buffer)
        state["network"] = buffer.getvalue()
        state["optimizer"] = _to_cpu(self.optimizer)
        state["loss_fn"] = _to_cpu(self.loss_fn)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        buffer = io.BytesIO(state["network"])
        if state.get("jitted"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                state["network"] = torch.jit.load(buffer, map_location="cpu")
        else:
            state["network"] = torch.load(buffer, map_location="cpu", weights_only=False)
        self.__dict__.update(state)

    def __repr__(self) -> str:
        n_params = sum(p.numel() for p in self.network.parameters())
        scores = ", ".join(f"{k} = {v:.4g}" for k, v in self.internal_valid_scores.items())
        return (
            f"<TorchModel> trained for {self.epochs} epochs\n"
            f"* Network:  <{type(self.network).__name__}> with {n_params} parameters\n"
            f"* Callbacks:  {', '.join(self.callbacks) or '-'}\n"
            f"* Validation scores:  {scores or '-'}\n"
            f"* Seed:  {self.seed}\n"
            "* Fields:  network, internal_valid_scores, loss_fn, optimizer, epochs, callbacks, seed"
        )


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        # A shallow copy keeps the mapping's type (state dicts are OrderedDicts with _metadata).
        out = copy.copy(obj)
        for k, v in obj.items():
            out[k] = _to_cpu(v)
        return out
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


class _WorkerInit:
    """Runs in each DataLoader worker: imports packages, sets globals, calls the user fn."""

    def __init__(
        self,
        fn: Callable[[int], None] | None,
        globals_: Mapping[str, Any] | None,
        packages: Sequence[str] | None,
    ) -> None:
        self.fn, self.globals, self.packages = fn, dict(globals_ or {}), list(packages or [])

    def __call__(self, worker_id: int) -> None:
        import builtins

        for name in self.packages:
            importlib.import_module(name)
        for name, value in self.globals.items():
            setattr(builtins, name, value)
        if self.fn is not None:
            self.fn(worker_id)


class _WorkerDataLoader(DataLoader):
    """A DataLoader over worker processes that turns numpy batch positions into tensors.

    Positions leave a worker as a numpy array (a tensor would need a shared-memory
    segment of its own per batch); callbacks and scoring get a tensor as always.
    """

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        for batch in super().__iter__():
            if isinstance(batch, dict) and isinstance(batch.get("index"), np.ndarray):
                batch["index"] = torch.from_numpy(batch["index"])
            yield batch


class LearnerTorch(Learner):
    """Abstract base of the torch learners: parameters, data, loop, prediction.

    A subclass provides the network (``_network``) and the ingress tokens
    (``_ingress_tokens``). Parameters are the shared torch parameters plus the
    optimizer's (``opt.*``), the loss's (``loss.*``) and each callback's
    (``cb.<id>.*``).

    Parameters
    ----------
    id : str
        Learner id.
    task_type : {"classif", "regr"}
        Task type.
    param_set : ParamSet, optional
        The learner's own parameters (added to the shared torch parameters).
    optimizer, loss : descriptor, str or UNSET, optional
        Default: ``adam`` and ``cross_entropy`` / ``mse``.
    callbacks : sequence, optional
        Callback descriptors or keys.
    feature_types : sequence of str
        Supported feature types.
    properties : iterable of str
        Extra properties.
    label : str
        Human-readable name.
    """

    def __init__(
        self,
        id: str,
        task_type: str,
        param_set: ParamSet | None = None,
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
        feature_types: Sequence[str] = ALL_FEATURE_TYPES,
        properties: Sequence[str] = (),
        label: str = "",
    ) -> None:
        torch_ps = paramset_torchlearner(task_type)
        for pid, param in (param_set.params if param_set is not None else {}).items():
            if pid.startswith(("opt.", "loss.", "cb.")):
                raise InvalidParameterError(
                    f"Parameter '{pid}': the prefixes 'opt.', 'loss.' and 'cb.' are reserved."
                )
            torch_ps.add(pid, param)
        self._torch_ps = torch_ps
        props = {"validation", "internal_tuning", *properties}
        if task_type == "classif":
            props |= {"twoclass", "multiclass"}
        super().__init__(
            id,
            task_type,
            param_set=None,
            predict_types=["response", "prob"] if task_type == "classif" else ["response"],
            feature_types=feature_types,
            properties=props,
            label=label,
        )
        from torchweave.training.sugar import t_loss, t_opt

        default_loss = "cross_entropy" if task_type == "classif" else "mse"
        self.optimizer = t_opt("adam") if optimizer is None else optimizer
        self.loss = t_loss(default_loss) if loss is None else loss
        self.callbacks = callbacks

    # --- descriptors and parameters -----------------------------------------------------
    @property
    def optimizer(self) -> Any:
        """The optimizer descriptor (``TorchOptimizer``), or UNSET."""
        return self._optimizer

    @optimizer.setter
    def optimizer(self, value: Any) -> None:
        from torchweave.training.sugar import as_torch_optimizer

        self._optimizer = UNSET if value is UNSET else as_torch_optimizer(value, clone=True)

    @property
    def loss(self) -> Any:
        """The loss descriptor (``TorchLoss``), or UNSET."""
        return self._loss

    @loss.setter
    def loss(self, value: Any) -> None:
        from torchweave.training.sugar import as_torch_loss

        if value is UNSET:
            self._loss = UNSET
            return
        loss = as_torch_loss(value, clone=True)
        if self.task_type not in loss.task_types:
            raise TaskError(
                f"The loss '{loss.id}' is for {', '.join(loss.task_types)} tasks; learner "
                f"'{self.id}' is a {self.task_type} learner."
            )
        self._loss = loss

    @property
    def callbacks(self) -> dict[str, Any]:
        """The callback descriptors by id."""
        return self._callbacks

    @callbacks.setter
    def callbacks(self, value: Any) -> None:
        from torchweave.training.sugar import as_torch_callbacks

        descriptors = as_torch_callbacks(value, clone=True) if value is not UNSET else []
        ids = [cb.id for cb in descriptors]
        if "early_stopping" in ids:
            raise InvalidParameterError(
                "The callback id 'early_stopping' is reserved: set 'patience' instead."
            )
        self._callbacks = {cb.id: cb for cb in descriptors}

    @property
    def param_set(self) -> ParamSet:
        """Torch parameters plus ``opt.*``, ``loss.*`` and ``cb.<id>.*`` (live)."""

        def members() -> dict[str, ParamSet]:
            sets: dict[str, ParamSet] = {"": self._torch_ps}
            optimizer = getattr(self, "_optimizer", UNSET)
            loss = getattr(self, "_loss", UNSET)
            if optimizer is not UNSET:
                sets["opt"] = optimizer.param_set
            if loss is not UNSET:
                sets["loss"] = loss.param_set
            for cb_id, cb in getattr(self, "_callbacks", {}).items():
                sets[f"cb.{cb_id}"] = cb.param_set
            return sets

        return ParamSetCollection(members, owner=f"learner '{self.id}'")

    @param_set.setter
    def param_set(self, value: ParamSet | None) -> None:
        if value is not None:
            raise InvalidParameterError(
                "The param_set of a torch learner is built from its parts; set values on it."
            )

    def _validation_seed(self) -> int | None:
        seed = self._torch_ps.values.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    # --- hooks ---------------------------------------------------------------------------
    @abc.abstractmethod
    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        """The (untrained) network for this task."""

    @abc.abstractmethod
    def _ingress_tokens(
        self, task: Task, param_vals: dict[str, Any]
    ) -> dict[str, TorchIngressToken]:
        """Network input names and how to build them from the task."""

    def _dataset(self, task: Task, param_vals: dict[str, Any], target: bool = True) -> TaskDataset:
        return TaskDataset(task, self._ingress_tokens(task, param_vals), target=target)

    def _loss_fn(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        return self._loss.generate(task)

    # --- data loaders ------------------------------------------------------------------
    def _dataloader(
        self, dataset: TaskDataset | TensorDataset, pv: dict[str, Any], train: bool
    ) -> Any:
        sampler = pv.get("sampler") if train else None
        batch_sampler = pv.get("batch_sampler") if train else None
        if sampler is not None and batch_sampler is not None:
            raise InvalidParameterError(
                "Providing both a 'sampler' and a 'batch_sampler' is not supported, set only one."
            )
        batch_size = (
            pv.get("batch_size") if train else pv.get("batch_size_predict", pv.get("batch_size"))
        )
        if batch_size is None and batch_sampler is None:
            which = "'batch_size'" if train else "'batch_size' or 'batch_size_predict'"
            phase = "training" if train else "prediction (this includes the validation data)"
            raise InvalidParameterError(
                f"Learner '{self.id}': parameter {which} must be set for {phase}, unless a "
                "'batch_sampler' is provided."
            )
        shuffle = bool(pv.get("shuffle", False)) and train and sampler is None
        drop_last = bool(pv.get("drop_last", False)) and train
        # One generator per loader, seeded from torch's RNG: the permutations are
        # reproducible under the learner's seed and consume no global randomness later.
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, ()).item()))
        plain = not any(
            pv.get(k)
            for k in (
                "num_workers",
                "collate_fn",
                "pin_memory",
                "worker_init_fn",
                "timeout",
                "persistent_workers",
            )
        )
        if (
            isinstance(dataset, TensorDataset)
            and plain
            and sampler is None
            and batch_sampler is None
        ):
            return SliceLoader(
                dataset,
                int(batch_size or 1),
                shuffle=shuffle,
                drop_last=drop_last,
                generator=generator,
            )
        kwargs: dict[str, Any] = {
            "collate_fn": pv.get("collate_fn") or identity_collate,
            "num_workers": pv.get("num_workers", 0),
            "pin_memory": pv.get("pin_memory", False),
            "timeout": pv.get("timeout", 0.0),
        }
        if pv.get("persistent_workers"):
            if kwargs["num_workers"] == 0:
                raise InvalidParameterError(
                    f"Learner '{self.id}': persistent_workers=True keeps DataLoader worker "
                    "processes alive between epochs, so it needs num_workers > 0. Got "
                    "num_workers=0."
                )
            kwargs["persistent_workers"] = True
        if kwargs["num_workers"] > 0:
            kwargs["worker_init_fn"] = _WorkerInit(
                pv.get("worker_init_fn"), pv.get("worker_globals"), pv.get("worker_packages")
            )
        # Batches from worker processes carry their positions as numpy (see TaskDataset).
        loader_class = _WorkerDataLoader if kwargs["num_workers"] > 0 else DataLoader
        if batch_sampler is not None:
            return loader_class(dataset, batch_sampler=batch_sampler(dataset), **kwargs)
        if sampler is not None:
            kwargs["sampler"] = sampler(dataset)
        return loader_class(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            generator=generator,
            **kwargs,
        )

    def _prepare_data(
        self, task: Task, pv: dict[str, Any], device: torch.device, train: bool
    ) -> TaskDataset | TensorDataset:
        if train and "lazy_tensor" in task.feature_types.values():
            from torchweave.lazy.checks import check_lazy_training

            check_lazy_training(task, pv, self.id)
        dataset: TaskDataset | TensorDataset = self._dataset(task, pv)
        preload = pv.get("tensor_dataset", False)
        if preload is not False:
            assert isinstance(dataset, TaskDataset)
            dataset = dataset.materialize(device if preload == "device" else "cpu")
        return dataset

    # --- training --------------------------------------------------------------------------
    def _check_configuration(self, pv: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        from torchweave.measures import as_measure

        if self._loss is UNSET or self._optimizer is UNSET:
            raise InvalidParameterError(f"Learner '{self.id}' has no loss or optimizer configured.")
        measures_train = [as_measure(m) for m in _as_list(pv.get("measures_train", []))]
        measures_valid = [as_measure(m) for m in _as_list(pv.get("measures_valid", []))]
        for m in measures_train + measures_valid:
            if m.task_type != self.task_type:
                raise InvalidParameterError(
                    f"Measure '{m.id}' is for {m.task_type} tasks; learner '{self.id}' is a "
                    f"{self.task_type} learner."
                )
        if measures_valid and self.validate is None:
            raise InvalidParameterError(
                f"Learner '{self.id}' has measures_valid set, but its validate field is None. "
                "Set learner.validate (a ratio, 'test' or 'predefined')."
            )
        if pv.get("patience", 0) > 0 and not measures_valid:
            raise InvalidParameterError(
                f"Learner '{self.id}' has a non 0 patience parameter but no measures_valid set."
            )
        if pv.get("patience", 0) > 0 and not isinstance(measures_valid[0].minimize, bool):
            raise InvalidParameterError(
                f"Learner '{self.id}' uses the validation measure '{measures_valid[0].id}' for "
                f"early stopping, but its minimize is {measures_valid[0].minimize!r}; early "
                "stopping needs True or False."
            )
        return measures_train, measures_valid

    def _train(self, task: Task) -> TorchModel:
        pv = self._torch_ps.values
        measures_train, measures_valid = self._check_configuration(pv)
        device = resolve_device(pv["device"])
        seed = pv.get("seed")
        if seed == "random":
            seed = int(np.random.randint(0, 2**31 - 1))
        with torch_settings(seed, pv["num_threads"], pv.get("num_interop_threads"), device):
            model = self._fit(task, pv, device, measures_train, measures_valid)
        model.seed = seed
        return model

    def _fit(
        self,
        task: Task,
        pv: dict[str, Any],
        device: torch.device,
        measures_train: list[Any],
        measures_valid: list[Any],
    ) -> TorchModel:
        dataset = self._prepare_data(task, pv, device, train=True)
        loader = self._dataloader(dataset, pv, train=True)
        if len(loader) == 0:
            raise InvalidParameterError(
                f"The training data loader of learner '{self.id}' has no batches "
                f"({task.nrow} rows; check batch_size and drop_last)."
            )
        network = self._network(task, pv).to(device)
        jitted = False
        if pv.get("jit_trace"):
            network, jitted = self._jit_trace(network, dataset, device), True
        optimizer = self._optimizer.generate(list(network.named_parameters()))
        loss_fn = self._loss_fn(task, pv).to(device)
        task_valid = task.internal_valid_task
        loader_valid = None
        if task_valid is not None and task_valid.nrow > 0:
            loader_valid = self._dataloader(
                self._prepare_data(task_valid, pv, device, False), pv, False
            )
        ctx = ContextTorch(
            learner=self,
            task_train=task,
            task_valid=task_valid,
            loader_train=loader,
            loader_valid=loader_valid,
            measures_train=measures_train,
            measures_valid=measures_valid,
            network=network,
            optimizer=optimizer,
            loss_fn=loss_fn,
            total_epochs=pv["epochs"],
            eval_freq=pv["eval_freq"],
            device=device,
            prediction_encoder=encode_prediction,
        )
        callbacks = {cb_id: cb.generate() for cb_id, cb in self._callbacks.items()}
        if pv.get("patience", 0) > 0:
            callbacks["early_stopping"] = CallbackSetEarlyStopping(
                pv["patience"], pv["min_delta"], pv["restore_best_weights"]
            )
        return self._train_loop(ctx, callbacks, jitted)

    def _jit_trace(self, network: nn.Module, dataset: Any, device: torch.device) -> nn.Module:
        example = dataset.__getitems__(list(range(min(2, len(dataset)))))
        inputs = tuple(v.to(device) for v in example["x"].values())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.trace(network, inputs, check_trace=False)

    def _train_loop(
        self, ctx: ContextTorch, callbacks: dict[str, CallbackSet], jitted: bool
    ) -> TorchModel:
        weights = {cb_id: getattr(cb, "weight", 0.0) for cb_id, cb in callbacks.items()}
        bad = [i for i, w in weights.items() if not isinstance(w, int | float) or math.isnan(w)]
        if bad:
            raise InvalidParameterError(
                f"The callback(s) {bad} have a weight that is not a number."
            )
        ordered = dict(sorted(callbacks.items(), key=lambda kv: weights[kv[0]]))  # stable
        _check_order_after_checkpoint(ordered)
        ctx.callbacks = ordered
        # Only callbacks that implement a stage are ever called for it.
        stage_calls = {
            s: [getattr(cb, s) for cb in ordered.values() if callable(getattr(cb, s, None))]
            for s in STAGES
        }

        def call(stage: str) -> None:
            for fn in stage_calls[stage]:
                fn()

        for cb in ordered.values():
            cb.ctx = ctx
        try:
            folder = resume_folder(self._torch_ps.values.get("resume"), ordered, self.id)
            if folder is not None:
                resume_training(ctx, ordered, folder)
            call("on_begin")
            ctx.network.train()
            while not ctx.terminate and ctx.epoch < ctx.total_epochs:
                ctx.epoch += 1
                call("on_epoch_begin")
                self._train_epoch(ctx, stage_calls)
                call("on_before_valid")
                evaluate = ctx.epoch % ctx.eval_freq == 0 or ctx.epoch == ctx.total_epochs
                if ctx.loader_valid is not None and evaluate:
                    self._valid_epoch(ctx, call)
                    call("on_valid_end")
                else:
                    ctx.last_scores_valid = None
                call("on_epoch_end")
            call("on_end")
            states = {cb_id: cb.state_dict() for cb_id, cb in ordered.items()}
            model = TorchModel(
                network=ctx.network,
                internal_valid_scores=dict(ctx.last_scores_valid or {})
                if ctx.measures_valid
                else {},
                loss_fn=ctx.loss_fn.state_dict(),
                optimizer=ctx.optimizer.state_dict(),
                epochs=ctx.epoch,
                callbacks={k: v for k, v in states.items() if v is not None},
                jitted=jitted,
            )
        finally:
            try:
                call("on_exit")
            finally:
                for cb in ordered.values():
                    cb.ctx = None
        return model

    def _train_epoch(
        self, ctx: ContextTorch, stage_calls: dict[str, list[Callable[[], None]]]
    ) -> None:
        network, optimizer, loss_fn, device = ctx.network, ctx.optimizer, ctx.loss_fn, ctx.device
        on_cpu = device.type == "cpu"
        evaluate = bool(ctx.measures_train) and (
            ctx.epoch % ctx.eval_freq == 0 or ctx.epoch == ctx.total_epochs
        )
        outputs: list[torch.Tensor] = []
        indices: list[torch.Tensor] = []
        # The per-batch stages as plain lists: an empty list costs no call per batch.
        batch_begin = stage_calls["on_batch_begin"]
        after_backward = stage_calls["on_after_backward"]
        batch_end = stage_calls["on_batch_end"]
        ctx.step = 0
        for batch in ctx.loader_train:
            ctx.step += 1
            ctx.global_step += 1
            x, y = batch["x"], batch["y"]
            if not on_cpu:
                x = {k: v.to(device, non_blocking=True) for k, v in x.items()}
                y = y.to(device, non_blocking=True)
                batch = {**batch, "x": x, "y": y}
            ctx.batch = batch
            optimizer.zero_grad()
            for fn in batch_begin:
                fn()
            y_hats = network(*x.values()) if len(x) == 1 else network(**x)
            ctx.y_hats = y_hats
            ctx.y_hat = y_hat = y_hats[0] if isinstance(y_hats, tuple | list) else y_hats
            loss = loss_fn(y_hat, y)
            loss.backward()
            for fn in after_backward:
                fn()
            ctx.last_loss = last = loss.item()
            if not math.isfinite(last):
                raise NonFiniteLossError(
                    f"Learner '{self.id}': the training loss became {last} in epoch {ctx.epoch}, "
                    f"batch {ctx.step}. Lower the learning rate, scale the features, or check "
                    "the data for extreme values."
                )
            if evaluate:
                outputs.append(y_hat.detach())
                indices.append(batch["index"])
            optimizer.step()
            for fn in batch_end:
                fn()
        ctx.last_scores_train = (
            self._score(outputs, indices, ctx.task_train, ctx.measures_train) if evaluate else None
        )

    def _valid_epoch(self, ctx: ContextTorch, call: Callable[[str], None]) -> None:
        ctx.network.eval()
        ctx.step_valid = 0
        outputs, indices = [], []
        with torch.no_grad():
            for batch in ctx.loader_valid:
                ctx.step_valid += 1
                x = {k: v.to(ctx.device) for k, v in batch["x"].items()}
                ctx.batch = {**batch, "x": x}
                call("on_batch_valid_begin")
                y_hats = ctx.network(*x.values()) if len(x) == 1 else ctx.network(**x)
                ctx.y_hats = y_hats
                ctx.y_hat = y_hats[0] if isinstance(y_hats, tuple | list) else y_hats
                outputs.append(ctx.y_hat)
                indices.append(batch["index"])
                call("on_batch_valid_end")
        ctx.network.train()
        ctx.last_scores_valid = self._score(outputs, indices, ctx.task_valid, ctx.measures_valid)

    def _score(
        self,
        outputs: list[torch.Tensor],
        indices: list[torch.Tensor],
        task: Task,
        measures: list[Any],
    ) -> dict[str, float]:
        if not measures or not outputs:
            return {}
        output = torch.cat(outputs)
        positions = torch.cat(indices).cpu().numpy()
        row_ids = task.row_ids[positions]
        needs_prob = any(m.predict_type == "prob" for m in measures)
        encoded = encode_prediction(output, task, with_prob=needs_prob)
        truth = task.truth(rows=row_ids)
        if isinstance(task, TaskClassif):
            pred: Any = PredictionClassif(
                row_ids,
                truth,
                response=encoded["response"],
                prob=encoded["prob"],
                class_names=task.class_names,
                positive=task.positive,
            )
        else:
            pred = PredictionRegr(row_ids, truth, encoded["response"])
        scores = {}
        for m in measures:
            try:
                scores[m.id] = float(m.score(pred))
            except Exception:  # a measure that cannot score this output scores NaN
                scores[m.id] = float("nan")
        return scores

    # --- prediction -------------------------------------------------------------------------
    def _check_levels(self, task: Task) -> None:
        """Refuse factor values the training task did not have (no embedding row)."""
        trained = self.state.train_task if self.state is not None else None
        if trained is None:
            return
        trained_dtypes, dtypes = trained._data.dtypes, task._data.dtypes
        for col in task.feature_names:
            known, now = trained_dtypes.get(col), dtypes[col]
            if not isinstance(known, pd.CategoricalDtype) or not isinstance(
                now, pd.CategoricalDtype
            ):
                continue
            if len(now.categories) == len(known.categories):
                continue  # same levels (Task keeps the training levels first)
            values = task.data(cols=[col])[col]
            unseen = [v for v in pd.unique(values.dropna()) if v not in known.categories]
            if unseen:
                raise TaskError(
                    f"Learner '{self.id}': factor column '{col}' has the level(s) "
                    f"{quote_list([str(v) for v in unseen])}, which the training data did not "
                    f"have (known: {quote_list([str(v) for v in known.categories])}). Map them "
                    'to known levels, or put po("fixfactors") (unseen levels become '
                    'missing) and an imputation such as po("imputemode") before the '
                    "network in the graph."
                )

    def _predict(self, task: Task) -> dict[str, Any]:
        model: TorchModel = self.model
        pv = self._torch_ps.values
        self._check_levels(task)
        device = resolve_device(pv["device"])
        with torch_settings(model.seed, pv["num_threads"], pv.get("num_interop_threads"), device):
            network = model.network.to(device)
            was_training = network.training  # predict leaves the model's mode as it was
            network.eval()
            dataset: TaskDataset | TensorDataset = self._dataset(task, pv, target=False)
            if isinstance(dataset, TaskDataset) and not dataset.frames:
                # Every input is already one tensor: predict from slices of it.
                dataset = TensorDataset(dataset.cached, None)
            loader = self._dataloader(dataset, pv, train=False)
            outputs = []
            try:
                with torch.no_grad():
                    for batch in loader:
                        x = {k: v.to(device) for k, v in batch["x"].items()}
                        out = network(*x.values()) if len(x) == 1 else network(**x)
                        outputs.append(out[0] if isinstance(out, tuple | list) else out)
            finally:
                network.train(was_training)
        output = torch.cat(outputs) if outputs else torch.empty((0, 1))
        return encode_prediction(output, task, with_prob=self.predict_type == "prob")

    # --- results ------------------------------------------------------------------------------
    def _extract_internal_valid_scores(self) -> dict[str, float]:
        return dict(self.model.internal_valid_scores) if self.model is not None else {}

    def _extract_internal_tuned_values(self) -> dict[str, Any]:
        if self._torch_ps.values.get("patience", 0) == 0 or self.model is None:
            return {}
        state = self.model.callbacks.get("early_stopping", {})
        return {"epochs": state.get("best_epochs")}

    @property
    def network(self) -> nn.Module | None:
        """The trained network (``model.network``), or None before training."""
        return None if self.model is None else self.model.network

    def __repr__(self) -> str:
        text = super().__repr__()
        opt = "-" if self._optimizer is UNSET else self._optimizer.id
        loss = "-" if self._loss is UNSET else self._loss.id
        return (
            f"{text}\n* Optimizer: {opt}\n* Loss: {loss}\n"
            f"* Callbacks: {', '.join(self._callbacks) or '-'}"
        )


def _check_order_after_checkpoint(ordered: dict[str, CallbackSet]) -> None:
    """A stateful callback that ends an epoch after the checkpoint would miss its save."""
    ids = list(ordered)
    first = next((i for i, cb in enumerate(ordered.values()) if cb.saves_checkpoints), None)
    if first is None:
        return
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


def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, list | tuple) else [x]
