"""``tw.export_onnx``: a trained torch network as an ONNX file, preprocessing folded in.

The exported graph has a dynamic batch axis. Where the operators in front of the
network all have a tensor equivalent (``imputemean`` / ``imputemedian``,
``encode``, ``scale``, ``nop``, then ``torch_ingress_num``), they are folded into
the ONNX graph, which then takes the raw features:

- ``numeric``: float32, ``(batch, n_numeric)``, the numeric / integer / logical
  features (missing values as NaN where an imputer fills them);
- ``categorical``: int64, ``(batch, n_factor)``, each factor's level index
  (``-1`` for an unknown level: all its one-hot columns are 0).

Otherwise the ONNX graph is the network alone, and takes one float32 input per
ingress token: the features after preprocessing, in the token's order. Either way
the input contract (names, columns, levels) is returned and stored in the file's
metadata (``torchweave.contract``); :func:`onnx_feeds` builds the inputs from a
DataFrame. The output ``output`` is the network's raw output: logits for
classification, the (possibly transformed, see ``po("targettrafo")``) response
for regression. See docs/onnx.md.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from torchweave import registry
from torchweave.errors import InvalidTypeError, MissingDependencyError, NotTrainedError
from torchweave.io.errors import SaveError
from torchweave.io.spec import registry_key
from torchweave.learners.learner import Learner
from torchweave.training.learner_torch import LearnerTorch
from torchweave.training.pipeop_torch_model import PipeOpTorchModel

__all__ = ["export_onnx", "onnx_feeds"]

_NUMERIC = ("numeric", "integer", "logical")
_FACTOR = ("factor", "ordered")


class _Folded(nn.Module):
    """Raw features -> the network's input columns (impute, one-hot, scale) -> network."""

    def __init__(self, network: nn.Module, columns: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.network = network
        self.columns = columns

    def _column(self, expr: tuple[Any, ...], num: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        kind = expr[0]
        if kind == "num":
            return num[:, expr[1]]
        if kind == "onehot":
            return (cat[:, expr[1]] == expr[2]).to(torch.float32)
        inner = self._column(expr[1], num, cat)
        if kind == "impute":
            return torch.where(torch.isnan(inner), torch.full_like(inner, expr[2]), inner)
        return (inner - expr[2]) / expr[3]  # "affine"

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        x = torch.stack([self._column(e, numeric, categorical) for e in self.columns], dim=1)
        return self.network(x)


class _Plain(nn.Module):
    def __init__(self, network: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.network = network
        self.names = names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if len(inputs) == 1:
            return self.network(inputs[0])
        return self.network(**dict(zip(self.names, inputs, strict=True)))


def _torch_parts(learner: Learner) -> tuple[LearnerTorch, list[Any]]:
    """The trained torch learner, and the operators in front of it (a chain, or None)."""
    if isinstance(learner, LearnerTorch):
        return learner, []
    graph = getattr(learner, "graph", None)
    if graph is None or learner.state is None:
        raise InvalidTypeError(
            f"export_onnx needs a trained torch learner or graph learner with a torch model "
            f"operator. Got {type(learner).__name__} '{learner.id}'."
        )
    ops = graph.pipeops
    model_ops = [op_id for op_id, op in ops.items() if isinstance(op, PipeOpTorchModel)]
    if len(model_ops) != 1:
        raise InvalidTypeError(
            f"export_onnx needs exactly one torch model operator in graph learner "
            f"'{learner.id}'; found {len(model_ops)}."
        )
    inner = learner.model[model_ops[0]]
    # The operators before the network, when they form a chain from the graph input.
    chain: list[Any] = []
    order = graph.ids()
    for op_id in order:
        op = ops[op_id]
        if len(graph.in_edges(op_id)) > 1 or len(op.input) != 1:
            return inner, [None]
        chain.append(op)
        if type(op).__name__.startswith("PipeOpTorchIngress"):
            break
    return inner, chain


def _fold(learner: Learner, inner: LearnerTorch, chain: list[Any]) -> dict[str, Any] | None:
    """The folded input contract and column expressions, or None where it cannot fold."""
    if not chain or chain[-1] is None or learner.state is None:
        return None
    keys = [registry_key(op, registry.pipeops) for op in chain]
    if keys[-1] != "torch_ingress_num":
        return None
    state = learner.state
    numeric = [c for c in state.feature_names if state.feature_types[c] in _NUMERIC]
    factors = [c for c in state.feature_names if state.feature_types[c] in _FACTOR]
    if len(numeric) + len(factors) != len(state.feature_names):
        return None
    exprs: dict[str, tuple[Any, ...]] = {c: ("num", i) for i, c in enumerate(numeric)}
    levels: dict[str, list[Any]] = {}
    cats: dict[str, int] = {c: i for i, c in enumerate(factors)}
    for op, key in zip(chain[:-1], keys[:-1], strict=True):
        op_state = op.state
        if key == "nop":
            continue
        if key in ("imputemedian", "imputemean"):
            for col, value in op_state["values"].items():
                if col in exprs:
                    exprs[col] = ("impute", exprs[col], float(value))
            continue
        if key == "encode":
            for col, col_levels in op_state["levels"].items():
                if col not in cats:
                    return None
                levels[col] = list(col_levels)
                start = 1 if op_state["method"] == "treatment" else 0
                for j in range(start, len(col_levels)):
                    exprs[f"{col}.{col_levels[j]}"] = ("onehot", cats[col], j)
            continue
        if key == "scale":
            for col, center in op_state["center"].items():
                if col in exprs:
                    scale = op_state["scale"][col]
                    exprs[col] = ("affine", exprs[col], float(center), float(scale))
            continue
        return None
    tokens = getattr(inner, "ingress_tokens", None) or {}
    if len(tokens) != 1:
        return None
    (token,) = tokens.values()
    features = list(token.features) if isinstance(token.features, list | tuple) else None
    if features is None or any(f not in exprs for f in features):
        return None
    if any(c not in levels for c in factors):
        return None
    return {
        "kind": "folded",
        "inputs": {
            "numeric": {"dtype": "float32", "columns": numeric},
            "categorical": {"dtype": "int64", "columns": factors, "levels": levels},
        },
        "expressions": [exprs[f] for f in features],
    }


def _plain_contract(inner: LearnerTorch) -> dict[str, Any]:
    state = inner.state
    assert state is not None
    tokens = getattr(inner, "ingress_tokens", None)
    if not tokens:
        tokens = inner._ingress_tokens(state.train_task, inner.param_set.values)
    inputs = {}
    for name, token in tokens.items():
        selected: Any = token.features
        features = (
            list(selected) if isinstance(selected, list | tuple) else selected(state.train_task)
        )
        shape = list(token.shape) if token.shape is not None else [None, len(features)]
        inputs[name] = {"dtype": "float32", "columns": list(features), "shape": shape}
    return {"kind": "network", "inputs": inputs}


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


def export_onnx(
    learner: Learner, path: str | os.PathLike[str], *, opset: int | None = None
) -> dict[str, Any]:
    """Export a trained torch learner's network (with foldable preprocessing) to ONNX.

    Parameters
    ----------
    learner : Learner
        A trained torch learner, or a trained graph learner with one torch model
        operator.
    path : str or path-like
        The ``.onnx`` file to write.
    opset : int, optional
        The ONNX opset (default: the exporter's).

    Returns
    -------
    dict
        The input contract: ``kind`` (``"folded"`` or ``"network"``), and per
        input its dtype and columns (and factor levels); also stored in the file's
        metadata under ``torchweave.contract``.

    Raises
    ------
    NotTrainedError
        If the learner is not trained.
    InvalidTypeError
        If it holds no torch network.
    MissingDependencyError
        If ``onnx`` / ``onnxscript`` are not installed (the ``onnx`` extra).
    """
    if learner.state is None:
        raise NotTrainedError(f"Learner '{learner.id}' must be trained before export_onnx.")
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - the onnx extra is installed in tests
        raise MissingDependencyError(
            "export_onnx needs the 'onnx' and 'onnxscript' packages: pip install torchweave[onnx]."
        ) from exc
    inner, chain = _torch_parts(learner)
    network = inner.network
    if network is None:
        raise NotTrainedError(f"Learner '{learner.id}' holds no trained network.")
    network = copy.deepcopy(network).to("cpu").eval()  # the learner keeps its own
    folded = _fold(learner, inner, chain)
    if folded is not None:
        module: nn.Module = _Folded(network, folded.pop("expressions"))
        spec = folded["inputs"]
        n_num, n_cat = len(spec["numeric"]["columns"]), len(spec["categorical"]["columns"])
        args: tuple[torch.Tensor, ...] = (
            torch.zeros(2, n_num, dtype=torch.float32),
            torch.zeros(2, n_cat, dtype=torch.int64),
        )
        names = ["numeric", "categorical"]
        contract = folded
    else:
        contract = _plain_contract(inner)
        original = list(contract["inputs"])
        names = [_safe_name(n) for n in original]
        contract["inputs"] = {
            safe: {**contract["inputs"][orig], "token": orig}
            for safe, orig in zip(names, original, strict=True)
        }
        module = _Plain(network, original)
        args = tuple(
            torch.zeros(2, *[d or 1 for d in info["shape"][1:]], dtype=torch.float32)
            for info in contract["inputs"].values()
        )
    contract["output"] = "output"
    contract["task_type"] = learner.task_type
    if learner.state.class_names is not None:
        contract["class_names"] = [str(c) for c in learner.state.class_names]
    target = Path(path)
    batch = torch.export.Dim("batch", min=1)
    dynamic_shapes: Any = (
        {"numeric": {0: batch}, "categorical": {0: batch}}
        if contract["kind"] == "folded"
        else {"inputs": tuple({0: batch} for _ in args)}
    )
    with warnings.catch_warnings():
        # The exporter reports its progress and version notes as warnings.
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                module,
                args,
                input_names=names,
                output_names=["output"],
                dynamic_shapes=dynamic_shapes,
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
        except Exception as exc:
            raise SaveError(
                f"The network of learner '{learner.id}' could not be exported to ONNX: {exc}"
            ) from exc
    assert program is not None
    model = program.model_proto
    entry = model.metadata_props.add()
    entry.key = "torchweave.contract"
    entry.value = json.dumps(contract)
    onnx.save_model(model, str(target))
    return contract


def onnx_feeds(contract: dict[str, Any], data: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ONNX inputs for the rows of ``data`` under an export's input contract.

    For a folded export, ``data`` holds the raw features; otherwise the features
    after preprocessing (the columns the contract lists for each input).
    """
    feeds: dict[str, np.ndarray] = {}
    for name, info in contract["inputs"].items():
        columns = info["columns"]
        if name == "categorical" and contract["kind"] == "folded":
            codes = np.empty((len(data), len(columns)), dtype=np.int64)
            for j, col in enumerate(columns):
                mapping = {level: i for i, level in enumerate(info["levels"][col])}
                codes[:, j] = [mapping.get(v, -1) for v in data[col]]
            feeds[name] = codes
        else:
            feeds[name] = data[columns].to_numpy(dtype=np.float32)
    return feeds
