"""tw.export_onnx: onnxruntime agrees with torch to 1e-5, with a dynamic batch axis."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import torchweave as tw
from torchweave import nn, po
from torchweave.io.onnx_export import onnx_feeds

from .parts import LearnerTinyMLP

ort = pytest.importorskip("onnxruntime")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_folded_preprocessing_matches_torch(tmp_path):
    graph = (
        po("imputemedian")
        >> po("encode", method="treatment")
        >> po("scale")
        >> po("torch_ingress_num")
        >> nn("linear", out_features=16)
        >> nn("relu")
        >> nn("head")
        >> po("torch_loss", loss="cross_entropy")
        >> po("torch_optimizer", optimizer="adam")
        >> po("torch_model_classif", epochs=2, batch_size=32, seed=1)
    )
    features = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    task = tw.tsk("penguins").select(features)
    learner = tw.as_learner(graph)
    learner.predict_type = "prob"
    learner.train(task)
    path = tmp_path / "penguins.onnx"
    contract = tw.export_onnx(learner, path)
    assert contract["kind"] == "folded"
    assert contract["inputs"]["categorical"]["levels"] == {
        "island": ["Biscoe", "Dream", "Torgersen"]
    }
    model = onnx.load(str(path))
    stored = {p.key: p.value for p in model.metadata_props}
    assert json.loads(stored["torchweave.contract"]) == contract
    session = ort.InferenceSession(str(path))
    data = task.data()
    assert data[contract["inputs"]["numeric"]["columns"]].isna().any().any()  # NaN imputed
    for rows in (slice(0, 1), slice(0, 344)):  # the batch axis is dynamic
        out = session.run(None, onnx_feeds(contract, data.iloc[rows]))[0]
        expected = learner.predict(task, row_ids=range(344)[rows]).prob.to_numpy()
        np.testing.assert_allclose(_softmax(out), expected, atol=1e-5)


def test_network_only_export_for_a_torch_learner(tmp_path):
    learner = LearnerTinyMLP("regr")
    learner.param_set.set_values(epochs=2, batch_size=8, seed=1)
    task = tw.tsk("mtcars")
    learner.train(task)
    contract = tw.export_onnx(learner, tmp_path / "m.onnx")
    assert contract["kind"] == "network"
    assert contract["inputs"]["x"]["columns"] == task.feature_names
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    out = session.run(None, onnx_feeds(contract, task.data()))[0]
    np.testing.assert_allclose(out[:, 0], learner.predict(task).response, atol=1e-5)


def test_export_needs_a_trained_torch_learner(tmp_path):
    with pytest.raises(tw.NotTrainedError, match=r"must be trained before export_onnx"):
        tw.export_onnx(tw.lrn("classif.featureless"), tmp_path / "m.onnx")
    trained = tw.lrn("classif.featureless").train(tw.tsk("iris"))
    with pytest.raises(tw.InvalidTypeError, match=r"needs a trained torch learner"):
        tw.export_onnx(trained, tmp_path / "m.onnx")
