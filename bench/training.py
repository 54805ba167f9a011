"""Training speed, peak memory and prediction throughput against PyTorch and skorch.

Reproduces the mlr3torch paper's benchmark in one process: MLP regression on synthetic
data (n=2000, p=1000, batch 32, lr 1e-4, one thread), with sgd and adamw and 0, 4 or 16
hidden layers of width 100 or 400, plus a large tabular setting (n=100,000, p=50,
batch 256, 3 hidden layers of 256, adamw). Every competitor trains the same
architecture, and all but the graph learner start from the same initial weights.

Competitors
-----------
``slicing``       (a) hand-written loop over pre-built tensors: each epoch permutes X and
                  y once (``index_select``, 4-5x faster than ``X[perm]``) and slices
                  ``X[i:i + bs]`` (the limit).
``dataloader``    (b) the same loop over ``DataLoader(TensorDataset(X, y), shuffle=True)``
                  (the paper's PyTorch baseline).
``skorch``        (c) ``skorch.NeuralNetRegressor`` with its default callbacks and
                  ``train_split=None``.
``tw_model_tds``  (d1) ``tw.LearnerTorchModel`` on the same prebuilt network, with
                  ``tensor_dataset=True``; ``tw_model`` is the same with the defaults
                  (``tensor_dataset="auto"``, which preloads these in-memory tasks: the
                  report prints the path it took).
``tw_graph_tds``  (d2) a graph learner ``torch_ingress_num >> (nn_linear >> nn_relu) x L
                  >> nn_head >> torch_loss >> torch_optimizer >> torch_model_regr``, with
                  ``tensor_dataset=True``; ``tw_graph`` is the same with the defaults.

Every competitor shuffles, seeds torch with ``SEED`` and runs with one thread. The
torchweave competitors are added by ``torchweave_competitors()`` and left out (with a
message) while ``tw.LearnerTorchModel`` is not available.

Measures
--------
1. Seconds per epoch, in paired epochs. Every competitor reports each epoch's seconds,
   timed inside its own epoch loop: (a) and (b) time their loops, skorch reports each
   epoch's ``dur``, and torchweave gets a callback that reads the clock in
   ``on_epoch_begin`` and ``on_epoch_end``. Right after each of these epochs, a
   pace-maker copy of (a) trains one epoch, and the competitor's epoch is divided by
   it. A shared 2-core VM drifts by 10-20% within minutes; two epochs that run
   back to back see the same conditions, so the median of these per-epoch ratios is
   stable where ratios of separately timed fits are not. The first epoch of each fit
   (cold caches) is left out, each competitor trains ``REPEATS`` fits, and the
   competitors alternate with a rotating order. The column (a)/(a) pairs (a) with its
   own pace-maker and shows what is left of the noise. "Never slower than (b)" is
   judged with a one-sided Mann-Whitney U test on the paired ratios, so that a tie at
   a compute-bound setting (both near 1.0x) does not count as a loss.
2. Python calls per training batch (noise-free): ``cProfile`` total calls of a 2-epoch
   fit minus a 1-epoch fit, divided by the batches per epoch, for a near-empty model
   (``CALLS_SETTING``: p=10, no hidden layer, batch 32, sgd).
3. Peak memory: each competitor trains one epoch of ``MEMORY_SETTING`` in a fresh
   subprocess. All start from the same pandas DataFrame with the competitor's library
   imported; then the peak-RSS counter is reset (``/proc/self/clear_refs``) and the
   competitor converts the data and trains. "peak" is the peak RSS during that part,
   "increase" is peak minus the RSS before it.
4. Prediction: predict all rows of ``PREDICT_SETTING`` with batch ``PREDICT_BATCH`` after
   one training epoch; (a) is a slicing forward pass under ``torch.no_grad()``. Each
   prediction is paired with an (a) pass right after it; the ratio is the median over
   ``PREDICT_REPEATS`` pairs. Each timed prediction follows an untimed one of the same
   competitor: a pass is up to 10% slower right after a different competitor's (the
   allocator and caches hold the other's buffers), which otherwise biased the pairs.

Knobs
-----
``REPEATS``, the settings (with the ``epochs`` of each fit), ``MEMORY_SETTING``,
``PREDICT_SETTING``, ``PREDICT_REPEATS`` and ``CALLS_SETTING`` below; ``--repeats=N``
on the command line overrides both repeat counts. The full run takes about 17 minutes
on a 2-core machine. ``python -m bench.training --quick`` (or the environment variable
``TORCHWEAVE_BENCH_QUICK=1``) runs a smoke version in about a minute: one repeat, two
paper settings and the large setting with 10,000 rows.
"""

