"""Peak live activation memory over the topological order, and the SRAM/DRAM split of the memory model."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
from onnx import TensorProto, helper, numpy_helper

from jiasu.analysis import profile
from jiasu.analysis.memory import Traffic, traffic

from ..conftest import make_model

X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])  # 16 floats: 64 bytes, 16 words
Y = helper.make_empty_tensor_value_info("y")


def chain() -> ir.Model:
    """a = relu(x); b = relu(a); y = a + b: ``a`` stays live across ``b``."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="r1"),
        helper.make_node("Relu", ["a"], ["b"], name="r2"),
        helper.make_node("Add", ["a", "b"], ["y"], name="add"),
    ]
    return ir.serde.deserialize_model(make_model(nodes, [X], [Y]))


def test_peak_frees_after_last_use():
    # live while each node runs: r1 x+a = 128 (then x dies); r2 a+b = 128; add a+b+y = 192 (then a, b die)
    p = profile(chain(), machine=False)
    assert p.totals.peak_activation_bytes == 192
    assert p.totals.peak_node == "add"
    assert p.totals.activation_bytes == 4 * 64  # naive: x, a, b, y all at once


def test_peak_follows_the_execution_dtype():
    assert profile(chain(), dtype="fp16", machine=False).totals.peak_activation_bytes == 96
    assert profile(chain(), dtype="int8", machine=False).totals.peak_activation_bytes == 48


def test_an_output_nobody_reads_dies_at_once():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="r1"),
        helper.make_node("Relu", ["x"], ["unused"], name="dead"),
        helper.make_node("Relu", ["a"], ["y"], name="r2"),
    ]
    p = profile(ir.serde.deserialize_model(make_model(nodes, [X], [Y])), machine=False)
    # r1: x + a = 128; dead: x + a + unused = 192, after which x and unused die; r2: a + y = 128
    assert (p.totals.peak_activation_bytes, p.totals.peak_node) == (192, "dead")


def _split(model, cache_bytes):
    return [(n.sram_bytes // 4, n.dram_bytes // 4) for n in profile(model, cache_bytes=cache_bytes, machine=False).nodes]


def test_traffic_split_by_cache_size():
    # Large cache: x comes from DRAM once; a and b are written to and read from SRAM; y is written to DRAM.
    assert _split(chain(), 1 << 20) == [(16, 16), (32, 0), (32, 16)]
    # A cache smaller than one tensor: every access goes to DRAM.
    assert _split(chain(), 63) == [(0, 32), (0, 32), (0, 48)]


def test_a_weight_comes_from_dram_once_then_from_sram():
    w = numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")  # 16 words
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="m1"), helper.make_node("MatMul", ["h", "w"], ["y"], name="m2")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    model = ir.serde.deserialize_model(make_model(nodes, [x], [Y], [w]))
    # m1: x (4) and w (16) from DRAM, h (4) to SRAM; m2: h and w from SRAM, y (4) to DRAM
    assert _split(model, 1 << 20) == [(4, 20), (20, 4)]
    assert _split(model, 32) == [(4, 20), (4, 20)]  # w (64 B) no longer fits: fetched from DRAM again


def test_words_round_up_per_tensor():
    from jiasu.analysis.counts import NodeCounts, Tensor
    from jiasu.analysis.rules import Ops

    t = Tensor("t", 5, ir.DataType.INT8)
    node = NodeCounts("n", "Relu", "elementwise", Ops(), 0, (), (t,), ())
    assert traffic([node], set(), lambda t: 5, 0) == [Traffic(sram_words=0, dram_words=2)]
