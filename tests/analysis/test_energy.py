"""Energy: the 45 nm table, dtype ratios, the worked example of docs/profile.md, and table files."""

from __future__ import annotations

import json

import pytest

import jiasu
from jiasu.analysis import energy_table, profile
from jiasu.errors import JiasuError

from ._build import f32, one_node

# pJ per op of the default table (Horowitz, ISSCC 2014, 45 nm)
FP32_MAC, FP16_MAC, INT8_MAC = 3.7 + 0.9, 1.0 + 0.4, 0.2 + 0.1  # INT8 accumulates in int32


def compute_pj(model, dtype):
    return profile(model, dtype=dtype, machine=False).totals.energy.compute_pj


@pytest.mark.parametrize(
    "model, fp32_pj, int8_pj",
    [
        (one_node("Conv", [1, 3, 8, 8], f32(4, 3, 3, 3)), FP32_MAC, INT8_MAC),  # MACs only
        (one_node("Relu", [1, 3, 8, 8]), 0.9, 0.03),  # adds only
        (one_node("Mul", [1, 3, 8, 8], "b"), 3.7, 0.2),  # multiplies only
    ],
    ids=["macs", "adds", "muls"],
)
def test_fp32_to_int8_lowers_compute_energy_by_the_table_ratio(model, fp32_pj, int8_pj):
    fp32, int8 = compute_pj(model, "fp32"), compute_pj(model, "int8")
    assert fp32 / int8 == pytest.approx(fp32_pj / int8_pj, rel=1e-12)  # 15.33x, 30x, 18.5x


def test_compute_energy_is_counted_op_by_op():
    # 8x8, k3, no pad -> 4x6x6 = 144 outputs x 27 MACs, + 144 bias adds
    model = one_node("Conv", [1, 3, 8, 8], f32(4, 3, 3, 3), f32(4))
    macs, adds = 144 * 27, 144
    assert compute_pj(model, "fp32") == pytest.approx(macs * FP32_MAC + adds * 0.9)
    assert compute_pj(model, "fp16") == pytest.approx(macs * FP16_MAC + adds * 0.4)
    assert compute_pj(model, "int8") == pytest.approx(macs * INT8_MAC + adds * 0.03)


def test_worked_example_of_the_docs():
    """docs/profile.md works out smallcnn's conv2 by hand; these are its numbers."""
    model = jiasu.load("zoo:smallcnn")
    want = {  # dtype: (compute, SRAM, DRAM) in pJ
        "fp32": (35_831_808 * 4.6 + 62_208 * 0.9, 89_104 * 5, 27_696 * 640),
        "int8": (35_831_808 * 0.3 + 62_208 * 0.03, 22_276 * 5, 6_924 * 640),
    }
    for dtype, (compute, sram, dram) in want.items():
        (conv2,) = [n for n in profile(model, dtype=dtype, machine=False).nodes if n.name == "/conv2/Conv"]
        assert conv2.macs == 35_831_808
        assert (conv2.energy.compute_pj, conv2.energy.sram_pj, conv2.energy.dram_pj) == pytest.approx((compute, sram, dram))
    assert 183.05e6 < sum(want["fp32"]) < 183.06e6 and 15.29e6 < sum(want["int8"]) < 15.30e6


def test_memory_energy_uses_the_word_costs():
    # Relu on 1x3x8x8 (192 floats = 192 words) with a 1 MiB cache: x read from DRAM, y written to DRAM
    e = profile(one_node("Relu", [1, 3, 8, 8]), machine=False).totals.energy
    assert (e.sram_pj, e.dram_pj) == (0, 2 * 192 * 640)


def test_table_file_overrides_part_of_the_default(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"name": "cheap dram", "memory_pj_per_word": {"dram": 64}, "dtypes": {"fp16": {"accumulate": "fp32_add"}}}))
    table = energy_table(path)
    assert table.name == "cheap dram"
    assert table.memory_pj_per_word == {"sram": 5.0, "dram": 64}
    assert table.mac_pj("fp16") == 1.0 + 0.9  # fp16 multiply, fp32 accumulate
    e = profile(one_node("Relu", [1, 3, 8, 8]), energy=str(path), machine=False).totals.energy
    assert e.dram_pj == 2 * 192 * 64


def test_yaml_table(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "t.yaml"
    path.write_text("ops_pj:\n  fp32_mul: 1.0\n")
    assert energy_table(path).mac_pj("fp32") == 1.0 + 0.9


@pytest.mark.parametrize(
    "override, message",
    [
        ({"op_pj": {}}, "unknown key 'op_pj' in the energy table; known keys: name, ops_pj, memory_pj_per_word, dtypes"),
        ({"ops_pj": {"fp32_mul": -1}}, "ops_pj.fp32_mul in the energy table must be a non-negative number of pJ, got -1"),
        (
            {"dtypes": {"int8": {"mul": "int4_mul"}}},
            "dtypes.int8.mul in the energy table must name an entry of ops_pj "
            "(int8_add, int8_mul, fp16_add, fp16_mul, int32_add, fp32_add, int32_mul, fp32_mul), got 'int4_mul'",
        ),
    ],
)
def test_bad_tables_are_refused(override, message):
    with pytest.raises(JiasuError) as e:
        energy_table(override)
    assert str(e.value) == message


def test_missing_table_file(tmp_path):
    with pytest.raises(JiasuError, match="energy table not found: .*nope.json"):
        energy_table(tmp_path / "nope.json")
