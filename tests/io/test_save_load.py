"""tw.save / tw.load: JSON plus safetensors, rebuilt without pickle, in a fresh process too."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from torchweave import nn, po
from torchweave.io.errors import LoadError, SaveError

from .parts import LearnerTinyMLP, ScaledTanh, double

ROOT = Path(__file__).resolve().parents[2]


def _torch_graph(**model: object) -> object:
    return (
        po("imputemedian")
        >> po("imputemode")
        >> po("encode")
        >> po("scale")
        >> po("torch_ingress_num")
        >> nn("linear", out_features=8)
        >> nn("batch_norm1d")
        >> nn("module", module_class=ScaledTanh, factor=2.0)
        >> nn("head")
        >> po("torch_loss", loss="cross_entropy")
        >> po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.01))
        >> po("torch_callbacks", callbacks="history")
        >> po("torch_model_classif", epochs=2, batch_size=64, seed=1, **model)
    )


@pytest.fixture(scope="module")
def penguins_learner():
    learner = tw.as_learner(_torch_graph(measures_valid=tw.msr("classif.ce")))
    learner.predict_type = "prob"
    learner.validate = 0.25
    learner.train(tw.tsk("penguins"))
    return learner


def _prob(learner: tw.Learner, task: tw.Task) -> np.ndarray:
    return learner.predict(task).prob.to_numpy()


def test_graph_learner_round_trip_in_process(penguins_learner, tmp_path):
    task = tw.tsk("penguins")
    path = tw.save(penguins_learner, tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "tensors.safetensors"]
    loaded = tw.load(path)
    np.testing.assert_array_equal(_prob(loaded, task), _prob(penguins_learner, task))
    assert loaded.predict_type == "prob" and loaded.validate == 0.25
    assert tw.to_spec(loaded) == tw.to_spec(penguins_learner)
    inner = loaded.model["torch_model_classif"]
    assert inner.model.epochs == 2
    assert loaded.internal_valid_scores == penguins_learner.internal_valid_scores
    assert set(loaded.internal_valid_scores) == {"torch_model_classif.classif.ce"}
    pd.testing.assert_frame_equal(
        inner.model.callbacks["history"],
        penguins_learner.model["torch_model_classif"].model.callbacks["history"],
    )
    # the preprocessing statistics come back exactly
    assert loaded.model["scale"] == penguins_learner.model["scale"]
    assert loaded.model["encode"] == penguins_learner.model["encode"]


def test_document_holds_versions_and_task_metadata(penguins_learner, tmp_path):
    tw.save(penguins_learner, tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    assert doc["format"] == "torchweave.model" and doc["format_version"] == 1
    assert doc["torchweave_version"] == tw.__version__
    import torch

    assert doc["torch_version"] == torch.__version__
    task = doc["task"]
    assert task["target"] == ["species"]
    assert task["class_names"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert task["feature_names"][:2] == ["island", "bill_length_mm"]
    assert task["factor_levels"]["sex"] == ["female", "male"]
    assert [op["key"] for op in doc["learner"]["graph"]["pipeops"]][:4] == [
        "imputemedian",
        "imputemode",
        "encode",
        "scale",
    ]
    module = next(op for op in doc["learner"]["graph"]["pipeops"] if op["key"] == "nn_module")
    assert module["args"]["module_class"] == {"$ref": "tests.io.parts:ScaledTanh"}


_FRESH = """
import sys, numpy as np, torchweave as tw
for i, path in enumerate(sys.argv[2:]):
    pred = tw.load(path).predict(tw.tsk("penguins"))
    np.save(f"{sys.argv[1]}{i}.npy", pred.prob.to_numpy())
