"""Small learners and graphs for the tuning tests (tiny data, few epochs)."""

from __future__ import annotations

from typing import Any

import torchweave as tw
from torchweave import nn, po


def rpart(**values: Any) -> Any:
    """classif.rpart with values (tokens allowed)."""
    learner = tw.lrn("classif.rpart")
    learner.param_set.set_values(values)
    return learner


def branch_graph(epochs: Any = 2, patience: int = 0, validate: Any = None) -> Any:
    """A torch graph learner with a branch between a small and a wide hidden layer."""
    extra: dict[str, Any] = {}
    if patience:
        extra = {"patience": patience, "measures_valid": tw.msr("classif.ce")}
    graph = (
        po("torch_ingress_num")
        >> po("branch", options=["small", "wide"])
        >> [
            nn("linear", id="small", out_features=4),
            nn("linear", id="wide", out_features=16) >> nn("relu"),
        ]
        >> po("unbranch")
        >> nn("head")
        >> po("torch_loss", loss="cross_entropy")
        >> po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.05))
        >> po(
            "torch_model_classif",
            epochs=epochs,
            batch_size=50,
            seed=1,
            device="cpu",
            tensor_dataset=True,
            **extra,
        )
    )
    learner = tw.as_learner(graph)
    learner.validate = validate
    return learner
