"""Fake backends for the harness tests: scripted run times on a fake clock, failures, wrong numbers.

They live in a module (not a test file) so that isolated workers, started with
multiprocessing spawn, can import them by name.
"""

from __future__ import annotations

import os
import time

import numpy as np
from onnx import TensorProto, helper

from jiasu.backends.base import Backend, BenchModel


class FakeClock:
    """A clock that only moves when a fake backend says it spent time."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds


def relu_model(source: str = "relu") -> BenchModel:
    """x[N,4] -> Relu -> y: the smallest model with a batch axis, so references are instant."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return BenchModel(source, model.SerializeToString())


class ScriptedBackend(Backend):
    """Computes Relu right; each call 'takes' the next of ``durations`` seconds on ``clock``."""

    name = "scripted"
    clock: FakeClock = None
    compile_s = 0.5
    durations: list = []

    def compile(self, model, options):
        self.calls = 0
        self.clock.spend(self.compile_s)

    def run(self, feeds):
        self.clock.spend(self.durations[min(self.calls, len(self.durations) - 1)])
        self.calls += 1
        return {"y": np.maximum(feeds["x"], 0)}


class SleepBackend(Backend):
    """Computes Relu right after sleeping 20 ms of real time."""

    name = "sleepy"

    def compile(self, model, options):
        pass

    def run(self, feeds):
        time.sleep(0.02)
        return {"y": np.maximum(feeds["x"], 0)}


class BrokenCompileBackend(Backend):
    name = "broken"

    def compile(self, model, options):
        raise RuntimeError("no kernel for Relu")


class WrongBackend(Backend):
    """Returns Relu scaled by 1.1: a relative L2 error of exactly 0.1."""

    name = "wrong"

    def compile(self, model, options):
        pass

    def run(self, feeds):
        return {"y": np.maximum(feeds["x"], 0) * np.float32(1.1)}


class MissingOutputBackend(Backend):
    name = "missing"

    def compile(self, model, options):
        pass

    def run(self, feeds):
        return {"z": np.maximum(feeds["x"], 0)}


class CrashBackend(Backend):
    """Kills its process on the first run, as a segfaulting library would."""

    name = "crashy"

    def compile(self, model, options):
        pass

    def run(self, feeds):
        os._exit(3)


class TurnLogA(Backend):
    """Computes Relu right and appends its name to the file ``$JIASU_TEST_TURN_LOG`` at every run (the workers are
    processes: a file is what they share), so a test can read back the order in which configurations ran."""

    name = "turnlog_a"

    def compile(self, model, options):
        pass

    def run(self, feeds):
        with open(os.environ["JIASU_TEST_TURN_LOG"], "a") as log:
            log.write(self.name + "\n")
        return {"y": np.maximum(feeds["x"], 0)}


class TurnLogB(TurnLogA):
    name = "turnlog_b"


class CrashOnSecondTurn(Backend):
    """Runs right through its check and warm-up, then kills its process at its third timed run (the second turn)."""

    name = "crash_later"

    def compile(self, model, options):
        self.calls = 0

    def run(self, feeds):
        self.calls += 1
        if self.calls > 4:  # the checked first run, one warm-up, then a turn of one re-warm and one timed run
            os._exit(5)
        return {"y": np.maximum(feeds["x"], 0)}


class NotInstalledBackend(Backend):
    name = "notinstalled"
    requires = ("jiasu_no_such_package",)
    install_hint = "pip install jiasu-no-such-package"


FAKES = [
    ScriptedBackend, SleepBackend, BrokenCompileBackend, WrongBackend, MissingOutputBackend, CrashBackend, NotInstalledBackend,
    TurnLogA, TurnLogB, CrashOnSecondTurn,
]  # fmt: skip
