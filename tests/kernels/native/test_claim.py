"""``kernels/native/claim.h``: the work items that the threads of a parallel region share (each its own share first,
then what is left of the others', from their far ends). Every item must go to exactly one thread whatever the order
the threads ask in; a lost item is a tile of a Winograd convolution never computed, a doubled one a race.

The header is compiled into a small program that plays the threads' turns from one thread (each ``claim_next`` is
a handful of atomic operations, so any interleaving of whole calls is a schedule that can happen) and prints which
thread got each item."""

from __future__ import annotations

import subprocess

import pytest

import jiasu.kernels.native as native

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "claim.h"

/* argv: n items, T threads, the schedule: "only" (thread 0 asks until none is left, then the others), "turns"
 * (round robin), or a seed (a random thread each time). Prints "item thread" per claim, then "end". */
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    int T = atoi(argv[2]);
    static claim_range ranges[CLAIM_THREADS];
    claim_cursor cursors[CLAIM_THREADS] = {{0}};
    int done[CLAIM_THREADS] = {0}, left = T, turn = 0;
    for (int t = 0; t < T; t++) claim_init(ranges, n, t, T);
    srand(atoi(argv[3]));
    while (left > 0) {
        int t = argv[3][0] == 'o' ? 0 : argv[3][0] == 't' ? turn++ % T : rand() % T;
        if (argv[3][0] == 'o') while (done[t]) t++;
        if (done[t]) continue;
        long i = claim_next(ranges, t, T, &cursors[t]);
        if (i < 0) done[t] = 1, left--;
        else printf("%ld %d\n", i, t);
    }
    printf("end\n");
    return 0;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    try:
        cc = native._compiler()
    except native.NativeUnavailable as e:
        pytest.skip(str(e))
    folder = tmp_path_factory.mktemp("claim")
    (folder / "claim_test.c").write_text(PROGRAM)
    binary = folder / "claim_test"
    subprocess.run([cc, "-O2", f"-I{native._SOURCES}", "-o", str(binary), str(folder / "claim_test.c")], check=True)
    return binary


def claims(program, n: int, threads: int, schedule: str) -> list[tuple[int, int]]:
    out = subprocess.run([str(program), str(n), str(threads), schedule], capture_output=True, text=True, check=True)
    lines = out.stdout.split("\n")
    assert lines[-2:] == ["end", ""]
    return [(int(a), int(b)) for a, b in (line.split() for line in lines[:-2])]


@pytest.mark.parametrize("n", [0, 1, 5, 37, 1000])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("schedule", ["only", "turns", "1", "2", "3"])
def test_every_item_goes_to_one_thread(program, n, threads, schedule):
    got = claims(program, n, threads, schedule)
    assert sorted(i for i, _ in got) == list(range(n))


def test_a_thread_alone_takes_its_own_share_in_order_then_the_others_from_their_ends(program):
    """Thread 0 of 2 asks until nothing is left: its share [0, 50) in order, then the other's [50, 100) a quarter
    of what is left (rounded up) at a time from the back, each piece in order: 87-99, 77-86, 70-76, ..."""
    got = [i for i, t in claims(program, 100, 2, "only")]
    expected, front, back = list(range(50)), 50, 100
    while front < back:
        take = (back - front + 3) // 4
        expected += list(range(back - take, back))
        back -= take
    assert expected[50:63] == list(range(87, 100))
    assert got == expected


def test_threads_in_turn_keep_their_own_shares(program):
    """Threads asking in turn, at the same pace, each get exactly their own share: nothing is stolen."""
    got = claims(program, 90, 3, "turns")
    for t in range(3):
        assert [i for i, u in got if u == t] == list(range(30 * t, 30 * (t + 1)))
