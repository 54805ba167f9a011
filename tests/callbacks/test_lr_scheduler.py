"""Learning rate scheduler callbacks: ParamSets mirror torch, expected rates, steps and resume."""

import inspect
import math
import pickle
from types import SimpleNamespace

import pytest
import torch
from torch.optim import lr_scheduler

import torchweave as tw
from tests.callbacks.helpers import iris_learner, iris_with_valid
from torchweave.callbacks import (
    CallbackSetLRScheduler,
    CallbackSetLRSchedulerOneCycle,
    CallbackSetLRSchedulerReduceOnPlateau,
    as_lr_scheduler,
)
from torchweave.errors import InvalidParameterError, InvalidTypeError

LR0 = 0.1
TORCH = {
    "lr_step": lr_scheduler.StepLR,
    "lr_cosine_annealing": lr_scheduler.CosineAnnealingLR,
    "lr_lambda": lr_scheduler.LambdaLR,
    "lr_multiplicative": lr_scheduler.MultiplicativeLR,
    "lr_exponential": lr_scheduler.ExponentialLR,
    "lr_one_cycle": lr_scheduler.OneCycleLR,
    "lr_reduce_on_plateau": lr_scheduler.ReduceLROnPlateau,
}


def decay(epoch):
    return 0.95**epoch


def factor(epoch):
    return 0.95


def train(cb, epochs=10, task=None, **params):
    """Train on iris with SGD(lr=0.1); one batch per epoch unless batch_size is given."""
    learner = iris_learner(
        callbacks=[cb],
        optimizer=tw.t_opt("sgd", lr=LR0),
        epochs=epochs,
        **{"batch_size": 150, **params},
    )
    learner.train(task if task is not None else tw.tsk("iris"))
    return learner.model


def final_lr(model):
    return model.optimizer["param_groups"][0]["lr"]


# --- registry and parameters ----------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(TORCH))
def test_param_set_mirrors_the_torch_signature(key):
    cb = tw.t_clbk(key)
    sig = inspect.signature(TORCH[key])
    expected = [n for n in sig.parameters if n not in ("optimizer", "verbose")]
    assert cb.param_set.ids() == expected
    for name in expected:
        default = sig.parameters[name].default
        param = cb.param_set.params[name]
        assert "train" in param.tags
        if default is inspect.Parameter.empty:
            assert "required" in param.tags, name
        else:
            assert param.default == default, name
            assert "required" not in param.tags
    assert cb.id == key
    assert isinstance(cb, tw.TorchCallback)


def test_parameters_are_typed_and_checked():
    with pytest.raises(
        InvalidParameterError,
        match="The 'step_size' parameter of callback 'lr_step' must be an integer >= 1. Got 0",
    ):
        tw.t_clbk("lr_step", step_size=0)
    with pytest.raises(InvalidParameterError, match="'lr_lambda' parameter .* must be a function"):
        tw.t_clbk("lr_lambda", lr_lambda=0.9)
    with pytest.raises(InvalidParameterError, match="'mode' parameter .* Got 'up'"):
        tw.t_clbk("lr_reduce_on_plateau", mode="up")
    with pytest.raises(InvalidParameterError, match="'factor' parameter"):
        tw.t_clbk("lr_reduce_on_plateau", factor=1.0)
    with pytest.raises(InvalidParameterError, match="'max_lr' parameter .* positive number"):
        tw.t_clbk("lr_one_cycle", max_lr=[0.1, -1])
    tw.t_clbk("lr_lambda", lr_lambda=[decay, factor])  # one per param group is fine
    tw.t_clbk("lr_one_cycle", max_lr=[0.1, 0.2], base_momentum=0.8)


def test_a_missing_required_parameter_is_an_error_at_training():
    with pytest.raises(
        InvalidParameterError, match=r"needs the required parameter\(s\) 'cb.lr_step.step_size'"
    ):
        train(tw.t_clbk("lr_step"), epochs=1)


def test_parameters_appear_in_the_learner_and_steer_the_schedule():
    learner = iris_learner(
        callbacks=[tw.t_clbk("lr_step", step_size=2)],
        optimizer=tw.t_opt("sgd", lr=LR0),
        epochs=4,
        batch_size=150,
    )
    assert learner.param_set.values["cb.lr_step.step_size"] == 2
    learner.param_set.set_values({"cb.lr_step.gamma": 0.5})
    learner.train(tw.tsk("iris"))
    assert final_lr(learner.model) == pytest.approx(LR0 * 0.5**2)


