"""Docs that must stay true: the generated reference and the README's quick start."""

import re
from pathlib import Path

import pytest

from torchweave.cli.reference import render_reference

ROOT = Path(__file__).resolve().parents[2]


def test_reference_page_is_current():
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == render_reference(), (
        "docs/reference.md is stale: run `python -m torchweave.cli.reference`"
    )


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_quick_start_runs_as_written(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write files (the learning curves)
    blocks = _python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks, "the README has no python example"
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    captured = capsys.readouterr()
    assert "classif.acc" in captured.out
    assert "Finished training for 40 epochs" in captured.err  # the forced progress bar
    assert (tmp_path / "learning_curves.png").stat().st_size > 0


@pytest.mark.parametrize("doc", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_doc_examples_run(doc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in _python_blocks((ROOT / "docs" / doc).read_text(encoding="utf-8")):
        if "# doc: skip" in block:
            continue
        exec(compile(block, doc, "exec"), namespace)