from __future__ import annotations

import copy
import cProfile
import dataclasses
import gc
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

SEED = 1
REPEATS = 2
PREDICT_BATCH = 1024
PREDICT_REPEATS = 9
#: Seconds of each epoch of the latest fit, passed by every competitor's own loop to
#: :func:`epoch_done`; with a pace-maker, the seconds of the (a) epoch run after each.
EPOCH_SECONDS: list[float] = []
REFERENCE_SECONDS: list[float] = []
_PACEMAKER: list[Any] = []


def epoch_done(seconds: float) -> None:
    """Called by each competitor at the end of each epoch with the epoch's seconds.

    While a pace-maker (a :class:`SlicingLoop`) is set, it then trains one epoch of
    (a) and records its seconds, so that every timed epoch has a reference epoch
    measured right after it, under the same machine conditions.
    """
    EPOCH_SECONDS.append(seconds)
    if _PACEMAKER:
        REFERENCE_SECONDS.append(_PACEMAKER[0].epoch())


@dataclass(frozen=True)
class Setting:
    """One benchmark setting: data size, batch size, optimizer and network shape."""

    name: str
    n: int
    p: int
    batch_size: int
    optimizer: str
    layers: int
    width: int
    epochs: int = 2
    lr: float = 1e-4

    @property
    def batches(self) -> int:
        return math.ceil(self.n / self.batch_size)


def _paper(optimizer: str, layers: int, width: int, epochs: int) -> Setting:
    shape = "0 hidden" if layers == 0 else f"{layers}x{width}"
    return Setting(f"{optimizer}, {shape}", 2000, 1000, 32, optimizer, layers, width, epochs)


# Epochs per fit: more where an epoch is cheap (about 13 ms for 0 hidden, 1.2 s for
# 16x400 and 1.3 s for the large setting on this CPU), so that every setting gets
# enough paired epochs (at least 8 over the repeats); the first epoch of a fit is
# not timed.
PAPER_SETTINGS = [
    _paper(opt, layers, width, epochs)
    for opt in ("sgd", "adamw")
    for layers, width, epochs in [
        (0, 100, 40),
        (4, 100, 16),
        (4, 400, 8),
        (16, 100, 10),
        (16, 400, 5),
    ]
]
LARGE_SETTING = Setting(
    "large: n=100k, p=50, 3x256, adamw", 100_000, 50, 256, "adamw", 3, 256, epochs=6
)
SETTINGS = [*PAPER_SETTINGS, LARGE_SETTING]
MEMORY_SETTING = LARGE_SETTING
PREDICT_SETTING = LARGE_SETTING
CALLS_SETTING = Setting("near-empty: p=10, sgd", 2000, 10, 32, "sgd", 0, 1)
WARMUP_SETTING = Setting("warm-up", 64, 10, 32, "sgd", 1, 8, epochs=1)


def _quick_settings() -> dict[str, Any]:
    large = dataclasses.replace(
        LARGE_SETTING, name="large: n=10k, p=50, 3x256, adamw", n=10_000, epochs=5
    )
    return {
        "repeats": 1,
        "settings": [dataclasses.replace(PAPER_SETTINGS[0], epochs=8), PAPER_SETTINGS[6], large],
        "memory": large,
        "predict": large,
        "predict_repeats": 1,
    }


# --------------------------------------------------------------------------- data


