"""Every ```python block of README.md and docs/*.md runs alone and shows what the text claims.

Conventions for the code blocks of the documentation:

- **Each block runs on its own**, in a fresh namespace, as a reader would paste it: it
  imports and builds everything it uses. Blocks run in-process, one test each, in a
  temporary working directory (files they write land there), with the test suite's
  settings (seeded random generators, warnings are errors).
- **Blocks that download data** carry the HTML comment ``<!-- skip: downloads -->`` on
  the line right before their opening fence (invisible on rendered pages). They are
  reported as skipped.
- **Claimed values**: a statement ending in a comment ``# -> <expected>`` is checked.
  For ``print(...)  # -> text`` the printed text is compared, for any other
  expression its ``repr`` or its ``str``. ``...`` in ``<expected>`` matches any text (doctest's
  ELLIPSIS) and runs of whitespace compare equal. A number matches a real value that
  rounds to it at the number's precision (``# -> 0.99`` takes 0.985 to 0.995).
- **Claimed results of training** (accuracies, R²) that may move a little with the
  training code are checked by :data:`CLAIMS` with thresholds, keyed by
  ``"<file>#<heading>"`` (the nearest markdown heading above the block; ``:2``, ``:3``
  ... for later blocks under the same heading). Every key must name a block.
"""

from __future__ import annotations

import ast
import doctest
import io
import os
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP_MARK = re.compile(r"<!--\s*skip:\s*(.+?)\s*-->")
FENCE = re.compile(r"^```python\s*$")


@dataclass(frozen=True)
class Block:
    """One ```python block: its key, source, first line number and skip reason."""

    key: str
    source: str
    line: int
    skip: str | None


def extract(path: Path) -> list[Block]:
    """The python blocks of a markdown file, keyed by ``file#heading[:n]``."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    heading, count, i = "", 0, 0
    in_other_fence = False
    while i < len(lines):
        line = lines[i]
        if line.startswith("```") and not FENCE.match(line):
            in_other_fence = not in_other_fence
        elif not in_other_fence and line.startswith("#"):
            heading, count = line.lstrip("#").strip(), 0
        elif not in_other_fence and FENCE.match(line):
            end = lines.index("```", i + 1)
            count += 1
            key = f"{path.name}#{heading}" + (f":{count}" if count > 1 else "")
            marker = SKIP_MARK.fullmatch(lines[i - 1].strip()) if i > 0 else None
            source = "\n".join(lines[i + 1 : end]) + "\n"
            blocks.append(Block(key, source, i + 2, marker.group(1) if marker else None))
            i = end
        i += 1
    return blocks


BLOCKS = [block for path in DOCS for block in extract(path)]


# --- claimed values: "# -> expected" ---------------------------------------------------------
def _claim_comments(source: str) -> dict[int, str]:
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and tok.string.startswith("# -> "):
            comments[tok.start[0]] = tok.string[len("# -> ") :].strip()
    return comments


def _matches(value: Any, printed: bool, expected: str) -> bool:
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    texts = [" ".join(map(str, value))] if printed else [repr(value), str(value)]
    if any(checker.check_output(expected + "\n", text + "\n", flags) for text in texts):
        return True
    number = value[0] if printed and len(value) == 1 else value
    if hasattr(number, "item") and getattr(number, "ndim", 1) == 0:
        number = number.item()  # numpy and torch scalars
    if re.fullmatch(r"-?\d+\.\d+", expected) and isinstance(number, int | float):
        decimals = len(expected.split(".")[1])
        return abs(float(number) - float(expected)) <= 0.5 * 10**-decimals + 1e-12
    return False


class _Claims(ast.NodeTransformer):
    """Wraps the top-level statements that end in ``# -> expected`` in a check."""

    def __init__(self, comments: dict[int, str]) -> None:
        self.comments = comments
        self.used: set[int] = set()

    def visit_Module(self, node: ast.Module) -> ast.Module:
        for stmt in node.body:
            expected = self.comments.get(stmt.end_lineno or -1)
            if expected is None or not isinstance(stmt, ast.Expr):
                continue
            self.used.add(stmt.end_lineno or -1)
            call = stmt.value
            printed = (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id == "print"
                and not call.keywords
            )
            value = ast.Tuple(call.args, ast.Load()) if printed else call
            stmt.value = ast.Call(
                func=ast.Name("__claim__", ast.Load()),
                args=[
                    value,
                    ast.Constant(expected),
                    ast.Constant(stmt.lineno),
                    ast.Constant(printed),
                ],
                keywords=[],
            )
        return ast.fix_missing_locations(node)


