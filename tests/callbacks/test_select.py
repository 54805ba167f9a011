"""Selectors over parameter names: select_all, select_none, select_grep, select_name, select_invert."""

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torchweave.callbacks import (
    Select,
    select_all,
    select_grep,
    select_invert,
    select_name,
    select_none,
)
from torchweave.errors import InvalidParameterError, InvalidTypeError

NAMES = ["0.weight", "0.bias", "2.weight", "2.bias", "10.weight"]


def test_all_and_none():
    assert select_all()(NAMES) == NAMES
    assert select_none()(NAMES) == []
    assert select_all()([]) == []
    assert (repr(select_all()), repr(select_none())) == ("select_all()", "select_none()")


def test_grep_is_a_regex_search_keeping_the_input_order():
    assert select_grep("bias$")(NAMES) == ["0.bias", "2.bias"]
    assert select_grep("^0[.]")(NAMES) == ["0.weight", "0.bias"]
    assert select_grep("0.")(NAMES) == ["0.weight", "0.bias", "10.weight"]  # '.' is any char
    assert select_grep("WEIGHT")(NAMES) == []
    assert select_grep("WEIGHT", ignore_case=True)(NAMES) == ["0.weight", "2.weight", "10.weight"]


def test_grep_fixed_matches_a_plain_substring():
    names = ["a.b", "axb", "A.B"]
    assert select_grep("a.b")(names) == ["a.b", "axb"]
    assert select_grep("a.b", fixed=True)(names) == ["a.b"]
    assert select_grep("a.b", fixed=True, ignore_case=True)(names) == ["a.b", "A.B"]
    assert select_grep("[", fixed=True)(["x[0]"]) == ["x[0]"]  # no regex: no syntax error
    assert repr(select_grep("a.b", ignore_case=True, fixed=True)) == (
        "select_grep('a.b', ignore_case=True, fixed=True)"
    )


def test_grep_rejects_bad_patterns():
    with pytest.raises(InvalidParameterError, match=r"valid regular expression. Got '\[' instead"):
        select_grep("[")
    with pytest.raises(InvalidTypeError, match="'pattern' of select_grep must be a str. Got 1"):
        select_grep(1)


def test_name_returns_present_names_in_network_order():
    assert select_name(["2.bias", "0.weight"])(NAMES) == ["0.weight", "2.bias"]
    assert select_name("0.bias")(NAMES) == ["0.bias"]
    assert select_name(["0.bias", "9.bias"], assert_present=False)(NAMES) == ["0.bias"]
    assert repr(select_name(["0.bias"])) == "select_name(['0.bias'])"
    assert (
        repr(select_name("x", assert_present=False)) == "select_name(['x'], assert_present=False)"
    )


def test_name_asserts_presence_naming_the_missing_ones():
    with pytest.raises(
        InvalidParameterError,
        match=r"select_name: the parameter\(s\) '9.bias', 'x' are not in the network, whose "
        r"parameters are '0.weight'",
    ):
        select_name(["0.bias", "9.bias", "x"])(NAMES)
    with pytest.raises(InvalidTypeError, match="'names' of select_name must be strings. Got 3"):
        select_name(["a", 3])


def test_invert_and_nesting():
    assert select_invert(select_grep("bias"))(NAMES) == ["0.weight", "2.weight", "10.weight"]
    assert select_invert(select_all())(NAMES) == []
    assert select_invert(select_invert(select_name("2.bias")))(NAMES) == ["2.bias"]
    assert repr(select_invert(select_grep("^0"))) == "select_invert(select_grep('^0'))"
    with pytest.raises(InvalidTypeError, match="select_invert needs a Select .* Got 'bias'"):
        select_invert("bias")


def test_selectors_need_string_names():
    with pytest.raises(InvalidTypeError, match="select_all\\(\\) selects among parameter names"):
        select_all()(["a", 1])


@pytest.mark.parametrize(
    "select",
    [
        select_all(),
        select_none(),
        select_grep("^0", ignore_case=True),
        select_name(["0.bias"], assert_present=False),
        select_invert(select_grep("bias")),
    ],
    ids=repr,
)
def test_selectors_pickle_copy_and_compare(select):
    assert isinstance(select, Select)
    for back in (pickle.loads(pickle.dumps(select)), copy.deepcopy(select)):
        assert back == select
        assert hash(back) == hash(select)
        assert back(NAMES) == select(NAMES)
    assert select != select_grep("something else")


@settings(max_examples=25)
@given(
    names=st.lists(st.text("ab.01", min_size=1, max_size=4), unique=True, max_size=8),
    pattern=st.sampled_from(["a", "^0", "b$", "[.]"]),
)
def test_a_selection_and_its_inversion_partition_the_names(names, pattern):
    chosen = select_grep(pattern)(names)
    rest = select_invert(select_grep(pattern))(names)
    assert set(chosen).isdisjoint(rest)
    assert sorted(chosen + rest) == sorted(names)
    assert chosen == [n for n in names if n in chosen]  # input order kept
