"""Mixed precision and ``torch.compile`` against the plain float32 loop.

The large setting of ``bench.training`` (n=100,000, p=50, batch 256, 3 hidden layers of
256, adamw), trained by ``tw.LearnerTorchModel`` (``tensor_dataset=True``, one thread)
with

``fp32``                  the defaults (``precision="32"``, ``compile=False``),
``bf16-mixed``            ``precision="bf16-mixed"`` (autocast to bfloat16),
``compile``               ``compile=True`` (``torch.compile``, float32),
``compile + bf16-mixed``  both,

and on CUDA also ``16-mixed`` (float16 autocast with a gradient scaler). Each fit trains
``EPOCHS`` epochs; every epoch is timed inside the loop by a callback (with
``torch.cuda.synchronize()`` on a GPU), and the first epoch of each fit (compilation,
cold caches) is left out and reported apart. The competitors alternate in a rotating
order, ``REPEATS`` fits each; the table shows the median seconds per epoch and the ratio
to ``fp32`` (below 1: faster).

``python -m bench.precision`` runs on the CPU; :func:`run` with ``device="cuda"`` is used
by ``bench.scale_out_gpu``. ``--quick`` runs 10,000 rows and one repeat.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
import sys
import time
from typing import Any

from bench.training import LARGE_SETTING, Data, Setting

REPEATS = 3
EPOCHS = 3

COMPETITORS: dict[str, dict[str, Any]] = {
    "fp32": {},
    "bf16-mixed": {"precision": "bf16-mixed"},
    "compile": {"compile": True},
    "compile + bf16-mixed": {"compile": True, "precision": "bf16-mixed"},
}
CUDA_ONLY: dict[str, dict[str, Any]] = {"16-mixed": {"precision": "16-mixed"}}


def _timer(device: str, seconds: list[float]) -> Any:
    import torch

    import torchweave as tw

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    class CallbackSetEpochTimer(tw.CallbackSet):
        def on_epoch_begin(self) -> None:
            sync()
            self.start = time.perf_counter()

        def on_epoch_end(self) -> None:
            sync()
            seconds.append(time.perf_counter() - self.start)

    return tw.TorchCallback(CallbackSetEpochTimer, id="epoch_timer")


def fit(d: Data, params: dict[str, Any], device: str, epochs: int) -> list[float]:
    """Train one learner; the seconds of each epoch."""
    import torchweave as tw

    s = d.setting
    seconds: list[float] = []
    token = tw.TorchIngressToken(d.feature_names, tw.batchgetter_num, (None, s.p))
    learner = tw.LearnerTorchModel(
        network=copy.deepcopy(d.template),
        ingress_tokens={"x": token},
        task_type="regr",
        optimizer=tw.t_opt(s.optimizer, lr=s.lr),
        loss=tw.t_loss("mse"),
        callbacks=[_timer(device, seconds)],
    )
    learner.configure(
        epochs=epochs,
        batch_size=s.batch_size,
        device=device,
        num_threads=1,
        seed=1,
        tensor_dataset=True if device == "cpu" else "device",
        **params,
    )
    learner.train(d.task)
    return seconds


def run(device: str, setting: Setting, repeats: int, epochs: int = EPOCHS) -> list[dict[str, Any]]:
    """Time every competitor on ``device``; one row per competitor."""
    import torch

    competitors = dict(COMPETITORS)
    if device == "cuda":
        competitors.update(CUDA_ONLY)
    d = Data(setting)
    later: dict[str, list[float]] = {k: [] for k in competitors}
    first: dict[str, list[float]] = {k: [] for k in competitors}
    keys = list(competitors)
    for rep in range(repeats):
        for key in keys[rep % len(keys) :] + keys[: rep % len(keys)]:
            torch._dynamo.reset()  # every compiled fit compiles anew (its first epoch)
            seconds = fit(d, competitors[key], device, epochs)
            first[key].append(seconds[0])
            later[key].extend(seconds[1:])
            print(f"  {key:<22}" + " ".join(f"{x:6.2f}" for x in seconds), flush=True)
    base = statistics.median(later["fp32"])
    return [
        {
            "competitor": key,
            "s_per_epoch": statistics.median(later[key]),
            "ratio": statistics.median(later[key]) / base,
            "first_epoch_s": statistics.median(first[key]),
        }
        for key in competitors
    ]


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    """The rows of :func:`run` as a table."""
    print(f"\n{title}")
    header = f"{'competitor':<24}{'s/epoch':>9}{'ratio':>8}{'first epoch s':>15}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['competitor']:<24}{r['s_per_epoch']:9.3f}{r['ratio']:7.2f}x"
            f"{r['first_epoch_s']:15.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    """Print the CPU table."""
    argv = sys.argv[1:] if argv is None else argv
    setting, repeats = LARGE_SETTING, REPEATS
    if "--quick" in argv:
        setting = dataclasses.replace(setting, name="n=10k", n=10_000)
        repeats = 1
    rows = run("cpu", setting, repeats)
    print_table(
        rows,
        f"CPU, 1 thread: {setting.name} ({EPOCHS} epochs per fit, first left out), "
        f"median of {repeats} fit(s)",
    )


if __name__ == "__main__":
    main()
