"""The fused inverted residual block against its three layers, one block at a time (issue #5, session 12).

    python benchmarks/inverted_residual.py [BATCH ...] [--rounds 6]

Each of mobilenet_v2's distinct block shapes (at 224x224) is built as an ONNX graph the way the exporter writes it
(1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 project, the residual Add where there is one) with random
weights and a channels_last input (as the layer before leaves it in the network), and optimized twice: with the default passes (one ``jiasu::InvertedResidual`` node, the C kernel
``kernels/native/inverted_residual.c``), and without ``fuse_inverted_residual`` (three FusedConv nodes, each run
by the default plan's algorithm: the C pointwise and depthwise loops). Both engines must agree within 1e-4
(relative). Rounds visit the two in turn, each timing the median of 20 runs; the figure is the best round's
median, in microseconds per block (whole batch), at 2 threads.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import onnx_ir as ir
import torch
from onnx import TensorProto, helper, numpy_helper

import jiasu
from jiasu.frontends import copy_model
from jiasu.passes import DEFAULT_PASSES, optimize

# (input size, cin, expansion, cout, stride): mobilenet_v2's blocks, each distinct shape once
BLOCKS = [
    (112, 32, 1, 16, 1), (112, 16, 6, 24, 2), (56, 24, 6, 24, 1), (56, 24, 6, 32, 2), (28, 32, 6, 32, 1),
    (28, 32, 6, 64, 2), (14, 64, 6, 64, 1), (14, 64, 6, 96, 1), (14, 96, 6, 96, 1), (14, 96, 6, 160, 2),
    (7, 160, 6, 160, 1), (7, 160, 6, 320, 1),
]  # fmt: skip


def block_model(size: int, cin: int, t: int, cout: int, stride: int) -> ir.Model:
    rng = np.random.default_rng(0)
    hid = cin * t
    inits = [numpy_helper.from_array(np.array(0.0, np.float32), "lo"), numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    nodes, x = [], "x"

    def conv(name, source, shape, **attrs):
        w = (rng.standard_normal(shape) / math.sqrt(np.prod(shape[1:]))).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array((rng.standard_normal(shape[0]) * 0.1).astype(np.float32), f"{name}_b")])
        nodes.append(helper.make_node("Conv", [source, f"{name}_w", f"{name}_b"], [f"{name}_y"], name=name, **attrs))
        return f"{name}_y"

    def relu6(source):
        nodes.append(helper.make_node("Clip", [source, "lo", "hi"], [f"{source}_6"]))
        return f"{source}_6"

    if t != 1:
        x = relu6(conv("expand", x, (hid, cin, 1, 1)))
    d = relu6(conv("dw", x, (hid, 1, 3, 3), group=hid, strides=[stride] * 2, pads=[1] * 4))
    p = conv("project", d, (cout, hid, 1, 1))
    nodes.append(helper.make_node("Add", [p, "x"], ["y"]) if stride == 1 and cin == cout else helper.make_node("Identity", [p], ["y"]))
    ho = (size - 1) // stride + 1
    graph = helper.make_graph(
        nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", cin, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", cout, ho, ho])], initializer=inits,
    )  # fmt: skip
    return ir.serde.deserialize_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def _median_us(engine, feeds, runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        engine.run(feeds)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("batch", nargs="*", type=int, default=[1, 8])
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(2)
    unfused = [p for p in DEFAULT_PASSES if p != "fuse_inverted_residual"]
    print(f"torch {torch.__version__}, 2 threads, best of {args.rounds} interleaved rounds (median of 20 runs each), us per block")
    for batch in args.batch:
        print(f"\n| batch {batch} | fused us | three layers us | fused speed-up |\n|---|---|---|---|")
        total = [0.0, 0.0]
        for size, cin, t, cout, stride in BLOCKS:
            model = block_model(size, cin, t, cout, stride)
            fused = jiasu.Engine(optimize(copy_model(model))[0], threads=2)
            layers = jiasu.Engine(optimize(copy_model(model), unfused)[0], threads=2)
            assert [s.kernel.node.op_type for s in fused.steps] == ["InvertedResidual"] + ["Identity"] * (len(fused.steps) - 1)
            x = torch.from_numpy(np.random.default_rng(1).standard_normal((batch, cin, size, size)).astype(np.float32))
            feeds = {"x": x.contiguous(memory_format=torch.channels_last)}  # as the layer before leaves it in a network
            a, b = fused.run(feeds)["y"], layers.run(feeds)["y"]
            assert float((a - b).norm() / b.norm()) <= 1e-4
            best = [math.inf, math.inf]
            for r in range(args.rounds):
                order = (0, 1) if r % 2 == 0 else (1, 0)
                for k in order:
                    best[k] = min(best[k], _median_us((fused, layers)[k], feeds))
            total = [total[0] + best[0], total[1] + best[1]]
            name = f"{size}x{size} {cin}" + (f"x{t}" if t != 1 else "") + f" -> {cout}, stride {stride}"
            print(f"| {name} | {best[0]:.1f} | {best[1]:.1f} | {best[1] / best[0]:.2f}x |")
        print(f"| all {len(BLOCKS)} | {total[0]:.0f} | {total[1]:.0f} | {total[1] / total[0]:.2f}x |")


if __name__ == "__main__":
    main()
