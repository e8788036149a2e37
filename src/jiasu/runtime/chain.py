"""Chains: a run of consecutive steps whose kernels are C calls, run by one call into C.

Why (``kernels/native/chain.c``): in a whole run the Python around each C kernel costs 20-100 us,
as the kernel before has pushed the interpreter out of the caches. A chain makes one ctypes call for
the whole run of steps; what the kernels read and write in between lives in buffers the chain keeps.

How a chain is made (:func:`plan_chains`, once per input shape, thread count and calling
thread, by ``Engine.run``): the engine runs the model step by step once and asks each kernel, with the inputs it
was given, for the C call its ``run`` made (:meth:`jiasu.kernels.base.Kernel.native_call`,
``kernels/native/call.py``). Consecutive steps that have one make a chain (at least
:data:`MIN_CALLS` calls). Every value made and used only inside the chain gets memory in buffers the
chain allocates once and reuses by liveness (as an arena would); a value the rest of the graph reads
is allocated on every run, so what ``run`` returns is never overwritten by the next run. Each run
the chain checks that its inputs have the shapes, strides and dtypes it was made for; where one does
not, the steps run one by one through their kernels, as without the chain.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

from ..errors import JiasuError
from ..kernels.native.call import Arg, In, NativeCall, Out, Scratch

#: A chain is made of at least this many C calls (views do not count): one call gains too little.
MIN_CALLS = 2


class _Step(ctypes.Structure):
    """``chain.c``'s ``jiasu_step``."""

    _fields_ = [("fn", ctypes.c_void_p), ("args", ctypes.POINTER(Arg))]


def _library():
    from ..kernels.native import typed

    return typed(
        "chain",
        {
            "jiasu_run_chain": ([ctypes.c_void_p, ctypes.c_int], ctypes.c_int),
            "jiasu_run_chain_timed": ([ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p], ctypes.c_int),
        },
    )


@dataclass
class Chain:
    """Steps ``[start, stop)`` of an engine as one C call; called with the values of ``inputs`` (slots), it returns
    the values of ``outputs`` (slots), or, where an input is not as traced, runs ``fallback`` (the steps one by one)."""

    start: int
    stop: int
    inputs: list[int]
    outputs: list[int]
    names: list[str]
    fallback: Optional[Callable] = None
    _meta_in: list[tuple] = field(default_factory=list)
    _meta_out: list[tuple] = field(default_factory=list)
    _patch_in: list[tuple] = field(default_factory=list)  # (slot array, index, input position)
    _patch_out: list[tuple] = field(default_factory=list)  # (slot array, index, output position)
    _keep: list[Any] = field(default_factory=list)  # buffers and slot arrays the C side points into
    _steps: Any = None
    _called: list[str] = field(default_factory=list)  # the nodes of the C calls, in order (views make none)
    _count: int = 0
    _run: Any = None
    _run_timed: Any = None
    #: where set (``Engine.chain_times``), each run writes its C calls' times in seconds here, in ``_called``'s order
    times: Any = None

    def __call__(self, *values: torch.Tensor) -> tuple:
        for t, (shape, stride, dtype) in zip(values, self._meta_in):
            if t.shape != shape or t.stride() != stride or t.dtype != dtype:
                return self.fallback(*values)
        outs = tuple(torch.empty_strided(shape, stride, dtype=dtype) for shape, stride, dtype in self._meta_out)
        self.run_at([t.data_ptr() for t in values], [t.data_ptr() for t in outs])
        return outs

    def run_at(self, inputs: list[int], outputs: list[int]) -> None:
        """Run the C calls on inputs and outputs at these addresses: memory laid out as traced (``_meta_in``,
        ``_meta_out``), which the caller vouches for."""
        for slots, k, i in self._patch_in:
            slots[k].p = inputs[i]
        for slots, k, i in self._patch_out:
            slots[k].p = outputs[i]
        if self.times is None:
            failed = self._run(self._steps, self._count)
        else:
            failed = self._run_timed(self._steps, self._count, self.times)
        if failed:
            raise JiasuError(f"node {self._called[failed - 1]!r}: its C kernel could not allocate its buffers")


def plan_chains(steps, output_slots, constants: set[int], trace: Callable) -> list[Chain]:
    """The chains of an engine's ``steps`` (its ``_Step`` list) on one input shape.

    ``trace(on_step)`` runs the model step by step, calling ``on_step(index, inputs, outputs)``;
    ``output_slots`` are the graph's outputs, ``constants`` the slots of its constants (a chain's
    inputs are the other values its steps read). The chains' ``fallback`` is left for the engine to set.
    """
    lib = _library()
    if lib is None:
        return []
    calls: list[Optional[NativeCall]] = [None] * len(steps)
    meta: dict[int, tuple] = {}

    def on_step(i, inputs, outputs):
        for s, t in zip(steps[i].outputs, outputs):
            if isinstance(t, torch.Tensor):
                meta[s] = (t.shape, t.stride(), t.dtype)
        for s, t in zip(steps[i].inputs, inputs):
            if s is not None and isinstance(t, torch.Tensor):
                meta.setdefault(s, (t.shape, t.stride(), t.dtype))
        native = getattr(steps[i].kernel, "native_call", None)
        if native is not None and all(isinstance(t, torch.Tensor) for t in outputs):
            calls[i] = native(*inputs)

    trace(on_step)
    readers: dict[int, list[int]] = {}
    for i, step in enumerate(steps):
        for s in step.inputs:
            if s is not None:
                readers.setdefault(s, []).append(i)
    graph_outputs = set(output_slots)

    while True:  # a view that would leave its chain is dropped from it, which splits the chain: plan again
        ranges = _ranges(calls)
        bad = [i for a, b in ranges for i in range(a, b) if calls[i].alias is not None and not _view_stays(steps, calls, readers, graph_outputs, a, b, i)]
        if not bad:
            break
        for i in bad:
            calls[i] = None
    chains = []
    for a, b in ranges:
        if sum(calls[i].alias is None for i in range(a, b)) >= MIN_CALLS:
            chains.append(_build(lib, steps, calls, meta, readers, graph_outputs, constants, a, b))
    return chains


