"""CPU prediction throughput: onnxruntime against torch, on an exported MLP.

An MLP (64 numeric features, ``po("scale")`` folded in, two hidden layers of 256,
10 classes) is trained for one epoch and exported with ``tw.export_onnx``. Three
ways to predict run alternating in one process, on one CPU thread each:

- ``onnxruntime``: the exported file in an ``InferenceSession`` (numpy in, out);
- ``torch``: the same computation in torch (scaling plus network, ``no_grad``);
- ``tw.predict_newdata``: the learner on a DataFrame (task checks and encoding too).

The table gives median rows per second per batch size and the ratio onnxruntime /
torch.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPEATS = 7
BATCHES = (1, 64, 4096, 65536)
N_FEATURES = 64


def _learner() -> tuple[Any, pd.DataFrame]:
    import torchweave as tw
    from torchweave import nn, po

    rng = np.random.default_rng(1)
    x = rng.normal(size=(4096, N_FEATURES)) * 10 + 5
    y = (x[:, :10].argmax(axis=1)).astype(str)
    data = pd.DataFrame(x, columns=[f"x{i}" for i in range(N_FEATURES)]).assign(y=y)
    graph = (
        po("scale")
        >> po("torch_ingress_num")
        >> nn("linear", out_features=256)
        >> nn("relu")
        >> nn("linear_2", out_features=256)
        >> nn("relu_2")
        >> nn("head")
        >> po("torch_loss", loss="cross_entropy")
        >> po("torch_optimizer", optimizer="adam")
        >> po("torch_model_classif", epochs=1, batch_size=256, seed=1)
    )
    learner = tw.as_learner(graph).train(tw.TaskClassif(data, "y"))
    return learner, data.drop(columns="y")


def _median_rate(fn: Callable[[], Any], rows: int, times: list[float]) -> None:
    start = time.perf_counter()
    fn()
    times.append(rows / (time.perf_counter() - start))


def run() -> pd.DataFrame:
    """The throughput table (rows per second)."""
    import onnxruntime as ort
    import torch

    import torchweave as tw
    from torchweave.io.onnx_export import _fold, _Folded, _torch_parts, onnx_feeds

    torch.set_num_threads(1)
    learner, features = _learner()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mlp.onnx"
        contract = tw.export_onnx(learner, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inner, chain = _torch_parts(learner)
    folded = _fold(learner, inner, chain)
    assert folded is not None
    module = _Folded(inner.network.eval(), folded["expressions"])
    rng = np.random.default_rng(2)
    rows = []
    for batch in BATCHES:
        frame = features.sample(n=batch, replace=True, random_state=int(rng.integers(1 << 30)))
        frame = frame.reset_index(drop=True)
        feeds = onnx_feeds(contract, frame)
        num = torch.from_numpy(feeds["numeric"].copy())
        cat = torch.from_numpy(feeds["categorical"].copy())

        def run_ort(feeds: dict[str, np.ndarray] = feeds) -> None:
            session.run(None, feeds)

        def run_torch(num: torch.Tensor = num, cat: torch.Tensor = cat) -> None:
            with torch.no_grad():
                module(num, cat)

        def run_tw(frame: pd.DataFrame = frame) -> None:
            learner.predict_newdata(frame)

        runs = {"onnxruntime": run_ort, "torch": run_torch, "tw.predict_newdata": run_tw}
        rates: dict[str, list[float]] = {k: [] for k in runs}
        for fn in runs.values():
            fn()  # warm-up
        repeats = REPEATS if batch < 65536 else 3
        for rep in range(repeats):
            order = list(runs) if rep % 2 == 0 else list(reversed(runs))
            for label in order:
                _median_rate(runs[label], batch, rates[label])
        med = {k: statistics.median(v) for k, v in rates.items()}
        rows.append(
            {
                "batch": batch,
                **{f"{k} rows/s": f"{v:,.0f}" for k, v in med.items()},
                "onnxruntime / torch": f"{med['onnxruntime'] / med['torch']:.2f}x",
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    """Print the table."""
    table = run()
    print("CPU prediction throughput, one thread (median rows per second)")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
