"""The curated public surface, and the layering rules of the package."""

import importlib
import pkgutil
import subprocess
import sys
import textwrap

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


def test_lazy_torch_names_match_the_torch_layers():
    import importlib

    for module, names in tw._LAZY_MODULES.items():
        assert set(names) == set(importlib.import_module(module).__all__), module


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