class Data:
    """The synthetic data of one setting, as a DataFrame and (lazily) as tensors or a task.

    ``y = X @ beta + noise`` with standard normal float32 features ``x0..x{p-1}``.
    """

    def __init__(self, setting: Setting) -> None:
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(SEED)
        X = rng.standard_normal((setting.n, setting.p), dtype=np.float32)
        beta = rng.standard_normal(setting.p).astype(np.float32) / np.sqrt(setting.p)
        noise = rng.standard_normal(setting.n).astype(np.float32)
        self.setting = setting
        self.feature_names = [f"x{i}" for i in range(setting.p)]
        df = pd.DataFrame(X, columns=self.feature_names)
        df["y"] = X @ beta + np.float32(0.1) * noise
        self.df = df

    @cached_property
    def X(self) -> Any:
        import numpy as np
        import torch

        # C order, as torch.tensor(df.to_numpy()) gives; pandas alone hands back F order.
        X = np.array(self.df[self.feature_names].to_numpy(dtype=np.float32), order="C")
        return torch.from_numpy(X)

    @cached_property
    def y(self) -> Any:
        import numpy as np
        import torch

        return torch.from_numpy(self.df["y"].to_numpy(dtype=np.float32, copy=True).reshape(-1, 1))

    @cached_property
    def task(self) -> Any:
        import torchweave as tw

        return tw.TaskRegr(self.df, target="y", id="synthetic")

    @cached_property
    def template(self) -> Any:
        """The network every competitor copies: same architecture and initial weights."""
        import torch

        torch.manual_seed(SEED)
        s = self.setting
        layers: list[torch.nn.Module] = []
        d_in = s.p
        for _ in range(s.layers):
            layers += [torch.nn.Linear(d_in, s.width), torch.nn.ReLU()]
            d_in = s.width
        layers.append(torch.nn.Linear(d_in, 1))
        return torch.nn.Sequential(*layers)


# --------------------------------------------------------------------------- competitors

FitFn = Callable[[Setting, Data, int], Any]
PredictFn = Callable[[Any, Data], Any]


@dataclass(frozen=True)
class Competitor:
    """``fit(setting, data, epochs)`` returns what ``predict(fitted, data)`` needs."""

    key: str
    label: str
    fit: FitFn
    predict: PredictFn
    imports: tuple[str, ...] = ()


