"""Fuse a mobilenet inverted residual block (1x1 expand, 3x3 depthwise, 1x1 project) into one
``jiasu::InvertedResidual`` node, which computes it over strips of rows (``kernels/ops/inverted_residual.py``)."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import onnx_ir as ir

from ._graph import JIASU_DOMAIN, attr_value, constant, replace_pattern, sole_consumer, use_jiasu_domain
from .base import JiasuPass

#: the depthwise conv's channels must fill whole 16-float vectors (the C kernel's unit)
CHANNEL_MULTIPLE = 16


def clamp_of(node: ir.Node) -> Optional[tuple[float, float]]:
    """A FusedConv's (or Conv's) activation as the clamp ``(lo, hi)`` it is, or None for one that is no clamp."""
    if node.op_type == "Conv":
        return -math.inf, math.inf
    activation = attr_value(node, "activation", "") or ""
    if activation == "":
        return -math.inf, math.inf
    if activation == "Relu":
        return 0.0, math.inf
    if activation == "Clip":
        lo, hi = attr_value(node, "activation_params", [])
        return float(lo), float(hi)
    return None


def _conv(node: Optional[ir.Node]) -> bool:
    return node is not None and (
        (node.domain == "" and node.op_type == "Conv") or (node.domain == JIASU_DOMAIN and node.op_type == "FusedConv")
    )


def _plain_geometry(node: ir.Node, stride: int, pad: int) -> bool:
    """2-D, explicit pads all ``pad``, strides ``stride``, dilation 1."""
    auto_pad = attr_value(node, "auto_pad", "NOTSET") or "NOTSET"
    if auto_pad not in ("NOTSET", "VALID") or (auto_pad == "VALID" and pad):
        return False
    return (
        list(attr_value(node, "strides", [1, 1])) == [stride, stride]
        and list(attr_value(node, "pads", [0, 0, 0, 0])) == [pad] * 4
        and list(attr_value(node, "dilations", [1, 1])) == [1, 1]
    )


def _weights(node: ir.Node, shape: tuple[Optional[int], ...], residual: bool = False) -> Optional[np.ndarray]:
    """The weight, if it is constant float32 of ``shape`` (None: any size) with a constant bias or none, and the
    node has no residual input unless ``residual`` (the project's Z is the block's); else None."""
    if not residual and len(node.inputs) > 3 and node.inputs[3] is not None:
        return None
    w = constant(node.inputs[1])
    if w is None or w.dtype.name != "float32" or w.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, w.shape)):
        return None
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    return w if bias is None or constant(bias) is not None else None


class FuseInvertedResidual(JiasuPass):
    """Rule (after ``fuse_residual_add`` and ``fuse_conv_activation``)::

        P(D(E(X)), Z?) -> InvertedResidual(X, We, Be, Wd, Bd, Wp, Bp, Z?)

    - E, the expand (optional): a 1x1 conv, groups 1, stride 1, no pads, read only by D;
    - D, the depthwise conv: 3x3, groups == channels (a multiple of 16), stride 1 or 2, pads 1, read only by P;
    - P, the project: a 1x1 conv, groups 1, stride 1, no pads, with or without a residual ``Z``.

    All weights and biases constant float32; each conv's activation none, Relu or Clip (they become the
    ``clamps`` attribute: ``[lo, hi]`` for E, D and P in turn, +-inf where open). Without an expand, We and Be
    are empty inputs. A block whose channels are no multiple of 16, or whose activations are not clamps
    (mobilenet_v3's HardSwish), is left as it is.
    """

    name = "fuse_inverted_residual"

    def rewrite(self, model: ir.Model) -> None:
        graph = model.graph
        for project in list(graph):
            if project.graph is not graph or not _conv(project):
                continue
            match = self._match(project)
            if match is None:
                continue
            expand, depthwise, stride, clamps = match
            first = expand or depthwise
            inputs = [first.inputs[0]]
            for conv in (expand, depthwise, project):  # each conv's weight and bias; empty for a missing expand
                inputs += [conv.inputs[1], conv.inputs[2] if len(conv.inputs) > 2 else None] if conv is not None else [None, None]
            inputs.append(project.inputs[3] if len(project.inputs) > 3 else None)  # the residual
            attrs = [ir.AttrInt64("stride", stride), ir.AttrFloat32s("clamps", clamps)]
            new = ir.Node(JIASU_DOMAIN, "InvertedResidual", inputs, attrs, name=project.name, num_outputs=1)
            graph.insert_before(project, new)
            nodes = [n for n in (expand, depthwise, project) if n is not None]
            replace_pattern(graph, nodes, project.outputs[0], new.outputs[0])
            use_jiasu_domain(model)
            self.count("fused {} inverted residual blocks" + ("" if expand else " without an expand"))

    @staticmethod
    def _match(project: ir.Node):
        """``(expand or None, depthwise, stride, clamps)`` if ``project`` ends a block, else None."""
        if int(attr_value(project, "group", 1)) != 1 or not _plain_geometry(project, 1, 0):
            return None
        w = _weights(project, (None, None, 1, 1), residual=True)
        if w is None:
            return None
        hid = int(w.shape[1])
        depthwise = project.inputs[0].producer()
        if not _conv(depthwise) or sole_consumer(depthwise.outputs[0]) is not project or hid % CHANNEL_MULTIPLE:
            return None
        if int(attr_value(depthwise, "group", 1)) != hid or _weights(depthwise, (hid, 1, 3, 3)) is None:
            return None
        stride = next((s for s in (1, 2) if _plain_geometry(depthwise, s, 1)), None)
        if stride is None:
            return None
        expand = depthwise.inputs[0].producer()
        if not (
            _conv(expand)
            and sole_consumer(expand.outputs[0]) is depthwise
            and int(attr_value(expand, "group", 1)) == 1
            and _plain_geometry(expand, 1, 0)
            and _weights(expand, (hid, None, 1, 1)) is not None
            and clamp_of(expand) is not None
        ):
            expand = None
        clamps = [clamp_of(expand) if expand else (-math.inf, math.inf), clamp_of(depthwise), clamp_of(project)]
        if None in clamps:
            return None
        return expand, depthwise, stride, [float(v) for pair in clamps for v in pair]