# --- the expected rates (mlr3torch's tests) ------------------------------------------------
@pytest.mark.parametrize(
    ("cb", "expected"),
    [
        (tw.t_clbk("lr_cosine_annealing", T_max=2, eta_min=1e-4), 1e-4),
        (tw.t_clbk("lr_lambda", lr_lambda=decay), LR0 * 0.95**10),
        (tw.t_clbk("lr_multiplicative", lr_lambda=factor), LR0 * 0.95**10),
        (tw.t_clbk("lr_step", gamma=0.5, step_size=2), LR0 * 0.5**5),
        (tw.t_clbk("lr_exponential", gamma=0.9), LR0 * 0.9**10),
    ],
    ids=lambda x: getattr(x, "id", ""),
)
def test_ten_epochs_end_at_the_expected_rate(cb, expected):
    model = train(cb, epochs=10)
    assert final_lr(model) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    state = model.callbacks[cb.id]
    assert state["scheduler"]["last_epoch"] == 10
    assert state["param_groups"][0]["lr"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_stepping_per_batch_steps_once_per_batch():
    cb = as_lr_scheduler(lr_scheduler.StepLR, step_on_epoch=False)
    cb.param_set.set_values(step_size=1, gamma=0.5)
    model = train(cb, epochs=2, batch_size=50)  # 3 batches per epoch
    assert model.callbacks["step_lr"]["scheduler"]["last_epoch"] == 6
    assert final_lr(model) == pytest.approx(LR0 * 0.5**6)


def test_one_cycle_spans_the_run_and_ignores_total_steps():
    cb = tw.t_clbk("lr_one_cycle", max_lr=0.5, total_steps=1000, epochs=99)
    lrs = []
    rec = tw.torch_callback(
        "rec", on_batch_end=lambda self: lrs.append(self.ctx.optimizer.param_groups[0]["lr"])
    )
    learner = iris_learner(
        callbacks=[cb, rec], optimizer=tw.t_opt("sgd", lr=LR0, momentum=0.9), epochs=3
    )
    learner.train(tw.tsk("iris"))  # 3 epochs x 3 batches
    state = learner.model.callbacks["lr_one_cycle"]["scheduler"]
    assert state["total_steps"] == 9
    assert state["last_epoch"] == 9
    assert max(lrs) == pytest.approx(0.5, rel=0.05)
    assert lrs.index(max(lrs)) in (1, 2)  # rising for 30% of the steps
    # the last batch trains at the minimum rate (torch then steps once more, as after
    # every batch, to the end of the schedule)
    assert lrs[-2] == pytest.approx(0.5 / (25 * 1e4), rel=1e-6)
    assert min(lrs) == lrs[-2]
    assert isinstance(
        tw.t_clbk("lr_one_cycle", max_lr=1).generate(), CallbackSetLRSchedulerOneCycle
    )


def test_reduce_on_plateau_never_steps_without_validation():
    model = train(tw.t_clbk("lr_reduce_on_plateau", patience=0), epochs=4)
    assert model.callbacks["lr_reduce_on_plateau"]["scheduler"]["last_epoch"] == 0
    assert final_lr(model) == LR0


def test_reduce_on_plateau_steps_once_per_validated_epoch():
    model = train(
        tw.t_clbk("lr_reduce_on_plateau"),
        epochs=8,
        task=iris_with_valid(),
        eval_freq=4,
        measures_valid=tw.msr("classif.ce"),
        validate="predefined",
    )
    assert model.callbacks["lr_reduce_on_plateau"]["scheduler"]["last_epoch"] == 2


def drive(cb, optimizer, scores_per_epoch, start_epoch=0, batches=1, total_epochs=None):
    """Run the callback like the loop does, for the given validation scores per epoch.

    Returns the learning rate after each epoch.
    """
    cb.ctx = SimpleNamespace(
        optimizer=optimizer,
        epoch=start_epoch,
        total_epochs=total_epochs or start_epoch + len(scores_per_epoch),
        loader_train=[None] * batches,
        last_scores_valid=None,
    )
    cb.on_begin()
    lrs = []
    for scores in scores_per_epoch:
        cb.ctx.epoch += 1
        for _ in range(batches):
            optimizer.step()
            if callable(cb.on_batch_end):
                cb.on_batch_end()
        cb.ctx.last_scores_valid = scores
        if callable(cb.on_epoch_end):
            cb.on_epoch_end()
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


def sgd(lr=LR0, momentum=0.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr, momentum=momentum)


def test_reduce_on_plateau_cuts_the_rate_on_the_first_measure():
    cb = tw.t_clbk("lr_reduce_on_plateau", patience=0, factor=0.5).generate()
    scores = [
        {"classif.ce": 1.0, "classif.acc": 0.0},
        None,
        {},
        {"classif.ce": 1.0},
        {"classif.ce": 2.0},
    ]
    lrs = drive(cb, sgd(), scores)
    assert lrs == pytest.approx([LR0, LR0, LR0, LR0 / 2, LR0 / 4])
    assert cb.scheduler.last_epoch == 3  # epochs without scores do not step
    maximise = tw.t_clbk("lr_reduce_on_plateau", patience=0, factor=0.5, mode="max").generate()
    assert drive(maximise, sgd(), [{"m": 1.0}, {"m": 2.0}, {"m": 1.5}]) == pytest.approx(
        [LR0, LR0, LR0 / 2]
    )


# --- resuming -----------------------------------------------------------------------------
RESUMABLE = [
    ("lr_step", {"step_size": 3, "gamma": 0.5}, 1),
    ("lr_cosine_annealing", {"T_max": 3, "eta_min": 0.01}, 1),
    ("lr_lambda", {"lr_lambda": decay}, 1),
    ("lr_exponential", {"gamma": 0.8}, 1),
    ("lr_one_cycle", {"max_lr": 1.0}, 3),
    ("lr_reduce_on_plateau", {"patience": 0, "factor": 0.5}, 1),
]


@pytest.mark.parametrize(("key", "params", "batches"), RESUMABLE, ids=[r[0] for r in RESUMABLE])
@pytest.mark.parametrize("restore_optimizer", [True, False])
def test_a_resumed_schedule_continues_exactly(key, params, batches, restore_optimizer):
    scores = [{"classif.ce": 1.0 + (e % 3 == 0)} for e in range(10)]
    whole_opt = sgd(momentum=0.9)
    whole = tw.t_clbk(key, **params).generate()
    expected = drive(whole, whole_opt, scores, batches=batches)

    # the first run is planned for ten epochs (as with 'epochs' = 10) and stops after 4
    first_opt = sgd(momentum=0.9)
    first = tw.t_clbk(key, **params).generate()
    before = drive(first, first_opt, scores[:4], batches=batches, total_epochs=10)
    assert before == pytest.approx(expected[:4])
    state = first.state_dict()

    resumed_opt = sgd(momentum=0.9)
    if restore_optimizer:
        resumed_opt.load_state_dict(first_opt.state_dict())
    resumed = tw.t_clbk(key, **params).generate()
    resumed.load_state_dict(state)
    rest = drive(resumed, resumed_opt, scores[4:], start_epoch=4, batches=batches)
    assert rest == pytest.approx(expected[4:], rel=1e-12)
    assert resumed.scheduler.last_epoch == whole.scheduler.last_epoch
    assert resumed.state_dict() == whole.state_dict()


def test_one_cycle_refuses_a_state_of_another_length():
    first = tw.t_clbk("lr_one_cycle", max_lr=1.0).generate()
    drive(first, sgd(momentum=0.9), [None] * 2, batches=3)
    resumed = tw.t_clbk("lr_one_cycle", max_lr=1.0).generate()
    resumed.load_state_dict(first.state_dict())
    with pytest.raises(
        InvalidParameterError,
        match="one cycle learning rate schedule: it was made for 6 steps, but this run has 12",
    ):
        drive(resumed, sgd(momentum=0.9), [None] * 2, start_epoch=2, batches=3)


def test_states_are_plain_and_loading_checks_them():
    cb = tw.t_clbk("lr_lambda", lr_lambda=lambda e: 0.5).generate()
    drive(cb, sgd(), [None, None])
    state = cb.state_dict()
    assert state["scheduler"]["lr_lambdas"] == [None]  # the function is not kept
    assert state["param_groups"] == [{"lr": LR0 * 0.5, "initial_lr": LR0, "momentum": 0.0}]
    again = tw.t_clbk("lr_lambda", lr_lambda=decay).generate()
    assert again.state_dict() is None
    again.load_state_dict(state)
    assert again.state_dict() == state
    with pytest.raises(InvalidTypeError, match="must be a dict with the keys 'scheduler'"):
        again.load_state_dict([1])
    two_groups = torch.optim.SGD(
        [
            {"params": [torch.nn.Parameter(torch.zeros(1))]},
            {"params": [torch.nn.Parameter(torch.zeros(1))]},
        ],
        lr=LR0,
    )
    with pytest.raises(InvalidParameterError, match="saved for 1 optimizer param group"):
        drive(again, two_groups, [None])


def test_only_the_stepping_stage_is_implemented():
    per_epoch = tw.t_clbk("lr_step", step_size=1).generate()
    assert per_epoch.stages == ["on_begin", "on_epoch_end"]
    per_batch = as_lr_scheduler(lr_scheduler.StepLR, step_on_epoch=False)
    per_batch.param_set.set_values(step_size=1)
    assert per_batch.generate().stages == ["on_begin", "on_batch_end"]
    assert tw.t_clbk("lr_one_cycle", max_lr=1).generate().stages == ["on_begin", "on_batch_end"]


# --- as_lr_scheduler -----------------------------------------------------------------------
def make_step(optimizer, step_size=1):
    return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=0.5)


