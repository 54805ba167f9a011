"""tw.to_spec / tw.learner_from_spec: a learner's structure as YAML or JSON."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest
import yaml

import torchweave as tw
from torchweave import nn, po
from torchweave.io.codec import TensorStore
from torchweave.io.errors import LoadError, SaveError
from torchweave.io.spec import make_decoder, make_encoder, pipeop_from_spec, pipeop_spec


def _graph_learner() -> tw.Learner:
    graph = (
        [
            po("select", id="num", selector=tw.selector_type("numeric")) >> po("scale"),
            po("select", id="fct", selector=tw.selector_type("factor")) >> po("encode"),
        ]
        >> po("featureunion")
        >> po("torch_ingress_num")
        >> nn("block", nn("linear", out_features=4) >> nn("relu"), n_blocks=2)
        >> nn("head")
        >> po("torch_loss", loss=tw.t_loss("cross_entropy", label_smoothing=0.1))
        >> po("torch_optimizer", optimizer=tw.t_opt("adamw", lr=0.02))
        >> po("torch_callbacks", callbacks=[tw.t_clbk("checkpoint", freq=2, path="ck"), "history"])
        >> po(
            "torch_model_classif",
            epochs=3,
            batch_size=16,
            measures_train=tw.msrs("classif.acc", "classif.ce"),
            measures_valid=tw.msr("classif.logloss"),
        )
    )
    learner = tw.as_learner(graph)
    learner.predict_type = "prob"
    learner.validate = 0.3
    return learner


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip_through_a_file_gives_an_equal_learner(tmp_path, suffix):
    learner = _graph_learner()
    path = tmp_path / f"spec{suffix}"
    spec = tw.to_spec(learner, path)
    text = path.read_text()
    loaded = yaml.safe_load(text) if suffix == ".yaml" else json.loads(text)
    assert loaded == spec
    rebuilt = tw.learner_from_spec(path)
    assert tw.to_spec(rebuilt) == spec
    assert rebuilt.graph.ids() == learner.graph.ids()
    assert rebuilt.graph.edge_records() == learner.graph.edge_records()
    assert set(rebuilt.param_set.values) == set(learner.param_set.values)
    assert (rebuilt.id, rebuilt.predict_type, rebuilt.validate) == (learner.id, "prob", 0.3)
    assert not rebuilt.is_trained


def test_a_rebuilt_spec_trains(tmp_path):
    learner = tw.learner_from_spec(tw.to_spec(_graph_learner()))
    learner.param_set.set_values({"torch_callbacks.checkpoint.path": str(tmp_path / "ck")})
    rng = np.random.default_rng(1)
    data = pd.DataFrame(
        {
            "x": rng.normal(size=60),
            "f": pd.Categorical(rng.choice(["a", "b", "c"], size=60)),
            "y": rng.choice(["u", "v", "w"], size=60),
        }
    )
    learner.train(tw.TaskClassif(data, "y"))
    assert learner.model["torch_model_classif"].model.epochs == 3


def test_a_hand_written_yaml_chain(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text(
        """
learner:
  graph:
    - imputemedian
    - key: scale
      params: {robust: true}
    - torch_ingress_num
    - key: nn_linear
      id: hidden
      params: {out_features: 16}
    - nn_relu
    - nn_head
    - key: torch_loss
      args: {loss: mse}
    - key: torch_optimizer
      args: {optimizer: adam}
      params: {lr: 0.01}
    - key: torch_model_regr
      params:
        epochs: 2
        batch_size: 8
        measures_valid: {$measure: regr.rmse}
  validate: 0.25
"""
    )
    learner = tw.learner_from_spec(path)
    assert learner.graph.ids() == [
        "imputemedian",
        "scale",
        "torch_ingress_num",
        "hidden",
        "nn_relu",
        "nn_head",
        "torch_loss",
        "torch_optimizer",
        "torch_model_regr",
    ]
    assert learner.param_set.values["hidden.out_features"] == 16
    assert learner.param_set.values["torch_optimizer.lr"] == 0.01
    assert learner.param_set.values["torch_model_regr.measures_valid"].id == "regr.rmse"
    learner.train(tw.tsk("mtcars"))


def test_registered_learner_spec():
    learner = tw.lrn("classif.rpart")
    learner.param_set.set_values(max_depth=3)
    spec = tw.to_spec(learner)
    assert spec["learner"]["key"] == "classif.rpart"
    assert spec["learner"]["params"]["max_depth"] == 3
    rebuilt = tw.learner_from_spec(spec)
    assert tw.to_spec(rebuilt) == spec


def test_bad_specs_name_the_problem(tmp_path):
    with pytest.raises(LoadError, match=r"does not describe a learner"):
        tw.learner_from_spec({"learner": {"nothing": 1}})
    path = tmp_path / "bad.yaml"
    path.write_text("learner: [unclosed")
    with pytest.raises(LoadError, match=r"bad\.yaml' is not valid YAML"):
        tw.learner_from_spec(path)
    with pytest.raises(LoadError, match=r"format version 7, newer"):
        tw.learner_from_spec({"format_version": 7, "learner": {"key": "classif.featureless"}})
    with pytest.raises(LoadError, match=r"'nn_linar' is not a registered pipeop"):
        tw.learner_from_spec({"learner": {"graph": ["torch_ingress_num", "nn_linar"]}})
    with pytest.raises(LoadError, match=r"invalid learner: .*out_features"):
        tw.learner_from_spec(
            {"learner": {"graph": [{"key": "nn_linear", "params": {"out_features": -1}}]}}
        )
    with pytest.raises(SaveError, match=r"writes YAML \(\.yaml, \.yml\) or JSON"):
        tw.to_spec(tw.lrn("classif.featureless"), tmp_path / "spec.txt")


def _default_pipeops() -> list[str]:
    keys = []
    for key in tw.registry.pipeops:
        ctor = tw.registry.pipeops.constructor(key)
        try:
            signature = inspect.signature(ctor)
        except (TypeError, ValueError):
            continue
        required = [
            p
            for p in signature.parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if not required and key != "module":  # "module" holds a module instance (internal)
            keys.append(key)
    return keys


@pytest.mark.parametrize("key", _default_pipeops())
def test_every_default_operator_round_trips(key):
    op = tw.po(key)
    enc = make_encoder(TensorStore(inline=True))
    spec = pipeop_spec(op, enc)
    rebuilt = pipeop_from_spec(json.loads(json.dumps(spec)), make_decoder(TensorStore(inline=True)))
    assert type(rebuilt) is type(op)
    assert pipeop_spec(rebuilt, make_encoder(TensorStore(inline=True))) == spec
    assert [ch.name for ch in rebuilt.input] == [ch.name for ch in op.input]
    assert [ch.name for ch in rebuilt.output] == [ch.name for ch in op.output]