def run_block(block: Block) -> dict[str, Any]:
    """Run a block in a fresh namespace, checking its ``# -> expected`` claims."""
    tree = ast.parse(block.source)
    comments = _claim_comments(block.source)
    claims = _Claims(comments)
    tree = claims.visit(tree)
    unused = sorted(set(comments) - claims.used)
    assert not unused, f"'# -> ' comments on lines {unused} do not end an expression statement"

    def claim(value: Any, expected: str, line: int, printed: bool) -> None:
        if printed:
            print(*value)
        shown = " ".join(map(str, value)) if printed else repr(value)
        assert _matches(value, printed, expected), (
            f"line {block.line + line - 1}: the text claims {expected!r}, the code gives {shown!r}"
        )

    namespace: dict[str, Any] = {"__name__": "__main__", "__claim__": claim}
    # A block that starts a Dask cluster sets variables such as MALLOC_TRIM_THRESHOLD_
    # in this process (docs/scaling_out.md); they must not slow the tests that follow.
    with mock.patch.dict(os.environ):
        exec(compile(tree, f"{block.key} (line {block.line})", "exec"), namespace)
    return namespace


# --- claimed results of training --------------------------------------------------------------
def _score(ns: dict[str, Any], name: str, measure: str) -> float:
    return float(ns[name].score(measure)[measure])


Check = Callable[[dict[str, Any], Any], None]
CLAIMS: dict[str, Check] = {}


def claim(key: str) -> Callable[[Check], Check]:
    """Register ``check(namespace, captured_output)`` for the block ``key``."""

    def register(check: Check) -> Check:
        CLAIMS[key] = check
        return check

    return register


@claim("README.md#Quick start")
def _quick_start(ns, out):
    assert _score(ns, "prediction", "classif.acc") > 0.9
    assert ns["rr"].aggregate(ns["tw"].msr("classif.acc"))["classif.acc"] > 0.9


@claim("README.md#A network in one graph")
def _network(ns, out):
    assert ns["rr"].aggregate(ns["tw"].msr("classif.acc"))["classif.acc"] > 0.95
    assert set(ns["rr"].internal_valid_scores[0]) == {"torch_model_classif.classif.ce"}


@claim("README.md#Watching a run: progress bar and learning curves")
def _watching(ns, out):
    assert "Finished training for 40 epochs" in out.err
    assert Path("learning_curves.png").stat().st_size > 0
    assert ns["learner"].internal_valid_scores["torch_model_classif.classif.acc"] > 0.95


@claim("README.md#Images and lazy tensors")
def _images(ns, out):
    assert _score(ns, "prediction", "classif.acc") > 0.9


@claim("README.md#Target transformation")
def _targettrafo(ns, out):
    assert _score(ns, "prediction", "regr.rsq") > 0.9


@claim("callbacks.md#History, CSV and learning curves")
def _history(ns, out):
    assert ns["learner"].model.callbacks["history"]["valid.classif.acc"].iloc[-1] >= 0.9
    assert Path("curves.png").stat().st_size > 0 and Path("history.csv").exists()


@claim("callbacks.md#Progress")
def _progress(ns, out):
    assert re.search(r"^Epoch 20/20: loss=\d+\.\d{3}, .*valid\.classif\.acc=", out.err, re.M)
    assert "Finished training for 20 epochs" in out.err


@claim("lazy_tensor_ops.md#Example")
def _lazy_ops(ns, out):
    assert _score(ns, "prediction", "classif.acc") >= 0.9


@claim("lazy_tensors.md#Training a conv net")
def _conv_net(ns, out):
    assert ns["rr"].aggregate(ns["tw"].msr("classif.acc"))["classif.acc"] > 0.9


@claim("training.md#The main example")
def _training(ns, out):
    acc = ns["msr"]("classif.acc")
    assert ns["learner"].predict(ns["task"]).score(acc)["classif.acc"] > 0.95
    assert ns["learner"].internal_valid_scores["torch_model_classif.classif.acc"] > 0.9
    assert ns["rr"].aggregate(acc)["classif.acc"] > 0.9


@claim("tasks_images.md#A task from a folder per class")
def _image_folder(ns, out):
    assert _score(ns, "prediction", "classif.acc") >= 0.9


def test_claims_name_real_blocks():
    keys = [block.key for block in BLOCKS]
    assert len(keys) == len(set(keys)), "two blocks share a key"
    assert set(CLAIMS) <= set(keys), sorted(set(CLAIMS) - set(keys))


def test_the_skip_marker_and_claims_work(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text(
        "# T\n\n<!-- skip: downloads -->\n```python\nraise SystemExit\n```\n\n## U\n\n"
        "```python\nx = 0.987\nx  # -> 0.99\nprint([1, 2])  # -> [1, ...]\n```\n"
        "```python\n'abc'  # -> 'abd'\n```\n",
        encoding="utf-8",
    )
    skipped, ok, wrong = extract(doc)
    assert (skipped.key, skipped.skip) == ("x.md#T", "downloads")
    assert (ok.key, wrong.key, ok.skip) == ("x.md#U", "x.md#U:2", None)
    assert run_block(ok)["x"] == 0.987
    with pytest.raises(AssertionError, match=r"claims \"'abd'\", the code gives \"'abc'\""):
        run_block(wrong)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.key for b in BLOCKS])
def test_block_runs_alone(block, tmp_path, monkeypatch, capsys):
    if block.skip:
        pytest.skip(block.skip)
    monkeypatch.chdir(tmp_path)
    namespace = run_block(block)
    check = CLAIMS.get(block.key)
    if check is not None:
        check(namespace, capsys.readouterr())
