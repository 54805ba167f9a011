import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import torchweave as tw
from torchweave.errors import InvalidParameterError
from torchweave.testing.generate import GENERATED_FEATURE_TYPES, generate_task

DTYPES = {
    "numeric": "float64",
    "integer": "int64",
    "logical": "bool",
}


def test_one_column_per_type_with_expected_dtypes():
    task = generate_task("classif", GENERATED_FEATURE_TYPES, n=40, n_classes=3)
    assert isinstance(task, tw.TaskClassif)
    assert task.feature_types == {f"x_{t}": t for t in GENERATED_FEATURE_TYPES}
    data = task.data()
    for ftype, dtype in DTYPES.items():
        assert data[f"x_{ftype}"].dtype == dtype
    assert isinstance(data["x_factor"].dtype, pd.CategoricalDtype)
    assert data["x_ordered"].dtype.ordered
    assert task.class_names == ["c1", "c2", "c3"]
    assert task.truth().value_counts().sort_index().tolist() == [14, 13, 13]
    assert task.id == "generated_classif"


def test_repeated_types_get_suffixes():
    task = generate_task("regr", ["numeric", "numeric", "numeric"])
    assert task.feature_names == ["x_numeric", "x_numeric_2", "x_numeric_3"]


def test_same_seed_same_task_other_seed_other_task():
    a = generate_task("regr", ["numeric", "factor"], seed=3).data()
    b = generate_task("regr", ["numeric", "factor"], seed=3).data()
    c = generate_task("regr", ["numeric", "factor"], seed=4).data()
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_missings_use_nullable_dtypes():
    task = generate_task("classif", GENERATED_FEATURE_TYPES, n=50, missings=True)
    missings = task.missings()
    assert missings.pop("y") == 0
    assert set(missings.values()) == {5}
    data = task.data()
    assert data["x_integer"].dtype == "Int64"
    assert data["x_logical"].dtype == "boolean"
    assert task.feature_types["x_integer"] == "integer"
    assert task.feature_types["x_logical"] == "logical"


@pytest.mark.parametrize("ftype", ["numeric", "integer", "factor", "logical"])
def test_target_depends_on_features(ftype):
    task = generate_task("regr", [ftype], n=200)
    data = task.data()
    x = data[f"x_{ftype}"]
    x = x.cat.codes if isinstance(x.dtype, pd.CategoricalDtype) else x.astype(float)
    assert np.corrcoef(x.to_numpy(dtype=float), data["y"].to_numpy())[0, 1] > 0.5


def test_classif_signal_is_learnable():
    task = generate_task("classif", ["numeric", "integer"], n=200)
    learner = tw.lrn("classif.log_reg").train(task)
    assert learner.predict(task).score("classif.acc")["classif.acc"] > 0.8


@settings(max_examples=25, deadline=None)
@given(
    types=st.lists(st.sampled_from(GENERATED_FEATURE_TYPES), min_size=1, max_size=4),
    n_classes=st.integers(2, 5),
    missings=st.booleans(),
)
def test_any_combination_makes_a_valid_task(types, n_classes, missings):
    task = generate_task("classif", types, n=30, n_classes=n_classes, missings=missings)
    assert sorted(task.feature_types.values()) == sorted(types)
    assert len(task.class_names) == n_classes
    assert task.truth().value_counts().min() >= 30 // n_classes
    assert (sum(task.missings(task.feature_names).values()) > 0) == missings


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"feature_types": ["numeric", "image"]}, "must hold feature types among .* Got 'image'"),
        ({"task_type": "surv"}, r"'task_type' parameter of generate_task must be one of"),
        ({"n": 3}, "'n' parameter of generate_task must be an integer >= 2 \\* n_classes. Got 3"),
        ({"n_classes": 1}, "'n_classes' parameter of generate_task must be an integer >= 2. Got 1"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        generate_task(**kwargs)
