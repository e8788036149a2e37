"""jiasu's native paths on against off, in one process, interleaved (issue #5, sessions 9 to 11).

    python benchmarks/native_paths_ab.py zoo:resnet18 8 [pool,gemv,shape,pointwise,depthwise,gap,first,blocks]

Builds the default engine twice. On the second, the paths named in the third argument are off: ``pool`` the C
max pooling (kernels/native/pool.c), ``gemv`` the C one-row fully-connected layer (kernels/native/gemv.c),
``shape`` the default plan's per-input-shape choices (Winograd on small maps with enough tiles, nhwc_direct for a
single-channel first layer at batch 1 and for depthwise convs), ``pointwise`` the C 1x1 convolution (those convs
run oneDNN), ``depthwise`` nhwc_direct for depthwise convs (oneDNN), ``gap`` the C global average pooling
(torch's mean), ``first`` nhwc_direct for a first layer, a dense conv on 1-3 input channels (oneDNN),
``blocks`` the fused inverted residual blocks (the pass ``fuse_inverted_residual`` left out: their three convs
run as layers). Both engines must agree; eight rounds time a block of about 0.4 s each, visiting the two in
turn. Prints the median ms per image of each.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

import jiasu
import jiasu.kernels.ops.gemm as gemm_op
import jiasu.plan.heuristic as heuristic
from jiasu.frontends import copy_model
from jiasu.frontends.inputs import example_feeds
from jiasu.kernels.ops.global_average_pool import GlobalAveragePool
from jiasu.kernels.ops.max_pool import MaxPool
from jiasu.passes import DEFAULT_PASSES, optimize


def main() -> None:
    src, batch = sys.argv[1], int(sys.argv[2])
    off = sys.argv[3].split(",") if len(sys.argv) > 3 else ["pool", "gemv", "shape"]
    torch.set_num_threads(2)
    model = jiasu.load(src)
    feeds = example_feeds(model, batch=batch)
    engines = {"on": jiasu.Engine(optimize(copy_model(model), None)[0], threads=2)}
    library, choose = gemm_op._gemv_library, heuristic.choose_algorithm
    if "gemv" in off:
        gemm_op._gemv_library = lambda: None  # read when a Gemm node prepares, at its first run
    if "pointwise" in off or "depthwise" in off or "first" in off:

        def without(spec, device, input_size=None, batch=None):
            name = choose(spec, device, input_size, batch)
            dropped = (
                name == "pointwise" and "pointwise" in off
                or name == "nhwc_direct" and spec.groups > 1 and "depthwise" in off
                or name == "nhwc_direct" and spec.groups == 1 and "first" in off
            )
            return "onednn" if dropped else name

        heuristic.choose_algorithm = without  # asked at load time and, per input shape, at the first run
    passes = [p for p in DEFAULT_PASSES if p != "fuse_inverted_residual"] if "blocks" in off else None
    engine = jiasu.Engine(optimize(copy_model(model), passes)[0], threads=2)
    for step in engine.steps:
        if "pool" in off and isinstance(step.kernel, MaxPool):
            step.kernel._native_applies = lambda x: False
        if "shape" in off and hasattr(step.kernel, "_per_shape"):
            step.kernel._per_shape = None
        if "gap" in off and isinstance(step.kernel, GlobalAveragePool):
            step.kernel.run = lambda x: (x.mean(dim=(2, 3), keepdim=True),)
    engine.source, engine._forward = engine._compile()  # the straight-line code binds each kernel's run
    engine.run(feeds)
    gemm_op._gemv_library, heuristic.choose_algorithm = library, choose
    engines["off"] = engine
    ref, got = engines["off"].run(feeds), engines["on"].run(feeds)
    worst = max(float((ref[k] - got[k]).norm() / ref[k].norm()) for k in ref)
    assert worst < 1e-4, f"the two engines disagree: relative L2 {worst:.1e}"
    t = time.perf_counter()
    engines["off"].run(feeds)
    reps = max(1, int(0.4 / (time.perf_counter() - t)))
    times = {k: [] for k in engines}
    for _ in range(8):
        for name, eng in engines.items():
            eng.run(feeds)
            t = time.perf_counter()
            for _ in range(reps):
                eng.run(feeds)
            times[name].append((time.perf_counter() - t) / reps / batch * 1e3)
    print(f"{src} batch {batch}, off: {','.join(off)}; ms per image, median of 8 interleaved rounds: "
          + ", ".join(f"{k} {np.median(v):.3f}" for k, v in times.items()))


if __name__ == "__main__":
    main()
