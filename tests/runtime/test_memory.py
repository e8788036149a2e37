"""Memory planning: liveness, in-place reuse and the greedy arena, on hand-sized graphs and real models."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
from onnx import TensorProto, helper

import jiasu
from jiasu.frontends import load
from jiasu.frontends.inputs import example_feeds
from jiasu.passes import optimize
from jiasu.runtime.memory import check_plan, plan_memory

from ..conftest import make_model


def _chain(ops):
    """x[1,256] (1 KiB float32) through ``ops`` (each op name applied to the previous value) -> y."""
    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        out = "y" if i == len(ops) - 1 else f"t{i}"
        nodes.append(helper.make_node(op, [prev], [out], name=f"n{i}"))
        prev = out
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])
    return ir.from_proto(make_model(nodes, [x], [y]))


def test_chain_reuses_two_buffers_without_inplace():
    engine = jiasu.Engine(_chain(["Neg", "Relu", "Neg", "Relu"]))
    plan = plan_memory(engine, {"x": np.ones((1, 256), np.float32)}, inplace=False)
    check_plan(plan)
    assert plan.naive_bytes == 4 * 1024  # four intermediates of 1 KiB, one buffer each
    assert plan.live_peak_bytes == 2 * 1024  # input and output of one step
    assert plan.arena_bytes == 2 * 1024  # two buffers, ping-pong


def test_inplace_elementwise_chain_needs_one_buffer():
    engine = jiasu.Engine(_chain(["Neg", "Relu", "Neg", "Relu"]))
    plan = plan_memory(engine, {"x": np.ones((1, 256), np.float32)})
    check_plan(plan)
    assert plan.inplace == 3 and plan.arena_bytes == 1024


def test_a_value_read_later_is_not_overwritten_in_place():
    # t0 = Neg(x); t1 = Relu(t0); y = Add(t0, t1): t0 is still needed when Relu runs.
    nodes = [
        helper.make_node("Neg", ["x"], ["t0"], name="neg"),
        helper.make_node("Relu", ["t0"], ["t1"], name="relu"),
        helper.make_node("Add", ["t0", "t1"], ["y"], name="add"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])
    engine = jiasu.Engine(ir.from_proto(make_model(nodes, [x], [y])))
    plan = plan_memory(engine, {"x": np.ones((1, 256), np.float32)})
    check_plan(plan)
    relu = next(b for b in plan.buffers if b.name == "t1")
    assert relu.alias_of is None  # Relu's input lives on: no in-place
    assert plan.arena_bytes == 2 * 1024  # Add writes over t0 (dies there); t1 needs its own buffer


@pytest.mark.parametrize("name", ["resnet50?image_size=64", "googlenet?image_size=64", "mobilenet_v2?image_size=64"])
def test_zoo_arena_is_at_most_60_percent_of_naive(name):
    """Issue #5's target, on the graph as exported and after the default passes."""
    model = load(f"zoo:{name}")
    feeds = example_feeds(model, batch=1)
    for graph in (model, optimize(load(f"zoo:{name}"))[0]):
        plan = plan_memory(jiasu.Engine(graph), feeds)
        check_plan(plan)
        assert plan.arena_bytes <= 0.6 * plan.naive_bytes
        assert plan.live_peak_bytes <= plan.arena_bytes


@pytest.mark.skipif(bool(jiasu.kernels.native.status("inverted_residual")), reason="the C kernels do not build here")
@pytest.mark.parametrize("batch, threads", [(1, 2), (2, 2), (1, 1)], ids=["shared_rows", "groups", "one_thread"])
def test_a_fused_blocks_row_buffers_count_at_its_step(batch, threads):
    """mobilenet_v2 at 32x32: its first fused block (no expand; 16x16 map, 32 channels, 16 a row group of 4 rows
    of 16 pixels) and second (expand to 96 at 16x16, stride 2: 8x8, so one group of 8 rows) as the C kernel
    allocates them, each a buffer of its own step only."""
    import torch

    model, _ = optimize(load("zoo:mobilenet_v2?image_size=32"))
    torch.set_num_threads(threads)
    try:
        plan = plan_memory(jiasu.Engine(model), example_feeds(model, batch=batch))
    finally:
        torch.set_num_threads(2)
    check_plan(plan)
    spaces = [b for b in plan.buffers if b.name.endswith(" (workspace)")]
    assert len(spaces) == 17 and all(b.first == b.last and b.slot < 0 for b in spaces)
    assert spaces[0].nbytes == 4 * threads * 4 * 16 * 32  # d: one group of 4 rows x 16 pixels x 32 channels a thread
    d = 8 * 8 * 96  # one group: the whole 8x8 output
    if batch < threads:  # e expanded whole, shared: 16 x 16 x 96
        assert spaces[1].nbytes == 4 * (16 * 16 * 96 + threads * d)
    else:  # each thread's e: the (8 - 1) * 2 + 3 = 17 rows a group reads, but the image has 16
        assert spaces[1].nbytes == 4 * threads * (d + 16 * 16 * 96)
    # features.8 on a 2x2 map, 64 -> 384 -> 64: at batch 1 the expand's 384 outweigh the 4 pixels, its panels
    # split, and d is shared whole: e and d of 2 x 2 x 384 each (else one group of 2 rows of d a thread, and e)
    if batch < threads:
        assert spaces[7].nbytes == 4 * (2 * 2 * 384 + 2 * 2 * 384)
    else:
        assert spaces[7].nbytes == 4 * threads * (2 * 2 * 384 + 2 * 2 * 384)
    assert plan.naive_bytes == sum(b.nbytes for b in plan.buffers)
