"""The PipeOp conformance suite, run over every registered operator, and its own tests."""

import importlib
import pickle
import pkgutil
import random
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

import torchweave as tw
import torchweave.pipelines.ops
from torchweave import registry
from torchweave.data.task import Task
from torchweave.errors import TaskError
from torchweave.pipelines.pipeop import ANY, VARARG, Channel, PipeOp
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.testing import pipeops as pipeops_suite
from torchweave.testing.generate import generate_task
from torchweave.testing.pipeops import CONSTRUCTION, INPUTS, PIPEOP_CHECKS, check_pipeop


def _import_operator_modules() -> None:
    """Register every operator module, also those not (yet) listed in ops/__init__.py."""
    for module in pkgutil.iter_modules(torchweave.pipelines.ops.__path__):
        importlib.import_module(f"torchweave.pipelines.ops.{module.name}")


def _is_layer(key: str) -> bool:
    from torchweave.network import PipeOpTorch

    constructor = registry.pipeops.constructor(key)
    return isinstance(constructor, type) and issubclass(constructor, PipeOpTorch)


_import_operator_modules()
# The layer operators (PipeOpTorch) take ModelDescriptors of shapes that suit them at
# train time: check_pipeop_torch runs this suite on them (its check 'pipeop'), from
# tests/testing/test_conformance_pipeops_torch.py.
KEYS = [key for key in tw.registry.pipeops if not _is_layer(key)]

#: Registry key -> {check name: reason} for checks an operator is known to fail, in the
#: style of scikit-learn's ``expected_failed_checks``. An entry that starts passing makes
#: ``test_expected_failures_still_fail`` fail, so that it gets removed.
EXPECTED_FAILURES: dict[str, dict[str, str]] = {}


@pytest.mark.parametrize("key", KEYS)
def test_registered_pipeop_conforms(key):
    expected = EXPECTED_FAILURES.get(key, {})
    results = check_pipeop(key, skip=expected)
    assert set(results) == set(PIPEOP_CHECKS)
    for name, result in results.items():
        assert result == "passed" or result.startswith("skipped: "), (name, result)
        if name in expected:
            assert result == f"skipped: {expected[name]}"


def test_expected_failures_still_fail():
    for key, checks in EXPECTED_FAILURES.items():
        for check in checks:
            with pytest.raises(AssertionError, match=f"fails check '{check}'"):
                check_pipeop(key, checks=[check])


def test_expected_failures_and_constructions_name_real_keys_and_checks():
    for key, checks in EXPECTED_FAILURES.items():
        assert key in KEYS, key
        assert set(checks) <= set(PIPEOP_CHECKS), checks
        assert all(isinstance(r, str) and r for r in checks.values())
    assert {"learner", "sklearn", "colapply", "select", "copy"} <= set(CONSTRUCTION)
    assert set(INPUTS) <= set(KEYS)


def test_constructions_build_picklable_operators():
    built = {key: make() for key, make in CONSTRUCTION.items() if key in KEYS}
    assert built["learner"].learner.id == "classif.featureless"
    for key, op in built.items():
        constructor = registry.pipeops.constructor(key)
        if isinstance(constructor, type):
            assert isinstance(op, constructor), key
        else:  # a named constructor function: it builds this type
            assert type(op) is type(constructor()), key
        pickle.loads(pickle.dumps(op))
    if "sklearn" in built:
        assert isinstance(built["sklearn"].transformer, StandardScaler)
        assert built["sklearn"].param_set.values["affect_columns"] == tw.selector_type("numeric")
    if "colapply" in built:
        assert built["colapply"].param_set.values["applicator"] is pipeops_suite.identity
    if "copy" in built:
        assert len(built["copy"].output) == 2


# --- a working operator and broken variants --------------------------------------------------
class Shift(PipeOpTaskPreproc):
    """Adds the mean of the first numeric feature to the numeric features (a control)."""

    feature_types = ("numeric",)

    def __init__(self, id: str = "shift", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals=param_vals)

    def _train_df(self, df, task):
        self.state["shift"] = float(df.iloc[:, 0].mean()) if df.shape[1] else 0.0
        return self._predict_df(df, task)

    def _predict_df(self, df, task):
        return df + self.state["shift"]


