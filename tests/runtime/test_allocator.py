"""The engine sets glibc's malloc to keep freed memory; the environment can turn that off."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jiasu.runtime import allocator

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")

# In a fresh process: state before and after building an engine, as one line of JSON.
_PROBE = """
import json, jiasu
from jiasu.runtime import allocator
before = allocator.state()
jiasu.Engine(jiasu.load("zoo:smallcnn"){options})
print(json.dumps([before, allocator.state()]))
"""


def _probe(options: str = "", env: dict | None = None) -> list:
    import json
    import os

    out = subprocess.run([sys.executable, "-c", _PROBE.format(options=options)], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_building_an_engine_keeps_freed_memory():
    assert _probe() == [{"kept": False, "reason": "not requested"}, {"kept": True, "reason": ""}]


@glibc_only
def test_the_engine_option_and_the_environment_turn_it_off():
    assert _probe(", keep_freed_memory=False")[1] == {"kept": False, "reason": "not requested"}
    assert _probe(env={"JIASU_KEEP_FREED_MEMORY": "0"})[1] == {"kept": False, "reason": "turned off by JIASU_KEEP_FREED_MEMORY=0"}


@glibc_only
def test_keeping_is_idempotent_and_reported():
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True
    assert allocator.state() == {"kept": True, "reason": ""}
