"""The generated reference page stays current (the code blocks of the docs: tests/test_docs.py)."""

from pathlib import Path

from torchweave.cli.reference import render_reference

ROOT = Path(__file__).resolve().parents[2]


def test_reference_page_is_current():
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == render_reference(), (
        "docs/reference.md is stale: run `python -m torchweave.cli.reference`"
    )
