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
