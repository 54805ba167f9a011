"""A learner as a YAML spec, and back

`tw.to_spec` writes the structure of a learner (operator keys, ids, parameter
values and edges, no trained state) as YAML; `tw.learner_from_spec` builds an
equal, untrained learner from it, ready to train.
"""

from pathlib import Path

import torchweave as tw
from torchweave import nn, po

graph = (
    po("scale")
    >> po("torch_ingress_num")
    >> nn("linear", out_features=8)
    >> nn("relu")
    >> nn("head")
    >> po("torch_loss", loss="mse")
    >> po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.02))
    >> po("torch_model_regr", epochs=20, batch_size=8, seed=1)
)
spec = tw.to_spec(tw.as_learner(graph), "model.yaml")
print(Path("model.yaml").read_text()[:600], "...")

rebuilt = tw.learner_from_spec("model.yaml")
print("equal spec:", tw.to_spec(rebuilt) == spec)
rebuilt.train(tw.tsk("mtcars"))
print(rebuilt.predict(tw.tsk("mtcars")).score(tw.msr("regr.rsq")))
