"""Training and prediction on a CUDA device against a hand-written loop with the data on it.

The large setting of ``bench.training`` (n=100,000, p=50, batch 256, 3 hidden layers of
256, adamw) on the GPU. Skipped, with a message, when CUDA is not available.

Competitors
-----------
``(a) slicing``      hand-written loop: X and y live on the GPU; each epoch permutes them
                     once on the GPU (``index_select``) and slices batches.
``(d1) model, device``  ``tw.LearnerTorchModel`` on the same network with
                     ``tensor_dataset="device"``.
``(d1) model, defaults``  the same with the learner's defaults for ``tensor_dataset``.
``(d2) graph, device``  the graph learner of ``bench.training`` with ``tensor_dataset="device"``.

Every epoch is timed inside the competitor's own loop, with ``torch.cuda.synchronize()``
at its start and end; the first epoch of each fit is left out. The competitors
alternate, ``REPEATS`` fits each, and the table shows median ms per epoch and the ratio
of medians to (a).

Prediction: all rows, batch ``PREDICT_BATCH`` (1024) for every competitor (the learners
get ``batch_size_predict``; before, they predicted with the training batch of 256, four
times the batches of (a)). "(a) from tensors on the device" predicts from the
tensors already on the GPU; "(a) from the DataFrame" starts where a learner's predict
starts, from the DataFrame: it builds the float32 tensor, moves it to the GPU, predicts
and brings the outputs back to the CPU. The learners predict from the task.
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
from typing import Any

from bench.training import LARGE_SETTING, PREDICT_BATCH, SEED, Data, mlp_graph

A_KEY = "(a) slicing, data on the device"
REPEATS = 3
EPOCHS = 8
PREDICT_REPEATS = 7
#: The device; ``--cpu-smoke`` runs the same code on the CPU with small settings.
DEVICE = "cuda"


def _sync() -> None:
    import torch

    if DEVICE == "cuda":
        torch.cuda.synchronize()


def fit_slicing_gpu(d: Data, epochs: int) -> tuple[Any, list[float]]:
    """(a): the hand-written loop with X and y on the GPU."""
    import torch

    s = d.setting
    X, y = d.X.to(DEVICE), d.y.to(DEVICE)
    generator = torch.Generator(device=DEVICE).manual_seed(SEED)
    net = copy.deepcopy(d.template).to(DEVICE)
    opt = torch.optim.AdamW(net.parameters(), lr=s.lr)
    loss_fn = torch.nn.MSELoss()
    n, bs, seconds = X.shape[0], s.batch_size, []
    for _ in range(epochs):
        _sync()
        start = time.perf_counter()
        perm = torch.randperm(n, generator=generator, device=DEVICE)
        Xp, yp = X.index_select(0, perm), y.index_select(0, perm)
        for i in range(0, n, bs):
            opt.zero_grad()
            loss = loss_fn(net(Xp[i : i + bs]), yp[i : i + bs])
            loss.backward()
            opt.step()
        _sync()
        seconds.append(time.perf_counter() - start)
    return net, seconds


def _epoch_timer() -> Any:
    """A callback recording each epoch's seconds, synchronising the GPU at both ends."""
    import torchweave as tw

    class CallbackSetGPUEpochTimer(tw.CallbackSet):
        def __init__(self) -> None:
            self.seconds: list[float] = []

        def on_epoch_begin(self) -> None:
            _sync()
            self.start = time.perf_counter()

        def on_epoch_end(self) -> None:
            _sync()
            self.seconds.append(time.perf_counter() - self.start)

        def state_dict(self) -> dict[str, list[float]]:
            return {"seconds": list(self.seconds)}

        def load_state_dict(self, state_dict: Any) -> None:
            self.seconds = list(state_dict["seconds"])

    return tw.TorchCallback(CallbackSetGPUEpochTimer, id="epoch_timer")


def fit_model(d: Data, epochs: int, **params: Any) -> tuple[Any, list[float]]:
    """(d1): LearnerTorchModel on a copy of the template network."""
    import torchweave as tw

    s = d.setting
    learner = tw.LearnerTorchModel(
        network=copy.deepcopy(d.template),
        ingress_tokens={
            "x": tw.TorchIngressToken(d.feature_names, tw.batchgetter_num, (None, s.p))
        },
        task_type="regr",
        optimizer=tw.t_opt("adamw", lr=s.lr),
        loss=tw.t_loss("mse"),
        callbacks=[_epoch_timer()],
    )
    learner.configure(
        epochs=epochs,
        batch_size=s.batch_size,
        batch_size_predict=PREDICT_BATCH,
        shuffle=True,
        seed=SEED,
        device=DEVICE,
        **params,
    )
    learner.train(d.task)
    return learner, learner.model.callbacks["epoch_timer"]["seconds"]


