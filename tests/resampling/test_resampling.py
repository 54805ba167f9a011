"""Resampling strategies: split sizes, coverage, stratification, groups, reproducibility."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import torchweave as tw
from torchweave.resampling import (
    Resampling,
    ResamplingBootstrap,
    ResamplingCustom,
    ResamplingCV,
    ResamplingHoldout,
    ResamplingInsample,
    ResamplingRepeatedCV,
    ResamplingSubsampling,
)

KEYS = ["holdout", "cv", "repeated_cv", "bootstrap", "subsampling", "insample", "custom"]


def make_task(
    n: int = 30, classes: dict[str, int] | None = None, id: str = "toy"
) -> tw.TaskClassif:
    if classes is None:
        y = ["a", "b"] * (n // 2) + ["a"] * (n % 2)
    else:
        y = [c for c, k in classes.items() for _ in range(k)]
        n = len(y)
    df = pd.DataFrame({"x": np.arange(n, dtype=float), "y": y})
    return tw.TaskClassif(df, "y", id=id)


def grouped_task(sizes: list[int]) -> tw.TaskClassif:
    groups = [f"g{i}" for i, k in enumerate(sizes) for _ in range(k)]
    n = len(groups)
    df = pd.DataFrame({"x": np.arange(n, dtype=float), "g": groups, "y": (["a", "b"] * n)[:n]})
    return tw.TaskClassif(df, "y", id="grouped").set_col_roles("g", "group")


def all_splits(r: Resampling) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(r.train_set(i), r.test_set(i)) for i in range(r.iters)]


# --- construction and registry ------------------------------------------------------
def test_registry_keys_equal_ids():
    for key in KEYS:
        assert key in tw.registry.resamplings
        assert tw.rsmp(key).id == key


@pytest.mark.parametrize(
    ("key", "cls", "params"),
    [
        ("holdout", ResamplingHoldout, {"ratio": 0.8}),
        ("cv", ResamplingCV, {"folds": 3}),
        ("repeated_cv", ResamplingRepeatedCV, {"folds": 3, "repeats": 2}),
        ("bootstrap", ResamplingBootstrap, {"repeats": 5, "ratio": 0.5}),
        ("subsampling", ResamplingSubsampling, {"repeats": 4, "ratio": 0.5}),
        ("insample", ResamplingInsample, {}),
        ("custom", ResamplingCustom, {}),
    ],
)
def test_rsmp_equals_constructor(key, cls, params):
    via_sugar = tw.rsmp(key, **params)
    direct = cls(**params)
    assert type(via_sugar) is cls
    assert via_sugar.param_set.values == direct.param_set.values
    for pid, value in params.items():
        assert via_sugar.param_set.values[pid] == value
    assert not via_sugar.is_instantiated


def test_default_parameters_and_iters():
    assert tw.rsmp("holdout").param_set.values == {"ratio": pytest.approx(2 / 3)}
    assert tw.rsmp("cv").iters == 10
    assert tw.rsmp("repeated_cv").iters == 100
    assert tw.rsmp("repeated_cv", folds=4, repeats=3).iters == 12
    assert tw.rsmp("bootstrap").iters == 30
    assert tw.rsmp("bootstrap").param_set.values["ratio"] == 1.0
    assert tw.rsmp("subsampling").iters == 30
    assert tw.rsmp("insample").iters == 1


def test_param_errors_name_parameter_resampling_and_value():
    with pytest.raises(
        tw.InvalidParameterError,
        match=r"The 'folds' parameter of resampling 'cv' must be an integer >= 2\. Got 1 instead\.",
    ):
        tw.rsmp("cv", folds=1)
    with pytest.raises(
        tw.InvalidParameterError,
        match=r"The 'ratio' parameter of resampling 'holdout' must be a float in \(0, 1\)\. "
        r"Got 1\.0 instead\.",
    ):
        tw.rsmp("holdout", ratio=1.0)
    with pytest.raises(
        tw.InvalidParameterError, match="'repeats' parameter of resampling 'bootstrap'"
    ):
        tw.rsmp("bootstrap", repeats=0)
    with pytest.raises(TypeError, match="fold"):
        tw.rsmp("cv", fold=3)
    cv = tw.rsmp("cv")
    with pytest.raises(tw.InvalidParameterError, match="Did you mean 'folds'\\?"):
        cv.param_set.set_values(fold=3)


@pytest.mark.parametrize("bad", ["1", -1, 2**32, 1.5, True])
def test_random_state_is_validated(bad):
    with pytest.raises(
        tw.InvalidParameterError,
        match=r"The 'random_state' of resampling 'cv' must be None or an integer in "
        r"\[0, 2\*\*32 - 1\]\. Got .* instead\.",
    ):
        tw.rsmp("cv", random_state=bad)


def test_access_before_instantiation_raises():
    cv = tw.rsmp("cv", folds=3)
    with pytest.raises(
        tw.NotTrainedError,
        match=r"^Resampling 'cv' is not instantiated; call instantiate\(task\) first\.$",
    ):
        cv.train_set(0)
    with pytest.raises(tw.NotTrainedError, match="Resampling 'cv' is not instantiated"):
        cv.test_set(0)


@pytest.mark.parametrize("bad", [3, -1, 1.0, "0"])
def test_out_of_range_iteration_names_valid_range(bad):
    cv = tw.rsmp("cv", folds=3).instantiate(make_task())
    with pytest.raises(
        tw.InvalidParameterError,
        match=r"The iteration of resampling 'cv' must be an integer in \[0, 2\]\. Got .* instead\.",
    ):
        cv.train_set(bad)


def test_instantiate_needs_a_task():
    with pytest.raises(tw.InvalidTypeError, match="Resampling 'cv' can only instantiate a Task"):
        tw.rsmp("cv").instantiate(pd.DataFrame({"x": [1]}))


def test_instantiate_rejects_a_task_without_rows():
    task = make_task(10).filter(np.array([], dtype=np.int64))
    with pytest.raises(
        tw.TaskError, match="Resampling 'holdout' cannot split task 'toy': it has no rows"
    ):
        tw.rsmp("holdout").instantiate(task)


def test_repr_before_and_after_instantiation():
    cv = tw.rsmp("cv", folds=3)
    assert "<ResamplingCV:cv> with 3 iterations" in repr(cv)
    assert "folds=3" in repr(cv)
    assert "Instantiated: no" in repr(cv)
    cv.instantiate(make_task(12))
    assert "Instantiated: on task 'toy' (12 rows)" in repr(cv)
    assert "with 1 iteration:" in repr(tw.rsmp("holdout"))
    assert "Instantiated: no" in repr(tw.rsmp("custom"))


# --- split invariants ---------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 60), data=st.data())
def test_cv_tests_cover_each_row_exactly_once(n, data):
    folds = data.draw(st.integers(2, min(n, 10)))
    task = make_task(n)
    cv = tw.rsmp("cv", folds=folds, random_state=0).instantiate(task)
    assert cv.iters == folds
    tests = np.concatenate([cv.test_set(i) for i in range(folds)])
    assert sorted(tests.tolist()) == task.row_ids.tolist()
    sizes = [len(cv.test_set(i)) for i in range(folds)]
    assert max(sizes) - min(sizes) <= 1
    for train, test in all_splits(cv):
        assert set(train).isdisjoint(test)
        assert sorted([*train, *test]) == task.row_ids.tolist()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 60), ratio=st.floats(0.05, 0.95))
def test_holdout_sizes_follow_ratio(n, ratio):
    task = make_task(n)
    n_train = round(ratio * n)
    holdout = tw.rsmp("holdout", ratio=ratio, random_state=1)
    if n_train < 1 or n_train >= n:
        with pytest.raises(tw.TaskError, match="into a non-empty train and test set"):
            holdout.instantiate(task)
        return
    holdout.instantiate(task)
    train, test = holdout.train_set(0), holdout.test_set(0)
    assert len(train) == n_train
    assert len(test) == n - n_train
    assert set(train).isdisjoint(test)
    assert sorted([*train, *test]) == list(range(n))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(5, 60), ratio=st.floats(0.2, 2.0), repeats=st.integers(1, 5))
def test_bootstrap_draws_with_replacement_and_tests_out_of_bag(n, ratio, repeats):
    task = make_task(n)
    boot = tw.rsmp("bootstrap", repeats=repeats, ratio=ratio, random_state=2).instantiate(task)
    assert boot.iters == repeats
    for train, test in all_splits(boot):
        assert len(train) == round(ratio * n)
        assert set(train) <= set(range(n))
        assert sorted(test.tolist()) == sorted(set(range(n)) - set(train.tolist()))


def test_bootstrap_train_sets_repeat_rows():
    boot = tw.rsmp("bootstrap", repeats=3, random_state=3).instantiate(make_task(100))
    for train, test in all_splits(boot):
        assert len(train) == 100
        assert len(set(train)) < 100
        assert len(test) == 100 - len(set(train))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 60), ratio=st.floats(0.2, 0.8), repeats=st.integers(1, 5))
def test_subsampling_sizes_and_disjointness(n, ratio, repeats):
    task = make_task(n)
    sub = tw.rsmp("subsampling", repeats=repeats, ratio=ratio, random_state=4).instantiate(task)
    assert sub.iters == repeats
    for train, test in all_splits(sub):
        assert len(train) == round(ratio * n)
        assert len(set(train)) == len(train)
        assert set(train).isdisjoint(test)
        assert sorted([*train, *test]) == list(range(n))


def test_subsampling_repeats_differ():
    sub = tw.rsmp("subsampling", repeats=3, random_state=5).instantiate(make_task(40))
    firsts = {tuple(sorted(sub.train_set(i))) for i in range(3)}
    assert len(firsts) == 3


def test_repeated_cv_each_repeat_is_a_full_cv():
    task = make_task(20)
    rcv = tw.rsmp("repeated_cv", folds=4, repeats=3, random_state=6).instantiate(task)
    assert rcv.iters == 12
    partitions = []
    for rep in range(3):
        tests = [rcv.test_set(rep * 4 + f) for f in range(4)]
        assert sorted(np.concatenate(tests).tolist()) == list(range(20))
        partitions.append(frozenset(frozenset(t.tolist()) for t in tests))
    assert len(set(partitions)) == 3


def test_insample_trains_and_tests_on_everything():
    task = make_task(9).filter([1, 3, 5, 7])
    ins = tw.rsmp("insample").instantiate(task)
    assert ins.iters == 1
    assert ins.train_set(0).tolist() == [1, 3, 5, 7]
    assert ins.test_set(0).tolist() == [1, 3, 5, 7]


@pytest.mark.parametrize("key", ["holdout", "cv", "bootstrap", "subsampling", "repeated_cv"])
def test_splits_are_row_ids_not_positions(key):
    task = make_task(60).filter(np.arange(10, 60))
    r = tw.rsmp(key, random_state=7, **({"folds": 5} if "cv" in key else {})).instantiate(task)
    used = np.concatenate([np.concatenate(pair) for pair in all_splits(r)])
    assert used.min() >= 10
    assert set(used) <= set(range(10, 60))


def test_train_set_returns_a_copy():
    cv = tw.rsmp("cv", folds=3, random_state=0).instantiate(make_task(9))
    before = cv.train_set(0).copy()
    cv.train_set(0)[:] = -1
    assert cv.train_set(0).tolist() == before.tolist()


# --- too few rows -------------------------------------------------------------------
def test_cv_with_more_folds_than_rows_is_a_task_error():
    with pytest.raises(
        tw.TaskError,
        match=r"Resampling 'cv' with folds=5 needs at least 5 rows, but task 'toy' has 3\. "
        r"Use at most 3 folds\.",
    ):
        tw.rsmp("cv", folds=5).instantiate(make_task(3))
    with pytest.raises(
        tw.TaskError, match="Resampling 'repeated_cv' with folds=10 needs at least 10"
    ):
        tw.rsmp("repeated_cv").instantiate(make_task(4))


def test_cv_with_more_folds_than_groups_is_a_task_error():
    task = grouped_task([3, 3, 3])
    with pytest.raises(
        tw.TaskError,
        match=r"with folds=4 needs at least 4 groups \(column\(s\) 'g'\), but task 'grouped' has 3",
    ):
        tw.rsmp("cv", folds=4).instantiate(task)


def test_bootstrap_with_tiny_ratio_is_a_task_error():
    with pytest.raises(
        tw.TaskError, match=r"ratio=0\.01 draws no rows from the 10 rows of task 'toy'"
    ):
        tw.rsmp("bootstrap", ratio=0.01).instantiate(make_task(10))


def test_stratified_holdout_with_a_singleton_class_is_a_task_error():
    task = make_task(classes={"a": 10, "b": 1})
    task.set_col_roles("y", ["target", "stratum"])
    with pytest.raises(
        tw.TaskError,
        match=r"Resampling 'holdout' cannot split the 11 rows of task 'toy' \(stratified by 'y'\)",
    ):
        tw.rsmp("holdout").instantiate(task)


# --- stratification -----------------------------------------------------------------
@pytest.fixture
def imbalanced() -> tw.TaskClassif:
    task = make_task(classes={"a": 60, "b": 30, "c": 10})
    return task.set_col_roles("y", ["target", "stratum"])


def class_counts(task: tw.Task, ids: np.ndarray) -> dict[str, int]:
    return dict(Counter(task.truth(ids).tolist()))


def test_stratified_cv_keeps_class_proportions(imbalanced):
    cv = tw.rsmp("cv", folds=5, random_state=0).instantiate(imbalanced)
    for i in range(5):
        assert class_counts(imbalanced, cv.test_set(i)) == {"a": 12, "b": 6, "c": 2}


def test_stratified_repeated_cv_keeps_class_proportions(imbalanced):
    rcv = tw.rsmp("repeated_cv", folds=5, repeats=2, random_state=0).instantiate(imbalanced)
    for i in range(10):
        assert class_counts(imbalanced, rcv.test_set(i)) == {"a": 12, "b": 6, "c": 2}


@pytest.mark.parametrize("key", ["holdout", "subsampling"])
def test_stratified_shuffle_splits_keep_class_proportions(imbalanced, key):
    r = tw.rsmp(key, ratio=0.7, random_state=0).instantiate(imbalanced)
    for i in range(r.iters):
        assert class_counts(imbalanced, r.train_set(i)) == {"a": 42, "b": 21, "c": 7}
        assert class_counts(imbalanced, r.test_set(i)) == {"a": 18, "b": 9, "c": 3}


def test_stratified_bootstrap_samples_within_each_stratum(imbalanced):
    boot = tw.rsmp("bootstrap", repeats=5, random_state=0).instantiate(imbalanced)
    for i in range(5):
        assert class_counts(imbalanced, boot.train_set(i)) == {"a": 60, "b": 30, "c": 10}
    half = tw.rsmp("bootstrap", repeats=5, ratio=0.5, random_state=0).instantiate(imbalanced)
    for i in range(5):
        assert class_counts(imbalanced, half.train_set(i)) == {"a": 30, "b": 15, "c": 5}


def test_unstratified_cv_does_not_keep_proportions():
    task = make_task(classes={"a": 60, "b": 30, "c": 10})
    cv = tw.rsmp("cv", folds=5, random_state=0).instantiate(task)
    counts = [class_counts(task, cv.test_set(i)) for i in range(5)]
    assert any(c != {"a": 12, "b": 6, "c": 2} for c in counts)


def test_several_stratum_columns_are_combined():
    df = pd.DataFrame(
        {
            "x": np.arange(80.0),
            "s": ["u"] * 20 + ["v"] * 60,
            "y": ["a", "b"] * 10 + ["a"] * 20 + ["b"] * 40,
        }
    )
    task = tw.TaskClassif(df, "y", id="two_strata")
    task.set_col_roles("s", ["feature", "stratum"]).set_col_roles("y", ["target", "stratum"])
    assert task.col_roles["stratum"] == ["s", "y"]
    cv = tw.rsmp("cv", folds=10, random_state=0).instantiate(task)
    frame = task.data(cols=["s", "y"])
    for i in range(10):
        combos = Counter(map(tuple, frame.loc[cv.test_set(i)].astype(str).to_numpy().tolist()))
        assert combos == {("u", "a"): 1, ("u", "b"): 1, ("v", "a"): 2, ("v", "b"): 4}


# --- groups -------------------------------------------------------------------------
def group_of(task: tw.Task, ids: np.ndarray) -> set[str]:
    return set(task.data(rows=ids, cols="g")["g"].tolist())


@pytest.mark.parametrize(
    ("key", "params"),
    [
        ("cv", {"folds": 4}),
        ("repeated_cv", {"folds": 3, "repeats": 2}),
        ("holdout", {"ratio": 0.5}),
        ("subsampling", {"repeats": 3, "ratio": 0.6}),
        ("bootstrap", {"repeats": 4}),
    ],
)
def test_groups_never_straddle_train_and_test(key, params):
    task = grouped_task([1, 5, 2, 7, 3, 3, 4, 1, 2, 6])
    r = tw.rsmp(key, random_state=3, **params).instantiate(task)
    for train, test in all_splits(r):
        assert group_of(task, train).isdisjoint(group_of(task, test))
        if key != "bootstrap":
            assert sorted([*train, *test]) == task.row_ids.tolist()


def test_grouped_cv_puts_each_group_in_one_test_fold():
    task = grouped_task([1, 5, 2, 7, 3, 3, 4, 1, 2, 6])
    cv = tw.rsmp("cv", folds=5, random_state=0).instantiate(task)
    seen = [g for i in range(5) for g in group_of(task, cv.test_set(i))]
    assert sorted(seen) == sorted(f"g{i}" for i in range(10))


def test_grouped_holdout_ratio_counts_groups():
    task = grouped_task([1, 5, 2, 7, 3, 3, 4, 1, 2, 6])
    holdout = tw.rsmp("holdout", ratio=0.7, random_state=0).instantiate(task)
    assert len(group_of(task, holdout.train_set(0))) == 7
    assert len(group_of(task, holdout.test_set(0))) == 3


def test_grouped_bootstrap_draws_whole_groups():
    task = grouped_task([2, 3, 4, 5])
    boot = tw.rsmp("bootstrap", repeats=10, random_state=0).instantiate(task)
    sizes = dict(Counter(task.data(cols="g")["g"].tolist()))
    for train, _ in all_splits(boot):
        drawn = Counter(task.data(rows=train, cols="g")["g"].tolist())
        for g, k in drawn.items():
            assert k % sizes[g] == 0


def test_cv_can_stratify_and_group_at_once():
    task = grouped_task([2] * 20)
    task.set_col_roles("y", ["target", "stratum"])
    cv = tw.rsmp("cv", folds=4, random_state=0).instantiate(task)
    for train, test in all_splits(cv):
        assert group_of(task, train).isdisjoint(group_of(task, test))


@pytest.mark.parametrize("key", ["holdout", "subsampling", "bootstrap"])
def test_strata_and_groups_together_are_refused_where_unsupported(key):
    task = grouped_task([2] * 10)
    task.set_col_roles("y", ["target", "stratum"])
    with pytest.raises(
        tw.TaskError,
        match=rf"Resampling '{key}' cannot both stratify \(column\(s\) 'y'\) and keep groups "
        r"together \(column\(s\) 'g'\) in task 'grouped'",
    ):
        tw.rsmp(key).instantiate(task)


# --- reproducibility and immutability -----------------------------------------------
@pytest.mark.parametrize("key", ["holdout", "cv", "repeated_cv", "bootstrap", "subsampling"])
def test_random_state_makes_splits_reproducible(key):
    task = make_task(50)
    params = {"folds": 3, "repeats": 2} if key == "repeated_cv" else {}
    a = tw.rsmp(key, random_state=11, **params).instantiate(task)
    b = tw.rsmp(key, random_state=11, **params).instantiate(task)
    c = tw.rsmp(key, random_state=12, **params).instantiate(task)
    same = [np.array_equal(x[0], y[0]) for x, y in zip(all_splits(a), all_splits(b), strict=True)]
    assert all(same)
    assert not all(
        np.array_equal(x[1], y[1]) for x, y in zip(all_splits(a), all_splits(c), strict=True)
    )
    again = [x[0].tolist() for x in all_splits(a.instantiate(task))]
    assert again == [x[0].tolist() for x in all_splits(b)]


@pytest.mark.parametrize("key", ["holdout", "cv", "bootstrap", "subsampling"])
def test_numpy_global_seed_governs_without_random_state(key):
    task = make_task(50)
    np.random.seed(123)
    a = all_splits(tw.rsmp(key).instantiate(task))
    np.random.seed(123)
    b = all_splits(tw.rsmp(key).instantiate(task))
    c = all_splits(tw.rsmp(key).instantiate(task))
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(b, c, strict=True))


def test_instantiate_does_not_mutate_the_task(imbalanced):
    before_rows = imbalanced.row_ids
    before_roles = imbalanced.col_roles
    before_data = imbalanced.data().copy()
    for key in ["cv", "bootstrap", "holdout", "repeated_cv"]:
        tw.rsmp(key).instantiate(imbalanced)
    assert imbalanced.row_ids.tolist() == before_rows.tolist()
    assert imbalanced.col_roles == before_roles
    pd.testing.assert_frame_equal(imbalanced.data(), before_data)


def test_clone_is_independent():
    task = make_task(30)
    cv = tw.rsmp("cv", folds=3).instantiate(task)
    copy = cv.clone()
    assert all(
        np.array_equal(x[1], y[1]) for x, y in zip(all_splits(cv), all_splits(copy), strict=True)
    )
    cv.instantiate(task)
    cv.param_set.set_values(folds=5)
    assert copy.param_set.values["folds"] == 3
    assert copy.iters == 3
    assert copy.task_id == "toy"


# --- custom -------------------------------------------------------------------------
def test_custom_stores_the_given_row_ids():
    task = make_task(10)
    custom = tw.rsmp("custom").instantiate(
        task, train_sets=[[0, 1, 2], np.array([5, 6])], test_sets=[[3, 4], []]
    )
    assert custom.iters == 2
    assert custom.train_set(1).tolist() == [5, 6]
    assert custom.test_set(0).tolist() == [3, 4]
    assert custom.test_set(1).tolist() == []
    assert custom.task_id == "toy"


def test_custom_without_sets_is_not_instantiated():
    custom = tw.rsmp("custom")
    message = (
        r"Resampling 'custom' is not instantiated; call "
        r"instantiate\(task, train_sets=\[\.\.\.\], test_sets=\[\.\.\.\]\) first\."
    )
    with pytest.raises(tw.NotTrainedError, match=message):
        custom.instantiate(make_task(10))
    with pytest.raises(tw.NotTrainedError, match=message):
        custom.iters
    with pytest.raises(tw.NotTrainedError, match=message):
        custom.train_set(0)


def test_custom_validates_counts_ids_and_types():
    task = make_task(10).filter(range(8))
    custom = tw.rsmp("custom")
    with pytest.raises(
        tw.TaskError,
        match=r"needs as many test sets as train sets \(at least one\)\. "
        r"Got 2 train set\(s\) and 1 test set\(s\)\.",
    ):
        custom.instantiate(task, train_sets=[[0], [1]], test_sets=[[2]])
    with pytest.raises(tw.TaskError, match=r"Got 0 train set\(s\) and 0 test set\(s\)"):
        custom.instantiate(task, train_sets=[], test_sets=[])
    with pytest.raises(
        tw.TaskError,
        match=r"The test set 1 of resampling 'custom' has row ids 8, 9 that are not in use "
        r"in task 'toy'\.",
    ):
        custom.instantiate(task, train_sets=[[0], [1]], test_sets=[[2], [8, 9, 3]])
    with pytest.raises(
        tw.TaskError,
        match="The train set 0 of resampling 'custom' must be a 1-d sequence of integer row ids",
    ):
        custom.instantiate(task, train_sets=[[0.5]], test_sets=[[1]])
    with pytest.raises(tw.TaskError, match="The train set 0 of resampling 'custom' is empty"):
        custom.instantiate(task, train_sets=[[]], test_sets=[[1]])
    assert not custom.is_instantiated
