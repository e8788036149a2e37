"""The halo computation against a brute-force receptive field, and the policies' orderings."""

from __future__ import annotations

import itertools

import pytest

from jiasu.runtime.parallel import GraphInfo, POLICIES, RowGeometry, balanced_cuts, halo_plan
from jiasu.runtime.parallel.spatial import split_rows


def out_height(g: RowGeometry, h: int, pad_bottom: int) -> int:
    return (h + g.pad_top + pad_bottom - g.span) // g.stride + 1


def brute_force_rows(layers, heights, rows):
    """Input rows each layer reads for output rows ``rows`` of the last one, by enumerating every window."""
    needed = [set(range(*rows))]
    for g, h in zip(reversed(layers), reversed(heights)):
        reads = {o * g.stride - g.pad_top + j * g.dilation for o in needed[0] for j in range(g.kernel)}
        needed.insert(0, {r for r in reads if 0 <= r < h})
    return needed[:-1]


CHAINS = {
    "resnet_stem": [RowGeometry(7, 2, 1, 3), RowGeometry(1), RowGeometry(3, 2, 1, 1)],
    "smallcnn": [RowGeometry(5, 2, 1, 0), RowGeometry(3, 2, 1, 0), RowGeometry(6, 1, 1, 0), RowGeometry(2, 2, 1, 0), RowGeometry(3)],
    "dilated": [RowGeometry(3, 1, 2, 2), RowGeometry(3, 1, 3, 3), RowGeometry(2, 2, 1, 0), RowGeometry(5, 1, 1, 2)],
    "strided_same": [RowGeometry(3, 2, 1, 1), RowGeometry(3, 2, 1, 1), RowGeometry(3, 2, 1, 1)],
}


@pytest.mark.parametrize("height", [64, 88, 97])
@pytest.mark.parametrize("parts", [1, 2, 3, 5])
@pytest.mark.parametrize("chain", list(CHAINS))
def test_halo_matches_brute_force_receptive_field(chain, parts, height):
    layers = CHAINS[chain]
    heights, h = [], height
    for g in layers:
        heights.append(h)
        h = out_height(g, h, g.pad_top)
    assert h >= 1
    rows = split_rows(h, parts)
    plans = halo_plan(layers, heights, rows)
    for (a, b), tiles in zip(rows, plans):
        expected = brute_force_rows(layers, heights, (a, b))
        for layer, (g, hin, tile, want) in enumerate(zip(layers, heights, tiles, expected)):
            # The tile is the smallest contiguous span holding every row the windows read.
            assert (tile.lo, tile.hi) == (min(want), max(want) + 1), f"{chain} part {a}:{b} layer {layer}"
            # Explicit pads make the tile yield exactly the part's rows of this layer's output.
            rows_out = (tile.hi - tile.lo + tile.top + tile.bottom - g.span) // g.stride + 1
            next_rows = (tiles[layer + 1].lo, tiles[layer + 1].hi) if layer + 1 < len(tiles) else (a, b)
            assert rows_out == next_rows[1] - next_rows[0]
            assert tile.top <= g.pad_top and (tile.top == 0 or tile.lo == 0)
            assert tile.bottom == 0 or tile.hi == hin


def test_split_rows_covers_every_row_once():
    for h, parts in itertools.product(range(1, 20), range(1, 6)):
        rows = split_rows(h, parts)
        assert [r for a, b in rows for r in range(a, b)] == list(range(h))
        assert all(b > a for a, b in rows)


def test_balanced_cuts_minimise_the_largest_stage():
    costs = [5.0, 1.0, 1.0, 1.0, 4.0, 2.0, 2.0]
    for stages in (2, 3):
        ends = balanced_cuts(costs, stages)
        worst = max(sum(costs[a:b]) for a, b in zip([0] + ends[:-1], ends))
        brute = min(
            max(sum(costs[a:b]) for a, b in zip((0,) + cut, cut + (len(costs),)))
            for cut in itertools.combinations(range(1, len(costs)), stages - 1)
        )
        assert worst == brute


class _Diamond:
    """A 4-step DAG: 0 -> (1 cheap, 2 expensive) -> 3."""

    dynamic = [0, 1, 2, 3]
    successors = {0: [1, 2], 1: [3], 2: [3], 3: []}


def test_policies_order_a_diamond():
    costs = [1.0, 0.5, 3.0, 1.0]
    info = _Diamond()
    assert POLICIES["fifo"](info, costs) == {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0}
    small = POLICIES["small_first"](info, costs)
    assert small[1] < small[2]
    critical = POLICIES["critical_path"](info, costs)
    assert critical == {0: -5.0, 1: -1.5, 2: -4.0, 3: -1.0}
    assert critical[2] < critical[1], "the branch on the critical path goes first"


def test_graph_info_marks_constant_steps_static():
    from .test_strategies import engine

    info = GraphInfo(engine("resnet18", False))
    ops = [info.engine.steps[i].kernel.node.op_type for i in info.static]
    assert ops and set(ops) == {"Identity"}
    assert info.engine.steps[info.dynamic[0]].kernel.node.op_type == "Conv"
