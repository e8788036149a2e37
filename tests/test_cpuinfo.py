"""jiasu.cpuinfo: the first processor block of /proc/cpuinfo, for everything that asks about the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from jiasu.analysis.roofline import cpu_model
from jiasu.cpuinfo import first_processor


def test_the_first_block_only_and_the_first_of_each_key(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("\n\nprocessor\t: 0\nmodel name\t: Test CPU: 2 GHz\nflags\t\t: sse2 avx2\nflags\t\t: late\n\nprocessor\t: 1\nflags\t\t: avx512f\n")
    assert first_processor(path) == {"processor": "0", "model name": "Test CPU: 2 GHz", "flags": "sse2 avx2"}


def test_an_unreadable_file_gives_nothing(tmp_path):
    assert first_processor(tmp_path / "missing") == {}
    (tmp_path / "empty").write_text("")
    assert first_processor(tmp_path / "empty") == {}


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="no /proc/cpuinfo on this OS")
def test_this_machine_names_its_model_as_the_file_does():
    line = next((row for row in Path("/proc/cpuinfo").read_text().splitlines() if row.startswith("model name")), None)
    if line is None:
        pytest.skip("no model name line here (ARM)")
    assert cpu_model() == first_processor()["model name"] == line.split(":", 1)[1].strip()