def _torch_optimizer(name: str, params: Any, lr: float) -> Any:
    import torch

    return {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[name](params, lr=lr)


class SlicingLoop:
    """(a): permute the pre-built tensors once per epoch, then slice them.

    ``index_select`` rather than ``X[perm]``: advanced indexing is 4-5x slower on CPU.
    The permutations come from the loop's own generator, so that running it as the
    pace-maker between another competitor's epochs draws nothing from torch's global
    RNG.
    """

    def __init__(self, s: Setting, d: Data) -> None:
        import torch

        self.X, self.y, self.batch_size = d.X, d.y, s.batch_size
        self.generator = torch.Generator().manual_seed(SEED)
        self.net = copy.deepcopy(d.template)
        self.net.train()
        self.opt = _torch_optimizer(s.optimizer, self.net.parameters(), s.lr)
        self.loss_fn = torch.nn.MSELoss()

    def epoch(self) -> float:
        """Train one epoch; return its seconds."""
        import torch

        net, opt, loss_fn, X, y, bs = (
            self.net,
            self.opt,
            self.loss_fn,
            self.X,
            self.y,
            self.batch_size,
        )
        n = X.shape[0]
        start = time.perf_counter()
        perm = torch.randperm(n, generator=self.generator)
        Xp, yp = X.index_select(0, perm), y.index_select(0, perm)
        for i in range(0, n, bs):
            opt.zero_grad()
            loss = loss_fn(net(Xp[i : i + bs]), yp[i : i + bs])
            loss.backward()
            opt.step()
        return time.perf_counter() - start


def fit_slicing(s: Setting, d: Data, epochs: int) -> Any:
    """(a) The slicing loop of :class:`SlicingLoop`."""
    import torch

    torch.set_num_threads(1)
    loop = SlicingLoop(s, d)
    for _ in range(epochs):
        epoch_done(loop.epoch())
    return loop.net


def predict_slicing(net: Any, d: Data) -> Any:
    import torch

    net.eval()
    X, bs = d.X, PREDICT_BATCH
    with torch.no_grad():
        return torch.cat([net(X[i : i + bs]) for i in range(0, X.shape[0], bs)])


def fit_dataloader(s: Setting, d: Data, epochs: int) -> Any:
    """(b) The same loop over a TensorDataset and a shuffling DataLoader."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    net = copy.deepcopy(d.template)
    net.train()
    opt = _torch_optimizer(s.optimizer, net.parameters(), s.lr)
    loss_fn = torch.nn.MSELoss()
    loader = DataLoader(TensorDataset(d.X, d.y), batch_size=s.batch_size, shuffle=True)
    for _ in range(epochs):
        start = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
        epoch_done(time.perf_counter() - start)
    return net


def predict_dataloader(net: Any, d: Data) -> Any:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    net.eval()
    loader = DataLoader(TensorDataset(d.X), batch_size=PREDICT_BATCH, shuffle=False)
    with torch.no_grad():
        return torch.cat([net(xb) for (xb,) in loader])


def fit_skorch(s: Setting, d: Data, epochs: int) -> Any:
    """(c) skorch's NeuralNetRegressor with its default callbacks."""
    import torch
    from skorch import NeuralNetRegressor
    from skorch.callbacks import Callback

    class EpochDone(Callback):  # runs after skorch's EpochTimer has recorded "dur"
        def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
            epoch_done(net.history[-1, "dur"])

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    optimizer = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[s.optimizer]
    net = NeuralNetRegressor(
        copy.deepcopy(d.template),
        criterion=torch.nn.MSELoss,
        optimizer=optimizer,
        lr=s.lr,
        batch_size=s.batch_size,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        iterator_valid__batch_size=PREDICT_BATCH,
        device="cpu",
        verbose=0,
        callbacks=[("epoch_done", EpochDone())],
    )
    net.fit(d.X.numpy(), d.y.numpy())
    return net


def predict_skorch(net: Any, d: Data) -> Any:
    return net.predict(d.X.numpy())


def reference_competitors() -> list[Competitor]:
    """Competitors (a), (b) and (c)."""
    return [
        Competitor("slicing", "(a) slicing", fit_slicing, predict_slicing),
        Competitor("dataloader", "(b) DataLoader", fit_dataloader, predict_dataloader),
        Competitor("skorch", "(c) skorch", fit_skorch, predict_skorch, ("skorch",)),
    ]


# ---- torchweave (d): kept apart so the rest runs while the learner is being written


def _tw_params(s: Setting, epochs: int, tensor_dataset: bool) -> dict[str, Any]:
    params: dict[str, Any] = {
        "epochs": epochs,
        "batch_size": s.batch_size,
        "batch_size_predict": PREDICT_BATCH,
        "device": "cpu",
        "num_threads": 1,
        "shuffle": True,
        "seed": SEED,
    }
    if tensor_dataset:
        params["tensor_dataset"] = True
    return params


def _epoch_timer() -> Any:
    """A torchweave callback passing each epoch's seconds to :func:`epoch_done`."""
    import torchweave as tw

    class CallbackSetEpochTimer(tw.CallbackSet):
        def on_epoch_begin(self) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self) -> None:
            epoch_done(time.perf_counter() - self.start)

    return tw.TorchCallback(CallbackSetEpochTimer, id="epoch_timer")


#: The data path (``TorchModel.data_path``) each torchweave competitor's last fit took.
DATA_PATHS: dict[str, str | None] = {}


def _fit_tw_model(tensor_dataset: bool) -> FitFn:
    def fit(s: Setting, d: Data, epochs: int) -> Any:
        import torchweave as tw

        token = tw.TorchIngressToken(d.feature_names, tw.batchgetter_num, (None, s.p))
        learner = tw.LearnerTorchModel(
            network=copy.deepcopy(d.template),
            ingress_tokens={"x": token},
            task_type="regr",
            optimizer=tw.t_opt(s.optimizer, lr=s.lr),
            loss=tw.t_loss("mse"),
            callbacks=[_epoch_timer()],
        )
        learner.configure(**_tw_params(s, epochs, tensor_dataset))
        learner.train(d.task)
        DATA_PATHS["tw_model_tds" if tensor_dataset else "tw_model"] = learner.model.data_path
        return learner

    return fit


def mlp_graph(s: Setting, callback: Any, **model_params: Any) -> Any:
    """The (d2) graph: ``torch_ingress_num >> (nn_linear >> nn_relu) x L >> nn_head`` with
    mse, the setting's optimizer, ``callback`` and ``torch_model_regr(**model_params)``."""
    import torchweave as tw

    graph = tw.po("torch_ingress_num")
    for i in range(s.layers):
        graph = graph >> tw.nn(f"linear_{i}", out_features=s.width) >> tw.nn(f"relu_{i}")
    return (
        graph
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="mse")
        >> tw.po("torch_optimizer", optimizer=tw.t_opt(s.optimizer, lr=s.lr))
        >> tw.po("torch_callbacks", callbacks=[callback])
        >> tw.po("torch_model_regr", **model_params)
    )