def fit_graph(d: Data, epochs: int, **params: Any) -> tuple[Any, list[float]]:
    """(d2): the graph learner of bench.training on the GPU."""
    import torchweave as tw

    graph = mlp_graph(
        d.setting,
        _epoch_timer(),
        epochs=epochs,
        batch_size=d.setting.batch_size,
        batch_size_predict=PREDICT_BATCH,
        shuffle=True,
        seed=SEED,
        device=DEVICE,
        **params,
    )
    learner = tw.as_learner(graph).train(d.task)
    state = learner.model["torch_model_regr"].model.callbacks["epoch_timer"]
    return learner, state["seconds"]


def predict_tensors(net: Any, X: Any) -> Any:
    import torch

    net.eval()
    with torch.no_grad():
        out = torch.cat(
            [net(X[i : i + PREDICT_BATCH]) for i in range(0, X.shape[0], PREDICT_BATCH)]
        )
    return out.cpu()


def predict_frame(net: Any, d: Data) -> Any:
    import numpy as np
    import torch

    X = torch.from_numpy(np.ascontiguousarray(d.df[d.feature_names].to_numpy(np.float32)))
    return predict_tensors(net, X.to(DEVICE, non_blocking=True))


def _time(fn: Any) -> float:
    fn()  # untimed run of the same kind first
    _sync()
    start = time.perf_counter()
    fn()
    _sync()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    """Print Markdown tables of epoch and prediction times on the GPU."""
    global DEVICE, EPOCHS, REPEATS, PREDICT_REPEATS
    import dataclasses

    import torch

    import torchweave as tw

    setting = LARGE_SETTING
    if "--cpu-smoke" in (sys.argv[1:] if argv is None else argv):
        DEVICE, EPOCHS, REPEATS, PREDICT_REPEATS = "cpu", 2, 1, 1
        setting = dataclasses.replace(LARGE_SETTING, name="smoke: n=2000", n=2000)
    elif not torch.cuda.is_available():
        print("No CUDA device: bench.gpu skipped (--cpu-smoke runs it on the CPU).")
        return
    d = Data(setting)
    competitors = {
        A_KEY: lambda: fit_slicing_gpu(d, EPOCHS),
        '(d1) model, tensor_dataset="device"': lambda: fit_model(
            d, EPOCHS, tensor_dataset="device"
        ),
        "(d1) model, defaults": lambda: fit_model(d, EPOCHS),
        '(d2) graph, tensor_dataset="device"': lambda: fit_graph(
            d, EPOCHS, tensor_dataset="device"
        ),
        "(d2) graph, defaults": lambda: fit_graph(d, EPOCHS),
    }
    times: dict[str, list[float]] = {k: [] for k in competitors}
    fitted: dict[str, Any] = {}
    for _ in range(REPEATS):
        for key, fit in competitors.items():
            fitted[key], seconds = fit()
            times[key] += seconds[1:]
    name = torch.cuda.get_device_name() if DEVICE == "cuda" else "the CPU (smoke run)"
    print(f"\n### Training on {name} ({setting.name}, {EPOCHS} epochs x {REPEATS} fits)\n")
    base = statistics.median(times[A_KEY])
    print("| competitor | ms/epoch (median) | ratio to (a) |")
    print("|---|---|---|")
    for key, values in times.items():
        med = statistics.median(values)
        print(f"| {key} | {1000 * med:.1f} | {med / base:.2f}x |")

    net = fitted[A_KEY]
    X_gpu = d.X.to(DEVICE)
    model = fitted['(d1) model, tensor_dataset="device"']
    graph = fitted['(d2) graph, tensor_dataset="device"']
    predictions = {
        "(a) from tensors on the device": lambda: predict_tensors(net, X_gpu),
        "(a) from the DataFrame": lambda: predict_frame(net, d),
        "(d1) model": lambda: model.predict(d.task),
        "(d2) graph": lambda: graph.predict(d.task),
    }
    ptimes: dict[str, list[float]] = {k: [] for k in predictions}
    for _ in range(PREDICT_REPEATS):
        for key, fn in predictions.items():
            ptimes[key].append(_time(fn))
    print(f"\n### Prediction on {name}: {d.setting.n:,} rows, batch {PREDICT_BATCH}\n")
    frame = statistics.median(ptimes["(a) from the DataFrame"])
    print("| competitor | ms (median) | ratio to (a) from the DataFrame |")
    print("|---|---|---|")
    for key, values in ptimes.items():
        med = statistics.median(values)
        print(f"| {key} | {1000 * med:.1f} | {med / frame:.2f}x |")
    print(f"\n(torch {torch.__version__}, torchweave {tw.__version__})")


if __name__ == "__main__":
    sys.exit(main())
