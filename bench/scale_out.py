"""Scale-out of ``tw.resample``: sequential vs 2 Dask workers vs 2 loky workers.

10-fold cross-validation of a mid-sized MLP (3 hidden layers of 256, adamw, batch 256,
one thread per fit) on the large synthetic setting of ``bench.training`` (n=100,000,
p=50). The same ``tw.resample`` call runs

``sequential``  ``n_jobs=1`` in this process,
``loky``        ``n_jobs=2`` (joblib's default process backend),
``dask``        under ``joblib.parallel_config(backend="dask")`` with a
                ``LocalCluster`` of 2 worker processes with 1 thread each,

in alternating order, ``REPEATS`` times each; the table shows the median seconds of a
cross-validation and the speed-up over ``sequential``. The Dask cluster and the loky
workers are started (and warmed up by a small resample) before timing, as a user's
long-lived cluster would be. Every run gives the same scores (checked).

``python -m bench.scale_out --quick`` runs 10,000 rows and one repeat (a smoke run).
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from typing import Any

from bench.training import LARGE_SETTING, Data

REPEATS = 3
FOLDS = 10
EPOCHS = 2
WORKERS = 2


def learner(d: Data) -> Any:
    """The MLP of the setting as a torchweave learner (1 thread, fixed seed)."""
    import copy

    import torchweave as tw

    s = d.setting
    token = tw.TorchIngressToken(d.feature_names, tw.batchgetter_num, (None, s.p))
    out = tw.LearnerTorchModel(
        network=copy.deepcopy(d.template),
        ingress_tokens={"x": token},
        task_type="regr",
        optimizer=tw.t_opt(s.optimizer, lr=s.lr),
        loss=tw.t_loss("mse"),
    )
    return out.configure(
        epochs=EPOCHS, batch_size=s.batch_size, device="cpu", num_threads=1, seed=1
    )


def main(argv: list[str] | None = None) -> None:
    """Print the speed-up table."""
    import dask
    import joblib

    import torchweave as tw
    from distributed import Client, LocalCluster

    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    setting = LARGE_SETTING
    repeats = REPEATS
    if quick:
        setting = dataclasses.replace(setting, name="n=10k", n=10_000)
        repeats = 1
    d = Data(setting)
    task = d.task
    resampling = tw.rsmp("cv", folds=FOLDS, random_state=1).instantiate(task)
    small = tw.TaskRegr(d.df.iloc[:2000], target="y", id="warm-up")

    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 for its workers, and in the
    # process that starts them (so also for loky workers started later). That turns off
    # glibc's adaptive mmap threshold: torch's larger tensors are then mapped and
    # unmapped at every step, which made each fit about 35% slower. Unset it, as a
    # cluster for torch training should (docs/scaling_out.md).
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(
            n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    client = Client(cluster)

    def run_sequential(t: Any = task, r: Any = resampling) -> Any:
        return tw.resample(t, learner(d), r, n_jobs=1)

    def run_loky(t: Any = task, r: Any = resampling) -> Any:
        return tw.resample(t, learner(d), r, n_jobs=WORKERS)

    def run_dask(t: Any = task, r: Any = resampling) -> Any:
        with joblib.parallel_config(backend="dask"):
            return tw.resample(t, learner(d), r)

    runs = {"sequential": run_sequential, "loky": run_loky, "dask": run_dask}
    try:
        for fn in runs.values():  # warm-up: worker start, imports
            fn(small, tw.rsmp("cv", folds=2, random_state=1))
        times: dict[str, list[float]] = {k: [] for k in runs}
        scores: dict[str, float] = {}
        for rep in range(repeats):
            order = list(runs)[rep % len(runs) :] + list(runs)[: rep % len(runs)]
            for key in order:
                start = time.perf_counter()
                rr = runs[key]()
                times[key].append(time.perf_counter() - start)
                scores[key] = rr.aggregate(tw.msr("regr.mse"))["regr.mse"]
                print(f"  {key:<11}{times[key][-1]:8.1f} s", flush=True)
    finally:
        client.close()
        cluster.close()
    same = len({round(v, 10) for v in scores.values()}) == 1
    base = statistics.median(times["sequential"])
    print(
        f"\n{FOLDS}-fold CV of an MLP ({setting.layers}x{setting.width}, {EPOCHS} epochs, "
        f"batch {setting.batch_size}) on n={setting.n:,}, p={setting.p}; "
        f"median of {repeats} run(s); the same scores in every run: {same}"
    )
    header = f"{'backend':<26}{'seconds':>9}{'speed-up':>10}"
    print(header)
    print("-" * len(header))
    labels = {
        "sequential": "sequential (n_jobs=1)",
        "loky": f"loky, {WORKERS} workers",
        "dask": f"dask, {WORKERS} workers x 1 thread",
    }
    for key, label in labels.items():
        med = statistics.median(times[key])
        print(f"{label:<26}{med:9.1f}{base / med:9.2f}x")


if __name__ == "__main__":
    main()
