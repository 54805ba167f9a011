"""mkdocs hook: run every ``docs/gallery/*.py`` example and add a page with its output.

Each example runs in a fresh Python process (the interpreter running mkdocs, with
``src/`` on the path) in a temporary directory. A failing example fails the build.
The page shows the module docstring as text, the code, and what it printed; the
gallery index lists the examples.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

TIMEOUT_S = 300


def _page(source: Path, output: str, seconds: float) -> str:
    text = source.read_text(encoding="utf-8")
    module = ast.parse(text)
    doc = ast.get_docstring(module) or source.stem
    body = text
    first = module.body[0] if module.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        body = "\n".join(text.splitlines()[first.end_lineno :]).lstrip("\n")
    title, _, rest = doc.partition("\n")
    return (
        f"# {title.strip()}\n\n{rest.strip()}\n\n```python\n{body.rstrip()}\n```\n\n"
        f"Output (ran in {seconds:.1f} s when this site was built):\n\n"
        f"```text\n{output.rstrip() or '(no output)'}\n```\n"
    )


def _run(script: Path, root: Path) -> tuple[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    env.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        try:
            result = subprocess.run(
                [sys.executable, str(script)],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise PluginError(f"Gallery example {script.name} ran over {TIMEOUT_S} s.") from exc
    if result.returncode != 0:
        raise PluginError(
            f"Gallery example {script.name} failed (exit {result.returncode}):\n{result.stderr}"
        )
    return result.stdout, time.perf_counter() - start


def on_files(files: Files, config: Any) -> Files:
    """Run the examples and add one generated page per example plus the index."""
    docs = Path(config["docs_dir"])
    root = docs.parent
    scripts = sorted((docs / "gallery").glob("*.py"))
    rows = []
    for script in scripts:
        output, seconds = _run(script, root)
        uri = f"gallery/{script.stem}.md"
        files.append(File.generated(config, uri, content=_page(script, output, seconds)))
        title = (ast.get_docstring(ast.parse(script.read_text())) or script.stem).split("\n")[0]
        rows.append(f"- [{title.strip()}]({script.stem}.md)")
    index = (
        "# Gallery\n\nExamples that run every time the site is built; each page shows "
        "the code and its output.\n\n" + "\n".join(rows) + "\n"
    )
    files.append(File.generated(config, "gallery/index.md", content=index))
    return files