def _fit_tw_graph(tensor_dataset: bool) -> FitFn:
    def fit(s: Setting, d: Data, epochs: int) -> Any:
        import torchweave as tw

        graph = mlp_graph(s, _epoch_timer(), **_tw_params(s, epochs, tensor_dataset))
        learner = tw.as_learner(graph)
        learner.train(d.task)
        path = learner.base_learner().model.data_path
        DATA_PATHS["tw_graph_tds" if tensor_dataset else "tw_graph"] = path
        return learner

    return fit


def predict_tw(learner: Any, d: Data) -> Any:
    return learner.predict(d.task)


def torchweave_available() -> str | None:
    """None when the torchweave competitors can run, otherwise the reason."""
    try:
        import torchweave as tw

        for name in ("LearnerTorchModel", "t_opt", "t_loss"):
            getattr(tw, name)
    except (ImportError, AttributeError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def torchweave_competitors() -> list[Competitor]:
    """Competitors (d1) and (d2), each with ``tensor_dataset=True`` and with the defaults."""
    tw = ("torchweave",)
    return [
        Competitor("tw_model_tds", "(d1) model, tds", _fit_tw_model(True), predict_tw, tw),
        Competitor("tw_model", "(d1) model, defaults", _fit_tw_model(False), predict_tw, tw),
        Competitor("tw_graph_tds", "(d2) graph, tds", _fit_tw_graph(True), predict_tw, tw),
        Competitor("tw_graph", "(d2) graph, defaults", _fit_tw_graph(False), predict_tw, tw),
    ]


def all_competitors(with_torchweave: bool = True) -> list[Competitor]:
    competitors = reference_competitors()
    if with_torchweave:
        competitors += torchweave_competitors()
    return competitors


# --------------------------------------------------------------------------- measures


def _timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _prepare(d: Data, competitors: list[Competitor]) -> None:
    """Build the shared tensors, task and template outside the timed fits."""
    _ = d.X, d.y, d.template
    if any("torchweave" in c.imports for c in competitors):
        _ = d.task


def warm_up(competitors: list[Competitor]) -> None:
    """One tiny fit and predict of each competitor: imports and first-call caches."""
    d = Data(WARMUP_SETTING)
    _prepare(d, competitors)
    for c in competitors:
        c.predict(c.fit(WARMUP_SETTING, d, 1), d)


def seconds_per_epoch(
    competitors: list[Competitor], s: Setting, repeats: int
) -> dict[str, list[float]]:
    """Paired epochs: every epoch of a competitor is followed by one epoch of (a).

    Each competitor trains ``repeats`` fits of ``s.epochs`` epochs, the competitors
    alternating (the order rotates between repeats). After each of its epochs, a
    pace-maker :class:`SlicingLoop` trains one epoch of (a). Returns, per competitor
    key, its epochs' seconds and, under ``key + ":ratio"``, one ratio per epoch: its
    seconds over those of the (a) epoch right after it. The first epoch of each fit
    (cold caches) is left out. For (a) itself the ratios compare two copies of the
    same loop, so their spread shows the noise of the measurement.
    """
    d = Data(s)
    _prepare(d, competitors)
    times: dict[str, list[float]] = {}
    for c in competitors:
        times[c.key], times[c.key + ":ratio"] = [], []
    for rep in range(repeats):
        k = rep % len(competitors)
        for c in competitors[k:] + competitors[:k]:
            EPOCH_SECONDS.clear()
            REFERENCE_SECONDS.clear()
            gc.collect()
            _PACEMAKER[:] = [SlicingLoop(s, d)]
            try:
                c.fit(s, d, s.epochs)
            finally:
                _PACEMAKER.clear()
            if len(EPOCH_SECONDS) != s.epochs or len(REFERENCE_SECONDS) != s.epochs:
                raise RuntimeError(
                    f"{c.key} timed {len(EPOCH_SECONDS)} of {s.epochs} epochs "
                    f"({len(REFERENCE_SECONDS)} paired)"
                )
            times[c.key].extend(EPOCH_SECONDS[1:])
            times[c.key + ":ratio"] += [
                own / ref for own, ref in zip(EPOCH_SECONDS[1:], REFERENCE_SECONDS[1:], strict=True)
            ]
    return times


def calls_per_batch(competitors: list[Competitor], s: Setting) -> dict[str, float]:
    """Python calls per training batch: cProfile of a 2-epoch minus a 1-epoch fit."""
    d = Data(s)
    _prepare(d, competitors)
    result = {}
    for c in competitors:
        c.fit(s, d, 1)  # lazy imports and caches must not land in one count only
        counts = []
        for epochs in (1, 2):
            profile = cProfile.Profile()
            profile.enable()
            c.fit(s, d, epochs)
            profile.disable()
            counts.append(pstats.Stats(profile).total_calls)
        result[c.key] = (counts[1] - counts[0]) / s.batches
    return result


def predict_seconds(
    competitors: list[Competitor], s: Setting, repeats: int
) -> dict[str, list[float]]:
    """Seconds to predict all rows of ``s`` with batch ``PREDICT_BATCH``, paired with (a).

    Every prediction is followed by one slicing forward pass of (a) on (a)'s network;
    returns each competitor's seconds and, under ``key + ":ratio"``, the per-pair ratios.
    """
    d = Data(s)
    _prepare(d, competitors)
    fitted = {c.key: c.fit(s, d, 1) for c in competitors}
    base = competitors[0]
    for c in competitors:  # first call: lazy set-up
        c.predict(fitted[c.key], d)
    times: dict[str, list[float]] = {}
    for c in competitors:
        times[c.key], times[c.key + ":ratio"] = [], []
    for rep in range(repeats):
        k = rep % len(competitors)
        for c in competitors[k:] + competitors[:k]:
            c.predict(fitted[c.key], d)  # each timed run follows one of its own kind
            own = _timed(lambda c=c: c.predict(fitted[c.key], d))
            base.predict(fitted[base.key], d)
            ref = _timed(lambda: base.predict(fitted[base.key], d))
            times[c.key].append(own)
            times[c.key + ":ratio"].append(own / ref)
    return times


# ---- peak memory: one fresh subprocess per competitor


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def memory_child(key: str, setting: dict[str, Any], with_torchweave: bool) -> None:
    """Entry point of the subprocess: print the RSS figures of one competitor as JSON."""
    import importlib

    import torch

    torch.set_num_threads(1)
    s = Setting(**setting)
    c = next(c for c in all_competitors(with_torchweave) if c.key == key)
    for module in c.imports:
        importlib.import_module(module)
    d = Data(s)
    _ = d.template
    gc.collect()
    before = _proc_status_kib("VmRSS") or 0  # 0 without /proc: "increase" is the peak
    reset = _reset_peak_rss()
    c.fit(s, d, 1)
    peak = _proc_status_kib("VmHWM") if reset else None
    if peak is None:  # no /proc: the lifetime peak (KiB on Linux)
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "peak_kib": peak, "reset": reset}))


