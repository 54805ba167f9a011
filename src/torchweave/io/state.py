"""Trained state: learners' states, operator states and torch models, as data and tensors.

A trained learner is written as its spec (:mod:`torchweave.io.spec`) plus its
:class:`~torchweave.learners.learner.LearnerState`, encoded generically
(:mod:`torchweave.io.codec`), except for what cannot be: a torch network is
written as its ``state_dict`` (tensors) and built again on loading, as training
built it:

- a torch learner (a :class:`~torchweave.training.learner_torch.LearnerTorch`,
  e.g. a registered prebuilt one) builds its network with ``_network(train_task,
  param_vals)`` from the saved zero-row training task and parameter values;
- in a graph learner, the network operators (ingress, layers, loss, optimizer,
  callbacks) are trained again on a zero-row copy of the training task that flows
  through the restored preprocessing operators (their saved states, predict
  mode): this builds the same ModelDescriptor, hence the same module graph, as
  training did; the torch model operator then gets its trained learner back.

The weights are loaded into the rebuilt network with ``load_state_dict(strict=True)``.
"""

from __future__ import annotations

from typing import Any

import torch

from torchweave.io.codec import Decoder, Encoder, TensorStore
from torchweave.io.errors import LoadError, SaveError
from torchweave.io.spec import learner_from_spec_data, learner_spec, make_decoder, make_encoder
from torchweave.learners.learner import Learner, LearnerState
from torchweave.network.model_descriptor import ModelDescriptor
from torchweave.pipelines.graph_learner import GraphLearner
from torchweave.pipelines.pipeop import PipeOp
from torchweave.training.learner_torch import LearnerTorch
from torchweave.training.model import TorchModel
from torchweave.training.pipeop_torch_model import PipeOpTorchModel, model_descriptor_to_learner

__all__ = ["StateCodec"]

_PLAIN_FIELDS = (
    "train_time",
    "feature_names",
    "feature_types",
    "class_names",
    "positive",
    "train_task",
    "param_vals",
    "internal_valid_scores",
    "internal_tuned_values",
    "predict_time",
)


def builds_network(op: PipeOp) -> bool:
    """Whether ``op`` passes a ModelDescriptor on at train time (a network-building op)."""
    for ch in op.output:
        types = ch.train if isinstance(ch.train, tuple) else (ch.train,)
        if any(isinstance(t, type) and issubclass(t, ModelDescriptor) for t in types):
            return True
    return False


