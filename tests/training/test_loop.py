"""The training loop of LearnerTorch: epochs, eval_freq, ContextTorch, scores, seeds, NaN loss."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import torchweave as tw
from tests.training.helpers import FEATURES, iris_learner, iris_with_valid
from torchweave.errors import InvalidParameterError, NonFiniteLossError


def spy(cls, id="spy"):
    """A callback descriptor for a CallbackSet subclass defined in a test."""
    return tw.TorchCallback(cls, id=id)


# --- eval_freq --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("eval_freq", "epochs_seen"),
    [(4, [4, 8, 10]), (5, [5, 10]), (3, [3, 6, 9, 10]), (10, [10]), (20, [10])],
)
def test_eval_freq_decides_the_epochs_in_the_history(eval_freq, epochs_seen):
    learner = iris_learner(
        callbacks=["history"],
        epochs=10,
        batch_size=150,
        eval_freq=eval_freq,
        measures_train=tw.msr("classif.ce"),
    )
    learner.train(tw.tsk("iris"))
    history = learner.model.callbacks["history"]
    assert list(history.columns) == ["epoch", "train.classif.ce"]
    assert history["epoch"].tolist() == epochs_seen
    assert learner.model.epochs == 10


def test_eval_freq_applies_to_train_and_valid_scores_alike():
    learner = iris_learner(
        callbacks=["history"],
        epochs=10,
        eval_freq=4,
        measures_train=tw.msr("classif.acc"),
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    learner.train(iris_with_valid())
    history = learner.model.callbacks["history"]
    assert list(history.columns) == ["epoch", "train.classif.acc", "valid.classif.ce"]
    assert history["epoch"].tolist() == [4, 8, 10]
    assert history.notna().all().all()


def test_scores_are_none_in_epochs_that_are_not_evaluated():
    seen = []

    class CallbackSetScores(tw.CallbackSet):
        def on_before_valid(self):
            seen.append(("train", self.ctx.epoch, self.ctx.last_scores_train))

        def on_epoch_end(self):
            seen.append(("valid", self.ctx.epoch, self.ctx.last_scores_valid))

    learner = iris_learner(
        callbacks=[spy(CallbackSetScores)],
        epochs=5,
        eval_freq=2,
        measures_train=tw.msr("classif.ce"),
        measures_valid=tw.msr("classif.acc"),
        validate="predefined",
    )
    learner.train(iris_with_valid())
    train = {epoch: scores for kind, epoch, scores in seen if kind == "train"}
    valid = {epoch: scores for kind, epoch, scores in seen if kind == "valid"}
    assert [e for e, s in train.items() if s is None] == [1, 3]
    assert [e for e, s in valid.items() if s is None] == [1, 3]
    for epoch in (2, 4, 5):
        assert list(train[epoch]) == ["classif.ce"]
        assert list(valid[epoch]) == ["classif.acc"]
        assert 0.0 <= train[epoch]["classif.ce"] <= 1.0
        assert 0.0 <= valid[epoch]["classif.acc"] <= 1.0


def test_without_measures_no_scores_are_computed():
    seen = []

    class CallbackSetScores(tw.CallbackSet):
        def on_before_valid(self):
            seen.append(self.ctx.last_scores_train)

    learner = iris_learner(callbacks=[spy(CallbackSetScores), "history"], epochs=2)
    learner.train(tw.tsk("iris"))
    assert seen == [None, None]
    history = learner.model.callbacks["history"]
    assert list(history.columns) == ["epoch"]
    assert len(history) == 0


# --- epochs ----------------------------------------------------------------------------
def test_epochs_zero_trains_nothing():
    network = nn.Linear(4, 3)
    learner = iris_learner(
        network=network,
        epochs=0,
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    learner.train(iris_with_valid())
    assert learner.model.epochs == 0
    assert learner.internal_valid_scores == {}
    for name, value in learner.model.network.state_dict().items():
        assert torch.equal(value, network.state_dict()[name])


def test_the_template_network_is_never_trained():
    network = nn.Linear(4, 3)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    learner = iris_learner(network=network, epochs=3, **{"opt.lr": 0.1})
    learner.train(tw.tsk("iris"))
    assert learner.model.network is not network
    assert not torch.equal(learner.model.network.weight, before["weight"])
    for name, value in network.state_dict().items():
        assert torch.equal(value, before[name])


def test_an_empty_training_loader_is_an_error():
    learner = iris_learner(batch_size=200, drop_last=True)
    with pytest.raises(InvalidParameterError, match=r"data loader of learner .* has no batches"):
        learner.train(tw.tsk("iris"))
    assert learner.model is None


# --- ContextTorch during training ----------------------------------------------------------
def test_context_fields_during_training():
    records = {"begin": [], "batch_begin": [], "batch_end": [], "before_valid": []}

    class CallbackSetCtx(tw.CallbackSet):
        def on_begin(self):
            ctx = self.ctx
            records["begin"].append(
                {
                    "epoch": ctx.epoch,
                    "global_step": ctx.global_step,
                    "total_epochs": ctx.total_epochs,
                    "eval_freq": ctx.eval_freq,
                    "n_train": ctx.task_train.nrow,
                    "n_valid": ctx.task_valid.nrow,
                    "callbacks": dict(ctx.callbacks),
                    "learner": ctx.learner,
                    "device": ctx.device,
                    "scores": (ctx.last_scores_train, ctx.last_scores_valid),
                    "this": self,
                }
            )

        def on_batch_begin(self):
            batch = self.ctx.batch
            records["batch_begin"].append(
                (set(batch), list(batch["x"]), batch["y"].dtype, batch["index"].clone())
            )

        def on_batch_end(self):
            ctx = self.ctx
            records["batch_end"].append(
                {
                    "where": (ctx.epoch, ctx.step, ctx.global_step),
                    "last_loss": ctx.last_loss,
                    "recomputed": ctx.loss_fn(ctx.y_hat, ctx.batch["y"]).item(),
                    "y_hat": tuple(ctx.y_hat.shape),
                    "y_hats_is_y_hat": ctx.y_hats is ctx.y_hat,
                    "y": tuple(ctx.batch["y"].shape),
                }
            )

        def on_before_valid(self):
            records["before_valid"].append((self.ctx.epoch, self.ctx.last_scores_train))

    learner = iris_learner(
        callbacks=[spy(CallbackSetCtx, id="ctx_spy")],
        epochs=3,
        eval_freq=2,
        measures_train=tw.msr("classif.ce"),
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    learner.train(iris_with_valid())

    (begin,) = records["begin"]
    assert begin["epoch"] == 0
    assert begin["global_step"] == 0
    assert (begin["total_epochs"], begin["eval_freq"]) == (3, 2)
    assert (begin["n_train"], begin["n_valid"]) == (120, 30)
    assert begin["callbacks"] == {"ctx_spy": begin["this"]}
    assert begin["learner"] is learner
    assert begin["device"] == torch.device("cpu")
    assert begin["scores"] == ({}, {})

    # 120 training rows in batches of 50: 3 batches per epoch (50, 50, 20)
    ends = records["batch_end"]
    assert [r["where"] for r in ends] == [
        (1, 1, 1), (1, 2, 2), (1, 3, 3),
        (2, 1, 4), (2, 2, 5), (2, 3, 6),
        (3, 1, 7), (3, 2, 8), (3, 3, 9),
    ]  # fmt: skip
    assert [r["y_hat"] for r in ends] == [(50, 3), (50, 3), (20, 3)] * 3
    assert [r["y"] for r in ends] == [(50,), (50,), (20,)] * 3
    assert all(r["y_hats_is_y_hat"] for r in ends)
    for r in ends:
        assert type(r["last_loss"]) is float
        assert math.isfinite(r["last_loss"])
        assert r["last_loss"] == pytest.approx(r["recomputed"], rel=1e-6)

    begins = records["batch_begin"]
    assert all(keys == {"x", "y", "index"} for keys, _, _, _ in begins)
    assert all(x_names == ["x"] for _, x_names, _, _ in begins)
    assert all(dtype == torch.int64 for _, _, dtype, _ in begins)
    for epoch in range(3):  # each epoch visits every training position exactly once
        positions = torch.cat([idx for _, _, _, idx in begins[3 * epoch : 3 * epoch + 3]])
        assert sorted(positions.tolist()) == list(range(120))

    before = records["before_valid"]
    assert [epoch for epoch, _ in before] == [1, 2, 3]
    assert before[0][1] is None
    assert set(before[1][1]) == {"classif.ce"}
    assert set(before[2][1]) == {"classif.ce"}


def test_shuffle_false_keeps_the_row_order():
    seen = []

    class CallbackSetIdx(tw.CallbackSet):
        def on_batch_begin(self):
            seen.append(self.ctx.batch["index"].tolist())

    learner = iris_learner(callbacks=[spy(CallbackSetIdx)], epochs=2, shuffle=False)
    learner.train(tw.tsk("iris"))
    expected = [list(range(0, 50)), list(range(50, 100)), list(range(100, 150))]
    assert seen == expected * 2


# --- training measures -----------------------------------------------------------------
def test_train_scores_are_computed_from_the_training_mode_outputs():
    """Scores over the outputs of the epoch's batches (dropout active, before each step)."""
    collected = []
    checks = []

    class CallbackSetCollect(tw.CallbackSet):
        def on_epoch_begin(self):
            collected.clear()

        def on_batch_end(self):
            collected.append((self.ctx.y_hat.detach().clone(), self.ctx.batch["index"].clone()))

        def on_before_valid(self):
            task = self.ctx.task_train
            y_hat = torch.cat([y for y, _ in collected])
            positions = torch.cat([i for _, i in collected]).numpy()
            codes = task.truth(rows=task.row_ids[positions]).cat.codes.to_numpy()
            prob = torch.softmax(y_hat, dim=1).numpy().astype(np.float64)
            ce = float(np.mean(prob.argmax(axis=1) != codes))
            logloss = float(-np.mean(np.log(prob[np.arange(len(codes)), codes])))
            checks.append(
                (self.ctx.last_scores_train, {"classif.ce": ce, "classif.logloss": logloss})
            )

    network = nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 3))
    learner = iris_learner(
        network=network,
        callbacks=[spy(CallbackSetCollect)],
        epochs=2,
        measures_train=[tw.msr("classif.ce"), tw.msr("classif.logloss")],
        **{"opt.lr": 0.05},
    )
    learner.train(tw.tsk("iris"))
    assert len(checks) == 2
    for scores, expected in checks:
        assert scores["classif.ce"] == pytest.approx(expected["classif.ce"])
        assert scores["classif.logloss"] == pytest.approx(expected["classif.logloss"], rel=1e-5)


