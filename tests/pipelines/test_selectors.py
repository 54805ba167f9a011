import pickle

import pandas as pd
import pytest

import torchweave as tw


@pytest.fixture
def task() -> tw.TaskClassif:
    df = pd.DataFrame(
        {
            "age": [1.0, 2.0, 3.0, 4.0],
            "n_kids": [0, 1, 2, 3],
            "city": pd.Categorical(["a", "b", "a", "b"]),
            "Agent": [True, False, True, False],
            "y": ["p", "q", "p", "q"],
        }
    )
    return tw.TaskClassif(df, "y")


def test_basic_selectors(task):
    assert tw.selector_all()(task) == ["age", "n_kids", "city", "Agent"]
    assert tw.selector_none()(task) == []
    assert tw.selector_type(["numeric", "integer"])(task) == ["age", "n_kids"]
    assert tw.selector_type("factor")(task) == ["city"]
    assert tw.selector_name(["city", "age", "zzz"])(task) == ["age", "city"]
    assert tw.selector_grep("^ag")(task) == ["age"]
    assert tw.selector_grep("^ag", ignore_case=True)(task) == ["age", "Agent"]


def test_combinators(task):
    numeric = tw.selector_type("numeric")
    assert tw.selector_invert(numeric)(task) == ["n_kids", "city", "Agent"]
    assert tw.selector_union(numeric, tw.selector_name("city"))(task) == ["age", "city"]
    assert tw.selector_intersect(tw.selector_grep("a"), tw.selector_type("factor"))(task) == []


def test_errors(task):
    with pytest.raises(tw.InvalidParameterError, match="unknown feature type\\(s\\) 'float'"):
        tw.selector_type("float")
    with pytest.raises(tw.TaskError, match="has no feature\\(s\\) 'zzz'"):
        tw.selector_name("zzz", assert_present=True)(task)
    with pytest.raises(tw.InvalidParameterError, match="selector_invert takes selectors. Got str"):
        tw.selector_invert("age")  # type: ignore[arg-type]


def test_pickle_equality_repr():
    sel = tw.selector_union(tw.selector_type("numeric"), tw.selector_grep("x"))
    assert pickle.loads(pickle.dumps(sel)) == sel
    assert repr(sel) == "selector_union(selector_type(['numeric']), selector_grep('x'))"


def test_affect_columns_restricts_preprocessing(task):
    op = tw.po("scale", affect_columns=tw.selector_name("age"))
    out = op.train([task])[0]
    assert out.data(cols="n_kids")["n_kids"].tolist() == [0, 1, 2, 3]
    assert op.state["affected_cols"] == ["age"]
    with pytest.raises(tw.InvalidParameterError, match="must be a selector"):
        tw.po("scale", affect_columns=["age"])
