"""Time to declare, train (build) and compile a network graph of 100 operators.

PERFORMANCE.md's target: building a graph of 100 operators into a module takes
under 100 ms. "build" is `graph.train(task)` (shape inference and layer
construction for every operator) plus `model_descriptor_to_module`; "declare" is
adding the operators one by one with `add_pipeop`/`add_edge`, and chaining them
with `>>`, reported separately. Issue 20's target: `>>` within 2x of `add_pipeop`
(`>>` copies each operand once, so it clones every operator once; it no longer
copies the growing graph at every step).
"""

from __future__ import annotations

import itertools
import statistics
import time

import torchweave as tw


def _declare(n_layers: int):
    ops = [tw.po("torch_ingress_num")]
    for i in range(n_layers // 2):
        ops.append(tw.nn(f"linear_{i}", out_features=16))
        ops.append(tw.nn(f"relu_{i}"))
    graph = tw.as_graph(ops[0])
    for previous, op in itertools.pairwise(ops):
        graph.add_pipeop(op, clone=False)
        graph.add_edge(previous.id, op.id)
    return graph


def _declare_with_rshift(n_layers: int):
    graph = tw.po("torch_ingress_num")
    for i in range(n_layers // 2):
        graph = graph >> tw.nn(f"linear_{i}", out_features=16) >> tw.nn(f"relu_{i}")
    return graph


def main(repeats: int = 5) -> None:
    task = tw.tsk("iris")
    n = 100
    build, declare, declare_rshift = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        graph = _declare(n - 1)
        t1 = time.perf_counter()
        out = graph.train(task)
        md = next(iter(out.values()))
        module = tw.model_descriptor_to_module(md)
        t2 = time.perf_counter()
        _declare_with_rshift(n - 1)
        t3 = time.perf_counter()
        declare.append(t1 - t0)
        build.append(t2 - t1)
        declare_rshift.append(t3 - t2)
    assert len(list(module.parameters())) > 0
    print(f"network of {len(graph.pipeops)} operators, median of {repeats} runs")
    print(f"{'step':<40}{'ms':>10}")
    print("-" * 50)
    print(f"{'declare (add_pipeop/add_edge)':<40}{1000 * statistics.median(declare):>10.1f}")
    print(f"{'declare (a >> b >> ...)':<40}{1000 * statistics.median(declare_rshift):>10.1f}")
    print(f"{'build (train graph + to module)':<40}{1000 * statistics.median(build):>10.1f}")
    ratio = statistics.median(declare_rshift) / statistics.median(declare)
    print(f"{'>> / add_pipeop':<40}{ratio:>9.2f}x")
    print("targets: build < 100 ms; >> within 2x of add_pipeop")


if __name__ == "__main__":
    main()