class Plain(PipeOp):
    """A Task -> Task operator that returns a clone and remembers the row count."""

    def __init__(self, id: str = "plain", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(
            id,
            param_vals=param_vals,
            input=[Channel("input", Task, Task)],
            output=[Channel("output", Task, Task)],
        )

    def _train(self, inputs):
        self.state = {"nrow": inputs[0].nrow}
        return [inputs[0].clone()]

    def _predict(self, inputs):
        return [inputs[0].clone()]


class FiltersInput(Plain):
    def _train(self, inputs):
        inputs[0].filter(inputs[0].row_ids[:-1])
        return super()._train(inputs)


class DropsFeature(Plain):
    def _predict(self, inputs):
        task = inputs[0]
        task.select(task.feature_names[1:])
        return [task.clone()]


class OverwritesValues(Plain):
    def _train(self, inputs):
        task = inputs[0]
        first = task.feature_names[0]
        task.replace_features(pd.DataFrame({first: np.zeros(task.nrow)}))
        return super()._train(inputs)


class ChangesValidTask(Plain):
    def _train(self, inputs):
        valid = inputs[0].internal_valid_task
        if valid is not None:
            valid.filter(valid.row_ids[:1])
        return super()._train(inputs)


class Nondeterministic(Plain):
    calls: ClassVar[list[int]] = []

    def _train(self, inputs):
        out = super()._train(inputs)
        Nondeterministic.calls.append(1)
        self.state["calls"] = len(Nondeterministic.calls)
        return out


class PredictDiffers(Shift):
    def _predict_task(self, task):
        return super()._predict_task(task).filter(task.row_ids[1:])


class SharedState(Shift):
    """Keeps what it learned on the class, so copies share it."""

    learned: ClassVar[dict[str, float]] = {}

    def _train_df(self, df, task):
        SharedState.learned["shift"] = float(len(df))
        self.state["token"] = "trained"
        return self._predict_df(df, task)

    def _predict_df(self, df, task):
        return df + SharedState.learned["shift"]


def _not_picklable(x):
    return x


class Unpicklable(Plain):
    def _train(self, inputs):
        out = super()._train(inputs)
        self.state["fn"] = lambda x: x
        return out


class EmptyIndexError(Plain):
    def _train(self, inputs):
        inputs[0].data().iloc[0]
        return super()._train(inputs)


class AlwaysTrained(Plain):
    @property
    def is_trained(self):
        return True

    def _predict(self, inputs):
        return [inputs[0].clone().filter(inputs[0].row_ids[: self.state["nrow"]])]


class DuplicateChannels(Plain):
    def __init__(self, id: str = "dup", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)
        self.output = [Channel("output", Task, Task), Channel("output", Task, Task)]


class VarargOutput(Plain):
    def __init__(self, id: str = "vout", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)
        self.output = [Channel(VARARG, Task, Task)]


class StringType(Plain):
    def __init__(self, id: str = "stype", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)
        self.input = [Channel("input", "Task", "Task")]


class ChangesParams(Plain):
    def __init__(self, id: str = "params", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals)
        self.param_set.add("k", tw.p_int(1, 10, init=1, tags="train"))

    def _train(self, inputs):
        self.param_set.set_values(k=self.param_set.values["k"] + 1)
        return super()._train(inputs)


class ValueErrorOnMissings(Plain):
    def _train(self, inputs):
        if sum(inputs[0].missings().values()):
            raise ValueError("Input contains NaN")
        return super()._train(inputs)


class RefusesMissings(Plain):
    seen: ClassVar[list[int]] = []

    def _train(self, inputs):
        missing = sum(inputs[0].missings().values())
        RefusesMissings.seen.append(missing)
        if missing:
            raise TaskError(f"PipeOp '{self.id}' cannot handle missing values.")
        return super()._train(inputs)


class SubsamplesInTraining(Plain):
    """Trains on (and passes on) half the rows; predicts on all of them."""

    predict_like_train = False

    def _train(self, inputs):
        task = inputs[0].clone()
        self.state = {"nrow": task.nrow}
        return [task.filter(task.row_ids[: task.nrow // 2])]


class TakesIntegers(PipeOp):
    """Adds one to an integer."""

    def __init__(self, id: str = "ints", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(
            id, param_vals=param_vals,
            input=[Channel("input", int, int)], output=[Channel("output", int, int)],
        )  # fmt: skip

    def _train(self, inputs):
        self.state = {}
        return [inputs[0] + 1]

    def _predict(self, inputs):
        return [inputs[0] + 1]


class Merge(PipeOp):
    """A vararg operator: concatenates the feature lists of its input tasks."""

    def __init__(self, id: str = "merge", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(
            id, param_vals=param_vals,
            input=[Channel(VARARG, Task, Task)], output=[Channel("output", ANY, ANY)],
        )  # fmt: skip

    def _train(self, inputs):
        names = [f for task in inputs for f in task.feature_names]
        assert len(set(names)) == len(names)
        self.state = {"n": len(inputs)}
        return [names]

    def _predict(self, inputs):
        return [[f for task in inputs for f in task.feature_names]]


def test_a_working_operator_passes_every_check():
    op = Shift()
    results = check_pipeop(op)
    assert results == {
        **dict.fromkeys(PIPEOP_CHECKS, "passed"),
        "registry": "skipped: the operator's class is not in tw.registry.pipeops",
    }
    assert op.state is None  # the operator itself is untouched


@pytest.mark.parametrize(
    "broken, check",
    [
        (FiltersInput, "input_unchanged"),
        (DropsFeature, "input_unchanged"),
        (OverwritesValues, "input_unchanged"),
        (ChangesValidTask, "input_unchanged"),
        (Nondeterministic, "train_twice"),
        (PredictDiffers, "predict_like_train"),
        (SharedState, "clone_independence"),
        (Unpicklable, "pickle"),
        (EmptyIndexError, "empty_task"),
        (AlwaysTrained, "untrained_predict"),
        (DuplicateChannels, "channels"),
        (VarargOutput, "channels"),
        (StringType, "channels"),
        (ChangesParams, "train_predict"),
        (ValueErrorOnMissings, "train_predict"),
    ],
)
def test_broken_operators_are_rejected_naming_the_check(broken, check):
    op = broken()
    with pytest.raises(
        AssertionError, match=rf"PipeOp '{op.id}' \({broken.__name__}\) fails check '{check}'"
    ):
        check_pipeop(op)


def test_failure_messages_say_what_went_wrong():
    with pytest.raises(
        AssertionError,
        match=r"modified an input task: task 'generated_classif'\._row_ids: arrays of shape",
    ):
        check_pipeop(FiltersInput())
    with pytest.raises(AssertionError, match=r"\(with an internal_valid_task\) modified an input"):
        check_pipeop(ChangesValidTask())
    with pytest.raises(AssertionError, match=r"state\['calls'\]: \d+ != \d+"):
        check_pipeop(Nondeterministic())
    with pytest.raises(AssertionError, match=r"raised IndexError .* or raise a torchweave error"):
        check_pipeop(EmptyIndexError())
    with pytest.raises(AssertionError, match=r"output channel names must be unique; \['output'\]"):
        check_pipeop(DuplicateChannels())
    with pytest.raises(AssertionError, match=r"changed the parameter values: .*\['k'\]: 1 != 2"):
        check_pipeop(ChangesParams())
    with pytest.raises(AssertionError, match=r"train\(\) raised ValueError: Input contains NaN"):
        check_pipeop(ValueErrorOnMissings())
    with pytest.raises(AssertionError, match=r"a trained operator must pickle"):
        check_pipeop(Unpicklable())


def test_an_operator_refusing_missings_with_a_torchweave_error_gets_complete_data():
    RefusesMissings.seen.clear()
    results = check_pipeop(RefusesMissings())
    assert set(results.values()) <= {
        "passed",
        "skipped: the operator's class is not in tw.registry.pipeops",
    }
    assert RefusesMissings.seen[0] > 0  # first offered data with missing values
    assert set(RefusesMissings.seen[1:]) == {0}  # then only complete data


def test_operators_may_declare_that_predict_differs_from_train():
    results = check_pipeop(SubsamplesInTraining())
    assert results["predict_like_train"] == "skipped: the operator sets predict_like_train = False"
    assert results["input_unchanged"] == "passed"


def test_vararg_inputs_are_tasks_with_disjoint_features():
    results = check_pipeop(Merge())
    assert results["train_predict"] == "passed"
    train, predict = pipeops_suite._default_inputs(Merge(), 0)
    assert len(train) == 2 and train == predict
    first, second = train
    assert set(first.feature_names).isdisjoint(second.feature_names)
    np.testing.assert_array_equal(first.row_ids, second.row_ids)
    pd.testing.assert_series_equal(first.truth(), second.truth())


def test_default_task_has_every_feature_type_missings_and_shuffled_rows():
    train, predict = pipeops_suite._default_inputs(Shift(), 0)
    (task,) = train
    assert predict[0] is task
    assert sorted(set(task.feature_types.values())) == sorted(
        ["numeric", "integer", "factor", "ordered", "logical", "character"]
    )
    assert all(n > 0 for n in task.missings(task.feature_names).values())
    assert not np.array_equal(task.row_ids, np.sort(task.row_ids))


def test_channels_of_unknown_types_need_inputs(monkeypatch):
    with pytest.raises(
        AssertionError, match=r"fails check 'inputs': cannot make up inputs .* int; pass inputs="
    ):
        check_pipeop(TakesIntegers())
    assert check_pipeop(TakesIntegers(), inputs=[41])["train_twice"] == "passed"
    results = check_pipeop(TakesIntegers(), inputs=[41], predict_inputs=[1])
    assert results["predict_like_train"] == "skipped: train and predict take different inputs"
    assert results["empty_task"] == "skipped: the operator takes no task"
    monkeypatch.setitem(registry.pipeops._items, "ints", (TakesIntegers, "Adds one."))
    monkeypatch.setitem(INPUTS, "ints", lambda: [3])
    assert check_pipeop("ints")["registry"] == "passed"


class Misnamed(Plain):
    """Registered under another key than its id."""


def test_registry_check_needs_the_key_as_default_id(monkeypatch):
    monkeypatch.setitem(registry.pipeops._items, "misnamed", (Misnamed, "Misnamed."))
    with pytest.raises(
        AssertionError, match=r"fails check 'registry': .*id is 'plain', not the key 'misnamed'"
    ):
        check_pipeop("misnamed")
    # Given as an object, the operator is looked up by its class.
    with pytest.raises(AssertionError, match=r"fails check 'registry'"):
        check_pipeop(Misnamed())
    assert check_pipeop(Misnamed(), skip={"registry": "known"})["registry"] == "skipped: known"


def test_registry_check_needs_id_and_param_vals_arguments(monkeypatch):
    class NoParamVals(Plain):
        """Lacks the param_vals argument."""

        def __init__(self, id: str = "noparamvals") -> None:
            super().__init__(id)

    monkeypatch.setitem(registry.pipeops._items, "noparamvals", (NoParamVals, "x"))
    with pytest.raises(AssertionError, match=r"must take the argument\(s\) \['param_vals'\]"):
        check_pipeop("noparamvals")


def test_skip_and_checks_arguments():
    results = check_pipeop(Shift(), skip={"pickle": "slow"}, checks=["channels", "pickle"])
    assert results == {"channels": "passed", "pickle": "skipped: slow"}
    with pytest.raises(AssertionError, match=r"Unknown check\(s\) \['pickel'\]"):
        check_pipeop(Shift(), skip={"pickel": "typo"})
    with pytest.raises(AssertionError, match=r"needs a PipeOp or a key. Got int"):
        check_pipeop(3)


def test_broken_check_is_skippable():
    results = check_pipeop(Nondeterministic(), skip={"train_twice": "counts its calls"})
    assert results["train_twice"] == "skipped: counts its calls"


def test_random_states_are_restored():
    np.random.seed(5)
    random.seed(5)
    expected = (np.random.random(), random.random())
    np.random.seed(5)
    random.seed(5)
    check_pipeop(Shift(), checks=["train_twice"])
    assert (np.random.random(), random.random()) == expected


def test_explicit_inputs_are_used():
    task = tw.tsk("iris")
    assert set(check_pipeop(tw.po("scale"), inputs=[task]).values()) == {"passed"}
    assert task.data().equals(tw.tsk("iris").data())


# --- the comparison helper ----------------------------------------------------------------------
difference = pipeops_suite._difference


def test_difference_of_frames_arrays_and_floats():
    frame = pd.DataFrame({"a": [1.0, np.nan], "b": pd.Categorical(["x", None])})
    assert difference(frame, frame.copy()) is None
    other = frame.copy()
    other.loc[1, "a"] = 2.0
    assert "value" in difference(frame, other)
    assert difference(np.array([1.0, np.nan]), np.array([1.0 + 1e-12, np.nan])) is None
    assert difference(np.array([1, 2]), np.array([1, 3])) == "value: arrays differ"
    assert difference(np.array([1, 2]), np.array([1.0, 2.0])).startswith(
        "value: arrays of shape/dtype"
    )
    assert difference(float("nan"), float("nan")) is None
    assert difference(0.1, 0.1000001) == "value: 0.1 != 0.1000001"
    assert difference(pd.Categorical(["a"]), pd.Categorical(["b"])) is not None


def test_difference_recurses_and_names_the_path():
    a = {"center": {"x": 1.0, "y": [1, {"z": "q"}]}, "train_time": 1.0}
    b = {"center": {"x": 1.0, "y": [1, {"z": "r"}]}, "train_time": 9.0}
    assert difference(a, b, "state") == "state['center']['y'][1]['z']: 'q' != 'r'"
    assert difference({"a": 1}, {"b": 1}) == "value: keys ['a'] != ['b']"
    assert difference([1], (1,)) == "value: list != tuple"
    assert difference({1, 2}, {2, 1}) is None


def test_difference_of_objects_fitted_estimators_and_uncomparable_things():
    x = np.arange(6.0).reshape(3, 2)
    one, two = StandardScaler().fit(x), StandardScaler().fit(x)
    assert difference(one, two) is None
    assert "mean_" in difference(one, StandardScaler().fit(x + 1))
    assert difference(np.random.default_rng(1), np.random.default_rng(2)) is None
    task = generate_task()
    assert difference(task, task.clone()) is None
    assert "_row_ids" in difference(task, task.clone().filter(task.row_ids[:5]))
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    assert difference(cyclic, {"self": cyclic}) is None
    assert difference(len, len) is None and difference(len, abs) is not None
