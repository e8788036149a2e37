from typing import Optional

import torch

from ...errors import AlgorithmError
from ..base import TORCH_DTYPES, Kernel
from ..conv import ConvAlgorithm, ConvSpec, Epilogue, get_algorithm
from ._common import same_pads


# Algorithms whose output is channels_last already (the layout the engine keeps between layers).
_WRITES_CHANNELS_LAST = {"onednn", "winograd", "winograd_f6", "winograd_f2", "winograd_large", "gemm", "nhwc_direct", "pointwise", "nhwc_gemm"}


def _keep_channels_last(fn):
    """Give a channels_last input's layout back to the output of an algorithm that writes NCHW.

    Once oneDNN convolutions run, activations are channels_last; one NCHW tensor in
    the chain makes the next ops pay (torch's NCHW max pooling was 8x slower than
    its channels_last kernel here). The conversion happens inside the node, so
    tuning times it as part of the algorithm.
    """
    cl = torch.channels_last

    def run(x, z=None):
        y = fn(x, z)
        if not x.is_contiguous() and x.is_contiguous(memory_format=cl) and not y.is_contiguous(memory_format=cl):
            y = y.contiguous(memory_format=cl)
        return y

    return run


class Conv(Kernel):
    """ONNX Conv, computed by one of the registered convolution algorithms.

    The algorithm comes from the engine options: ``conv_algorithms[node name]``
    (strict: an algorithm that does not apply is an error) or else
    ``conv_algorithm`` (a preference: where it does not apply the node falls
    back to ``direct`` and the reason is reported). 1-D convolutions are run by
    2-D algorithms as height-1 images. With a constant weight the algorithm's
    ``prepare`` (weight transforms) runs once per input spatial size.

    ``conv_algorithm="auto"`` (the default plan) takes the heuristic's choice for the
    input size the graph fixes; where the heuristic's answer depends on the
    shape (``jiasu.plan.heuristic.depends_on_shape``: 3x3 convs Winograd could
    run, single-channel first layers, depthwise convs) it asks again per input shape seen at run
    time, batch included, so a small map runs oneDNN at batch 1 and Winograd at
    batch 8. The node's reported choice is the load-time one.
    ``epilogue`` (set by ``jiasu::FusedConv``) is what runs on the output.
    """

    #: what runs on the conv's output (activation, residual add); None for plain Conv.
    epilogue: Optional[Epilogue] = None

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.weight = self.const_input(1)
        self.bias = self.const_input(2) if self.has_input(2) else None
        self.bias_is_const = not self.has_input(2) or self.bias is not None
        self.group = int(self.attr("group", 1))
        self.auto_pad = self.attr("auto_pad", "NOTSET")
        w_shape = self.weight.shape if self.weight is not None else node.inputs[1].shape
        kernel = self.attr("kernel_shape")
        if kernel is None:
            kernel = [int(d) for d in list(w_shape)[2:]]
        self.kernel = list(kernel)
        n = len(self.kernel)
        self.ndim = n
        self.strides = list(self.attr("strides", [1] * n))
        self.dilations = list(self.attr("dilations", [1] * n))
        self.pads = list(self.attr("pads", [0] * (2 * n)))
        #: the device, set by _choose for "auto" nodes whose best algorithm depends on the input shape
        self._per_shape: Optional[torch.device] = None
        self._shape_choice: dict[tuple, ConvAlgorithm] = {}
        self.algorithm = self._choose(node, ctx, w_shape)
        self._prepared: dict[tuple, callable] = {}

    def _dtype(self):
        if self.weight is not None:
            return self.weight.dtype
        dtype = self.node.inputs[1].dtype
        return TORCH_DTYPES.get(dtype) if dtype is not None else None

    def _spec(self, weight_shape, pads) -> ConvSpec:
        """The spec as algorithms see it: 1-D lifted to 2-D (height 1) for non-direct algorithms."""
        out_c, in_per_group = int(weight_shape[0]), int(weight_shape[1])
        kernel, stride, dilation = self.kernel, self.strides, self.dilations
        if self.ndim == 1:
            kernel, stride, dilation = [1] + kernel, [1] + stride, [1] + dilation
            pads = [0, pads[0], 0, pads[1]]
        return ConvSpec(
            in_per_group * self.group, out_c, tuple(kernel), tuple(stride), tuple(dilation), tuple(pads), self.group, self._dtype()
        )

    def _static_spec(self, w_shape) -> Optional[ConvSpec]:
        """The spec algorithms are checked against, or None if the weight shape is unknown or the conv is 3-D."""
        if self.ndim == 3 or w_shape is None or any(not isinstance(d, int) for d in list(w_shape)):
            return None
        return self._spec(w_shape, [0] * (2 * self.ndim))

    def _static_shape(self, node) -> Optional[tuple]:
        """The input's (N, C, H, W) shape as the graph gives it (ints, or symbols where not fixed), 2-D convs only."""
        shape = node.inputs[0].shape if node.inputs and node.inputs[0] is not None else None
        return tuple(shape) if self.ndim == 2 and shape is not None and len(shape) == 4 else None

    def _static_input_size(self, node) -> Optional[tuple[int, ...]]:
        """The input's spatial size if the graph fixes it (2-D convs only), else None."""
        shape = self._static_shape(node)
        return tuple(int(d) for d in shape[2:]) if shape is not None and all(isinstance(d, int) for d in shape[2:]) else None

    def _static_batch(self, node) -> Optional[int]:
        """The input's batch size if the graph fixes it (2-D convs only), else None."""
        shape = self._static_shape(node)
        return int(shape[0]) if shape is not None and isinstance(shape[0], int) else None

    def _pads(self, spatial) -> list[int]:
        """The explicit ONNX pads for an input of this spatial size (``auto_pad`` applied)."""
        if self.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            return same_pads(spatial, self.kernel, self.strides, self.dilations, self.auto_pad)
        if self.auto_pad == "VALID":
            return [0] * (2 * self.ndim)
        return self.pads

    def _shape_algorithm(self, x) -> ConvAlgorithm:
        """The heuristic's algorithm for this input shape (``auto`` nodes whose choice depends on it)."""
        shape = tuple(x.shape)
        algo = self._shape_choice.get(shape)
        if algo is None:
            from ...plan.heuristic import choose_algorithm

            spec = self._spec(self.weight.shape, self._pads(list(shape[2:])))  # its pads set the tile count
            algo = self._shape_choice[shape] = get_algorithm(choose_algorithm(spec, self._per_shape, shape[2:], shape[0]))
        return algo

    def algorithm_for(self, x: torch.Tensor) -> str:
        """The algorithm that runs on input ``x``: the load-time choice, or for nodes that choose per input shape
        (``plan.heuristic.depends_on_shape``), the one chosen for ``x``'s shape."""
        if self._per_shape is not None and self.weight is not None:
            return self._shape_algorithm(x).name
        return self.algorithm.name

    def _check(self, name: str, w_shape) -> Optional[str]:
        """Why algorithm ``name`` cannot run this node, or None if it can."""
        spec = self._static_spec(w_shape)
        if spec is None:
            if name == "direct":
                return None
            return "3-D convolution" if self.ndim == 3 else "weight shape unknown at load time"
        return get_algorithm(name).check(spec)

    def candidates(self) -> dict[str, Optional[str]]:
        """Every registered algorithm -> None if it applies to this node, else why not (for the planner)."""
        from ..conv import CONV_ALGORITHMS

        w_shape = self.weight.shape if self.weight is not None else self.node.inputs[1].shape
        return {name: self._check(name, w_shape) for name in CONV_ALGORITHMS}

    def prepare_candidate(self, name: str, x):
        """A fresh ``(x, z) -> y`` running this node (weights, bias, epilogue) with algorithm ``name``; for timing."""
        if self.weight is None or not self.bias_is_const:
            raise AlgorithmError(f"{self.describe()}: only convolutions with constant weights and bias can be tuned")
        return self._fn(x, self.weight, self.bias, self.epilogue, get_algorithm(name))

    def _choose(self, node, ctx, w_shape):
        per_node = ctx.options.get("conv_algorithms") or {}
        strict = node.name in per_node
        name = per_node.get(node.name) or ctx.options.get("conv_algorithm") or "direct"
        if name == "auto":
            from ...plan.heuristic import choose_algorithm, depends_on_shape

            spec = self._static_spec(w_shape)
            name = choose_algorithm(spec, ctx.device, self._static_input_size(node), self._static_batch(node))
            if self.ndim == 2 and self.weight is not None and depends_on_shape(spec):
                self._per_shape = ctx.device
        algo = get_algorithm(name)
        reason = self._check(name, w_shape)
        if reason is None:
            ctx.choice = name
            return algo
        if strict:
            raise AlgorithmError(f"convolution algorithm {name!r} does not apply to Conv node {node.name!r}: {reason}")
        ctx.choice, ctx.reason = "direct", f"{name}: {reason}"
        return get_algorithm("direct")

    def _fn(self, x, weight, bias, epilogue=None, algorithm=None):
        """The prepared ``(x, z) -> y``, cached per spatial size when the weight is constant.

        ``algorithm`` (for the tuner) overrides the node's choice and bypasses the cache.
        """
        spatial = tuple(x.shape[2:])
        key = spatial if self.auto_pad not in ("NOTSET", "", "VALID") else ()
        algo = algorithm or self.algorithm
        if algorithm is None and self._per_shape is not None:
            algo = self._shape_algorithm(x)
            key = (algo.name, key)
        fn = self._prepared.get(key) if algorithm is None else None
        if fn is not None:
            return fn
        pads = self._pads(spatial)
        lift = self.ndim == 1 and algo.name != "direct"
        if lift:
            spec = self._spec(weight.shape, pads)
            fn2d = algo.prepare_fused(weight.unsqueeze(2), bias, spec, epilogue)
            fn = lambda x, z=None: fn2d(x.unsqueeze(2), None if z is None else z.unsqueeze(2)).squeeze(2)  # noqa: E731
        else:
            spec = ConvSpec.from_weight(weight, stride=self.strides, dilation=self.dilations, pads=pads, groups=self.group)
            fn = algo.prepare_fused(weight, bias, spec, epilogue)
            if algo.name not in _WRITES_CHANNELS_LAST and self.ndim == 2:
                fn = _keep_channels_last(fn)
        if self.weight is not None and algorithm is None:
            self._prepared[key] = fn
        return fn

    def native_call(self, x, w=None, b=None, z=None):
        """The C call of the algorithm that ran ``x`` (``pointwise``, ``nhwc_direct``, Winograd's C path), where it is the whole run."""
        fn = self._prepared.get(("input", x.shape))
        native = getattr(fn, "native_call", None)
        call = native(x, z) if native is not None else None
        return call.renumbered({1: 3}) if call is not None else None  # the algorithm's z is the node's input 3

    def run(self, x, w, b=None, z=None):
        # What _fn returns depends only on the input's shape once weight and bias are constant: kept by that
        # shape in the same cache (so a copy that clears _prepared, as the spatial strategy's does, clears it too).
        fn = self._prepared.get(("input", x.shape))
        if fn is not None:
            return (fn(x, z),)
        if self.weight is None:
            return (self._fn(x, w, b, self.epilogue)(x, z),)
        if self.bias_is_const:
            fn = self._prepared["input", x.shape] = self._fn(x, self.weight, self.bias, self.epilogue)
            return (fn(x, z),)
        # Constant weight, run-time bias: keep the (cached) weight transform, add the bias after.
        y = self._fn(x, self.weight, None)(x, None)
        y = y + b.reshape((1, -1) + (1,) * (y.dim() - 2))
        return (self.epilogue.apply(y, z) if self.epilogue is not None else y,)
