"""Training speed of ``tabm`` and ``ft_transformer`` against the reference modules.

The reference is the paper's own module (``tabm.TabM``, ``rtdl_revisiting_models.
FTTransformer``) of the same size in a hand-written loop over pre-built tensors: each
epoch permutes the rows, slices batches with ``index_select``, and runs forward pass,
loss (for TabM the cross entropy of all k heads, as the tabm package's examples do),
backward pass and an Adam step. torchweave trains ``tw.lrn("classif.tabm")`` /
``tw.lrn("classif.ft_transformer")`` on a task with the same data and sizes (default
``tensor_dataset="auto"``, which preloads these tasks).

Pairing: a torchweave callback times each torchweave epoch and then, right after it,
runs and times one reference epoch; the ratio of the two is taken per epoch, the first
(cold) epoch left out, and the median reported. A shared 2-core VM drifts over minutes;
back-to-back epochs see the same conditions. One thread, ``N`` rows, batch size
``BATCH``; ``REPEATS`` fits per model. Target: the median ratio is at most 1.05.

Run ``python -m bench.prebuilt_speed`` (about 4 minutes on a busy 2-core machine) or
``--quick`` (one fit of 3 epochs per model).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch.nn import functional

import torchweave as tw

SEED = 3
N = 4096
BATCH = 256
EPOCHS = 5
REPEATS = 2
N_NUM = 8
CARDS = [4, 3]
TABM = {"k": 32, "d_block": 256, "n_blocks": 3, "dropout": 0.1}
FT = {"n_blocks": 2, "d_token": 64, "attention_n_heads": 8}


def quick() -> bool:
    return "--quick" in sys.argv or os.environ.get("TORCHWEAVE_BENCH_QUICK") == "1"


def data() -> tuple[tw.TaskClassif, torch.Tensor, torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(N, N_NUM)).astype(np.float32)
    cats = np.stack([rng.integers(0, c, N) for c in CARDS], 1)
    y = (x[:, 0] + x[:, 1] * x[:, 2] + cats[:, 0] > 0.5).astype(int) + (x[:, 3] > 1)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(N_NUM)])
    for j, c in enumerate(CARDS):
        frame[f"f{j}"] = pd.Categorical(cats[:, j], categories=range(c))
    frame["y"] = pd.Categorical(y, categories=[0, 1, 2])
    task = tw.TaskClassif(frame, target="y", id="speed")
    return task, torch.from_numpy(x), torch.from_numpy(cats).long(), torch.from_numpy(y).long()


def reference_module(model: str) -> tuple[torch.nn.Module, Callable[..., torch.Tensor]]:
    if model == "tabm":
        import tabm

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = tabm.TabM.make(n_num_features=N_NUM, cat_cardinalities=CARDS, d_out=3, **TABM)

        def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return functional.cross_entropy(out.flatten(0, 1), y.repeat_interleave(out.shape[1]))

        return net, loss
    import rtdl_revisiting_models as rtdl

    net = rtdl.FTTransformer(
        n_cont_features=N_NUM,
        cat_cardinalities=CARDS,
        d_out=3,
        n_blocks=FT["n_blocks"],
        d_block=FT["d_token"],
        attention_n_heads=FT["attention_n_heads"],
        attention_dropout=0.2,
        ffn_d_hidden=None,
        ffn_d_hidden_multiplier=4 / 3,
        ffn_dropout=0.1,
        residual_dropout=0.0,
    )
    return net, functional.cross_entropy


class ReferenceLoop:
    """The hand-written loop: one call is one epoch; returns its seconds."""

    def __init__(self, model: str, x: torch.Tensor, c: torch.Tensor, y: torch.Tensor) -> None:
        torch.manual_seed(SEED)
        self.net, self.loss = reference_module(model)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.x, self.c, self.y = x, c, y

    def __call__(self) -> float:
        start = time.perf_counter()
        self.net.train()
        perm = torch.randperm(len(self.y))
        x, c, y = self.x.index_select(0, perm), self.c.index_select(0, perm), self.y[perm]
        for i in range(0, len(y), BATCH):
            out = self.net(x[i : i + BATCH], c[i : i + BATCH])
            loss = self.loss(out, y[i : i + BATCH])
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        return time.perf_counter() - start


def paired_ratios(model: str) -> tuple[list[float], list[float], list[float]]:
    task, x, c, y = data()
    ours: list[float] = []
    theirs: list[float] = []
    reference = ReferenceLoop(model, x, c, y)

    class CallbackSetPaired(tw.CallbackSet):
        def on_epoch_begin(self) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self) -> None:
            ours.append(time.perf_counter() - self.start)
            theirs.append(reference())

    sizes = TABM if model == "tabm" else FT
    learner = tw.lrn(
        f"classif.{model}",
        epochs=3 if quick() else EPOCHS,
        batch_size=BATCH,
        device="cpu",
        num_threads=1,
        seed=SEED,
        **sizes,
    )
    learner.callbacks = [tw.TorchCallback(CallbackSetPaired, id="paired")]
    learner.train(task)
    ratios = [a / b for a, b in zip(ours[1:], theirs[1:], strict=True)]
    return ratios, ours[1:], theirs[1:]


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for model in ("tabm", "ft_transformer"):
        ratios: list[float] = []
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(1 if quick() else REPEATS):
            r, a, b = paired_ratios(model)
            ratios += r
            ours += a
            theirs += b
        rows.append(
            {
                "model": model,
                "torchweave s/epoch": statistics.median(ours),
                "reference s/epoch": statistics.median(theirs),
                "ratio (median)": statistics.median(ratios),
                "ratio (min-max)": f"{min(ratios):.2f}-{max(ratios):.2f}",
                "epochs paired": len(ratios),
            }
        )
        print(rows[-1], flush=True)
    print(f"\n{N} rows, batch {BATCH}, one thread; tabm {TABM}; ft_transformer {FT}")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