"""


def test_a_fresh_process_predicts_identically(penguins_learner, tmp_path):
    paths = [tw.save(penguins_learner, tmp_path / name) for name in ("model", "model.zip")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-c", _FRESH, str(tmp_path / "prob"), *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    expected = _prob(penguins_learner, tw.tsk("penguins"))
    for i in range(2):
        np.testing.assert_array_equal(np.load(tmp_path / f"prob{i}.npy"), expected)


def test_loading_never_unpickles(penguins_learner, tmp_path, monkeypatch):
    import cloudpickle
    import torch

    path = tw.save(penguins_learner, tmp_path / "m.zip")
    expected = _prob(penguins_learner, tw.tsk("penguins"))

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used while loading")

    for module, name in [
        (pickle, "loads"),
        (pickle, "load"),
        (pickle, "Unpickler"),
        (cloudpickle, "loads"),
        (torch, "load"),
    ]:
        monkeypatch.setattr(module, name, refuse)
    loaded = tw.load(path)
    np.testing.assert_array_equal(_prob(loaded, tw.tsk("penguins")), expected)


def test_optimizer_state_is_optional(penguins_learner, tmp_path):
    without = tw.load(tw.save(penguins_learner, tmp_path / "a"))
    assert without.model["torch_model_classif"].model.optimizer == {}
    with_state = tw.load(tw.save(penguins_learner, tmp_path / "b", optimizer_state=True))
    saved = with_state.model["torch_model_classif"].model.optimizer
    original = penguins_learner.model["torch_model_classif"].model.optimizer
    assert saved["param_groups"] == original["param_groups"]
    for key, state in original["state"].items():
        np.testing.assert_array_equal(saved["state"][key]["exp_avg"], state["exp_avg"].cpu())


def test_torch_learner_subclass_regression(tmp_path):
    learner = LearnerTinyMLP("regr")
    learner.param_set.set_values(epochs=2, batch_size=16, seed=3)
    task = tw.tsk("mtcars")
    learner.train(task)
    loaded = tw.load(tw.save(learner, tmp_path / "m"))
    assert type(loaded) is LearnerTinyMLP and loaded.id == "regr.tiny_mlp"
    np.testing.assert_array_equal(loaded.predict(task).response, learner.predict(task).response)
    # batch-norm running statistics are part of the state
    assert loaded.network[2].num_batches_tracked.item() == learner.network[2].num_batches_tracked


def _prebuilt_keys() -> list[str]:
    from torchweave.training.learner_torch import LearnerTorch
    from torchweave.training.learner_torch_model import LearnerTorchModel

    keys = []
    for key in tw.registry.learners:
        learner = tw.lrn(key)
        if isinstance(learner, LearnerTorch) and not isinstance(learner, LearnerTorchModel):
            keys.append(key)
    return keys


@pytest.mark.parametrize("key", _prebuilt_keys())
def test_each_prebuilt_torch_learner_round_trips(key, tmp_path):
    from torchweave.io.errors import SaveError
    from torchweave.prebuilt.conformance import CONFORMANCE_PARAMS, conformance_learner

    name = key.split(".", 1)[1]
    learner = conformance_learner(key) if name in CONFORMANCE_PARAMS else tw.lrn(key)
    own_tasks = getattr(learner, "_conformance_tasks", None)
    if own_tasks is not None:  # image learners: their own small lazy-tensor task
        task = own_tasks()[0]
    else:
        task = tw.tsk("iris") if learner.task_type == "classif" else tw.tsk("mtcars")
    values = {"epochs": 1, "batch_size": 32, "seed": 1}
    learner.param_set.set_values({k: v for k, v in values.items() if k in learner.param_set})
    if task.feature_types and "lazy_tensor" in task.feature_types.values():
        with pytest.raises(SaveError, match="lazy tensor"):
            tw.save(learner.train(task), tmp_path / "m")
        return
    learner.train(task)
    loaded = tw.load(tw.save(learner, tmp_path / "m"))
    assert tw.to_spec(loaded) == tw.to_spec(learner)
    _same_response(loaded, learner, task)


def test_non_torch_learners_round_trip(tmp_path):
    task = tw.tsk("penguins")
    graph = (
        po("imputemedian")
        >> po("missind")
        >> po("fixfactors")
        >> po("learner", tw.lrn("classif.featureless"))
    )
    learner = tw.as_learner(graph).train(task)
    loaded = tw.load(tw.save(learner, tmp_path / "g"))
    _same_response(loaded, learner, task)
    untrained = tw.load(tw.save(tw.lrn("regr.featureless"), tmp_path / "u"))
    assert not untrained.is_trained and untrained.id == "regr.featureless"


def test_nn_fn_with_an_importable_function(tmp_path):
    task = tw.tsk("iris")
    graph = (
        po("torch_ingress_num")
        >> nn("fn", fn=double)
        >> nn("head")
        >> po("torch_loss", loss="cross_entropy")
        >> po("torch_optimizer", optimizer="sgd")
        >> po("torch_model_classif", epochs=1, batch_size=50, seed=1)
    )
    learner = tw.as_learner(graph).train(task)
    loaded = tw.load(tw.save(learner, tmp_path / "m"))
    _same_response(loaded, learner, task)


def test_unimportable_parts_are_refused_with_advice(tmp_path):
    class LocalModule(ScaledTanh):
        pass

    graph = po("torch_ingress_num") >> nn("module", module_class=LocalModule) >> nn("head")
    with pytest.raises(SaveError, match=r"LocalModule cannot be imported by name\. Define it"):
        tw.to_spec(
            graph
            >> po("torch_loss", loss="mse")
            >> po("torch_optimizer", optimizer="sgd")
            >> po("torch_model_regr")
        )
    lam = (
        po("torch_ingress_num")
        >> nn("fn", fn=lambda x: x + 1)
        >> nn("head")
        >> po("torch_loss", loss="mse")
        >> po("torch_optimizer", optimizer="sgd")
        >> po("torch_model_regr")
    )
    with pytest.raises(SaveError, match=r"PipeOp 'fn', argument 'fn'.*<lambda>"):
        tw.save(tw.as_learner(lam), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_fitted_sklearn_state_and_module_instances_are_refused(tmp_path):
    from sklearn.linear_model import LogisticRegression

    learner = tw.as_learner(LogisticRegression(max_iter=200)).train(tw.tsk("iris"))
    with pytest.raises(SaveError, match=r"fitted LogisticRegression .*without pickle"):
        tw.save(learner, tmp_path / "m")
    import torch

    model = tw.LearnerTorchModel(torch.nn.Linear(4, 3), task_type="classif")
    with pytest.raises(SaveError, match=r"given torch.nn.Module instance"):
        tw.save(model, tmp_path / "n")


def test_lazy_tensor_learners_are_refused_but_their_spec_round_trips(tmp_path):
    task = tw.tsk("digits")
    graph = (
        po("trafo_normalize", mean=[0.3], std=[0.4])
        >> po("torch_ingress_ltnsr")
        >> nn("flatten")
        >> nn("head")
        >> po("torch_loss", loss="cross_entropy")
        >> po("torch_optimizer", optimizer="adam")
        >> po("torch_model_classif", epochs=1, batch_size=64, seed=1)
    )
    learner = tw.as_learner(graph)
    spec = tw.to_spec(learner)
    assert tw.to_spec(tw.learner_from_spec(spec)) == spec
    learner.train(task, row_ids=range(100))
    with pytest.raises(SaveError, match=r"lazy tensor \(image\) features.*tw\.to_spec"):
        tw.save(learner, tmp_path / "m")


@pytest.fixture()
def saved_zip(tmp_path):
    learner = tw.lrn("classif.featureless").train(tw.tsk("iris"))
    return tw.save(learner, tmp_path / "m.zip")


def test_truncated_zip_names_the_file(saved_zip):
    data = saved_zip.read_bytes()
    saved_zip.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match=r"m\.zip' is not a readable zip file"):
        tw.load(saved_zip)


def _rewrite(path: Path, document: bytes | None = None, tensors: bytes | None = None) -> None:
    with zipfile.ZipFile(path) as archive:
        doc, blob = archive.read("model.json"), archive.read("tensors.safetensors")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.json", document if document is not None else doc)
        archive.writestr("tensors.safetensors", tensors if tensors is not None else blob)


def test_corrupt_json_names_the_file(saved_zip):
    _rewrite(saved_zip, document=b'{"format": "torchweave.model", "form')
    with pytest.raises(LoadError, match=r"m\.zip': model\.json is not valid JSON"):
        tw.load(saved_zip)


def test_changed_tensors_fail_the_checksum(saved_zip):
    _rewrite(saved_zip, tensors=b"\x00" * 16)
    with pytest.raises(LoadError, match=r"m\.zip': tensors\.safetensors does not match"):
        tw.load(saved_zip)


def test_newer_format_asks_for_an_upgrade(saved_zip):
    with zipfile.ZipFile(saved_zip) as archive:
        doc = json.loads(archive.read("model.json"))
    doc["format_version"] = 99
    _rewrite(saved_zip, document=json.dumps(doc).encode())
    with pytest.raises(LoadError, match=r"format version 99 .* Upgrade torchweave"):
        tw.load(saved_zip)


def test_unknown_parts_name_the_file(saved_zip):
    with zipfile.ZipFile(saved_zip) as archive:
        doc = json.loads(archive.read("model.json"))
    doc["learner"]["key"] = "classif.nope"
    _rewrite(saved_zip, document=json.dumps(doc).encode())
    with pytest.raises(LoadError, match=r"Cannot load '.*m\.zip': .*classif\.nope"):
        tw.load(saved_zip)


def test_not_a_model(tmp_path):
    with pytest.raises(LoadError, match=r"lacks model\.json, tensors\.safetensors"):
        tw.load(tmp_path)
    with pytest.raises(LoadError, match=r"does not exist"):
        tw.load(tmp_path / "nothing.zip")


def test_an_unavailable_accelerator_becomes_cpu(tmp_path):
    import torch

    learner = tw.as_learner(_torch_graph(device="cuda"))
    loaded = tw.load(tw.save(learner, tmp_path / "m"))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert loaded.param_set.values["torch_model_classif.device"] == expected
    forced = tw.load(tmp_path / "m", device="cpu")
    assert forced.param_set.values["torch_model_classif.device"] == "cpu"


def _same_response(loaded: tw.Learner, learner: tw.Learner, task: tw.Task) -> None:
    np.testing.assert_array_equal(
        np.asarray(loaded.predict(task).response), np.asarray(learner.predict(task).response)
    )