def peak_memory(competitors: list[Competitor], s: Setting, with_torchweave: bool) -> dict:
    root = Path(__file__).resolve().parents[1]
    setting = json.dumps(dataclasses.asdict(s))
    result = {}
    for c in competitors:
        code = (
            "import json, bench.training as t; "
            f"t.memory_child({c.key!r}, json.loads({setting!r}), {with_torchweave})"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(f"Memory run of {c.key!r} failed:\n{out.stderr}")
        result[c.key] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- report

TDS_KEYS = ("tw_model_tds", "tw_graph_tds")
DEFAULT_KEYS = ("tw_model", "tw_graph")


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _iqr(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


def _slower(ours: list[float], theirs: list[float]) -> tuple[bool, float]:
    """Whether ``ours`` ratios are larger than ``theirs``, and the one-sided p-value.

    Mann-Whitney U test of "ours tend to be larger"; used to tell a real loss from a tie
    within the noise of paired epochs (at compute-bound settings both are near 1).
    """
    from scipy.stats import mannwhitneyu

    larger = statistics.median(ours) > statistics.median(theirs)
    return larger, float(mannwhitneyu(ours, theirs, alternative="greater").pvalue)


def report_epochs(
    competitors: list[Competitor],
    medians: dict[str, dict[str, float]],
    spreads: dict[str, float],
    ratios: dict[str, dict[str, list[float]]],
) -> None:
    others = competitors[1:]
    rows = [
        [
            name,
            f"{1000 * m['slicing']:.1f}",
            f"{m['slicing:ratio']:.3f}",
            *[f"{m[c.key + ':ratio']:.2f}x" for c in others],
        ]
        for name, m in medians.items()
    ]
    print(
        "\n### Seconds per epoch: ratio to (a), median over paired epochs "
        '(tds = `tensor_dataset=True`, defaults = `tensor_dataset="auto"`)\n'
    )
    print("(each epoch of a competitor against the (a) epoch run right after it; the")
    print("column (a)/(a) pairs two copies of (a): the bias of the pairing, ideally 1)\n")
    header = ["setting", "(a) ms/epoch", "(a)/(a)", *[c.label for c in others]]
    print(_markdown(header, rows))
    rows = [
        [name, *[f"{1000 * m[c.key]:.1f}" for c in competitors], f"{100 * spreads[name]:.0f}%"]
        for name, m in medians.items()
    ]
    print("\n### Milliseconds per epoch (medians)\n")
    print(_markdown(["setting", *[c.label for c in competitors], "spread"], rows))
    print("(spread: the largest interquartile range of one competitor's paired-epoch ratios)")
    keys = {c.key for c in competitors}
    lines = []
    # Issue 20: the defaults ("auto") meet the target of tensor_dataset=True.
    for key in (*TDS_KEYS, *DEFAULT_KEYS):
        if key in keys:
            name, m = max(medians.items(), key=lambda kv: kv[1][key + ":ratio"])
            ratio = m[key + ":ratio"]
            lines.append(
                f"- {key} <= 1.05x (a) on every setting: {_verdict(ratio <= 1.05)} "
                f"(worst {ratio:.2f}x, {name})"
            )
    for key in DEFAULT_KEYS:
        if key in keys:
            slower, ties = [], []
            for name, r in ratios.items():
                larger, p = _slower(r[key + ":ratio"], r["dataloader:ratio"])
                if larger and p < 0.05:
                    slower.append(f"{name} (p={p:.3f})")
                elif larger:
                    m = medians[name]
                    ties.append(
                        f"{name}: {m[key + ':ratio']:.3f}x vs {m['dataloader:ratio']:.3f}x, "
                        f"p={p:.2f}"
                    )
            verdict = "met" if not slower else f"MISSED on {', '.join(slower)}"
            if ties:
                verdict += f" (tied within the noise on {'; '.join(ties)})"
            lines.append(f"- {key} never slower than (b): {verdict}")
    paths = [f"{key} {DATA_PATHS[key]}" for key in DEFAULT_KEYS if key in DATA_PATHS]
    if paths:
        lines.append(f"- data path the defaults took (tensor_dataset='auto'): {', '.join(paths)}")
    if lines:
        print("\nTargets:\n" + "\n".join(lines))


def report_calls(competitors: list[Competitor], calls: dict[str, float], s: Setting) -> None:
    base = calls["slicing"]
    rows = [[c.label, f"{calls[c.key]:.0f}", f"{calls[c.key] - base:+.0f}"] for c in competitors]
    print(f"\n### Python calls per training batch ({s.name}, batch {s.batch_size})\n")
    print(_markdown(["competitor", "calls/batch", "above (a)"], rows))
    for key in (*TDS_KEYS, *DEFAULT_KEYS):
        if key in calls:
            extra = calls[key] - base
            print(
                f"- {key} at most 60 calls/batch above (a): {_verdict(extra <= 60)} ({extra:+.0f})"
            )


def report_memory(competitors: list[Competitor], mem: dict[str, dict], s: Setting) -> None:
    base = mem["slicing"]
    base_increase = base["peak_kib"] - base["before_kib"]
    rows = []
    for c in competitors:
        m = mem[c.key]
        increase = m["peak_kib"] - m["before_kib"]
        rows.append(
            [
                c.label,
                f"{m['before_kib'] / 1024:.0f}",
                f"{m['peak_kib'] / 1024:.0f}",
                f"{m['peak_kib'] / base['peak_kib']:.2f}x",
                f"{increase / 1024:.0f}",
                f"{increase / base_increase:.2f}x",
            ]
        )
    print(f"\n### Peak RSS: converting the data and training 1 epoch ({s.name})\n")
    print("(before: libraries imported and the DataFrame built; ratios are to (a))\n")
    header = ["competitor", "before MiB", "peak MiB", "ratio", "increase MiB", "ratio"]
    print(_markdown(header, rows))
    if not base["reset"]:
        print("(the peak-RSS counter could not be reset: peaks are the whole process's)")
    for key in (*TDS_KEYS, *DEFAULT_KEYS):
        if key in mem:
            ratio = mem[key]["peak_kib"] / base["peak_kib"]
            print(f"- {key} peak RSS <= 1.2x (a): {_verdict(ratio <= 1.2)} ({ratio:.2f}x)")


def report_predict(competitors: list[Competitor], pred: dict[str, list[float]], s: Setting) -> None:
    rows = []
    for c in competitors:
        seconds = statistics.median(pred[c.key])
        ratio = statistics.median(pred[c.key + ":ratio"])
        rows.append([c.label, f"{1000 * seconds:.1f}", f"{s.n / seconds:,.0f}", f"{ratio:.2f}x"])
    print(f"\n### Prediction of all {s.n:,} rows, batch {PREDICT_BATCH} ({s.name})\n")
    print("(median ms; ratio: median over pairs of a prediction and the (a) pass after it)\n")
    print(_markdown(["competitor", "ms", "rows/s", "ratio to (a)"], rows))
    for key in (*TDS_KEYS, *DEFAULT_KEYS):
        if key in pred:
            ratio = statistics.median(pred[key + ":ratio"])
            print(f"- {key} prediction <= 1.1x (a): {_verdict(ratio <= 1.1)} ({ratio:.2f}x)")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print Markdown tables; ``--quick`` for a smoke run."""
    import torch

    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args or os.environ.get("TORCHWEAVE_BENCH_QUICK", "") not in ("", "0")
    repeats = [int(a.split("=", 1)[1]) for a in args if a.startswith("--repeats=")]
    config: dict[str, Any] = (
        _quick_settings()
        if quick
        else {
            "repeats": REPEATS,
            "settings": SETTINGS,
            "memory": MEMORY_SETTING,
            "predict": PREDICT_SETTING,
            "predict_repeats": PREDICT_REPEATS,
        }
    )
    if repeats:
        config["repeats"] = config["predict_repeats"] = repeats[-1]
    missing = torchweave_available()
    if missing is not None:
        print(f"torchweave competitors left out ({missing})")
    competitors = all_competitors(with_torchweave=missing is None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        print(
            f"torch {torch.__version__}, 1 thread, {config['repeats']} repeat(s)"
            f"{', QUICK run' if quick else ''}; tds = tensor_dataset=True, "
            "defaults = tensor_dataset='auto'",
            flush=True,
        )
        if quick:
            print(
                "(a smoke run: few paired epochs and a 10k-row prediction, where the fixed "
                "cost of reading a Task weighs more; judge the targets on the full run)",
                flush=True,
            )
        warm_up(competitors)
        medians: dict[str, dict[str, float]] = {}
        spreads: dict[str, float] = {}
        ratios: dict[str, dict[str, list[float]]] = {}
        for s in config["settings"]:
            start = time.perf_counter()
            times = seconds_per_epoch(competitors, s, config["repeats"])
            ratios[s.name] = {key: t for key, t in times.items() if key.endswith(":ratio")}
            medians[s.name] = {key: statistics.median(t) for key, t in times.items()}
            spreads[s.name] = max(_iqr(t) for key, t in times.items() if key.endswith(":ratio"))
            print(f"  {s.name}: {time.perf_counter() - start:.1f} s", flush=True)
        report_epochs(competitors, medians, spreads, ratios)
        report_calls(competitors, calls_per_batch(competitors, CALLS_SETTING), CALLS_SETTING)
        s = config["memory"]
        report_memory(competitors, peak_memory(competitors, s, missing is None), s)
        s = config["predict"]
        report_predict(competitors, predict_seconds(competitors, s, config["predict_repeats"]), s)
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
