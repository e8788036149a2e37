"""A :class:`~jiasu.analysis.profile.Profile` as rich tables (terminal) and as HTML.

``html_section(profile)`` is a self-contained ``<section>`` (charts embedded as
base64 PNG) for other reports to include, such as ``jiasu bench``'s;
``html_page(profile)`` wraps it in a page. A profile of a plan's graph
(``profile(..., plan=...)``) adds the plan's header lines and an ``algorithm``
column to the node table; one without a plan renders as it always has.
"""

from __future__ import annotations

import base64
import html
from typing import Optional

from .profile import NodeProfile, PlanView, Profile

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(x: float, unit: str = "", digits: int = 3) -> str:
    """1.23e9 -> '1.23 G' + unit."""
    for scale, prefix in _PREFIXES:
        if abs(x) >= scale:
            return f"{x / scale:.{digits}g} {prefix}{unit}"
    return f"{x:.{digits}g} {unit}".rstrip()


def binary(nbytes: float) -> str:
    for scale, prefix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {prefix}"
    return f"{nbytes:.0f} B"


def joules(pj: float) -> str:
    for scale, unit in ((1e12, "J"), (1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ")):
        if pj >= scale:
            return f"{pj / scale:.3g} {unit}"
    return f"{pj:.3g} pJ"


def seconds(s: Optional[float]) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.3g} ms" if s >= 1e-4 else f"{s * 1e6:.3g} µs"


def sort_key(profile: Profile) -> str:
    """Rank nodes by floor time when the roofline is known, else by MACs then FLOPs."""
    return "time_s" if profile.machine is not None else "flops"


def totals_rows(profile: Profile) -> list[tuple[str, str]]:
    t = profile.totals
    stored = ", ".join(f"{k} {binary(v)}" for k, v in t.weight_bytes_by_dtype.items()) or "-"
    e = t.energy
    rows = [
        ("parameters", f"{t.parameters:,}"),
        (f"weights ({profile.dtype})", f"{binary(t.weight_bytes)} (stored: {stored})"),
        ("MACs", f"{si(t.macs)} ({t.macs:,})"),
        ("FLOPs", f"{si(t.flops)} (2 x MACs + {si(t.adds + t.muls + t.special)} other ops)"),
        ("activations, peak live", f"{binary(t.peak_activation_bytes)} (at {t.peak_node or '-'}; naive sum {binary(t.activation_bytes)})"),
        ("bytes moved", f"{binary(t.bytes_moved)} (DRAM {binary(t.dram_bytes)}, SRAM {binary(t.sram_bytes)}, cache {binary(profile.cache_bytes)})"),
        ("arithmetic intensity", f"{t.intensity:.3g} FLOP/byte"),
        (
            f"energy ({profile.dtype})",
            f"{joules(e.total_pj)} = compute {joules(e.compute_pj)} + SRAM {joules(e.sram_pj)} + DRAM {joules(e.dram_pj)}",
        ),
    ]
    if profile.machine is not None:
        m = profile.machine
        peak, note = m.peak(profile.dtype)
        rows.append(("roofline", f"peak {si(peak, 'OP/s')} ({note}), bandwidth {si(m.bandwidth, 'B/s')}, {m.threads} threads"))
        rows.append(("floor latency", seconds(t.floor_s)))
    if profile.efficiency is not None:
        rows.append(("measured / efficiency", f"{seconds(profile.measured_s)} / {100 * profile.efficiency:.1f}% of the floor"))
    return rows


def share_rows(profile: Profile) -> list[tuple[str, str, str, str]]:
    return [(metric, *(f"{100 * parts[k]:.1f}%" for k in ("conv", "fc", "other"))) for metric, parts in profile.shares.items()]


NODE_COLUMNS = ("node", "op", "output", "params", "MACs", "FLOPs", "moved", "FLOP/B", "floor", "bound", "energy", "% MACs")
TERMINAL_COLUMNS = ("node", "op", "output", "params", "MACs", "moved", "FLOP/B", "floor", "bound", "energy")


def node_row(profile: Profile, n: NodeProfile) -> tuple[str, ...]:
    shape = "x".join(map(str, n.output_shapes[0])) if n.output_shapes and n.output_shapes[0] is not None else "?"
    share = n.macs / profile.totals.macs if profile.totals.macs else 0.0
    return (
        n.name or "-",
        n.op_type,
        shape,
        f"{n.parameters:,}" if n.parameters else "",
        si(n.macs) if n.macs else "",
        si(n.flops) if n.flops else "",
        binary(n.bytes_moved),
        f"{n.intensity:.3g}",
        seconds(n.time_s),
        n.bound or "-",
        joules(n.energy.total_pj),
        f"{100 * share:.1f}%" if n.macs else "",
    )


def plan_lines(plan: PlanView) -> list[str]:
    """The header of a plan's profile: the file, its passes, and its multi-core strategy (plain text)."""
    head = (f"plan{' ' + plan.file if plan.file else ''}: compiled for {plan.model} at batch {plan.batch} on "
            f"{plan.threads} thread{'' if plan.threads == 1 else 's'}; passes {', '.join(plan.passes) or 'none'}")
    return [head, strategy_text(plan.strategy)]


def strategy_text(record: dict) -> str:
    """One line for a plan's strategy record (see :class:`jiasu.plan.Plan`): name, workers, and what was chosen."""
    if not record:
        return "strategy: none (the kernels' own threads)"
    describe = record.get("describe") or {}
    # The runner's own description says what runs (sequential: 1 worker, whatever was asked for).
    name, workers = record.get("name", "?"), describe.get("workers", record.get("workers", "?"))
    described = {k: v for k, v in describe.items() if k not in ("strategy", "workers", "chosen")}
    settings = {**(record.get("options") or {}), **described}
    text = f"strategy: {name} on {workers} worker{'' if workers == 1 else 's'}" + "".join(f", {k}={v}" for k, v in settings.items())
    timings = record.get("timings_ms") or {}
    if timings:
        # Only `--strategy auto` measures at compile time: the name is its winner, the timings every candidate's.
        timed = sorted(((k, v) for k, v in timings.items() if isinstance(v, (int, float))), key=lambda kv: kv[1])
        skipped = len(timings) - len(timed)
        text += f"; chosen by auto, the fastest of {len(timed)} measured (ms per run: " + ", ".join(f"{k} {v:.3f}" for k, v in timed) + ")"
        if skipped:
            text += f", {skipped} not applicable"
    if name == "mixed":
        # mixed measures the strategies at run time, once per input shape: a plan holds a choice only if it ran.
        chosen = describe.get("chosen") or {}
        text += "; chooses the fastest strategy per input shape when it runs: " + (
            ", ".join(f"{shape} -> {label}" for shape, label in chosen.items()) if chosen else "nothing chosen yet")
    return text


def node_columns(profile: Profile, terminal: bool = False) -> tuple[str, ...]:
    """The node table's columns: ``TERMINAL_COLUMNS`` or ``NODE_COLUMNS``, with ``algorithm`` after ``bound`` for a plan."""
    columns = TERMINAL_COLUMNS if terminal else NODE_COLUMNS
    if profile.plan is None:
        return columns
    i = columns.index("bound") + 1
    return (*columns[:i], "algorithm", *columns[i:])


def node_cells(profile: Profile, n: NodeProfile, columns: tuple[str, ...]) -> tuple[str, ...]:
    """``node_row`` picked to ``columns``; ``algorithm`` is the plan's choice and its measured time (blank for other nodes)."""
    cells = dict(zip(NODE_COLUMNS, node_row(profile, n)))
    if profile.plan is not None:
        algorithm, ms = profile.plan.choices.get(n.name, (None, None))
        cells["algorithm"] = "" if algorithm is None else algorithm + ("" if ms is None else f" {ms:.3g} ms")
    return tuple(cells[c] for c in columns)


def rich_report(profile: Profile, top: int = 10) -> list:
    """Renderables for ``console.print``: the plan's header lines (if any), totals, shares, top-``top`` nodes, warnings."""
    from rich.markup import escape
    from rich.table import Table

    title = f"{profile.model}: {len(profile.nodes)} run-time nodes, batch {profile.batch}, {profile.dtype}"
    totals = Table(title=title, show_header=False)
    totals.add_column(style="bold")
    totals.add_column()
    for k, v in totals_rows(profile):
        totals.add_row(k, v)
    shares = Table(title="shares: convolution vs fully connected")
    for col in ("of", "conv", "fc", "other"):
        shares.add_column(col, justify="left" if col == "of" else "right")
    for row in share_rows(profile):
        shares.add_row(*row)
    key = sort_key(profile)
    nodes = Table(title=f"top {top} nodes by {'floor time' if key == 'time_s' else 'FLOPs'}")
    columns = node_columns(profile, terminal=True)
    for col in columns:
        nodes.add_column(col, justify="left" if col in ("node", "op", "output", "bound", "algorithm") else "right", overflow="fold")
    for n in profile.top(top, key):
        nodes.add_row(*node_cells(profile, n, columns))
    out = [totals, shares, nodes]
    if profile.plan is not None:
        out[:0] = [escape(line) for line in plan_lines(profile.plan)]
    for w in profile.warnings:
        out.append(f"[yellow]warning:[/] {escape(w)}")
    return out


def _table(rows, header=None) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def _img(png: Optional[bytes], alt: str) -> str:
    if not png:
        return ""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"/>'


def html_section(profile: Profile, top: int = 20, charts: bool = True) -> str:
    """A self-contained ``<section>``: totals, shares, top nodes, per-layer chart and roofline (PNG inline)."""
    from .plots import layer_chart, roofline_chart

    key = sort_key(profile)
    columns = node_columns(profile)
    parts = [
        f'<section class="jiasu-profile"><h2>Profile: {html.escape(profile.model)} (batch {profile.batch}, {profile.dtype})</h2>',
        *([f"<p>{html.escape(line)}</p>" for line in plan_lines(profile.plan)] if profile.plan is not None else []),
        _table(totals_rows(profile)),
        "<h3>Shares: convolution vs fully connected</h3>",
        _table(share_rows(profile), ("of", "conv", "fc", "other")),
        f"<h3>Top {top} nodes by {'floor time' if key == 'time_s' else 'FLOPs'}</h3>",
        _table([node_cells(profile, n, columns) for n in profile.top(top, key)], columns),
    ]
    if charts:
        parts.append("<h3>Per layer</h3>" + _img(layer_chart(profile), "per-layer MACs, time and energy"))
        if profile.machine is not None:
            parts.append("<h3>Roofline</h3>" + _img(roofline_chart(profile), "roofline"))
    if profile.warnings:
        parts.append("<h3>Warnings</h3><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in profile.warnings) + "</ul>")
    parts.append(f"<p>Energy table: {html.escape(profile.energy_table.name)}. See docs/profile.md for the counting rules and memory model.</p></section>")
    return "\n".join(parts)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px;text-align:right}td:first-child,th:first-child{text-align:left}"
    "img{max-width:100%}"
)


def html_page(profile: Profile, top: int = 20) -> str:
    """A complete HTML document around :func:`html_section`."""
    title = html.escape(f"jiasu profile: {profile.model}")
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style></head><body>{html_section(profile, top)}</body></html>\n"