def test_as_lr_scheduler_wraps_any_scheduler():
    cb = as_lr_scheduler(lr_scheduler.CyclicLR, step_on_epoch=False)
    assert cb.id == "cyclic_lr"
    assert cb.param_set.ids()[:3] == ["base_lr", "max_lr", "step_size_up"]
    assert "optimizer" not in cb.param_set.ids()
    assert cb.param_set.params["base_lr"].tags == frozenset({"train", "required"})
    assert "Scheduler: CyclicLR (steps per batch)" in repr(cb)
    custom = as_lr_scheduler(make_step, id="halve")
    assert (custom.id, custom.param_set.ids()) == ("halve", ["step_size"])
    assert as_lr_scheduler(lambda optimizer: make_step(optimizer)).id == "lr_custom"
    model = train(custom, epochs=3)
    assert final_lr(model) == pytest.approx(LR0 * 0.5**3)
    with pytest.raises(InvalidTypeError, match="as_lr_scheduler needs a scheduler class. Got 3"):
        as_lr_scheduler(3)


def test_as_lr_scheduler_knows_plateau_and_one_cycle():
    plateau = as_lr_scheduler(lr_scheduler.ReduceLROnPlateau)
    assert isinstance(plateau.generate(), CallbackSetLRSchedulerReduceOnPlateau)
    cycle = as_lr_scheduler(lr_scheduler.OneCycleLR)
    cycle.param_set.set_values(max_lr=0.1)
    assert isinstance(cycle.generate(), CallbackSetLRSchedulerOneCycle)
    assert as_lr_scheduler(lr_scheduler.StepLR).cls is CallbackSetLRScheduler


