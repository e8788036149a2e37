"""CUDA graphs for the engine's forward: captured once per input layout, replayed on every run after.

On a GPU a small model's run is launch-bound: the straight-line forward of
``jiasu.runtime.engine`` still launches each kernel from Python, a few
microseconds of CPU apiece, and the GPU idles between them. A CUDA graph
records the launches once and replays them with one call.

A graph reads and writes fixed addresses, so each captured layout (the feeds'
shapes and dtypes, per calling thread) owns static input buffers; a run copies
its feeds into them, replays, and returns copies of the static outputs (the next
replay overwrites them). Constants are captured where they live.

Not every forward can be captured: a kernel that reads a value back to the host
(``.item()``, ``nonzero``, shapes computed from tensors) cannot run inside a
capture. Before capturing, the engine runs the steps once more with torch's
sync debug mode set to error, so such a step is found and named before any
capture starts; that layout then runs without a graph, with one warning.

:func:`recorder_for` picks how graphs are made; tests replace it with a
recorder that replays by calling the forward again, so the bookkeeping here is
checked on machines without a GPU.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable, Optional, Protocol, Sequence

import torch

#: Layouts (per calling thread) whose graphs an engine keeps; the oldest goes first.
MAX_GRAPHS = 8


class Recorder(Protocol):
    """How graphs are made on one device (one recorder per calling thread)."""

    def warm_up(self, run: Callable[[], Any]) -> None:
        """Run ``run`` before its capture: the kernels' one-time work (self-checks, library handles) happens here."""

    def check(self, run: Callable[[], Any]) -> None:
        """Run ``run`` so that a step which would stop a capture (it waits for the device) raises, naming itself."""

    def capture(self, run: Callable[[], Sequence[torch.Tensor]]) -> tuple[Callable[[], None], Sequence[torch.Tensor]]:
        """Capture ``run``; return a function that replays it and the tensors it writes its outputs to."""


class CudaRecorder:
    """``torch.cuda.CUDAGraph`` on one device. A thread's graphs share one memory pool: they replay one after
    another on that thread's stream (a thread that switches streams between runs must synchronize them)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.pool = None

    def _side_stream(self, run) -> None:
        # Off the current stream, as torch's docs ask before a capture: the lazy set-up of a first run (cuBLAS and
        # cuDNN workspaces) must not land on the stream the capture records.
        with torch.cuda.device(self.device):
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                run()
            torch.cuda.current_stream().wait_stream(stream)

    def warm_up(self, run) -> None:
        self._side_stream(run)

    def check(self, run) -> None:
        previous = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")  # a copy to the host, .item(), nonzero ... raise instead of waiting
        try:
            self._side_stream(run)
        finally:
            torch.cuda.set_sync_debug_mode(previous)

    def capture(self, run):
        with torch.cuda.device(self.device):
            if self.pool is None:
                self.pool = torch.cuda.graph_pool_handle()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self.pool):
                outputs = run()
        return graph.replay, outputs


def recorder_for(device: torch.device) -> Optional[Recorder]:
    """A new recorder for ``device``; None where the device has no graphs (the CPU)."""
    return CudaRecorder(device) if device.type == "cuda" else None


class _Graph:
    """One captured layout: its static inputs, the replay, its static outputs."""

    def __init__(self, args: list[Optional[torch.Tensor]], fed: list[bool], device: torch.device):
        # Fed values get buffers of their own on the device; the others (constants, absent optional inputs) are
        # captured where they are.
        self.fed = fed
        self.inputs = [torch.empty(a.shape, dtype=a.dtype, device=device) if f else a for a, f in zip(args, fed)]
        self.replay: Callable[[], None] = lambda: None
        self.outputs: Sequence[torch.Tensor] = ()
        self.copy_in(args)

    def copy_in(self, args) -> None:
        for buffer, value, fed in zip(self.inputs, args, self.fed):
            if fed:
                buffer.copy_(value)

    def __call__(self, args, own: bool) -> tuple[torch.Tensor, ...]:
        self.copy_in(args)
        self.replay()
        # The next replay overwrites the outputs: the caller gets copies, unless it copies them itself (own=False).
        return tuple(o.clone() for o in self.outputs) if own else tuple(self.outputs)


class Graphs:
    """An engine's graphs: one per layout of its arguments (shapes and dtypes of the fed ones) and calling thread.

    ``forward(*args)`` is the engine's forward, ``steps(args)`` the same run step by step, raising an error that
    names the failing node; ``make_recorder()`` gives a :class:`Recorder` (one per thread).
    """

    def __init__(self, forward, steps, device: torch.device, make_recorder: Callable[[], Recorder]):
        self.forward, self.steps, self.device, self.make_recorder = forward, steps, device, make_recorder
        self._recorders: dict[int, Recorder] = {}
        self._graphs: dict[tuple, Optional[_Graph]] = {}
        #: layout -> why it runs without a graph (said once, in a warning, when it was refused)
        self.refused: dict[tuple, str] = {}
        #: how many graphs were captured (evicted ones too)
        self.captures = 0

    def run(self, args: list[Optional[torch.Tensor]], fed: list[bool], own: bool = True) -> Optional[tuple]:
        """The outputs for ``args`` from their layout's graph, captured on its first run; None where the layout
        cannot be captured (the caller then runs its forward as usual). ``fed[i]``: ``args[i]`` is a feed, to be
        copied in on every run (else a value the graph keeps, such as a constant). A kernel that fails in the
        warm-up run raises as it would without graphs."""
        thread = threading.get_ident()
        key = (thread, *((tuple(a.shape), a.dtype) if f else None for a, f in zip(args, fed)))
        if key in self._graphs:
            graph = self._graphs[key]
        else:
            graph = self._capture(key, args, fed)
            if len(self._graphs) >= MAX_GRAPHS:
                self._graphs.pop(next(iter(self._graphs)))
            self._graphs[key] = graph
        return None if graph is None else graph(args, own)

    def _capture(self, key: tuple, args, fed) -> Optional[_Graph]:
        recorder = self._recorders.get(key[0])
        if recorder is None:
            recorder = self._recorders[key[0]] = self.make_recorder()
        graph = _Graph(args, fed, self.device)
        static, forward = graph.inputs, self.forward
        with torch.inference_mode():
            recorder.warm_up(lambda: forward(*static))
            try:
                recorder.check(lambda: self.steps(static))
                graph.replay, graph.outputs = recorder.capture(lambda: forward(*static))
            except Exception as e:  # noqa: BLE001 - said in the warning; the run goes on without a graph
                self.refused[key] = reason = str(e)
                shapes = ", ".join(str(tuple(a.shape)) for a, f in zip(args, fed) if f)
                warnings.warn(
                    f"jiasu: no CUDA graph for inputs of shape {shapes}, so each run launches its kernels from Python: "
                    f"{reason} (EngineOptions(cuda_graph=False) turns graphs off)",
                    RuntimeWarning,
                    stacklevel=5,  # the caller of Engine.run or run_numpy
                )
                return None
        self.captures += 1
        return graph
