"""The curated public surface, and the layering rules of the package."""

import importlib
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import torchweave as tw

SUBPACKAGES = [
    name for _, name, is_pkg in pkgutil.iter_modules(tw.__path__, "torchweave.") if is_pkg
]
CORE = [
    "torchweave.params",
    "torchweave.data",
    "torchweave.measures",
    "torchweave.resampling",
    "torchweave.learners",
    "torchweave.tasks",
    "torchweave.pipelines",
]


@pytest.mark.parametrize("module", ["torchweave", *SUBPACKAGES])
def test_every_name_in_all_resolves(module):
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", [])
    assert len(names) == len(set(names)), f"{module}.__all__ has duplicates"
    for name in names:
        assert hasattr(mod, name), f"{module}.__all__ lists {name!r}, which does not exist"


def test_api_md_names_exist():
    for name in [
        "TaskClassif",
        "TaskRegr",
        "PredictionClassif",
        "PredictionRegr",
        "ParamSet",
        "Learner",
        "Error",
        "InvalidParameterError",
        "NotTrainedError",
        "ChannelTypeError",
        "ShapeError",
        "TaskError",
        "tsk",
        "tsks",
        "lrn",
        "lrns",
        "msr",
        "msrs",
        "rsmp",
        "resample",
        "benchmark",
        "benchmark_grid",
        "as_learner",
        "set_validate",
        "registry",
    ]:
        assert hasattr(tw, name), name


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def test_core_layers_import_without_torch_and_optional_extras():
    blocked = [
        "torch",
        "tensorboard",
        "torchvision",
        "optuna",
        "dask",
        "ray",
        "matplotlib",
        "networkx",
        "graphviz",
    ]
    result = _run(
        f"""
        import importlib.abc, sys
        BLOCKED = {blocked!r}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError("blocked optional dependency: " + name)
                return None
        sys.meta_path.insert(0, Block())
        for mod in {CORE!r}:
            __import__(mod)
        from torchweave.sugar import tsk, lrn, rsmp, msr
        from torchweave.resampling import resample
        rr = resample(tsk("iris"), lrn("classif.featureless"), rsmp("cv", folds=3))
        print(rr.aggregate(msr("classif.acc")))
        """
    )
    assert result.returncode == 0, result.stderr
    assert "classif.acc" in result.stdout


TORCH_SUBPACKAGES = [
    "torchweave.network",
    "torchweave.training",
    "torchweave.callbacks",
    "torchweave.lazy",
    "torchweave.io",
]


@pytest.mark.parametrize("package", TORCH_SUBPACKAGES)
def test_one_name_list_per_torch_subpackage(package):
    pkg = importlib.import_module(package)
    names = importlib.import_module(f"{package}._names").NAMES
    assert pkg.__all__ == sorted(names)
    for name, module in names.items():
        value = getattr(importlib.import_module(module), name)
        assert getattr(pkg, name) is value, f"{package}.{name}"
        assert getattr(tw, name) is value, f"tw.{name}"
        assert tw._LAZY_NAMES[name] == module
        assert name in dir(tw)
        assert name in dir(pkg)


def test_the_top_level_lazy_names_are_the_union_of_the_lists():
    union = set()
    for package in TORCH_SUBPACKAGES:
        union |= set(importlib.import_module(f"{package}._names").NAMES)
    assert set(tw._LAZY_NAMES) == union
    assert set(tw._LAZY_NAMES) <= set(tw.__all__)


def test_every_registered_network_operator_module_is_listed():
    network_names = importlib.import_module("torchweave.network._names").NAMES
    listed = {module for module in network_names.values() if ".ops." in module}
    ops_dir = Path(importlib.import_module("torchweave.network.ops").__file__).parent
    files = {f"torchweave.network.ops.{p.stem}" for p in ops_dir.glob("*.py") if p.stem[0] != "_"}
    assert files == listed


def test_an_unknown_name_is_an_attribute_error():
    import torchweave.network

    with pytest.raises(
        AttributeError, match=r"module 'torchweave.network' has no attribute 'nope'"
    ):
        torchweave.network.nope
    with pytest.raises(AttributeError, match=r"module 'torchweave' has no attribute 'nope'"):
        tw.nope


def test_a_name_equal_to_its_submodule_is_not_hidden_by_importing_the_submodule():
    result = _run(
        """
        import importlib
        import torchweave.lazy
        importlib.import_module("torchweave.lazy.materialize")
        from torchweave.lazy import materialize
        assert callable(materialize) and materialize.__name__ == "materialize", materialize
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_import_torchweave_does_not_import_torch():
    result = _run(
        """
        import sys
        import torchweave as tw
        assert "torch" not in sys.modules, "import torchweave imported torch"
        tw.tsk("iris")
        assert "torch" not in sys.modules, "a core call imported torch"
        tw.po("nn_linear", out_features=2)
        assert "torch" in sys.modules
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
