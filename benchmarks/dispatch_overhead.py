"""Per-node dispatch overhead of our engine: a chain of N tiny Relu nodes vs the same torch calls in a loop.

    python benchmarks/dispatch_overhead.py [--nodes 200] [--repeats 2000]

Each node computes relu of a 1-element tensor, so the kernel's own work is the
same ~1 us in every variant; the difference is dispatch. Variants, one run:
- torch loop: ``for _ in range(N): x = torch.relu(x)`` (the floor: one torch call per node)
- engine compiled: ``Engine.run`` on tensors (straight-line function, plus the feed check)
- engine forward: the compiled function alone (``engine._forward``)
- engine interpreted: the step-by-step path (``engine._run_steps``) the engine used before compilation
Prints microseconds per node, best of several batches of runs.
"""

from __future__ import annotations

import argparse
import time

import onnx_ir as ir
import torch
from onnx import TensorProto, helper

import jiasu


def chain(n: int) -> ir.Model:
    nodes = [helper.make_node("Relu", ["x" if i == 0 else f"t{i - 1}"], [f"t{i}" if i < n - 1 else "y"], name=f"r{i}") for i in range(n)]
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return ir.from_proto(model)


def best_us_per_node(fn, n: int, repeats: int) -> float:
    for _ in range(10):
        fn()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeats // 5):
            fn()
        best = min(best, (time.perf_counter() - t0) / (repeats // 5))
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    n = args.nodes
    engine = jiasu.Engine(chain(n))
    x = torch.ones(1)
    feeds = {"x": x}
    args_ = engine._arguments(engine._check_feeds(feeds))

    def torch_loop():
        y = x
        for _ in range(n):
            y = torch.relu(y)
        return y

    with torch.inference_mode():
        results = {
            "torch loop (floor)": best_us_per_node(torch_loop, n, args.repeats),
            "engine forward (compiled)": best_us_per_node(lambda: engine._forward(*args_), n, args.repeats),
            "engine.run (compiled + feed check)": best_us_per_node(lambda: engine.run(feeds), n, args.repeats),
            "engine interpreted (step loop)": best_us_per_node(lambda: engine._run_steps(args_), n, args.repeats),
        }
    floor = results["torch loop (floor)"]
    print(f"{n} Relu nodes on a 1-element tensor, 1 thread; microseconds per node (best of 5 batches):")
    for name, us in results.items():
        print(f"  {name:38s} {us:6.2f} us   overhead over the torch call {us - floor:+6.2f} us")


if __name__ == "__main__":
    main()