class StateCodec:
    """Encodes and decodes trained learners (spec plus state).

    Parameters
    ----------
    store : TensorStore
        The tensors (collected when saving, read when loading).
    optimizer_state : bool, default False
        Also save the optimizers' states (for continuing training elsewhere).
    """

    def __init__(self, store: TensorStore, optimizer_state: bool = False) -> None:
        self.store = store
        self.optimizer_state = optimizer_state
        self.enc: Encoder = make_encoder(store, first=[self._encode_trained])
        self.dec: Decoder = make_decoder(store, {"$trained": self._decode_trained})

    # --- learners -------------------------------------------------------------------------
    def _encode_trained(self, value: Any, enc: Encoder, where: str) -> Any:
        if isinstance(value, Learner) and value.state is not None:
            return {"$trained": self.encode_learner(value, where)}
        return NotImplemented

    def _decode_trained(self, payload: dict[str, Any], dec: Decoder) -> Learner:
        return self.decode_learner(payload)

    def encode_learner(self, learner: Learner, where: str = "") -> dict[str, Any]:
        """``{"spec": ..., "state": ...}`` of a learner (state None when untrained)."""
        prefix = where or f"learner '{learner.id}'"
        spec = learner_spec(learner, self.enc)
        state = None if learner.state is None else self.encode_state(learner, prefix)
        return {"spec": spec, "state": state}

    def decode_learner(self, data: dict[str, Any]) -> Learner:
        """The learner of :meth:`encode_learner`, trained state included."""
        learner = learner_from_spec_data(data["spec"], self.dec)
        if data.get("state") is not None:
            self.restore_state(learner, data["state"])
        return learner

    def encode_state(self, learner: Learner, where: str, tag: str = "") -> dict[str, Any]:
        """The LearnerState of a trained learner."""
        state = learner.state
        assert state is not None
        out = {
            name: self.enc.encode(getattr(state, name), f"{where}, state field '{name}'")
            for name in _PLAIN_FIELDS
        }
        if isinstance(learner, GraphLearner):
            out["model"] = self._encode_graph_states(learner, where)
        elif isinstance(learner, LearnerTorch):
            out["model"] = self._encode_torch_model(state.model, where, tag or learner.id)
        else:
            out["model"] = self.enc.encode(state.model, f"{where}, model")
        return out

    def restore_state(self, learner: Learner, data: dict[str, Any]) -> None:
        """Set ``learner.state`` from :meth:`encode_state`'s data."""
        fields = {name: self.dec.decode(data.get(name)) for name in _PLAIN_FIELDS}
        model: Any
        if isinstance(learner, GraphLearner):
            model = self._restore_graph_states(learner, data["model"], fields["train_task"])
        elif isinstance(learner, LearnerTorch):
            model = self._decode_torch_model(learner, data["model"], fields)
        else:
            model = self.dec.decode(data["model"])
        learner.state = LearnerState(model=model, **fields)

    # --- torch models ---------------------------------------------------------------------
    def _encode_torch_model(self, model: TorchModel, where: str, tag: str) -> dict[str, Any]:
        network = {
            name: self.store.add(tensor, f"network/{tag}/{name}")
            for name, tensor in model.network.state_dict().items()
        }
        return {
            "network": network,
            "epochs": model.epochs,
            "seed": model.seed,
            "jitted": model.jitted,
            "best_epoch": model.best_epoch,
            "best_scores": self.enc.encode(model.best_scores, f"{where}, best_scores"),
            "internal_valid_scores": self.enc.encode(
                model.internal_valid_scores, f"{where}, internal_valid_scores"
            ),
            "data_path": model.data_path,
            "callbacks": self.enc.encode(model.callbacks, f"{where}, callback states"),
            "loss_fn": self.enc.encode(model.loss_fn, f"{where}, loss state"),
            "optimizer": (
                self.enc.encode(model.optimizer, f"{where}, optimizer state")
                if self.optimizer_state
                else None
            ),
        }

    def _decode_torch_model(
        self, learner: LearnerTorch, data: dict[str, Any], fields: dict[str, Any]
    ) -> TorchModel:
        pv = dict(fields["param_vals"] or {})
        own = {k: v for k, v in pv.items() if not k.startswith(("opt.", "loss.", "cb."))}
        network = learner._network(fields["train_task"], {**learner.param_set.values, **own})
        weights = {name: self.store.get(key) for name, key in data["network"].items()}
        try:
            network.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            raise LoadError(
                f"The saved weights of learner '{learner.id}' do not fit the network "
                f"built again from its spec: {exc}"
            ) from exc
        return TorchModel(
            network=network,
            internal_valid_scores=self.dec.decode(data["internal_valid_scores"]),
            loss_fn=self.dec.decode(data["loss_fn"]),
            optimizer=self.dec.decode(data["optimizer"]) or {},
            epochs=data["epochs"],
            callbacks=self.dec.decode(data["callbacks"]),
            seed=data["seed"],
            jitted=False,  # the traced network is loaded as the plain module it traced
            best_epoch=data["best_epoch"],
            best_scores=self.dec.decode(data["best_scores"]),
            data_path=data["data_path"],
        )

    # --- graphs ---------------------------------------------------------------------------
    def _encode_graph_states(self, learner: GraphLearner, where: str) -> dict[str, Any]:
        ops = learner.graph.pipeops
        states = learner.state.model if learner.state is not None else {}
        out: dict[str, Any] = {}
        for op_id, state in states.items():
            op = ops[op_id]
            op_where = f"{where}, state of PipeOp '{op_id}'"
            if isinstance(op, PipeOpTorchModel):
                if not isinstance(state, LearnerTorch) or state.state is None:
                    raise SaveError(f"Cannot save {op_where}: it holds no trained torch learner.")
                out[op_id] = {"torch_learner": self.encode_state(state, op_where, op_id)}
            elif builds_network(op):
                out[op_id] = {"rebuilt": True}
            elif callable(getattr(op, "_state_to_spec", None)):
                hook = op._state_to_spec  # type: ignore[attr-defined]
                out[op_id] = {"custom": self.enc.encode(hook(), op_where)}
            else:
                out[op_id] = {"value": self.enc.encode(state, op_where)}
        return out

    def _decode_op_state(self, op: PipeOp, data: dict[str, Any]) -> None:
        if "custom" in data:
            op._state_from_spec(self.dec.decode(data["custom"]))  # type: ignore[attr-defined]
        elif "value" in data:
            op.state = self.dec.decode(data["value"])
        else:
            raise LoadError(f"The saved state of PipeOp '{op.id}' is incomplete.")

    def _restore_graph_states(
        self, learner: GraphLearner, data: dict[str, Any], prototype: Any
    ) -> dict[str, Any]:
        graph = learner.graph
        ops = graph.pipeops
        missing = [op_id for op_id in ops if op_id not in data]
        if missing:
            raise LoadError(f"The saved state lacks the PipeOp(s) {missing}.")
        if not any(builds_network(op) for op in ops.values()):
            for op_id, op in ops.items():
                self._decode_op_state(op, data[op_id])
            return {op_id: op.state for op_id, op in ops.items()}
        # Rebuild the network as training built it, on a zero-row copy of the task.
        fed = {(p.op_id, p.channel.name) for p in graph.input_ports()}
        results: dict[tuple[str, str], Any] = {}
        for op_id in graph.ids():
            op = ops[op_id]
            args: list[Any] = []
            for ch in op.input:
                edges = graph.in_edges(op_id, ch.name)
                if edges:
                    args.extend(results[(e.src_id, e.src_channel)] for e in edges)
                elif (op_id, ch.name) in fed:
                    args.append(prototype.clone())
            saved = data[op_id]
            if isinstance(op, PipeOpTorchModel):
                if not isinstance(args[0], ModelDescriptor):
                    raise LoadError(f"PipeOp '{op_id}' got no network to restore.")
                inner = model_descriptor_to_learner(args[0], template=op.learner)
                self.restore_state(inner, saved["torch_learner"])
                op.state = inner
                outputs: list[Any] = [None]
            elif builds_network(op):
                outputs = op.train(args)
            else:
                self._decode_op_state(op, saved)
                if any(a is None for a in args):
                    outputs = [None] * len(op.output)
                else:
                    outputs = op.predict(args)
            for ch, value in zip(op.output, outputs, strict=True):
                results[(op_id, ch.name)] = value
        return {op_id: op.state for op_id, op in ops.items()}


def usable_device(value: Any) -> Any:
    """``value``, or ``"cpu"`` where it names an accelerator this machine lacks."""
    if not isinstance(value, str):
        return value
    if value.startswith("cuda") and not torch.cuda.is_available():
        return "cpu"
    if value.startswith("mps") and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        return "cpu"
    return value
