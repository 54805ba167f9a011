"""A model trained on a CUDA device loads on a machine without one (marked ``gpu``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import torchweave as tw
from torchweave import nn, po

ROOT = Path(__file__).resolve().parents[2]

_CPU_ONLY = """
import sys, numpy as np, torch, torchweave as tw
assert not torch.cuda.is_available()
learner = tw.load(sys.argv[1])
inner = learner.model["torch_model_classif"]
assert learner.param_set.values["torch_model_classif.device"] == "cpu"
assert inner.param_set.values["device"] == "cpu"
assert next(inner.network.parameters()).device.type == "cpu"
np.save(sys.argv[2], learner.predict(tw.tsk("penguins")).prob.to_numpy())
"""


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trained_on_cuda_predicts_the_same_on_a_cpu_only_machine(tmp_path):
    graph = (
        po("imputemedian")
        >> po("imputemode")
        >> po("encode")
        >> po("scale")
        >> po("torch_ingress_num")
        >> nn("linear", out_features=32)
        >> nn("relu")
        >> nn("head")
        >> po("torch_loss", loss="cross_entropy")
        >> po("torch_optimizer", optimizer="adam")
        >> po("torch_model_classif", epochs=3, batch_size=32, seed=1, device="cuda")
    )
    learner = tw.as_learner(graph)
    learner.predict_type = "prob"
    learner.train(tw.tsk("penguins"))
    assert next(learner.model["torch_model_classif"].network.parameters()).is_cuda
    on_gpu = learner.predict(tw.tsk("penguins")).prob.to_numpy()
    path = tw.save(learner, tmp_path / "m.zip", optimizer_state=True)
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    out = tmp_path / "prob.npy"
    result = subprocess.run(
        [sys.executable, "-c", _CPU_ONLY, str(path), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(out), on_gpu, atol=1e-5)
    # on the GPU machine itself the saved device is kept
    again = tw.load(path)
    assert again.param_set.values["torch_model_classif.device"] == "cuda"
    np.testing.assert_allclose(again.predict(tw.tsk("penguins")).prob.to_numpy(), on_gpu, atol=1e-6)
