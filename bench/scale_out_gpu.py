"""On a CUDA device: DDP over NCCL with one process, and mixed precision / compile.

1. ``tw.train_distributed(learner, task, nprocs=1, backend="nccl")`` against
   ``learner.train(task)`` on the large setting of ``bench.training`` (n=100,000, p=50,
   batch 256, 3x256, adamw, data preloaded on the GPU): seconds per epoch (first epoch
   left out, ``torch.cuda.synchronize()`` around each) and rows per second. With one
   process, the difference is the price of DDP's wrapper and the DistributedSampler's
   loader against the plain loop's tensor slices.
2. ``bench.precision`` on the GPU: fp32, bf16-mixed, 16-mixed, compile and
   compile + bf16-mixed, as ratios to fp32.

Self-contained and quick (about a minute on an H200): ``python -m bench.scale_out_gpu``.
Skipped, with a message, without CUDA; ``--cpu-smoke`` runs part 1 on the CPU (gloo,
10,000 rows) to check the code.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
import sys
import time
from typing import Any

import torch

import torchweave as tw
from bench.precision import print_table, run
from bench.training import LARGE_SETTING, Data

EPOCHS = 4
REPEATS = 2
#: ``--cpu-smoke`` runs the DDP part on the CPU (gloo, 10,000 rows) to check the code.
DEVICE = "cuda"


def _sync() -> None:
    if torch.cuda.is_available():  # (DEVICE is not set in DDP's spawned processes)
        torch.cuda.synchronize()


class CallbackSetEpochSeconds(tw.CallbackSet):
    """Times each epoch on the GPU; the seconds travel back in the model's callbacks."""

    def on_begin(self) -> None:
        self.seconds: list[float] = []

    def on_epoch_begin(self) -> None:
        _sync()
        self.start = time.perf_counter()

    def on_epoch_end(self) -> None:
        _sync()
        self.seconds.append(time.perf_counter() - self.start)

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": list(self.seconds)}

    def load_state_dict(self, state_dict: Any) -> None:
        self.seconds = list(state_dict["seconds"])


def learner(d: Data) -> Any:
    """The large setting's MLP on the GPU, data preloaded there, with the epoch timer."""
    s = d.setting
    token = tw.TorchIngressToken(d.feature_names, tw.batchgetter_num, (None, s.p))
    out = tw.LearnerTorchModel(
        network=copy.deepcopy(d.template),
        ingress_tokens={"x": token},
        task_type="regr",
        optimizer=tw.t_opt(s.optimizer, lr=s.lr),
        loss=tw.t_loss("mse"),
        callbacks=[tw.TorchCallback(CallbackSetEpochSeconds, id="epoch_seconds")],
    )
    return out.configure(
        epochs=EPOCHS,
        batch_size=s.batch_size,
        device=DEVICE,
        seed=1,
        shuffle=True,
        tensor_dataset="device" if DEVICE == "cuda" else True,
    )


def ddp_table(d: Data, repeats: int) -> None:
    """Single process vs NCCL with one process: seconds per epoch and rows per second."""
    backend = "nccl" if DEVICE == "cuda" else "gloo"
    fits = {
        "single process (learner.train)": lambda: learner(d).train(d.task),
        f"DDP, {backend}, 1 process": lambda: tw.train_distributed(
            learner(d), d.task, nprocs=1, backend=backend
        ),
    }
    seconds: dict[str, list[float]] = {k: [] for k in fits}
    for rep in range(repeats):
        for key in list(fits)[rep % 2 :] + list(fits)[: rep % 2]:
            trained = fits[key]()
            epochs = trained.model.callbacks["epoch_seconds"]["seconds"]
            seconds[key].extend(epochs[1:])
            print(f"  {key:<32}" + " ".join(f"{x:6.3f}" for x in epochs), flush=True)
    base = statistics.median(seconds["single process (learner.train)"])
    print(f"\nDDP on {DEVICE}: {d.setting.name}, {EPOCHS} epochs per fit (first left out)")
    header = f"{'run':<34}{'s/epoch':>9}{'rows/s':>11}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for key, values in seconds.items():
        med = statistics.median(values)
        print(f"{key:<34}{med:9.3f}{d.setting.n / med:11,.0f}{med / base:7.2f}x")


def main(argv: list[str] | None = None) -> None:
    """Print both tables (or say why not)."""
    global DEVICE
    argv = sys.argv[1:] if argv is None else argv
    if "--cpu-smoke" in argv:
        DEVICE = "cpu"
        ddp_table(Data(dataclasses.replace(LARGE_SETTING, name="n=10k", n=10_000)), 1)
        return
    if not torch.cuda.is_available():
        print("bench.scale_out_gpu: no CUDA device; skipped.")
        return
    repeats = REPEATS
    for a in argv:
        if a.startswith("--repeats="):
            repeats = int(a.split("=", 1)[1])
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    ddp_table(Data(LARGE_SETTING), repeats)
    rows = run("cuda", LARGE_SETTING, repeats=1, epochs=3)
    print_table(rows, f"Precision and compile on the GPU: {LARGE_SETTING.name}, 3 epochs per fit")


if __name__ == "__main__":
    main()
