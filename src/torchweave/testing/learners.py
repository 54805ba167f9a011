"""``check_learner``: the conformance suite every learner must pass (mlr3's autotests).

The suite trains and predicts on generated tasks of each feature type the learner
supports and checks the bookkeeping around that: predict types, refusing an
untrained predict, unsupported feature types and missing values, clone
independence, a pickle round trip, determinism under ``np.random.seed``, and that
the task is never modified.

A learner declares checks it cannot pass, with a reason, in the class attribute
``_conformance_skips`` (check name -> reason), as scikit-learn's estimator tags do.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.prediction import Prediction, PredictionClassif, PredictionRegr
from torchweave.data.task import Task, TaskClassif
from torchweave.errors import NotTrainedError, TaskError
from torchweave.learners.learner import Learner
from torchweave.prebuilt._names import CONFORMANCE_KEYS
from torchweave.testing._checks import CheckFailedError as _CheckFailedError
from torchweave.testing._checks import refuse_unknown_checks, run_check
from torchweave.testing.generate import GENERATED_FEATURE_TYPES, generate_task
from torchweave.testing.params import check_param_set

__all__ = ["CONSTRUCTION", "LEARNER_CHECKS", "check_learner"]

_SEED = 20240607


@dataclass
class _Context:
    learner: Learner
    tasks: list[Task]
    check: str = ""

    def fail(self, message: str) -> _CheckFailedError:
        return _CheckFailedError(
            f"check_learner: learner '{self.learner.id}' fails check '{self.check}': {message}"
        )

    def fresh(self, rich: bool = False) -> Learner:
        """An untrained deep copy of the learner (``rich``: predicting ``prob`` if it can)."""
        learner = self.learner.clone().reset()
        if rich and "prob" in learner.predict_types:
            learner.predict_type = "prob"
        return learner

    @property
    def task(self) -> Task:
        return self.tasks[0]


def _supported_types(learner: Learner) -> list[str]:
    return [t for t in GENERATED_FEATURE_TYPES if t in learner.feature_types]


def _class_counts(learner: Learner) -> list[int]:
    if learner.task_type != "classif":
        return []
    declared = [k for k, p in ((2, "twoclass"), (3, "multiclass")) if p in learner.properties]
    return declared or [2, 3]


def _generated(
    ctx: _Context, feature_types: Sequence[str], n_classes: int | None = None, **kw: Any
) -> Task:
    counts = _class_counts(ctx.learner)
    classes = n_classes if n_classes is not None else (counts[0] if counts else 2)
    return generate_task(ctx.learner.task_type, feature_types, n_classes=classes, **kw)


def _seeded(fn: Callable[[], Any], seed: int = _SEED) -> Any:
    np.random.seed(seed)
    return fn()


def _expect_error(
    ctx: _Context, error: type[BaseException], fn: Callable[[], Any], what: str
) -> BaseException:
    try:
        fn()
    except error as exc:
        return exc
    except Exception as exc:
        raise ctx.fail(
            f"{what} raised {type(exc).__name__} ({exc}); expected {error.__name__}."
        ) from exc
    raise ctx.fail(f"{what} did not raise {error.__name__}.")


# --- how to build learners that need arguments --------------------------------------------------
def _torch_model(task_type: str) -> Learner:
    """A LearnerTorchModel on the numeric and integer features, with a tiny network.

    The network averages the features (``AdaptiveAvgPool1d`` over a ``(batch, features)``
    input), so it fits tasks with any number of them, and returns one output: a
    regression value, or the logit of the positive class (binary tasks only).
    """
    from torch import nn

    from torchweave.network.ingress_token import TorchIngressToken, batchgetter_num
    from torchweave.pipelines.selectors import selector_type
    from torchweave.training.learner_torch_model import LearnerTorchModel

    network = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Linear(1, 4), nn.ReLU(), nn.Linear(4, 1))
    token = TorchIngressToken(selector_type(["numeric", "integer"]), batchgetter_num, (None, None))
    learner = LearnerTorchModel(
        network, {"input": token}, task_type=task_type, feature_types=("numeric", "integer")
    )
    learner.properties.discard("multiclass")  # one output: binary classification only
    learner.param_set.set_values(epochs=2, batch_size=16, device="cpu", seed=1)
    return learner


def _classif_torch_model() -> Learner:
    return _torch_model("classif")


def _regr_torch_model() -> Learner:
    return _torch_model("regr")


#: Registry key -> a function building the learner to check, for learners whose default
#: construction cannot train (a LearnerTorchModel needs a network and ``epochs``). Other
#: keys are built with ``lrn(key)``.
CONSTRUCTION: dict[str, Callable[[], Learner]] = {
    "classif.torch_model": _classif_torch_model,
    "regr.torch_model": _regr_torch_model,
}


def _prebuilt(key: str) -> Learner:
    from torchweave.prebuilt.conformance import conformance_learner

    return conformance_learner(key)


CONSTRUCTION.update({key: functools.partial(_prebuilt, key) for key in CONFORMANCE_KEYS})


# --- checks of single predictions ------------------------------------------------------------
def _check_prediction(
    ctx: _Context,
    learner: Learner,
    task: Task,
    prediction: Prediction,
    row_ids: np.ndarray | None = None,
) -> None:
    expected_ids = task.row_ids if row_ids is None else np.asarray(row_ids)
    kind = PredictionClassif if learner.task_type == "classif" else PredictionRegr
    if not isinstance(prediction, kind):
        raise ctx.fail(f"predict returned {type(prediction).__name__}, not {kind.__name__}.")
    if not np.array_equal(prediction.row_ids, expected_ids):
        raise ctx.fail(
            f"the prediction has row ids {prediction.row_ids[:8].tolist()}..., expected "
            f"{expected_ids[:8].tolist()}... (the predicted rows, in order)."
        )
    if isinstance(prediction, PredictionRegr):
        response = np.asarray(prediction.response, dtype=np.float64)
        if response.shape != (len(expected_ids),) or not np.isfinite(response).all():
            raise ctx.fail("the regression response must hold one finite float per row.")
        return
    assert isinstance(prediction, PredictionClassif) and isinstance(task, TaskClassif)
    if prediction.class_names != task.class_names:
        raise ctx.fail(
            f"the prediction's classes {prediction.class_names} differ from the task's "
            f"{task.class_names}."
        )
    if pd.isna(np.asarray(prediction.response, dtype=object)).any():
        raise ctx.fail("the response holds missing values.")
    if learner.predict_type != "prob":
        return
    if prediction.prob is None:
        raise ctx.fail("predict_type is 'prob', but the prediction holds no probabilities.")
    prob = prediction.prob.to_numpy(dtype=np.float64)
    if list(prediction.prob.columns) != task.class_names:
        raise ctx.fail(f"prob columns {list(prediction.prob.columns)} != {task.class_names}.")
    if not np.isfinite(prob).all() or (prob < -1e-12).any() or (prob > 1 + 1e-12).any():
        raise ctx.fail("probabilities must be finite and in [0, 1].")
    sums = prob.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ctx.fail(f"probabilities must sum to 1 per row; row {worst} sums to {sums[worst]}.")
    codes = pd.Categorical(prediction.response, categories=task.class_names).codes
    chosen = prob[np.arange(len(codes)), codes]
    if not np.allclose(chosen, prob.max(axis=1)):
        raise ctx.fail("the response must be the class with the largest probability (argmax).")


def _assert_same(ctx: _Context, a: Prediction, b: Prediction, what: str) -> None:
    a_response: Any = getattr(a, "response", None)
    b_response: Any = getattr(b, "response", None)
    same_response = (
        np.allclose(a_response, b_response, equal_nan=True)
        if isinstance(a, PredictionRegr)
        else np.array_equal(np.asarray(a_response, dtype=object), np.asarray(b_response, object))
    )
    if not same_response:
        raise ctx.fail(f"{what}: the responses differ.")
    a_prob: Any = getattr(a, "prob", None)
    b_prob: Any = getattr(b, "prob", None)
    if (a_prob is None) != (b_prob is None):
        raise ctx.fail(f"{what}: only one of the predictions holds probabilities.")
    if a_prob is not None and not np.allclose(a_prob.to_numpy(), b_prob.to_numpy()):
        raise ctx.fail(f"{what}: the probabilities differ.")


def _snapshot(task: Task) -> tuple[pd.DataFrame, np.ndarray, dict[str, list[str]], bool]:
    return task.data(), task.row_ids, task.col_roles, task.internal_valid_task is None


def _assert_task_unchanged(
    ctx: _Context, task: Task, snapshot: tuple[pd.DataFrame, np.ndarray, dict[str, list[str]], bool]
) -> None:
    data, ids, roles, no_valid = snapshot
    try:
        pd.testing.assert_frame_equal(task.data(), data)
    except AssertionError as exc:
        raise ctx.fail(f"train/predict changed the task's data: {exc}") from exc
    if not np.array_equal(task.row_ids, ids) or task.col_roles != roles:
        raise ctx.fail("train/predict changed the task's rows or column roles.")
    if no_valid and task.internal_valid_task is not None:
        raise ctx.fail("train/predict set the task's internal_valid_task.")


def _train_predict(ctx: _Context, learner: Learner, task: Task) -> Prediction:
    snapshot = _snapshot(task)
    returned = learner.train(task)
    if returned is not learner:
        raise ctx.fail("train() must return the learner itself.")
    if not learner.is_trained or learner.state is None:
        raise ctx.fail("after train() the learner is not trained.")
    if learner.state.feature_names != task.feature_names:
        raise ctx.fail(
            f"state.feature_names is {learner.state.feature_names}, expected {task.feature_names}."
        )
    prediction = learner.predict(task)
    _check_prediction(ctx, learner, task, prediction)
    _assert_task_unchanged(ctx, task, snapshot)
    return prediction


# --- the checks --------------------------------------------------------------------------------
def _check_param_set(ctx: _Context) -> None:
    try:
        check_param_set(ctx.fresh().param_set)
    except AssertionError as exc:
        raise ctx.fail(str(exc)) from exc


def _check_untrained_predict(ctx: _Context) -> None:
    learner = ctx.fresh()
    if learner.is_trained or learner.model is not None:
        raise ctx.fail("a reset learner still reports a model.")
    task = ctx.task
    exc = _expect_error(ctx, NotTrainedError, lambda: learner.predict(task), "predict() untrained")
    if learner.id not in str(exc):
        raise ctx.fail(f"the NotTrainedError must name the learner. Got: {exc}")
    newdata = task.data(cols=task.feature_names)
    _expect_error(
        ctx,
        NotTrainedError,
        lambda: learner.predict_newdata(newdata),
        "predict_newdata() untrained",
    )


def _check_train_predict(ctx: _Context) -> None:
    for task in ctx.tasks:
        _train_predict(ctx, ctx.fresh(), task)


def _check_feature_types(ctx: _Context) -> None:
    for ftype in _supported_types(ctx.learner):
        task = _generated(ctx, [ftype])
        try:
            _train_predict(ctx, ctx.fresh(rich=True), task)
        except AssertionError:
            raise
        except Exception as exc:
            exc.add_note(f"(on a generated task with one '{ftype}' feature)")
            raise


def _check_predict_types(ctx: _Context) -> None:
    for predict_type in ctx.learner.predict_types:
        for task in ctx.tasks:
            learner = ctx.fresh()
            learner.predict_type = predict_type
            _train_predict(ctx, learner, task)


def _check_classes(ctx: _Context) -> None:
    types = _supported_types(ctx.learner)
    if ctx.learner.task_type != "classif" or not types:
        return
    supported = _class_counts(ctx.learner)
    for n_classes in (2, 3):
        task = _generated(ctx, types, n_classes=n_classes)
        learner = ctx.fresh(rich=True)
        if n_classes in supported:
            _train_predict(ctx, learner, task)
        else:
            _expect_error(
                ctx,
                TaskError,
                functools.partial(learner.train, task),
                f"train() on a task with {n_classes} classes",
            )


def _check_task_type(ctx: _Context) -> None:
    other = "regr" if ctx.learner.task_type == "classif" else "classif"
    task = generate_task(other, ["numeric"])
    learner = ctx.fresh()
    _expect_error(ctx, TaskError, lambda: learner.train(task), f"train() on a {other} task")


def _check_row_ids(ctx: _Context) -> None:
    task = ctx.task
    ids = task.row_ids
    cut = (2 * len(ids)) // 3
    train_ids, test_ids = ids[:cut], ids[cut:][::-1]
    learner = ctx.fresh(rich=True).train(task, row_ids=train_ids)
    prediction = learner.predict(task, row_ids=test_ids)
    _check_prediction(ctx, learner, task, prediction, row_ids=test_ids)


def _check_predict_newdata(ctx: _Context) -> None:
    task = ctx.task
    learner = ctx.fresh(rich=True).train(task)
    by_task = _seeded(lambda: learner.predict(task))
    newdata = task.data(cols=task.feature_names)
    by_data = _seeded(lambda: learner.predict_newdata(newdata))
    _assert_same(ctx, by_task, by_data, "predict_newdata(features) vs predict(task)")
    if len(by_data) != task.nrow:
        raise ctx.fail(f"predict_newdata returned {len(by_data)} rows for {task.nrow}.")
    with_target = _seeded(lambda: learner.predict_newdata(task.data()))
    truth = np.asarray(with_target.truth, dtype=object if task.task_type == "classif" else float)
    if not np.array_equal(truth, np.asarray(task.truth(), dtype=truth.dtype)):
        raise ctx.fail("predict_newdata with the target column must keep the truth.")


def _check_task_unchanged(ctx: _Context) -> None:
    task = ctx.task
    snapshot = _snapshot(task)
    ids = task.row_ids
    learner = ctx.fresh(rich=True).train(task, row_ids=ids[: len(ids) // 2 + 2])
    learner.predict(task)
    learner.predict(task, row_ids=ids[:3])
    learner.predict_newdata(task.data())
    _assert_task_unchanged(ctx, task, snapshot)


def _check_clone_independence(ctx: _Context) -> None:
    task = ctx.task
    learner = ctx.fresh(rich=True).train(task)
    model = learner.model
    before = _seeded(lambda: learner.predict(task))
    clone = learner.clone()
    if clone is learner or clone.param_set is learner.param_set or clone.state is learner.state:
        raise ctx.fail("clone() shares the learner, its param_set or its state.")
    other = task.clone().filter(task.row_ids[: task.nrow // 2 + 4])
    clone.reset()
    clone.train(other)
    if learner.model is not model:
        raise ctx.fail("training a clone replaced the original's model.")
    after = _seeded(lambda: learner.predict(task))
    _assert_same(ctx, before, after, "the original's predictions after training its clone")
    trained_clone = learner.clone()
    clone_before = _seeded(lambda: trained_clone.predict(task))
    learner.reset().train(other)
    clone_after = _seeded(lambda: trained_clone.predict(task))
    _assert_same(
        ctx, clone_before, clone_after, "a clone's predictions after retraining the original"
    )


def _check_pickle(ctx: _Context) -> None:
    task = ctx.task
    learner = ctx.fresh(rich=True).train(task)
    try:
        restored = pickle.loads(pickle.dumps(learner))
    except Exception as exc:
        raise ctx.fail(f"a trained learner must pickle: {type(exc).__name__}: {exc}") from exc
    if restored.id != learner.id or restored.predict_type != learner.predict_type:
        raise ctx.fail("the unpickled learner has another id or predict_type.")
    if sorted(restored.param_set.values) != sorted(learner.param_set.values):
        raise ctx.fail("the unpickled learner has other parameter values.")
    original = _seeded(lambda: learner.predict(task))
    again = _seeded(lambda: restored.predict(task))
    _assert_same(ctx, original, again, "the unpickled learner's predictions")


def _check_determinism(ctx: _Context) -> None:
    task = ctx.task
    first = _seeded(lambda: ctx.fresh(rich=True).train(task).predict(task))
    second = _seeded(lambda: ctx.fresh(rich=True).train(task).predict(task))
    _assert_same(ctx, first, second, "two trainings after the same np.random.seed")


def _check_missings(ctx: _Context) -> None:
    types = _supported_types(ctx.learner)
    if not types:
        return
    task = _generated(ctx, types, missings=True)
    learner = ctx.fresh(rich=True)
    if "missings" in ctx.learner.properties:
        _train_predict(ctx, learner, task)
        return
    exc = _expect_error(ctx, TaskError, lambda: learner.train(task), "train() with missing values")
    if "missing" not in str(exc):
        raise ctx.fail(f"the TaskError for missing values must say so. Got: {exc}")
    if learner.is_trained:
        raise ctx.fail("a refused training left the learner trained.")


def _check_unsupported_feature_types(ctx: _Context) -> None:
    supported = _supported_types(ctx.learner)
    for ftype in GENERATED_FEATURE_TYPES:
        if ftype in supported:
            continue
        task = _generated(ctx, [ftype])
        learner = ctx.fresh()
        exc = _expect_error(
            ctx,
            TaskError,
            functools.partial(learner.train, task),
            f"train() with a '{ftype}' feature",
        )
        if ftype not in str(exc):
            raise ctx.fail(f"the TaskError for '{ftype}' features must name the type. Got: {exc}")


def _check_reset(ctx: _Context) -> None:
    learner = ctx.fresh().train(ctx.task)
    if learner.reset() is not learner or learner.is_trained or learner.model is not None:
        raise ctx.fail("reset() must return the learner and forget the model.")


#: The checks of :func:`check_learner`, by name (the keys of ``_conformance_skips``).
LEARNER_CHECKS: dict[str, Callable[[_Context], None]] = {
    "param_set": _check_param_set,
    "untrained_predict": _check_untrained_predict,
    "train_predict": _check_train_predict,
    "feature_types": _check_feature_types,
    "predict_types": _check_predict_types,
    "classes": _check_classes,
    "task_type": _check_task_type,
    "row_ids": _check_row_ids,
    "predict_newdata": _check_predict_newdata,
    "task_unchanged": _check_task_unchanged,
    "clone_independence": _check_clone_independence,
    "pickle": _check_pickle,
    "determinism": _check_determinism,
    "missings": _check_missings,
    "unsupported_feature_types": _check_unsupported_feature_types,
    "reset": _check_reset,
}


def check_learner(
    learner: Learner,
    tasks: Iterable[Task] | None = None,
    skip: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Run the learner conformance suite.

    The learner itself is left untouched: every check works on ``learner.clone()``.
    numpy's global random state is restored afterwards.

    Parameters
    ----------
    learner : Learner
        The learner to check.
    tasks : iterable of Task, optional
        More tasks to train and predict on (for instance tasks with feature types
        that :func:`~torchweave.testing.generate_task` cannot make). Without any
        generated feature type supported, the checks run on these alone.
    skip : mapping of str to str, optional
        Checks to skip, with the reason, on top of the learner's own
        ``_conformance_skips``. Names are the keys of :data:`LEARNER_CHECKS`.

    Returns
    -------
    dict of str to str
        For each check ``"passed"`` or ``"skipped: <reason>"``.

    Raises
    ------
    AssertionError
        On the first failed check, naming the learner and the check.

    Examples
    --------
    >>> import torchweave as tw
    >>> from torchweave.testing.learners import check_learner
    >>> results = check_learner(tw.lrn("classif.featureless"))
    >>> set(results.values())
    {'passed'}
    """
    if not isinstance(learner, Learner):
        raise AssertionError(f"check_learner needs a Learner. Got {type(learner).__name__}.")
    skips = {**getattr(learner, "_conformance_skips", {}), **(skip or {})}
    refuse_unknown_checks(skips, LEARNER_CHECKS, f"in the skips of learner '{learner.id}'")
    # A learner whose feature types the generator cannot make (lazy tensors) names its
    # own tasks in ``_conformance_tasks`` (a callable returning a list of tasks).
    extra = list(tasks or []) + list(getattr(learner, "_conformance_tasks", list)())
    generated: list[Task] = []
    supported = _supported_types(learner)
    if supported:
        counts = _class_counts(learner)
        generated.append(
            generate_task(learner.task_type, supported, n_classes=counts[0] if counts else 2)
        )
    all_tasks = generated + extra
    if not all_tasks:
        raise AssertionError(
            f"Learner '{learner.id}' supports none of the generated feature types "
            f"{list(GENERATED_FEATURE_TYPES)}; pass tasks= to check it."
        )
    ctx = _Context(learner=learner, tasks=all_tasks)
    results: dict[str, str] = {}
    rng_state = np.random.get_state()
    try:
        for name, check in LEARNER_CHECKS.items():
            if name in skips:
                results[name] = f"skipped: {skips[name]}"
                continue
            run_check(ctx, name, check, f"check_learner for learner '{learner.id}'")
            results[name] = "passed"
    finally:
        np.random.set_state(rng_state)
    return results
