"""Layering: no import circles between files, lazy registration, a light version module.

The circle check reads every ``import`` of ``src/torchweave`` with :mod:`ast`, including
imports inside functions and under ``TYPE_CHECKING``, and fails on any strongly
connected group of more than one file.
"""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from torchweave.errors import InvalidTypeError, TaskError, UnknownKeyError

SRC = Path(tw.__file__).resolve().parent.parent


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in root.joinpath("torchweave").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name:
        if name in modules:
            return name
        name = name.rsplit(".", 1)[0] if "." in name else ""
    return None


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the torchweave modules it imports anywhere in its file."""
    modules = _modules(root)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                    for alias in node.names
                ]
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != module:
                    edges[module].add(resolved)
    return edges


def circles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(group)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_circle_finder_sees_imports_inside_functions(tmp_path):
    pkg = tmp_path / "torchweave"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from torchweave.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from torchweave import a\n")
    (pkg / "c.py").write_text("import torchweave.a\n")
    assert circles(import_graph(tmp_path)) == [{"torchweave.a", "torchweave.b"}]


def test_no_import_circle_between_files():
    found = circles(import_graph(SRC))
    assert found == [], f"import circles: {[sorted(g) for g in found]}"


@pytest.mark.parametrize(
    "module", ["torchweave.callbacks.checkpoint", "torchweave.training.resume"]
)
def test_checkpoint_and_resume_do_not_import_the_top_level_package(module):
    assert "torchweave" not in import_graph(SRC)[module]
    assert "torchweave._version" in import_graph(SRC)[module]


def test_the_version_lives_in_its_own_module():
    from torchweave._version import __version__

    assert tw.__version__ == __version__
    assert import_graph(SRC)["torchweave._version"] == set()


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def test_importing_the_training_layer_registers_no_callback_until_asked():
    result = _run(
        """
        import sys
        import torchweave.training
        from torchweave.training import LearnerTorch, CallbackSet, t_clbk
        builtin = [
            "torchweave.callbacks." + m
            for m in ("history", "checkpoint", "csv", "progress", "tb", "unfreeze", "lr_scheduler")
        ]
        loaded = [m for m in builtin if m in sys.modules]
        assert loaded == [], loaded
        import torchweave as tw
        assert tw.t_clbk("history").id == "history"
        assert "torchweave.callbacks.history" in sys.modules
        assert t_clbk("checkpoint", path="unused").id == "checkpoint"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_the_torch_subpackages_import_without_torch():
    result = _run(
        """
        import sys
        import torchweave.callbacks, torchweave.lazy, torchweave.network, torchweave.training
        assert "torch" not in sys.modules, "a torch subpackage imported torch"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


# --- Prediction.score without importing the measures package ---------------------------
def _classif():
    from torchweave.data.prediction import PredictionClassif

    return PredictionClassif([1, 2, 3], pd.Categorical(["a", "b", "a"]), ["a", "a", "a"])


def test_prediction_score_looks_keys_up_in_the_registry():
    assert "torchweave.measures" not in import_graph(SRC)["torchweave.data.prediction"]
    assert _classif().score() == {"classif.ce": pytest.approx(1 / 3)}
    assert _classif().score(["classif.acc"]) == {"classif.acc": pytest.approx(2 / 3)}
    with pytest.raises(UnknownKeyError, match=r"'classif.accc' is not a registered measure"):
        _classif().score("classif.accc")


def test_prediction_score_takes_any_object_with_id_and_score():
    class Constant:
        id = "constant"

        def score(self, prediction):
            return float(len(prediction))

    assert _classif().score(Constant()) == {"constant": 3.0}
    assert _classif().score([Constant(), "classif.ce"])["constant"] == 3.0


def test_prediction_score_refuses_non_measures_and_other_task_types():
    with pytest.raises(InvalidTypeError, match=r"A measure must be a Measure or a key.*Got int"):
        _classif().score([3])
    with pytest.raises(InvalidTypeError, match=r"Measures must be a Measure, a key.*Got float"):
        _classif().score(np.float64(2.5))
    with pytest.raises(TaskError, match=r"Measure 'regr.mse' scores regr predictions"):
        _classif().score("regr.mse")
