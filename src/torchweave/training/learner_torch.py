"""LearnerTorch: the base of every torch learner.

The learner's own job: its parameters (with the optimizer's, loss's and callbacks'),
the data for a task, and the train / predict entry points. The training loop is
:class:`~torchweave.training.loop.TrainLoop` (``loop_class``), batches come from
:func:`~torchweave.training.dataloader.make_dataloader`, and the trained state is a
:class:`~torchweave.training.model.TorchModel`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from torchweave.callbacks.callback_set import ContextTorch
from torchweave.callbacks.early_stopping import CallbackSetEarlyStopping
from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, TaskError
from torchweave.learners.learner import ALL_FEATURE_TYPES, Learner
from torchweave.network.ingress_token import TorchIngressToken, batchgetter_num
from torchweave.params.param_set import ParamSet, ParamSetCollection
from torchweave.training.checks import check_measures, warn_target_scale
from torchweave.training.dataloader import make_dataloader, preload_automatically
from torchweave.training.dataset import TaskDataset, TensorDataset, check_levels
from torchweave.training.device import resolve_device, torch_settings
from torchweave.training.encode import encode_prediction
from torchweave.training.loop import (
    TrainLoop,
    jit_trace,
    make_forward,
    make_to_device,
    order_callbacks,
)
from torchweave.training.model import TorchModel
from torchweave.training.paramset import paramset_torchlearner
from torchweave.training.precision import check_precision, compile_network, with_precision
from torchweave.training.stream import StreamDataset

__all__ = ["UNSET", "LearnerTorch"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:
        return "UNSET"


#: Marks a loss / optimizer that is not configured yet (PipeOpTorchModel sets them).
UNSET: Any = _Unset()


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

    Attributes
    ----------
    loop_class : type of TrainLoop
        The training loop; set a subclass (on the class or on one learner) to extend
        it (see docs/training.md, "Extending the loop").
    """

    loop_class: type[TrainLoop] = TrainLoop

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
        # A bound method (not a closure), so that a collection held elsewhere (by
        # po("learner") in a graph) pickles.
        return ParamSetCollection(self._member_param_sets, owner=f"learner '{self.id}'")

    @param_set.setter
    def param_set(self, value: ParamSet | None) -> None:
        if value is not None:
            raise InvalidParameterError(
                "The param_set of a torch learner is built from its parts; set values on it."
            )

    def _member_param_sets(self) -> dict[str, ParamSet]:
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

    def _dataset(
        self, task: Task, param_vals: dict[str, Any], target: bool = True
    ) -> TaskDataset | StreamDataset:
        if not task.in_memory:  # a database: streamed in chunks (docs/data_backends.md)
            return StreamDataset(task, self._ingress_tokens(task, param_vals), target=target)
        return TaskDataset(task, self._ingress_tokens(task, param_vals), target=target)

    def _loss_fn(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        return self._loss.generate(task)

    # --- data -----------------------------------------------------------------------------
    def _prepare_data(
        self, task: Task, pv: dict[str, Any], device: torch.device, train: bool
    ) -> TaskDataset | TensorDataset | StreamDataset:
        if train and "lazy_tensor" in task.feature_types.values():
            from torchweave.lazy.checks import check_lazy_training

            check_lazy_training(task, pv, self.id)
        dataset: TaskDataset | TensorDataset | StreamDataset = self._dataset(task, pv)
        preload = pv.get("tensor_dataset", "auto")
        if isinstance(dataset, StreamDataset):  # preloaded only when asked for
            return (
                dataset
                if preload in ("auto", False)
                else dataset.materialize(device if preload == "device" else "cpu")
            )
        if preload == "auto":
            # Preloaded onto the training device, as "device" does: the rule keeps the
            # data small (see preload_automatically).
            assert isinstance(dataset, TaskDataset)
            preload = "device" if preload_automatically(dataset, pv) else False
        if preload is not False:
            assert isinstance(dataset, TaskDataset)
            dataset = dataset.materialize(device if preload == "device" else "cpu")
        return dataset

    # --- training --------------------------------------------------------------------------
    def _train(self, task: Task) -> TorchModel:
        pv = self._torch_ps.values
        if self._loss is UNSET or self._optimizer is UNSET:
            raise InvalidParameterError(f"Learner '{self.id}' has no loss or optimizer configured.")
        measures_train, measures_valid = check_measures(self, pv)
        warn_target_scale(task, self.id)
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
        loader = make_dataloader(dataset, pv, train=True, owner=self.id)
        if len(loader) == 0:
            raise InvalidParameterError(
                f"The training data loader of learner '{self.id}' has no batches "
                f"({task.nrow} rows; check batch_size and drop_last)."
            )
        precision, compiled = pv.get("precision", "32"), bool(pv.get("compile"))
        jitted = bool(pv.get("jit_trace"))
        check_precision(precision, device, self.id, jitted, compiled)
        network = self._network(task, pv).to(device)
        if jitted:
            network = jit_trace(network, dataset, device)
        optimizer = self._optimizer.generate(list(network.named_parameters()))
        task_valid = task.internal_valid_task
        loader_valid = None
        if task_valid is not None and task_valid.nrow > 0:
            data_valid = self._prepare_data(task_valid, pv, device, False)
            loader_valid = make_dataloader(data_valid, pv, train=False, owner=self.id)
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
            loss_fn=self._loss_fn(task, pv).to(device),
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
        shapes = {name: tok.shape for name, tok in self._ingress_tokens(task, pv).items()}
        loop = self.loop_class(
            ctx,
            order_callbacks(callbacks),
            shapes,
            pv.get("resume"),
            precision=precision,
            compile=compiled,
        )
        model = loop.run()
        model.jitted = jitted
        model.data_path = "preloaded" if isinstance(dataset, TensorDataset) else "loader"
        return model

    # --- prediction -------------------------------------------------------------------------
    def _checks_values_on_tensors(self, task: Task) -> bool:
        """Whether predict can check the features for NaN and inf on the input tensors.

        True when every feature is a numpy number column and reaches the network through
        the numeric ingress (one float tensor built once): one ``isfinite`` reduction
        there (on the device, after the one copy) replaces the pandas pass, which then
        runs only to name the offending columns. Factor and nullable columns keep the
        pandas check before anything is converted.
        """
        if self.model is None or task.nrow == 0 or not task.in_memory:
            return False
        dtypes = task.backend.dtypes  # column metadata, as check_levels reads it
        for name in task.feature_names:
            dtype = dtypes.get(name)
            if not (isinstance(dtype, np.dtype) and dtype.kind in "fiub"):
                return False
        covered: set[str] = set()
        for token in self._ingress_tokens(task, self._torch_ps.values).values():
            if token.batchgetter is not batchgetter_num:
                return False
            covered.update(token.feature_names(task))
        return covered >= set(task.feature_names)

    def _check_values(self, task: Task, phase: str) -> None:
        if phase == "predict" and self._checks_values_on_tensors(task):
            return  # _predict checks the input tensors (and names columns if needed)
        super()._check_values(task, phase)

    def _check_input_tensors(self, inputs: dict[str, torch.Tensor], task: Task) -> None:
        """Refuse NaN and inf features, as ``Learner._check_values`` does, from the tensors."""
        for tensor in inputs.values():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                # The pandas check names the columns (float64 values that only overflow
                # in float32 pass it, as before).
                Learner._check_values(self, task, "predict")
                return

    def _predict(self, task: Task) -> dict[str, Any]:
        model: TorchModel = self.model
        pv = self._torch_ps.values
        if self.state is not None and self.state.train_task is not None:
            check_levels(self.state.train_task, task, self.id)
            if not task.in_memory:  # a database's factor levels: those of training
                task = task.with_levels(self.state.train_task)
        device = resolve_device(pv["device"])
        precision = pv.get("precision", "32")
        check_precision(precision, device, self.id, model.jitted, bool(pv.get("compile")))
        with torch_settings(model.seed, pv["num_threads"], pv.get("num_interop_threads"), device):
            network = model.network.to(device)
            was_training = network.training  # predict leaves the model's mode as it was
            network.eval()
            on_tensors = self._checks_values_on_tensors(task)
            dataset: Any = self._dataset(task, pv, target=False)
            to_device = make_to_device(device)
            if isinstance(dataset, TaskDataset) and not dataset.frames:
                # Every input is already one tensor: predict from slices of it, moved to
                # an accelerator at once (one copy, not one per batch) where they fit.
                inputs = dataset.cached
                if to_device is not None and preload_automatically(dataset, pv):
                    inputs, to_device = {k: v.to(device) for k, v in inputs.items()}, None
                if on_tensors:
                    self._check_input_tensors(inputs, task)
                    on_tensors = False
                dataset = TensorDataset(inputs, None)
            if on_tensors:  # a dataset of another kind: the pandas check after all
                Learner._check_values(self, task, "predict")
            loader = make_dataloader(dataset, pv, train=False, owner=self.id)
            runs = compile_network(network) if pv.get("compile") else network
            forward = with_precision(
                make_forward(runs, list(_input_names(dataset))), precision, device
            )
            outputs = []
            try:
                # inference_mode: no autograd bookkeeping at all (the outputs only become
                # numpy arrays), cheaper per operation than no_grad. TorchScript traces
                # refuse it (their parameters take part in autograd), so they keep no_grad.
                no_autograd = torch.no_grad() if model.jitted else torch.inference_mode()
                with no_autograd:
                    for batch in loader:
                        out = forward((batch if to_device is None else to_device(batch))["x"])
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


def _input_names(dataset: TaskDataset | TensorDataset | StreamDataset) -> list[str]:
    return list(dataset.x) if isinstance(dataset, TensorDataset) else list(dataset.tokens)


def torch_learners(learner: Any) -> list[LearnerTorch]:
    """The torch learners that train when ``learner`` trains.

    The learner itself when it is a :class:`LearnerTorch`; for a graph learner, the
    learners of its operators (``po("torch_model_classif")``, ``po("learner", ...)``)
    that are; otherwise none.
    """
    if isinstance(learner, LearnerTorch):
        return [learner]
    graph = getattr(learner, "graph", None)
    if graph is None:
        return []
    inner = (getattr(op, "learner", None) for op in graph.pipeops.values())
    return [op_learner for op_learner in inner if isinstance(op_learner, LearnerTorch)]
