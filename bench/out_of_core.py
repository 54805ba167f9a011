"""Training and prediction larger than memory: a Parquet file streamed through DuckDB.

For each size (1M, 3M and 10M rows by default; ``python -m bench out_of_core`` runs
them all, ``python -m bench.out_of_core 1000000 3000000`` picks sizes), the benchmark
writes a Parquet file of ``n`` rows x 50 float32 features plus a float32 target (row
groups of 131,072 rows, generated one row group at a time, so the generator stays
small; 10M rows are about 2 GB) to a temporary folder under /tmp, deleted afterwards.

Cases, each in a fresh subprocess (its peak RSS is the process's ``ru_maxrss``):

``stream``  ``tw.TaskRegr(tw.as_data_backend(path), "y")``: one epoch of an MLP with 3
            hidden layers of 256 (batch 1024, adam, shuffle=True: chunk shuffling,
            chunks of 65,536 rows), then ``predict`` on every row, streamed as well.
``memory``  the same, with the Parquet file read into a pandas DataFrame first (the
            in-memory path, preloaded tensors), for the sizes up to ``MEMORY_MAX``.

Reported: seconds for the epoch (``train``: the whole ``learner.train`` call, checks
included) and microseconds per row, the ratio stream / memory of the time per row (at
the same size), prediction throughput (rows/s) and peak RSS. Targets: peak RSS of the
stream at most 1.5 GB at 10M rows; time per row at most 1.5x the in-memory path.
Both use one torch thread (the learner default). On a shared machine the times are
noisy (the report says so: each case runs once).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = (1_000_000, 3_000_000, 10_000_000)
#: Largest size also run in memory (its frame and tensors fit comfortably).
MEMORY_MAX = 3_000_000
FEATURES = 50
ROW_GROUP = 131_072
CHUNK_ROWS = 65_536
SEED = 1
RSS_TARGET_MB = 1536.0
TIME_TARGET = 1.5


def write_parquet(path: Path, n: int, seed: int = SEED) -> None:
    """``n`` rows of 50 standard normal float32 features and a noisy linear target."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=FEATURES).astype(np.float32)
    names = [f"x{i}" for i in range(FEATURES)]
    schema = pa.schema([*(pa.field(c, pa.float32()) for c in names), ("y", pa.float32())])
    with pq.ParquetWriter(path, schema, use_dictionary=False) as writer:
        for start in range(0, n, ROW_GROUP):
            rows = min(ROW_GROUP, n - start)
            x = rng.standard_normal((rows, FEATURES), dtype=np.float32)
            y = x @ weights + rng.standard_normal(rows, dtype=np.float32)
            columns = [pa.array(x[:, j]) for j in range(FEATURES)] + [pa.array(y)]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))


def _learner() -> Any:
    import torchweave as tw

    graph = tw.po("torch_ingress_num")
    for i in range(3):
        graph = graph >> tw.nn(f"linear_{i}", out_features=256) >> tw.nn(f"relu_{i}")
    return tw.as_learner(
        graph
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="mse")
        >> tw.po("torch_optimizer", optimizer=tw.t_opt("adam", lr=1e-3))
        >> tw.po(
            "torch_model_regr",
            epochs=1,
            batch_size=1024,
            batch_size_predict=8192,
            shuffle=True,
            seed=SEED,
        )
    )


def run_case(kind: str, path: str) -> dict[str, Any]:
    """One case in this process: train one epoch, predict every row; times and peak RSS."""
    import resource

    import pandas as pd

    import torchweave as tw

    start = time.perf_counter()
    if kind == "memory":
        task = tw.TaskRegr(pd.read_parquet(path), "y")
    else:
        task = tw.TaskRegr(tw.as_data_backend(path, chunk_rows=CHUNK_ROWS), "y")
    load = time.perf_counter() - start
    learner = _learner()
    start = time.perf_counter()
    learner.train(task)
    train = time.perf_counter() - start
    start = time.perf_counter()
    prediction = learner.predict(task)
    predict = time.perf_counter() - start
    return {
        "kind": kind,
        "n": task.nrow,
        "load_s": load,
        "train_s": train,
        "predict_s": predict,
        "mse": float(prediction.score(tw.msr("regr.mse"))["regr.mse"]),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _subprocess(kind: str, path: Path) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    out = subprocess.run(
        [sys.executable, "-m", "bench.out_of_core", "--case", kind, str(path)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=root,
    )
    if out.returncode != 0:
        raise RuntimeError(f"case {kind} on {path} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(sizes: tuple[int, ...] = SIZES) -> list[dict[str, Any]]:
    """Every case at every size; returns the rows of the table (also printed)."""
    rows = []
    for n in sizes:
        folder = Path(tempfile.mkdtemp(prefix="tw_out_of_core_", dir="/tmp"))
        try:
            path = folder / "data.parquet"
            start = time.perf_counter()
            write_parquet(path, n)
            size_gb = path.stat().st_size / 1e9
            print(
                f"n={n:,}: wrote {size_gb:.2f} GB in {time.perf_counter() - start:.0f} s",
                flush=True,
            )
            kinds = ["memory", "stream"] if n <= MEMORY_MAX else ["stream"]
            for kind in kinds:
                result = _subprocess(kind, path)
                result["file_gb"] = size_gb
                rows.append(result)
                print(_line(result, rows), flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print(table(rows))
    return rows


def _line(r: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    return (
        f"  {r['kind']:<6} n={r['n']:>10,}  train {r['train_s']:7.1f} s "
        f"({1e6 * r['train_s'] / r['n']:5.1f} us/row)  predict {r['n'] / r['predict_s']:>9,.0f} "
        f"rows/s  peak RSS {r['rss_mb']:6.0f} MB  mse {r['mse']:.3f}"
    )


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of the README and docs/data_backends.md."""
    memory = {r["n"]: r for r in rows if r["kind"] == "memory"}
    stream = [r for r in rows if r["kind"] == "stream"]
    base = min(stream, key=lambda r: r["n"]) if stream else None
    lines = [
        "| rows | path | epoch (s) | µs/row | vs in memory | vs smallest stream "
        "| predict (rows/s) | peak RSS |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["n"], r["kind"])):
        per_row = 1e6 * r["train_s"] / r["n"]
        ratio = "1.00x"
        if r["kind"] == "stream" and r["n"] in memory:
            ratio = f"{r['train_s'] / memory[r['n']]['train_s']:.2f}x"
        elif r["kind"] == "stream":
            ratio = "(does not fit)" if r["n"] > MEMORY_MAX else "-"
        growth = "-"
        if r["kind"] == "stream" and base is not None:
            growth = f"{(r['train_s'] / base['train_s']) / (r['n'] / base['n']):.2f}x per row"
        lines.append(
            f"| {r['n'] / 1e6:g}M | {r['kind']} | {r['train_s']:.1f} | {per_row:.1f} | {ratio} "
            f"| {growth} | {r['n'] / r['predict_s']:,.0f} | {r['rss_mb'] / 1024:.2f} GB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench out_of_core`` (all sizes) or with sizes as arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--case"]:
        print(json.dumps(run_case(args[1], args[2])))
        return
    sizes = tuple(int(a) for a in args if a.isdigit()) or SIZES
    run(sizes)


if __name__ == "__main__":
    main()
