"""Shared set-up of the training and callback tests: tiny iris learners."""

from torch import nn

import torchweave as tw

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def mlp():
    """Two linear layers: parameters '0.weight', '0.bias', '2.weight', '2.bias'."""
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def iris_learner(network=None, callbacks=(), optimizer=None, **params):
    """A LearnerTorchModel on the iris features (150 rows: 3 batches of 50 by default)."""
    learner = tw.LearnerTorchModel(
        network=network if network is not None else nn.Linear(4, 3),
        ingress_tokens={"x": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))},
        task_type="classif",
        optimizer=optimizer,
        callbacks=callbacks,
    )
    return learner.configure(
        **{"epochs": 2, "batch_size": 50, "device": "cpu", "seed": 1, **params}
    )


def iris_with_valid():
    """Iris with every 5th row (30 rows) as the fixed internal validation task."""
    task = tw.tsk("iris")
    task.internal_valid_task = task.row_ids[::5]
    return task