def test_dropout_makes_train_scores_differ_from_eval_mode_predictions():
    task = tw.tsk("iris")
    network = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.8))
    learner = iris_learner(
        network=network,
        callbacks=["history"],
        epochs=1,
        batch_size=150,
        shuffle=False,
        measures_train=tw.msr("classif.logloss"),
        predict_type="prob",
        **{"opt.lr": 0.0},  # the weights never change: only the mode differs
    )
    learner.train(task)
    train_score = learner.model.callbacks["history"]["train.classif.logloss"].iloc[0]
    eval_score = learner.predict(task).score("classif.logloss")["classif.logloss"]
    with torch.no_grad():
        probs = torch.softmax(
            network.eval()(torch.tensor(task.data(cols=FEATURES).to_numpy(), dtype=torch.float32)),
            1,
        )
    codes = torch.from_numpy(task.truth().cat.codes.to_numpy().astype(np.int64))
    expected_eval = float(-torch.log(probs[torch.arange(150), codes]).mean())
    assert eval_score == pytest.approx(expected_eval, rel=1e-5)
    assert abs(train_score - eval_score) > 0.05


# --- seeds --------------------------------------------------------------------------------
def test_same_seed_same_network_and_global_rng_untouched():
    a = iris_learner(network=nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 3)))
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a.configure(epochs=3, seed=7).train(tw.tsk("iris"))
    assert torch.equal(torch.get_rng_state(), state)
    b = a.clone().train(tw.tsk("iris"))
    assert a.model.seed == b.model.seed == 7
    for (name, va), vb in zip(
        a.model.network.state_dict().items(), b.model.network.state_dict().values(), strict=True
    ):
        assert torch.equal(va, vb), name
    c = a.clone().configure(seed=8).train(tw.tsk("iris"))
    assert not torch.equal(c.model.network[0].weight, a.model.network[0].weight)


