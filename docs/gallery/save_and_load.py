"""Save a trained graph learner and load it without pickle

A torch network with its preprocessing is trained on penguins, saved with
`tw.save` (JSON plus safetensors) and loaded with `tw.load`, which rebuilds the
network from the graph and predicts exactly as before.
"""

import json
from pathlib import Path

import numpy as np

import torchweave as tw
from torchweave import nn, po

graph = (
    po("imputemedian")
    >> po("imputemode")
    >> po("encode")
    >> po("scale")
    >> po("torch_ingress_num")
    >> nn("linear", out_features=16)
    >> nn("relu")
    >> nn("head")
    >> po("torch_loss", loss="cross_entropy")
    >> po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.01))
    >> po("torch_model_classif", epochs=10, batch_size=32, seed=1)
)
task = tw.tsk("penguins")
learner = tw.as_learner(graph)
learner.predict_type = "prob"
learner.train(task)

path = tw.save(learner, "penguins_model")
print(sorted(p.name for p in Path(path).iterdir()))
document = json.loads((Path(path) / "model.json").read_text())
print("format version:", document["format_version"])
print("features:", document["task"]["feature_names"])
print("classes:", document["task"]["class_names"])

loaded = tw.load(path)
same = np.array_equal(loaded.predict(task).prob, learner.predict(task).prob)
print("identical probabilities after loading:", same)
print(loaded.predict(task).score(tw.msr("classif.acc")))
