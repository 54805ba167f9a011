"""Shared set-up of the scale-out tests: small seeded torch learners and their results."""

import torch
from torch import nn

import torchweave as tw

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class ThreadProbe(tw.CallbackSet):
    """Records the torch threads the learner trains with (kept in the model's callbacks)."""

    def on_begin(self):
        self.threads = torch.get_num_threads()

    def state_dict(self):
        return {"threads": self.threads}

    def load_state_dict(self, state_dict):
        self.threads = state_dict["threads"]


def torch_learner(id="mlp", num_threads=1, probe=False, epochs=3, outputs=3):
    """A seeded MLP on the iris features, validated on each iteration's test set."""
    torch.manual_seed(0)
    network = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, outputs))
    callbacks = [tw.TorchCallback(ThreadProbe, id="probe")] if probe else []
    learner = tw.LearnerTorchModel(
        network=network,
        ingress_tokens={"x": tw.TorchIngressToken(FEATURES, tw.batchgetter_num, (None, 4))},
        task_type="classif",
        callbacks=callbacks,
    )
    learner.id = id
    learner.validate = "test"
    return learner.configure(
        epochs=epochs,
        batch_size=16,
        device="cpu",
        seed=5,
        num_threads=num_threads,
        measures_valid="classif.ce",
    )


def assert_same_results(a, b):
    """Two resample results agree exactly: scores, predictions, models, validation scores."""
    measure = tw.msr("classif.acc")
    assert a.score(measure).equals(b.score(measure))
    pa, pb = a.prediction(), b.prediction()
    assert list(pa.row_ids) == list(pb.row_ids)
    assert list(pa.response) == list(pb.response)
    assert a.internal_valid_scores == b.internal_valid_scores
    assert a.models_stored and b.models_stored
    for la, lb in zip(a.learners, b.learners, strict=True):
        sa, sb = la.network.state_dict(), lb.network.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