def test_random_seed_is_stored_and_reproduces_the_run():
    learner = iris_learner(seed="random", epochs=2)
    learner.train(tw.tsk("iris"))
    seed = learner.model.seed
    assert isinstance(seed, int) and not isinstance(seed, bool)
    again = learner.clone().configure(seed=seed).train(tw.tsk("iris"))
    assert again.model.seed == seed
    assert torch.equal(again.model.network.weight, learner.model.network.weight)


def test_graph_learners_are_reproducible_from_the_seed():
    def graph(seed):
        return tw.as_learner(
            tw.po("torch_ingress_num")
            >> tw.nn("head")
            >> tw.po("torch_loss", loss="cross_entropy")
            >> tw.po("torch_optimizer", optimizer="adam")
            >> tw.po("torch_model_classif", epochs=1, batch_size=50, device="cpu", seed=seed)
        )

    nets = [graph(s).train(tw.tsk("iris")).model["torch_model_classif"].network for s in (1, 1, 2)]
    weights = [dict(net.named_parameters()) for net in nets]
    names = list(weights[0])
    assert all(torch.equal(weights[0][n], weights[1][n]) for n in names)
    assert not all(torch.equal(weights[0][n], weights[2][n]) for n in names)


# --- non-finite loss ----------------------------------------------------------------------
class Exploding(nn.Module):
    """A linear layer whose outputs are infinite: the cross-entropy is NaN."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return self.linear(x) * float("inf")


def test_nan_loss_raises_naming_epoch_and_batch():
    exits = []

    class CallbackSetExit(tw.CallbackSet):
        def on_exit(self):
            exits.append(self.ctx.epoch)

    learner = iris_learner(network=Exploding(), callbacks=[spy(CallbackSetExit)])
    with pytest.raises(
        NonFiniteLossError, match=r"the training loss became nan in epoch 1, batch 1\."
    ) as info:
        learner.train(tw.tsk("iris"))
    assert "classif.torch_model" in str(info.value)
    assert isinstance(info.value, FloatingPointError)
    assert learner.model is None
    assert learner.state is None
    assert not learner.is_trained
    assert exits == [1]


def test_exploding_regression_raises_and_leaves_no_model():
    learner = tw.as_learner(
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="mse")
        >> tw.po("torch_optimizer", optimizer="sgd", lr=1e10)
        >> tw.po("torch_model_regr", epochs=3, batch_size=8, device="cpu", seed=1)
    )
    with pytest.raises(
        NonFiniteLossError, match=r"in epoch 1, batch \d+\. Lower the learning rate"
    ):
        learner.train(tw.tsk("mtcars"))
    assert learner.model is None
