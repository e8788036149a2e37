"""Our execution engine: runs an ONNX graph (onnx-ir) node by node on torch tensors.

Build once (``Engine(model, options)``): every node gets a kernel instance in
topological order, constants move to the device, and a liveness table says
after which node each intermediate can be dropped. The steps are then compiled
into one straight-line Python function (``Engine.source`` shows it): one call
per node on local variables and a ``del`` where a value dies, so dispatch costs
a function call per node rather than list indexing and loop bookkeeping. Run
many times (``engine.run(feeds)``): feeds are checked against the declared
inputs, then that function runs. Should a kernel fail, the run is repeated
step by step to name the failing node (kernels are deterministic).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import numpy as np
import onnx_ir as ir
import torch

from ..errors import InputError, JiasuError, UnsupportedOpError, format_choices
from ..kernels import KERNELS, BuildContext, get_kernel, supported_ops_text
from ..kernels.base import TORCH_DTYPES, Kernel, to_torch, torch_dtype
from .allocator import keep_freed_memory
from .options import EngineOptions


@dataclass(frozen=True)
class NodeChoice:
    """What the engine decided for one node: which kernel/algorithm runs it, and why if it fell back."""

    name: str
    op_type: str
    choice: Optional[str] = None
    reason: Optional[str] = None


def _input_check(spec: ir.Value):
    """A quick ``tensor -> bool`` for a declared input: its dtype and its fixed dims (Engine._check_one says why not)."""
    dtype = torch_dtype(spec.dtype) if spec.dtype is not None and spec.dtype in TORCH_DTYPES else None
    if spec.shape is None:
        return lambda t: dtype is None or t.dtype == dtype
    rank = len(spec.shape)
    fixed = [(axis, d) for axis, d in enumerate(spec.shape) if isinstance(d, int)]
    if dtype is not None and [a for a, _ in fixed] == list(range(1, rank)):
        # the usual declaration, a free batch axis and fixed others: one comparison of the shape's tail (runs are
        # short at batch 1, and the Python around the C call, with the kernels' data in the caches, costs microseconds
        # a bytecode)
        tail = tuple(d for _, d in fixed)
        return lambda t: t.dtype == dtype and t.shape[1:] == tail and t.dim() == rank
    return lambda t: (dtype is None or t.dtype == dtype) and t.dim() == rank and all(t.shape[a] == d for a, d in fixed)


#: Input shapes (per calling thread) whose chains an engine keeps; the oldest goes first.
_CHAINED_SHAPES = 8


@dataclass
class _Step:
    kernel: Any
    inputs: list[Optional[int]]
    outputs: list[int]
    frees: list[int] = field(default_factory=list)


class Engine:
    """Executes one model. Thread-compatible for reads; one ``run`` at a time per engine."""

    def __init__(self, model: ir.Model, options: EngineOptions | None = None, **overrides: Any):
        self.options = (options or EngineOptions()).replace(**overrides)
        self.options.validate()
        self.device = torch.device(self.options.device)
        self.model = model
        graph = model.graph
        self.opset = int(model.opset_imports.get("", model.opset_imports.get("ai.onnx", 1)))
        self._check_supported(graph)
        self._check_algorithm_targets(graph)
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        if self.options.keep_freed_memory:
            keep_freed_memory()

        slots: dict[str, int] = {}

        def slot(value: ir.Value) -> int:
            return slots.setdefault(value.name, len(slots))

        self._constants: dict[int, torch.Tensor] = {}
        shared: dict[str, torch.Tensor] = {}
        for name, value in graph.initializers.items():
            if value.const_value is not None:
                shared[name] = self._constants[slot(value)] = to_torch(value.const_value, self.device)
        init_names = set(graph.initializers)
        # Inputs that are also initializers (old exporters list weights as inputs) are optional overrides.
        self.inputs = [v for v in graph.inputs if v.name not in init_names]
        self._declared = {v.name: v for v in self.inputs}
        self._accepts = {v.name: _input_check(v) for v in self.inputs}
        self._feedable = {v.name for v in graph.inputs}  # declared inputs plus overridable initializers
        self._input_slots = [slot(v) for v in graph.inputs]
        self._input_names = [v.name for v in graph.inputs]
        self.outputs = list(graph.outputs)
        self._output_names = [v.name for v in self.outputs]

        ctx_options = {"conv_algorithm": self.options.conv_algorithm, "conv_algorithms": dict(self.options.conv_algorithms)}
        self.steps: list[_Step] = []
        self.choices: list[NodeChoice] = []
        for node in graph:
            ctx = BuildContext(device=self.device, opset=self.opset, options=ctx_options, constants=shared)
            cls = get_kernel(node.domain, node.op_type, node_name=node.name, opset=self.opset)
            kernel = cls(node, ctx)
            ins = [slot(v) if v is not None and v.name else None for v in node.inputs]
            outs = [slot(v) for v in node.outputs]
            self.steps.append(_Step(kernel, ins, outs))
            self.choices.append(NodeChoice(node.name, node.op_type, ctx.choice, ctx.reason))
        self._output_slots = [slots[v.name] for v in self.outputs]
        self._num_slots = len(slots)
        self._plan_frees()
        self.source, self._forward = self._compile()
        self._chained: dict[tuple, Any] = {}  # (thread, threads, inputs' shapes) -> forward with chains (see run)
        self._can_chain: Optional[bool] = None
        self._fast: Any = None  # run_numpy's shortcut for its last feeds (see _shortcut); False: none can be
        self._graphs: Any = None  # jiasu.runtime.cuda_graph.Graphs; False: none (CPU, or cuda_graph off)

    # ---- build-time checks ---------------------------------------------------------
    def _check_supported(self, graph: ir.Graph) -> None:
        """Refuse the whole model up front, naming every unsupported op (not only the first)."""
        missing: dict[str, str] = {}
        for node in graph:
            if (node.domain, node.op_type) not in KERNELS:
                missing.setdefault(f"{node.domain + '::' if node.domain else ''}{node.op_type}", node.name)
        if missing:
            listed = ", ".join(f"{op} (node {name!r})" for op, name in missing.items())
            raise UnsupportedOpError(
                f"unsupported operator{'s' if len(missing) > 1 else ''} {listed} at opset {self.opset}: "
                f"jiasu's engine has no kernel for {'them' if len(missing) > 1 else 'it'}.\n{supported_ops_text()}"
            )

    def _check_algorithm_targets(self, graph: ir.Graph) -> None:
        names = {n.name for n in graph if (n.domain, n.op_type) in (("", "Conv"), ("jiasu", "FusedConv"))}
        unknown = sorted(set(self.options.conv_algorithms) - names)
        if unknown:
            raise JiasuError(
                f"conv_algorithms names {', '.join(map(repr, unknown))}, which {'is' if len(unknown) == 1 else 'are'} not "
                f"Conv nodes of this model; Conv nodes: {format_choices(names) if names else '(none)'}"
            )

    def _plan_frees(self) -> None:
        """After each step, drop intermediates no later step reads (constants and outputs stay)."""
        last_use: dict[int, int] = {}
        for i, step in enumerate(self.steps):
            for s in step.inputs:
                if s is not None:
                    last_use[s] = i
        keep = set(self._output_slots) | set(self._constants)
        for s, i in last_use.items():
            if s not in keep:
                self.steps[i].frees.append(s)

    def _compile(self, chains=()):
        """The steps as straight-line Python source, and the function it defines.

        Every value is a local ``v<slot>``; constants are globals of the function
        (graph inputs that override an initializer shadow them as arguments).
        Each of ``chains`` (``jiasu.runtime.chain.Chain``) replaces its steps with one call;
        the values it keeps inside are never locals.
        """
        env: dict[str, Any] = {f"v{s}": t for s, t in self._constants.items()}
        args = ", ".join(f"v{s}" for s in self._input_slots)
        lines = [f"def forward({args}):"]
        starts = {c.start: (j, c) for j, c in enumerate(chains)}
        hidden: set[int] = set()  # values inside a chain
        python_steps = 0
        i = 0
        while i < len(self.steps):
            if i in starts:
                j, chain = starts[i]
                env[f"c{j}"] = chain
                chain.fallback = self._steps_function(chain)
                outs = "".join(f"v{s}, " for s in chain.outputs)
                ins = ", ".join(f"v{s}" for s in chain.inputs)
                lines.append(f"    {outs}= c{j}({ins})  # chain of {chain.stop - chain.start} steps: {chain.names[0]} .. {chain.names[-1]}")
                made = {s for step in self.steps[chain.start : chain.stop] for s in step.outputs}
                hidden |= made - set(chain.outputs)
                frees = [s for step in self.steps[chain.start : chain.stop] for s in step.frees if s not in hidden]
                if frees:
                    lines.append("    del " + ", ".join(f"v{s}" for s in frees))
                i = chain.stop
                continue
            step = self.steps[i]
            python_steps += 1
            env[f"k{i}"] = step.kernel.run
            ins = ", ".join("None" if s is None else f"v{s}" for s in step.inputs)
            outs = "".join(f"v{s}, " for s in step.outputs)
            node = step.kernel.node
            lines.append(f"    {outs}= k{i}({ins})  # {node.op_type} {node.name}")
            if step.frees:
                lines.append("    del " + ", ".join(f"v{s}" for s in step.frees))
            i += 1
        lines.append("    return (" + "".join(f"v{s}, " for s in self._output_slots) + ")")
        source = "\n".join(lines) + "\n"
        exec(compile(source, f"<jiasu plan of {self.model.graph.name or 'model'}>", "exec"), env)
        # Take the function out of its own globals: left there, function -> globals -> function is a
        # reference cycle, and a dropped engine's weights would wait for the cyclic GC (vgg16's 1.5 GB
        # per engine piled up to an out-of-memory kill in the test suite).
        forward = env.pop("forward")
        forward.chains = list(chains)
        # Whether every step runs inside a chain: then run() calls it outside torch.inference_mode(), whose
        # entry and exit cost 60-100 us a run after the kernels have pushed torch's code out of the caches
        # (mobilenet_v2 at batch 1 is one chain). A chain's fallback enters the mode itself.
        forward.only_chains = bool(chains) and python_steps == 0
        return source, forward

    def _steps_function(self, chain):
        """A chain's steps through their kernels, one by one: ``(*chain.inputs) -> chain.outputs``."""
        kernels = [self.steps[i].kernel.run for i in range(chain.start, chain.stop)]
        steps = self.steps[chain.start : chain.stop]
        inputs, outputs, constants = list(chain.inputs), list(chain.outputs), self._constants  # not self: no cycle through the chain

        @torch.inference_mode()
        def run(*values):
            local = dict(zip(inputs, values))
            for kernel, step in zip(kernels, steps):
                ins = [None if s is None else local[s] if s in local else constants[s] for s in step.inputs]
                for s, r in zip(step.outputs, kernel(*ins)):
                    local[s] = r
            return tuple(local[s] for s in outputs)

        return run

    # ---- running -------------------------------------------------------------------
    def _check_feeds(self, feeds: Mapping[str, Any], move: bool = True) -> dict[str, torch.Tensor]:
        """Feeds as torch tensors, checked against the declared inputs; on the engine's device, or with ``move``
        false where they are (arrays on the CPU, without a copy), for a graph that copies them in itself."""
        declared = self._declared
        if feeds.keys() != declared.keys():  # the usual feeds, every declared input and no more, skip the searches
            unknown = [k for k in feeds if k not in self._feedable]
            if unknown:
                raise InputError(f"unknown input {unknown[0]!r}; the model's inputs are: {', '.join(declared)}")
            missing = [k for k in declared if k not in feeds]
            if missing:
                raise InputError(f"missing input {missing[0]!r}; the model's inputs are: {', '.join(declared)}")
        out = {}
        for name, value in feeds.items():
            try:
                tensor = to_torch(value, self.device if move else value.device if isinstance(value, torch.Tensor) else "cpu")
            except (TypeError, ValueError) as e:
                kind = getattr(getattr(value, "dtype", None), "name", type(value).__name__)
                raise InputError(f"input {name!r} of type {kind} cannot be fed to jiasu's engine ({e}); give a numeric array") from None
            spec = declared.get(name)
            if spec is not None and not self._accepts[name](tensor):
                self._check_one(name, tensor, spec)  # raises, naming what is wrong
            out[name] = tensor
        return out

    @staticmethod
    def _check_one(name: str, tensor: torch.Tensor, spec: ir.Value) -> None:
        if spec.dtype is not None and spec.dtype in TORCH_DTYPES and tensor.dtype != torch_dtype(spec.dtype):
            raise InputError(
                f"input {name!r} has dtype {str(tensor.dtype).replace('torch.', '')}, but the model expects "
                f"{str(torch_dtype(spec.dtype)).replace('torch.', '')}; convert it first (e.g. x.astype(np.float32))"
            )
        if spec.shape is None:
            return
        want = [d if isinstance(d, int) else (d.value if isinstance(d.value, str) else "?") for d in spec.shape]
        got = list(tensor.shape)
        pretty = "(" + ", ".join(str(d) for d in want) + ")"
        if len(got) != len(want):
            raise InputError(f"input {name!r} has shape {tuple(got)} (rank {len(got)}), but the model expects {pretty} (rank {len(want)})")
        for axis, (g, w) in enumerate(zip(got, want)):
            if isinstance(w, int) and g != w:
                raise InputError(f"input {name!r} has shape {tuple(got)}, but the model expects {pretty}: dim {axis} must be {w}, got {g}")

    def _arguments(self, checked: dict[str, torch.Tensor]) -> list[Optional[torch.Tensor]]:
        """One value per graph input: the feed, else the initializer it overrides."""
        constants = self._constants
        return [checked[n] if n in checked else constants.get(s) for n, s in zip(self._input_names, self._input_slots)]

    def run(self, feeds: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Run the model. ``feeds`` maps input names to numpy arrays or torch tensors; returns output name -> tensor."""
        return dict(zip(self._output_names, self._results(feeds, own=True)))

    def _results(self, feeds: Mapping[str, Any], own: bool) -> tuple:
        """The outputs, in the graph's order. ``own`` false: outputs may be a CUDA graph's static buffers, which
        the next run overwrites (for a caller that copies them at once)."""
        graphs = self._graphs
        if graphs is None:
            graphs = self._graphs = self._make_graphs()
        checked = self._check_feeds(feeds, move=not graphs)
        args = self._arguments(checked)
        if graphs:
            try:
                results = graphs.run(args, [n in checked for n in self._input_names], own)
            except JiasuError:
                raise
            except Exception:  # the warm-up run before a capture failed: name the node, as below
                self._run_steps([None if a is None else a.to(self.device) for a in args])
                raise
            if results is not None:
                return results
            args = [None if a is None else a.to(self.device) for a in args]  # this layout runs without a graph
        forward, results = self._forward_for(args) if self._chainable else (self._forward, None)
        try:
            if results is None and getattr(forward, "only_chains", False):
                results = forward(*args)
            elif results is None:
                with torch.inference_mode():
                    results = forward(*args)
        except JiasuError:
            raise
        except Exception:  # a kernel failed on these inputs: find which, keep the cause
            self._run_steps(args)
            raise
        return results

    def _make_graphs(self):
        """The engine's CUDA graphs (``jiasu.runtime.cuda_graph``), or False where it makes none."""
        import functools
        import weakref

        from . import cuda_graph

        if not self.options.cuda_graph or cuda_graph.recorder_for(self.device) is None:
            return False
        steps = weakref.WeakMethod(self._run_steps)  # not self: an engine kept alive by its own graphs waits for the GC
        return cuda_graph.Graphs(self._forward, lambda args: steps()(args), self.device, functools.partial(cuda_graph.recorder_for, self.device))

    def graph_report(self) -> dict[str, Any]:
        """The CUDA graphs so far: how many were captured, and per refused layout (feeds' shapes) the reason.
        Empty where the engine makes none (the CPU, or ``cuda_graph`` off)."""
        graphs = self._graphs
        if not graphs:
            return {}
        refused = {", ".join(str(k[0]) for k in key[1:] if k is not None): why for key, why in graphs.refused.items()}
        return {"captured": graphs.captures, "refused": refused}

    def _forward_for(self, args: list[Optional[torch.Tensor]]) -> tuple[Any, Optional[list]]:
        """The forward function with chains for these inputs (``jiasu.runtime.chain``), and None; or, on
        the first run for them, the same function and the outputs of the step-by-step run that made it.

        Kept per calling thread too: a chain's buffers and argument slots serve one run at a time,
        and the batch-parallel strategy runs one engine on several threads at once.
        """
        key = (threading.get_ident(), torch.get_num_threads(), *((a.shape, a.stride(), a.dtype) if a is not None else None for a in args))
        forward = self._chained.get(key)
        if forward is not None:
            return forward, None
        from .chain import plan_chains

        traced = []
        with torch.inference_mode():
            chains = plan_chains(self.steps, self._output_slots, set(self._constants), lambda on_step: traced.append(self._run_steps(args, on_step)))
        forward = self._compile(chains)[1] if chains else self._forward
        if len(self._chained) >= _CHAINED_SHAPES:
            self._chained.pop(next(iter(self._chained)))
        self._chained[key] = forward
        return forward, traced[0] if traced else None

    @property
    def _chainable(self) -> bool:
        """Whether chains may form: they are on, the device is the CPU, and some :data:`chain.MIN_CALLS` steps in
        a row have kernels that can offer a C call (else no input is traced for them)."""
        if self._can_chain is None:
            from .chain import MIN_CALLS

            run = longest = 0
            for step in self.steps:
                run = run + 1 if type(step.kernel).native_call is not Kernel.native_call else 0
                longest = max(longest, run)
            self._can_chain = self.options.native_chains and self.device.type == "cpu" and longest >= MIN_CALLS
        return self._can_chain

    def chains(self, feeds: Mapping[str, Any]) -> list[list[str]]:
        """The chains ``run`` makes on ``feeds``: per chain, the names of its nodes (empty where none)."""
        if not self._chainable:
            return []
        forward, _ = self._forward_for(self._arguments(self._check_feeds(feeds)))
        return [c.names for c in getattr(forward, "chains", [])]

    def chain_times(self, feeds: Mapping[str, Any], repeats: int = 10) -> list[dict[str, Any]]:
        """Per C call inside the chains ``run`` makes on ``feeds``, in run order: node, op and its best-of-``repeats``
        time in ms, measured in C around the call during whole runs (:meth:`node_times` runs each step alone,
        through Python: caches warm from the step's own last run, not from the kernel before it). Nodes outside
        chains (and views, which make no call) are not listed; empty where no chain forms."""
        import ctypes

        if not self._chainable:
            return []
        forward, _ = self._forward_for(self._arguments(self._check_feeds(feeds)))
        chains = getattr(forward, "chains", [])
        ops = {step.kernel.node.name: step.kernel.node.op_type for step in self.steps}
        best: dict[str, float] = {}
        for chain in chains:
            chain.times = (ctypes.c_double * chain._count)()
        try:
            for _ in range(max(1, repeats) + 1):  # the first run warms up
                self.run(feeds)
                for chain in chains:
                    for name, t in zip(chain._called, chain.times):
                        best[name] = min(best.get(name, float("inf")), t)
        finally:
            for chain in chains:
                chain.times = None
        return [{"node": name, "op": ops[name], "ms": best[name] * 1e3} for chain in chains for name in chain._called]

    def _run_steps(self, args: list[Optional[torch.Tensor]], on_step=None) -> list[Optional[torch.Tensor]]:
        """The interpreted path: one step at a time, naming the node that fails.

        ``on_step(i, inputs, outputs)``, if given, sees every step (tracing, profiling).
        """
        values: list[Optional[torch.Tensor]] = [None] * self._num_slots
        for s, t in self._constants.items():
            values[s] = t
        for s, a in zip(self._input_slots, args):
            values[s] = a
        i = 0
        try:
            with torch.inference_mode():
                for i, step in enumerate(self.steps):
                    inputs = [values[s] if s is not None else None for s in step.inputs]
                    results = step.kernel.run(*inputs)
                    if on_step is not None:
                        on_step(i, inputs, results)
                    for s, r in zip(step.outputs, results):
                        values[s] = r
                    for s in step.frees:
                        values[s] = None
        except JiasuError:
            raise
        except Exception as e:
            node = self.steps[i].kernel.node
            raise JiasuError(f"{node.op_type} node {node.name!r} failed: {type(e).__name__}: {e}") from e
        return [values[s] for s in self._output_slots]

    def trace(self, feeds: Mapping[str, Any], on_step) -> dict[str, torch.Tensor]:
        """Run step by step, calling ``on_step(index, inputs, outputs)`` after each node (shapes, timing)."""
        results = self._run_steps(self._arguments(self._check_feeds(feeds)), on_step)
        return dict(zip(self._output_names, results))

    def node_times(self, feeds: Mapping[str, Any], repeats: int = 10) -> list[dict[str, Any]]:
        """Per step: node, op, the algorithm that ran and its best-of-``repeats`` time in ms (step by step, traced).

        Times come from the interpreted path, so they include a little more
        dispatch than ``run``; their sum is reported next to ``run``'s own time.
        A conv node that chooses per input shape reports the algorithm it ran on
        these feeds, not its load-time choice (:meth:`algorithm_report`); a fused
        ``InvertedResidual`` reports ``c`` or ``torch``.
        """
        import time

        best = [float("inf")] * len(self.steps)
        ran = [choice.choice for choice in self.choices]
        for _ in range(max(1, repeats) + 1):  # the first pass warms up (weight packing, caches)
            last = [time.perf_counter()]

            def on_step(i, inputs, outputs):
                now = time.perf_counter()
                best[i] = min(best[i], now - last[0])
                if hasattr(self.steps[i].kernel, "algorithm_for"):
                    ran[i] = self.steps[i].kernel.algorithm_for(inputs[0])
                last[0] = time.perf_counter()

            self.trace(feeds, on_step)
        return [
            {"node": step.kernel.node.name, "op": step.kernel.node.op_type, "algorithm": algorithm, "ms": t * 1e3}
            for step, algorithm, t in zip(self.steps, ran, best)
        ]

    def run_numpy(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Like :meth:`run`, as numpy arrays the caller owns: new ones on every run (copies where an output may be
        an engine constant; a model that is one chain takes :meth:`_shortcut`, whose outputs are new anyway)."""
        fast = self._fast
        if fast:
            out = fast(feeds)
            if out is not None:
                return out
        # a CPU tensor outside autograd (the usual output) without detach() and cpu(): each a dispatch and a new
        # tensor object, tens of microseconds of a batch-1 run when the kernels have evicted the interpreter
        out = {
            k: (v if not v.requires_grad else v.detach()).numpy().copy() if v.is_cpu else v.detach().cpu().numpy()  # cpu(): a new array
            for k, v in zip(self._output_names, self._results(feeds, own=False))
        }
        if fast is None or fast:  # first run, or the shortcut did not fit these feeds: one for them, if one can be
            self._fast = self._shortcut(feeds)
        return out

    def _shortcut(self, feeds: Mapping[str, Any]):
        """For a model that runs as one chain from its one input to its outputs: ``feeds -> outputs`` as numpy
        arrays, straight to the chain, for feeds like these (a float32 C-contiguous array of this shape) on this
        thread with torch's thread count as now, and None for any other feeds (``run_numpy`` then takes the
        long way, which checks them). False where no such shortcut exists.

        After the kernels have pushed the interpreter out of the caches, each Python step of the long way costs
        microseconds: checking the feeds, finding the forward for their shapes, the generated forward, copying
        the outputs took 0.44 ms of mobilenet_v2's 7 ms run at batch 1. The chain allocates its outputs on
        every call, so they need no copy.
        """
        if len(self._input_names) != 1 or self._input_slots[0] in self._constants or not self._chainable:
            return False
        name = self._input_names[0]
        x = feeds.get(name)
        if len(feeds) != 1 or type(x) is not np.ndarray or x.dtype != np.float32 or not x.flags.c_contiguous:
            return False
        forward, _ = self._forward_for(self._arguments(self._check_feeds(feeds)))
        chains = getattr(forward, "chains", [])
        if not getattr(forward, "only_chains", False) or len(chains) != 1:
            return False
        chain = chains[0]
        outputs = self._output_slots
        if chain.inputs != self._input_slots or len(set(outputs)) != len(outputs) or sorted(chain.outputs) != sorted(outputs):
            return False
        dtypes = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64, torch.int32: np.int32}
        made = []  # per chain output: numpy's shape and dtype, where torch's layout is numpy's C order
        for shape, stride, dtype in chain._meta_out:
            if dtype not in dtypes or tuple(stride) != tuple(torch.empty(shape, device="meta").stride()):
                return False
            made.append((tuple(shape), dtypes[dtype]))
        ((meta_shape, meta_stride, meta_dtype),) = chain._meta_in
        if meta_dtype != torch.float32 or tuple(meta_shape) != x.shape or tuple(meta_stride) != tuple(s // 4 for s in x.strides):
            return False
        slot_of = {s: i for i, s in enumerate(chain.outputs)}
        named = [(n, slot_of[s]) for n, s in zip(self._output_names, outputs)]
        shape, strides, thread, threads = x.shape, x.strides, threading.get_ident(), torch.get_num_threads()
        get_ident, get_num_threads, f32, empty = threading.get_ident, torch.get_num_threads, np.float32, np.empty

        def run(feeds):
            x = feeds.get(name)
            if (
                type(x) is not np.ndarray or len(feeds) != 1 or x.shape != shape or x.strides != strides or x.dtype != f32
                or not x.flags.writeable or get_ident() != thread or get_num_threads() != threads
            ):
                return None
            outs = [empty(s, d) for s, d in made]  # the caller's to keep: new on every run
            chain.run_at([x.ctypes.data], [o.ctypes.data for o in outs])  # x is laid out as traced
            return {n: outs[i] for n, i in named}

        return run

    def algorithm_report(self) -> list[NodeChoice]:
        """Per Conv node: the algorithm that runs it and, where it fell back, why."""
        return [c for c in self.choices if c.choice is not None]
