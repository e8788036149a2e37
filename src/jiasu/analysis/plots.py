"""Charts of a :class:`~jiasu.analysis.profile.Profile` as PNG bytes (matplotlib, Agg, no pyplot state).

``layer_chart``: per node, bars of MACs, floor time and energy, in topological
order. ``roofline_chart``: the machine's roofs with every node placed at its
arithmetic intensity. Each returns PNG bytes and also writes them to ``path``
when one is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from .profile import Profile

COLORS = {"conv": "#4C72B0", "fc": "#DD8452", "pool": "#55A868", "norm": "#C44E52", "elementwise": "#8172B3", "data": "#937860", "other": "#8C8C8C"}
MAX_LABELS = 60


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig, path: Union[None, str, Path]) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _text(s: str) -> str:
    """Literal text for a matplotlib label ("$" would start math mode)."""
    return s.replace("$", r"\$")


def _short(name: str, width: int = 28) -> str:
    name = name.strip("/").replace("/", ".")
    return _text(name if len(name) <= width else "…" + name[-(width - 1) :])


def layer_chart(profile: Profile, path: Union[None, str, Path] = None) -> bytes:
    """Bars of MACs, floor time (if the roofline is known) and energy per node with any cost."""
    nodes = [n for n in profile.nodes if n.flops or n.parameters or (n.time_s or 0) > 0]
    panels = [("MMACs", [n.macs / 1e6 for n in nodes])]
    if profile.machine is not None:
        panels.append(("floor time (ms)", [(n.time_s or 0) * 1e3 for n in nodes]))
    panels.append((f"energy (µJ, {profile.dtype})", [n.energy.total_pj / 1e6 for n in nodes]))
    fig = _figure(max(8, min(24, 0.18 * len(nodes) + 4)), 2.2 * len(panels) + 1)
    axes = fig.subplots(len(panels), 1, sharex=True)
    colors = [COLORS.get(n.kind, COLORS["other"]) for n in nodes]
    for ax, (label, values) in zip(axes, panels):
        ax.bar(range(len(nodes)), values, color=colors, width=0.8)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title(f"{_text(profile.model)}: per-layer cost (batch {profile.batch}, {profile.dtype})")
    if len(nodes) <= MAX_LABELS:
        axes[-1].set_xticks(range(len(nodes)), [_short(n.name or n.op_type) for n in nodes], rotation=90, fontsize=7)
    else:
        axes[-1].set_xlabel(f"{len(nodes)} nodes in topological order")
    from matplotlib.patches import Patch

    kinds = sorted({n.kind for n in nodes})
    axes[0].legend(handles=[Patch(color=COLORS.get(k, COLORS["other"]), label=k) for k in kinds], fontsize=8, loc="upper right")
    return _png(fig, path)


def roofline_chart(profile: Profile, path: Union[None, str, Path] = None) -> Optional[bytes]:
    """The roofline with each node at (FLOPs/byte, attainable GFLOP/s); None without a machine measurement."""
    machine = profile.machine
    if machine is None:
        return None
    peak, note = machine.peak(profile.dtype)
    bw = machine.bandwidth
    nodes = [n for n in profile.nodes if n.flops and n.bytes_moved]
    intensities = [n.intensity for n in nodes] or [1.0]
    lo, hi = min(min(intensities), 0.5 * peak / bw) / 2, max(max(intensities), 2 * peak / bw) * 2
    fig = _figure(7, 4.5)
    ax = fig.subplots()
    import numpy as np

    x = np.geomspace(lo, hi, 200)
    ax.loglog(x, np.minimum(peak, x * bw) / 1e9, color="black", lw=1.5, label=f"roof: {peak / 1e9:.0f} GOP/s, {bw / 1e9:.1f} GB/s")
    total_time = sum(n.time_s or 0 for n in nodes) or 1.0
    for kind in sorted({n.kind for n in nodes}):
        group = [n for n in nodes if n.kind == kind]
        ax.scatter(
            [n.intensity for n in group],
            [n.flops / n.time_s / 1e9 for n in group],
            s=[20 + 400 * (n.time_s or 0) / total_time for n in group],
            color=COLORS.get(kind, COLORS["other"]),
            alpha=0.7,
            label=kind,
        )
    ax.axvline(peak / bw, color="gray", ls=":", lw=1)
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("attainable GOP/s")
    ax.set_title(f"{_text(profile.model)} on this machine ({profile.dtype}; peak: {note})", fontsize=9)
    ax.grid(True, which="both", alpha=0.2)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig, path)