def test_descriptors_pickle_and_clone():
    cb = tw.t_clbk("lr_lambda", lr_lambda=decay)
    back = pickle.loads(pickle.dumps(cb))
    assert back.param_set.values == {"lr_lambda": decay}
    assert back.scheduler_class is lr_scheduler.LambdaLR
    clone = cb.clone()
    clone.param_set.set_values(last_epoch=-1)
    assert "last_epoch" not in cb.param_set.values
    assert math.isclose(train(back, epochs=2).optimizer["param_groups"][0]["lr"], LR0 * 0.95**2)


@pytest.mark.parametrize(
    "cb",
    [
        tw.t_clbk("lr_step", step_size=3, gamma=0.5),
        tw.t_clbk("lr_reduce_on_plateau", patience=0, factor=0.5, mode="max"),
    ],
    ids=lambda cb: cb.id,
)
def test_a_learner_resumed_from_a_checkpoint_continues_the_schedule(tmp_path, cb):
    def run(epochs, path, **params):
        torch.manual_seed(0)  # the same initial network in each run
        learner = iris_learner(
            network=torch.nn.Linear(4, 3),
            callbacks=[cb, tw.t_clbk("checkpoint", path=str(path), freq=1)],
            optimizer=tw.t_opt("sgd", lr=LR0, momentum=0.9),
            epochs=epochs,
            measures_valid=tw.msr("classif.acc"),
            validate="predefined",
            **params,
        )
        learner.train(iris_with_valid())
        return learner.model

    run(3, tmp_path / "a")
    resumed = run(6, tmp_path / "a", resume=True)
    whole = run(6, tmp_path / "b")
    assert resumed.callbacks[cb.id] == whole.callbacks[cb.id]
    assert resumed.callbacks[cb.id]["scheduler"]["last_epoch"] == 6
    assert final_lr(resumed) == final_lr(whole) < LR0