def _ranges(calls) -> list[tuple[int, int]]:
    out, start = [], None
    for i, call in enumerate(calls + [None]):
        if call is not None and start is None:
            start = i
        elif call is None and start is not None:
            out.append((start, i))
            start = None
    return out


def _view_stays(steps, calls, readers, graph_outputs, a, b, i) -> bool:
    """Whether step ``i``'s view reads a value made in ``[a, i)`` and is read only inside ``[a, b)``."""
    src = steps[i].inputs[calls[i].alias]
    made_here = any(src in steps[j].outputs for j in range(a, i))
    out = steps[i].outputs[0]
    return made_here and out not in graph_outputs and all(r < b for r in readers.get(out, []))


def _build(lib, steps, calls, meta, readers, graph_outputs, constants, a, b) -> Chain:
    made = {s: j for j in range(a, b) for s in steps[j].outputs}
    root: dict[int, int] = {}  # slot -> the slot whose memory it is (a view's source)
    for j in range(a, b):
        for s in steps[j].outputs:
            root[s] = root.get(steps[j].inputs[calls[j].alias], steps[j].inputs[calls[j].alias]) if calls[j].alias is not None else s
    escapes = [s for s in made if s in graph_outputs or any(r >= b for r in readers.get(s, []))]
    inputs = sorted({s for j in range(a, b) for s in steps[j].inputs if s is not None and s not in made and s not in constants})
    chain = Chain(a, b, inputs, escapes, [steps[j].kernel.node.name for j in range(a, b)])
    chain._meta_in = [meta[s] for s in inputs]
    chain._meta_out = [meta[s] for s in escapes]

    # Memory for the values that stay inside: a buffer per live value, reused once its last reader ran.
    last = {s: max([j for j in readers.get(s, []) if j < b], default=made[s]) for s in made}
    for s in made:  # a view keeps its source alive as long as the view is read
        last[root[s]] = max(last[root[s]], last[s])
    assigned: dict[int, torch.Tensor] = {}
    free: list[torch.Tensor] = []
    for j in range(a, b):
        for s in steps[j].outputs:
            if root[s] != s or s in escapes:
                continue
            size = _bytes(*meta[s])
            fits = [k for k, buf in enumerate(free) if buf.numel() >= size]
            if fits:  # the smallest that fits (by position: a list of tensors cannot .remove() by value)
                buf = free.pop(min(fits, key=lambda k: free[k].numel()))
            else:
                buf = torch.empty(max(size, 1), dtype=torch.uint8)
                chain._keep.append(buf)
            assigned[s] = buf
        free.extend(buf for s, buf in assigned.items() if last[s] == j)

    raw = []
    for j in range(a, b):
        call = calls[j]
        if call.alias is not None:
            continue
        slots = call.slots()
        chain._keep.append(slots)
        for k, value in enumerate(call.values):
            if isinstance(value, Scratch):
                buf = torch.empty(max(value.floats, 1), dtype=torch.float32)
                chain._keep.append(buf)
                slots[k].p = buf.data_ptr()
                continue
            if not isinstance(value, (In, Out)):
                continue
            s = root.get(_slot(steps[j], value), _slot(steps[j], value))
            if s in escapes:
                chain._patch_out.append((slots, k, escapes.index(s)))
            elif s in inputs:
                chain._patch_in.append((slots, k, inputs.index(s)))
            else:
                slots[k].p = assigned[s].data_ptr()
        raw.append((call.entry, ctypes.cast(slots, ctypes.POINTER(Arg))))
        chain._called.append(steps[j].kernel.node.name)
    chain._steps = (_Step * len(raw))(*[_Step(fn, args) for fn, args in raw])
    chain._count = len(raw)
    chain._run = lib.jiasu_run_chain
    chain._run_timed = lib.jiasu_run_chain_timed
    return chain


def _bytes(shape, stride, dtype) -> int:
    """The bytes a tensor of ``shape`` and ``stride`` spans."""
    if not all(shape):
        return 0
    return (1 + sum((n - 1) * st for n, st in zip(shape, stride))) * torch.empty((), dtype=dtype).element_size()


def _slot(step, marker) -> int:
    return step.inputs[marker.index] if isinstance(marker, In) else step.outputs[marker.index]

