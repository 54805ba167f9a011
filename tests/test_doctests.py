"""Every docstring example in the package runs as written."""

import doctest
import importlib
import pkgutil

import pytest

import torchweave as tw

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(tw.__path__, "torchweave.")
    if not name.startswith("torchweave.cli.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
