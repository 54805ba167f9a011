"""Callbacks in the loop: the twelve stages, their order, weights, terminate, state and params."""

import copy
import math
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import torchweave as tw
from tests.training.helpers import iris_learner, iris_with_valid
from torchweave.errors import InvalidParameterError


def recorder(id="rec", log=None, weight=None, stages=tw.STAGES):
    """A callback logging ``(id, stage, epoch)`` for each of ``stages`` into ``log``."""
    log = [] if log is None else log

    def make(stage):
        def fn(self):
            log.append((id, stage, self.ctx.epoch))

        return fn

    cb = tw.torch_callback(id, **{stage: make(stage) for stage in stages})
    cb.weight = weight
    return cb, log


def stages_of(log, id="rec"):
    return [stage for cb_id, stage, _ in log if cb_id == id]


# --- the twelve stages -----------------------------------------------------------------------
def test_stages_are_the_twelve_of_mlr3torch_in_loop_order():
    assert tw.STAGES == (
        "on_begin",
        "on_epoch_begin",
        "on_batch_begin",
        "on_after_backward",
        "on_batch_end",
        "on_before_valid",
        "on_batch_valid_begin",
        "on_batch_valid_end",
        "on_valid_end",
        "on_epoch_end",
        "on_end",
        "on_exit",
    )


def test_a_two_epoch_run_with_validation_calls_the_stages_in_order():
    cb, log = recorder()
    # 120 training rows in batches of 40: 3 batches; 30 validation rows in batches of 20: 2
    learner = iris_learner(
        callbacks=[cb],
        epochs=2,
        batch_size=40,
        batch_size_predict=20,
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    learner.train(iris_with_valid())
    epoch = (
        ["on_epoch_begin"]
        + ["on_batch_begin", "on_after_backward", "on_batch_end"] * 3
        + ["on_before_valid"]
        + ["on_batch_valid_begin", "on_batch_valid_end"] * 2
        + ["on_valid_end", "on_epoch_end"]
    )
    assert stages_of(log) == ["on_begin", *epoch, *epoch, "on_end", "on_exit"]
    counts = {stage: stages_of(log).count(stage) for stage in tw.STAGES}
    assert counts == {
        "on_begin": 1,
        "on_epoch_begin": 2,
        "on_batch_begin": 6,
        "on_after_backward": 6,
        "on_batch_end": 6,
        "on_before_valid": 2,
        "on_batch_valid_begin": 4,
        "on_batch_valid_end": 4,
        "on_valid_end": 2,
        "on_epoch_end": 2,
        "on_end": 1,
        "on_exit": 1,
    }
    epochs = [e for _, stage, e in log if stage in ("on_begin", "on_end", "on_exit")]
    assert epochs == [0, 2, 2]


def test_before_valid_runs_every_epoch_even_without_validation():
    cb, log = recorder()
    learner = iris_learner(callbacks=[cb], epochs=3)
    learner.train(tw.tsk("iris"))
    assert [e for _, stage, e in log if stage == "on_before_valid"] == [1, 2, 3]
    assert "on_valid_end" not in stages_of(log)
    assert "on_batch_valid_begin" not in stages_of(log)


def test_valid_end_runs_only_in_validation_epochs():
    cb, log = recorder()
    learner = iris_learner(
        callbacks=[cb],
        epochs=5,
        eval_freq=2,
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    learner.train(iris_with_valid())
    assert [e for _, stage, e in log if stage == "on_valid_end"] == [2, 4, 5]
    assert [e for _, stage, e in log if stage == "on_batch_valid_begin"] == [2, 4, 5]
    assert [e for _, stage, e in log if stage == "on_before_valid"] == [1, 2, 3, 4, 5]
    assert [e for _, stage, e in log if stage == "on_epoch_end"] == [1, 2, 3, 4, 5]


def test_zero_epochs_calls_only_begin_end_and_exit():
    cb, log = recorder()
    iris_learner(callbacks=[cb], epochs=0).train(tw.tsk("iris"))
    assert stages_of(log) == ["on_begin", "on_end", "on_exit"]


# --- errors: on_exit always runs, ctx is cleared -------------------------------------------
def test_on_exit_runs_when_training_raises_and_ctx_is_cleared():
    instances = []

    def boom(self):
        instances.append(self)
        if self.ctx.epoch == 2:
            raise RuntimeError("boom in epoch 2")

    failing = tw.torch_callback("failing", on_epoch_begin=boom)
    cb, log = recorder()
    learner = iris_learner(callbacks=[cb, failing], epochs=3)
    with pytest.raises(RuntimeError, match="boom in epoch 2"):
        learner.train(tw.tsk("iris"))
    stages = stages_of(log)
    assert stages[-1] == "on_exit"
    assert "on_end" not in stages
    assert stages.count("on_epoch_begin") == 2  # the recorder runs before the failing one
    assert stages.count("on_epoch_end") == 1
    assert log[-1] == ("rec", "on_exit", 2)
    assert all(inst.ctx is None for inst in instances)
    assert learner.model is None


def test_ctx_is_cleared_after_training_and_after_a_failing_on_exit():
    instances = []

    class CallbackSetKeep(tw.CallbackSet):
        def on_begin(self):
            instances.append(self)

    def fail(self):
        instances.append(self)
        raise ValueError("exit failed")

    keep = tw.TorchCallback(CallbackSetKeep, id="keep")
    iris_learner(callbacks=[keep], epochs=1).train(tw.tsk("iris"))
    assert len(instances) == 1
    assert instances[0].ctx is None

    instances.clear()
    learner = iris_learner(callbacks=[keep, tw.torch_callback("fail", on_exit=fail)], epochs=1)
    with pytest.raises(ValueError, match="exit failed"):
        learner.train(tw.tsk("iris"))
    assert len(instances) == 2
    assert all(inst.ctx is None for inst in instances)
    assert learner.model is None


# --- order and weights ---------------------------------------------------------------------
def test_callbacks_run_by_weight_with_ties_in_the_given_order():
    log = []
    order_seen = []
    a, _ = recorder("a", log, weight=0)
    b, _ = recorder("b", log, weight=5)
    c, _ = recorder("c", log, weight=0)
    d, _ = recorder("d", log, weight=-1)

    def remember_order(self):
        order_seen.append(list(self.ctx.callbacks))

    e = tw.torch_callback("e", on_begin=remember_order)  # weight 0, last of the ties
    learner = iris_learner(callbacks=[a, b, c, d, e], epochs=1)
    learner.train(tw.tsk("iris"))
    assert order_seen == [["d", "a", "c", "e", "b"]]
    stages_seen = 0
    for stage in tw.STAGES:
        calls = [cb_id for cb_id, s, _ in log if s == stage]
        times = len(calls) // 4
        assert calls == ["d", "a", "c", "b"] * times, stage
        stages_seen += times > 0
    assert stages_seen == 9  # all but the three validation stages


def test_ctx_callbacks_are_the_live_instances():
    seen = {}

    class CallbackSetA(tw.CallbackSet):
        def on_begin(self):
            seen["a"] = self
            seen["ctx_a"] = self.ctx

    class CallbackSetB(tw.CallbackSet):
        def on_begin(self):
            seen["b"] = self
            seen["ctx_b"] = self.ctx
            seen["others"] = dict(self.ctx.callbacks)

    learner = iris_learner(
        callbacks=[tw.TorchCallback(CallbackSetA), tw.TorchCallback(CallbackSetB)], epochs=1
    )
    learner.train(tw.tsk("iris"))
    assert seen["ctx_a"] is seen["ctx_b"]
    assert seen["others"] == {"a": seen["a"], "b": seen["b"]}


def test_a_weight_that_is_not_a_number_is_an_error():
    class CallbackSetNan(tw.CallbackSet):
        weight = math.nan

    learner = iris_learner(callbacks=[tw.TorchCallback(CallbackSetNan, id="nan_weight")])
    with pytest.raises(
        InvalidParameterError, match=r"\['nan_weight'\] have a weight that is not a number"
    ):
        learner.train(tw.tsk("iris"))
    with pytest.raises(InvalidParameterError, match=r"weight of callback 'x' must be a number"):
        tw.TorchCallback(CallbackSetNan, id="x", weight=math.nan)


def test_stages_that_are_not_implemented_are_never_called():
    calls = []

    with pytest.warns(UserWarning, match="'on_edn', which is not a callback stage"):

        class CallbackSetPartial(tw.CallbackSet):
            on_batch_end = None  # not callable: not a stage of this callback

            def on_epoch_end(self):
                calls.append("on_epoch_end")

            def on_edn(self):  # a typo is no stage
                calls.append("on_edn")

    assert CallbackSetPartial().stages == ["on_epoch_end"]
    learner = iris_learner(callbacks=[tw.TorchCallback(CallbackSetPartial, id="partial")])
    learner.train(tw.tsk("iris"))
    assert calls == ["on_epoch_end", "on_epoch_end"]


# --- terminate -----------------------------------------------------------------------------
def test_terminate_in_on_begin_trains_zero_epochs():
    cb, log = recorder()

    def stop(self):
        self.ctx.terminate = True

    learner = iris_learner(callbacks=[tw.torch_callback("stop", on_begin=stop), cb], epochs=5)
    learner.train(tw.tsk("iris"))
    assert learner.model.epochs == 0
    assert stages_of(log) == ["on_begin", "on_end", "on_exit"]


def test_terminate_in_epoch_three_finishes_that_epoch_and_stops():
    cb, log = recorder()

    def stop(self):
        if self.ctx.epoch == 3 and self.ctx.step == 1:
            self.ctx.terminate = True

    learner = iris_learner(
        callbacks=[cb, tw.torch_callback("stop", on_batch_end=stop)], epochs=10, batch_size=50
    )
    learner.train(tw.tsk("iris"))
    assert learner.model.epochs == 3
    stages = stages_of(log)
    assert stages.count("on_batch_end") == 9  # epoch 3 still runs all its 3 batches
    assert [e for _, s, e in log if s == "on_epoch_end"] == [1, 2, 3]
    assert stages[-2:] == ["on_end", "on_exit"]


# --- torch_callback: stages, state, parameters ---------------------------------------------
def _custom_logger():
    def initialize(self, alpha=0.5):
        self.alpha = alpha
        self.losses = []
        self.moving_loss = None

    def on_batch_end(self):
        loss = self.ctx.last_loss
        self.losses.append(loss)
        if self.moving_loss is None:
            self.moving_loss = loss
        else:
            self.moving_loss = self.alpha * loss + (1 - self.alpha) * self.moving_loss

    def state_dict(self):
        return {"moving_loss": self.moving_loss, "losses": list(self.losses), "alpha": self.alpha}

    def load_state_dict(self, state_dict):
        self.moving_loss = state_dict["moving_loss"]

    return tw.torch_callback(
        "custom_logger",
        initialize=initialize,
        on_batch_end=on_batch_end,
        state_dict=state_dict,
        load_state_dict=load_state_dict,
    )


def _ema(losses, alpha):
    value = losses[0]
    for loss in losses[1:]:
        value = alpha * loss + (1 - alpha) * value
    return value


def test_torch_callback_state_and_parameters_in_a_learner():
    cb = _custom_logger()
    assert cb.id == "custom_logger"
    assert cb.cls.__name__ == "CallbackSetCustomLogger"
    assert cb.generate().stages == ["on_batch_end"]
    learner = iris_learner(callbacks=[cb], epochs=2)
    assert "cb.custom_logger.alpha" in learner.param_set.ids()
    learner.configure(**{"cb.custom_logger.alpha": 0.1})
    assert learner.callbacks["custom_logger"].param_set.values == {"alpha": 0.1}
    assert cb.param_set.values == {}  # the learner holds its own copy
    learner.train(tw.tsk("iris"))
    state = learner.model.callbacks["custom_logger"]
    assert state["alpha"] == 0.1
    assert len(state["losses"]) == 6  # 2 epochs x 3 batches
    assert state["moving_loss"] == pytest.approx(_ema(state["losses"], 0.1))
    # load_state_dict restores what state_dict returned
    fresh = learner.callbacks["custom_logger"].generate()
    fresh.load_state_dict(state)
    assert fresh.moving_loss == state["moving_loss"]


def test_a_callback_without_state_is_not_in_the_model():
    cb, _ = recorder()
    learner = iris_learner(callbacks=[cb, "history"], epochs=1)
    learner.train(tw.tsk("iris"))
    assert list(learner.model.callbacks) == ["history"]


def test_a_required_callback_parameter_must_be_set():
    def initialize(self, alpha):
        self.alpha = alpha

    cb = tw.torch_callback("needs_alpha", initialize=initialize, on_begin=lambda self: None)
    learner = iris_learner(callbacks=[cb], epochs=1)
    with pytest.raises(InvalidParameterError, match=r"alpha"):
        learner.train(tw.tsk("iris"))
    learner.configure(**{"cb.needs_alpha.alpha": 2})
    learner.train(tw.tsk("iris"))
    assert learner.model.epochs == 1


def test_torch_callback_parameters_in_a_graph():
    learner = tw.as_learner(
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam")
        >> tw.po("torch_callbacks", callbacks=[_custom_logger(), "history"])
        >> tw.po(
            "torch_model_classif",
            epochs=2,
            batch_size=50,
            device="cpu",
            seed=1,
            measures_train=tw.msr("classif.ce"),
        )
    )
    assert "torch_callbacks.custom_logger.alpha" in learner.param_set.ids()
    learner.param_set.set_values(**{"torch_callbacks.custom_logger.alpha": 0.25})
    learner.train(tw.tsk("iris"))
    callbacks = learner.model["torch_model_classif"].model.callbacks
    assert set(callbacks) == {"custom_logger", "history"}
    assert callbacks["custom_logger"]["alpha"] == 0.25
    assert callbacks["custom_logger"]["moving_loss"] == pytest.approx(
        _ema(callbacks["custom_logger"]["losses"], 0.25)
    )
    assert callbacks["history"]["epoch"].tolist() == [1, 2]


def test_torch_callback_rejects_unknown_stages():
    with pytest.raises(
        InvalidParameterError, match=r"torch_callback: \['on_epoch_ned'\] are not callback stages"
    ):
        tw.torch_callback("typo", on_epoch_ned=lambda self: None)


def test_torch_callback_needs_state_dict_and_load_state_dict_together():
    with pytest.raises(InvalidParameterError, match=r"give both state_dict and load_state_dict"):
        tw.torch_callback("half", state_dict=lambda self: 1)


def test_torch_callback_weight_orders_it():
    log = []
    late = tw.torch_callback("late", weight=10, on_begin=lambda self: log.append("late"))
    early = tw.torch_callback("early", on_begin=lambda self: log.append("early"))
    assert late.generate().weight == 10
    iris_learner(callbacks=[late, early], epochs=0).train(tw.tsk("iris"))
    assert log == ["early", "late"]


# --- the history callback in a real run ----------------------------------------------------
def test_history_columns_in_a_real_run():
    seen = []

    def remember(self):
        seen.append((self.ctx.epoch, self.ctx.last_scores_train, self.ctx.last_scores_valid))

    learner = iris_learner(
        callbacks=["history", tw.torch_callback("scores", on_epoch_end=remember)],
        epochs=3,
        measures_train=[tw.msr("classif.acc"), tw.msr("classif.ce")],
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    learner.train(iris_with_valid())
    history = learner.model.callbacks["history"]
    assert list(history.columns) == [
        "epoch",
        "train.classif.acc",
        "train.classif.ce",
        "valid.classif.ce",
    ]
    assert history["epoch"].tolist() == [1, 2, 3]
    for row, (epoch, train, valid) in zip(history.itertuples(index=False), seen, strict=True):
        assert row[0] == epoch
        assert row[1:] == (train["classif.acc"], train["classif.ce"], valid["classif.ce"])


def test_history_with_train_measures_only():
    learner = iris_learner(
        callbacks=["history"],
        epochs=2,
        measures_train=tw.msr("classif.acc"),
        validate="predefined",
    )
    with pytest.warns(UserWarning, match="no measures_valid"):
        learner.train(iris_with_valid())
    history = learner.model.callbacks["history"]
    assert list(history.columns) == ["epoch", "train.classif.acc"]
    assert history["epoch"].tolist() == [1, 2]
    assert history["train.classif.acc"].between(0, 1).all()


# --- pickling callbacks built from functions --------------------------------------------------
def count_epochs(self):
    self.n += self.step


def counter_init(self, step=1):
    self.n, self.step = 0, step


def counter_state(self):
    return {"n": self.n}


def counter_load(self, state):
    self.n = state["n"]


def counter_callback():
    return tw.torch_callback(
        "counter",
        initialize=counter_init,
        on_epoch_end=count_epochs,
        state_dict=counter_state,
        load_state_dict=counter_load,
    )


def test_a_learner_with_a_function_callback_pickles_and_trains_again():
    learner = iris_learner(callbacks=[counter_callback()], epochs=3)
    learner.configure(**{"cb.counter.step": 2})
    learner.train(tw.tsk("iris"))
    restored = pickle.loads(pickle.dumps(learner))
    assert restored.model.callbacks == {"counter": {"n": 6}}
    assert restored.predict(tw.tsk("iris")).response.tolist() == (
        learner.predict(tw.tsk("iris")).response.tolist()
    )
    assert restored.param_set.values["cb.counter.step"] == 2
    restored.configure(epochs=1)
    restored.train(tw.tsk("iris"))
    assert restored.model.callbacks == {"counter": {"n": 2}}
    assert copy.deepcopy(counter_callback()).cls.__name__ == "CallbackSetCounter"


def test_a_function_callback_loads_in_another_process(tmp_path):
    learner = iris_learner(callbacks=[counter_callback()], epochs=2).train(tw.tsk("iris"))
    path = tmp_path / "learner.pkl"
    path.write_bytes(pickle.dumps(learner))
    code = (
        "import pickle, sys; import torchweave as tw; "
        f"l = pickle.loads(open({str(path)!r}, 'rb').read()); "
        "print(l.model.callbacks['counter']['n'], len(l.predict(tw.tsk('iris')).response))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "150"]
