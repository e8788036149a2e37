"""The report of ``jiasu optimize``: one self-contained HTML page (inline CSS, the plot as base64 PNG, no scripts, no network).

It reads the ``result`` dict that :mod:`jiasu.recommend` writes as ``result.json``
(format ``jiasu-optimize``, version 1) and shows, in order: the headline (the
chosen recipe, its accuracy and the speedups, or a red box when no candidate met
the accuracy budget), the accuracy-vs-objective plot of every trial with the
Pareto front, the final comparison of the candidates against the original model
and the peer defaults, the reasons for the choice, the recipe as YAML with the
command that reproduces it, the per-layer table, every trial, and the
environment with the facts of the run.

Every key but ``scenario``, ``objective``, ``trials``, ``final`` and
``met_budget`` is optional, and a missing one leaves its part of the page short
rather than failing. Speedups come from ``result["final"]`` only (one run's
re-measurement of candidates, original and peers), so they compare numbers
measured together.

>>> from jiasu.report.optimize import render_optimize_html, pareto_png
>>> page = render_optimize_html(result, recipe_yaml=open("recipe.yaml").read())
"""

from __future__ import annotations

import io
import json
import math
import shlex
from datetime import datetime, timezone
from html import escape
from typing import Any, Iterable, Optional

from .html import CSS, _png

__all__ = ["pareto_png", "render_optimize_html"]

EXTRA_CSS = """
.headline { border: 1px solid #b9d7b0; background: #eef8ea; padding: 10px 14px; margin: 10px 0 4px; border-radius: 4px; }
.headline .recipe { font-size: 17px; font-weight: 600; }
.headline .figures { margin: 6px 0 0; padding-left: 18px; }
.nobudget { border: 2px solid #c62828; background: #fde4e4; color: #7a0000; padding: 10px 14px; margin: 10px 0 4px; border-radius: 4px; }
.nobudget .title { font-size: 16px; font-weight: 700; color: #c62828; }
.nobudget .figures { margin: 6px 0 0; padding-left: 18px; color: #1b1b1b; }
tr.chosen td { background: #dff3d8; font-weight: 600; }
tr.over-budget td { color: #777; background: #f3f3f3; }
tr.pruned td { color: #777; background: #fbf6e4; }
td.reason { max-width: 420px; text-align: left; font-size: 11px; color: #555; }
pre.recipe { background: #f7f7f7; border: 1px solid #ddd; padding: 8px 10px; font-size: 12px; overflow-x: auto; }
code.cmd { background: #f4f4f4; padding: 2px 5px; }
.marker { color: #2e7d32; }
div.error { font-size: 11px; color: #a00; font-weight: normal; }
figure img#pareto { width: 760px; }
"""

# How the ratio of objectives is worded per scenario ("5.00x faster than ...").
_GAIN_WORD = {"latency": "faster", "throughput": "faster", "memory": "less memory", "energy": "less energy"}

# Plot colours.
_FEASIBLE = "#1f77b4"
_OVER = "#9e9e9e"
_FRONT = "#ff7f0e"
_CHOSEN = "#d62728"
_REF = "#2ca02c"


# ---------------------------------------------------------------- small helpers


def _num(value: Any) -> Optional[float]:
    """``value`` as a finite float, else None (missing, null, text, NaN)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _g(value: Any) -> str:
    """A number in a readable width: 0.120, 1.23, 123.4, 1,234."""
    f = _num(value)
    if f is None:
        return "–" if value is None or isinstance(value, (int, float)) else str(value)
    a = abs(f)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{f:,.0f}"
    if a >= 100:
        return f"{f:.1f}"
    if a >= 1:
        return f"{f:.2f}"
    return f"{f:#.3g}"  # three significant digits, trailing zeros kept: 0.100, 0.0525


def _pct(value: Any) -> str:
    f = _num(value)
    return "–" if f is None else f"{f:.2f}%"


def _pts(value: Any) -> str:
    f = _num(value)
    return "–" if f is None else f"{f:.2f} pts"


def _ratio(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.2f}x"


_OPPOSITE = {"faster": "slower", "less memory": "more memory", "less energy": "more energy", "better": "worse"}


def _versus(gain: Optional[float], word: str) -> str:
    """``2.50x faster`` for a gain of 2.5, ``1.25x slower`` for 0.8: never "0.80x faster"."""
    if gain is None:
        return f"– {word}"
    if gain >= 1:
        return f"{gain:.2f}x {word}"
    return f"{1 / gain:.2f}x {_OPPOSITE.get(word, 'worse')}"


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _objective(result: dict) -> dict:
    obj = result.get("objective")
    return obj if isinstance(obj, dict) else {}


def _maximize(result: dict) -> bool:
    return str(_objective(result).get("direction", "minimize")).lower() == "maximize"


def _objective_label(result: dict) -> str:
    obj = _objective(result)
    return str(obj.get("label") or obj.get("name") or "objective")


def _fmt_objective(result: dict, value: Any) -> str:
    f = _num(value)
    if f is None:
        return "–"
    unit = str(_objective(result).get("unit") or "")
    if unit.lower() in ("b", "byte", "bytes"):
        if abs(f) >= 1 << 20:
            return f"{f / (1 << 20):.2f} MiB"
        if abs(f) >= 1 << 10:
            return f"{f / (1 << 10):.1f} KiB"
        return f"{f:.0f} B"
    return f"{_g(f)} {unit}".strip()


def _gain(result: dict, value: Any, reference: Any) -> Optional[float]:
    """How many times better ``value`` is than ``reference`` on the objective (>1: better), None if not computable."""
    v, r = _num(value), _num(reference)
    if v is None or r is None or v <= 0 or r <= 0:
        return None
    return v / r if _maximize(result) else r / v


def _better(result: dict, a: float, b: float) -> bool:
    return a > b if _maximize(result) else a < b


def _trials(result: dict) -> list[dict]:
    return [t for t in (result.get("trials") or []) if isinstance(t, dict)]


def _final(result: dict) -> list[dict]:
    return [f for f in (result.get("final") or []) if isinstance(f, dict)]


def _trial(result: dict, number: Any) -> Optional[dict]:
    if number is None:
        return None
    for t in _trials(result):
        if t.get("number") == number:
            return t
    return None


def _floor(result: dict) -> Optional[float]:
    base = _num((result.get("baseline") or {}).get("accuracy"))
    drop = _num(result.get("max_accuracy_drop"))
    return None if base is None or drop is None else base - drop


def _feasible(result: dict, trial: dict) -> bool:
    if "feasible" in trial and trial["feasible"] is not None:
        return bool(trial["feasible"])
    drop, budget = _num(trial.get("accuracy_drop")), _num(result.get("max_accuracy_drop"))
    return drop is not None and budget is not None and drop <= budget


def _ok(entry: dict) -> bool:
    return str(entry.get("status", "ok")) == "ok"


def _final_of(result: dict, number: Any) -> Optional[dict]:
    """The final candidate entry of trial ``number``."""
    if number is None:
        return None
    for f in _final(result):
        if f.get("kind") == "candidate" and f.get("trial") == number:
            return f
    return None


def _original(result: dict) -> Optional[dict]:
    for f in _final(result):
        if f.get("kind") == "original":
            return f
    return None


def _best_peer(result: dict) -> Optional[dict]:
    """The peer default with the best objective among those that ran ("the fastest peer default")."""
    best = None
    for f in _final(result):
        if f.get("kind") != "peer-default" or not _ok(f) or _num(f.get("objective")) is None or _num(f.get("objective")) <= 0:
            continue
        if best is None or _better(result, _num(f["objective"]), _num(best["objective"])):
            best = f
    return best


def _accuracy_name(result: dict) -> str:
    return "agreement with the original" if result.get("accuracy_metric") == "agreement" else "accuracy"


# ---------------------------------------------------------------- the plot


def pareto_png(result: dict, dpi: int = 100) -> bytes:
    """Accuracy vs the scenario objective for every completed trial, with the Pareto front, as PNG bytes.

    Feasible trials are blue, over-budget ones grey (failed and pruned trials have
    no objective and are left out); the front is a step line, the chosen trial a
    labelled star, the accuracy floor a dashed line, and the original model and the
    peer defaults from ``result["final"]`` labelled diamonds / squares. The x axis is
    logarithmic when the objective values span more than 10x.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.2, 5.0), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

    maximize = _maximize(result)
    points = [
        (t, _num(t.get("objective")), _num(t.get("accuracy")))
        for t in _trials(result)
        if _ok(t) and _num(t.get("objective")) is not None and _num(t.get("accuracy")) is not None
    ]
    feasible = [(x, y) for t, x, y in points if _feasible(result, t)]
    over = [(x, y) for t, x, y in points if not _feasible(result, t)]
    xs: list[float] = [x for _, x, _ in points]

    if over:
        ax.scatter(*zip(*over), s=22, color=_OVER, alpha=0.8, label="over budget", zorder=2)
    if feasible:
        ax.scatter(*zip(*feasible), s=22, color=_FEASIBLE, alpha=0.9, label="within budget", zorder=3)

    on_front = set(result.get("pareto") or [])
    front = sorted(((x, y) for t, x, y in points if t.get("number") in on_front), key=lambda p: p[0])
    if front:
        ax.step(
            [p[0] for p in front],
            [p[1] for p in front],
            where="pre" if maximize else "post",
            color=_FRONT,
            linewidth=1.5,
            marker="o",
            markersize=6,
            markerfacecolor="none",
            markeredgewidth=1.5,
            label="Pareto front",
            zorder=4,
        )

    chosen = _trial(result, result.get("chosen"))
    if chosen is not None and _num(chosen.get("objective")) is not None and _num(chosen.get("accuracy")) is not None:
        cx, cy = _num(chosen["objective"]), _num(chosen["accuracy"])
        ax.scatter([cx], [cy], marker="*", s=260, color=_CHOSEN, edgecolors="black", linewidths=0.6, label="chosen", zorder=6)
        ax.annotate(
            _short(str(chosen.get("label") or f"trial {chosen.get('number')}")),
            (cx, cy),
            xytext=(10, -16),
            textcoords="offset points",
            fontsize=8,
            color=_CHOSEN,
            fontweight="bold",
            zorder=7,
        )

    refs = [
        f
        for f in _final(result)
        if f.get("kind") in ("original", "peer-default") and _ok(f) and _num(f.get("objective")) is not None and _num(f.get("accuracy")) is not None
    ]
    refs.sort(key=lambda f: _num(f["objective"]))
    all_x = xs + [_num(f["objective"]) for f in refs]
    x_max = max(all_x) if all_x else None
    labelled = {"original": False, "peer-default": False}
    for i, f in enumerate(refs):
        x, y = _num(f["objective"]), _num(f["accuracy"])
        xs.append(x)
        kind = f["kind"]
        ax.scatter(
            [x],
            [y],
            marker="D" if kind == "original" else "s",
            s=46,
            color="black" if kind == "original" else _REF,
            edgecolors="white",
            linewidths=0.6,
            label=None if labelled[kind] else ("original model" if kind == "original" else "peer default"),
            zorder=5,
        )
        labelled[kind] = True
        # staggered so that neighbouring labels do not overprint; the rightmost one is drawn to the left of its marker
        right = x == x_max
        ax.annotate(
            _short(str(f.get("label") or kind), 32),
            (x, y),
            xytext=(-6 if right else 6, 6 + 9 * (i % 3)),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=7,
            color="#333",
            zorder=7,
        )

    floor = _floor(result)
    if floor is not None:
        ax.axhline(floor, linestyle="--", color=_CHOSEN, linewidth=1, alpha=0.8, label=f"accuracy floor ({floor:.2f}%)", zorder=1)

    positive = [x for x in xs if x > 0]
    if positive and max(positive) / min(positive) > 10:
        ax.set_xscale("log")
        # Labels on the decades and on plain numbers between them (0.2, 0.5, 2, 5), not on every minor tick.
        from matplotlib.ticker import LogFormatter

        ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))

    ax.set_xlabel(f"{_objective_label(result)} ({'higher' if maximize else 'lower'} is better)")
    ax.set_ylabel("top-1 agreement with the original (%)" if result.get("accuracy_metric") == "agreement" else "accuracy (%)")
    title = f"{result.get('model') or 'model'}: {result.get('scenario') or 'optimize'}"
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.margins(x=0.06, y=0.18)  # room for the labels above the reference markers
    if not xs:
        ax.text(0.5, 0.5, "no completed trials", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=7, loc="best", framealpha=0.85)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------- page sections


def _headline(result: dict) -> str:
    met = bool(result.get("met_budget"))
    obj_label = _objective_label(result)
    word = _GAIN_WORD.get(str(result.get("scenario")), "better")
    original = _original(result)
    peer = _best_peer(result)
    budget = _num(result.get("max_accuracy_drop"))
    acc_name = _accuracy_name(result)

    if not met or result.get("chosen") is None:
        closest_no = result.get("closest")
        closest = _trial(result, closest_no)
        lines = []
        if budget is not None:
            lines.append(f"Every candidate lost more than the allowed {escape(_pts(budget))} of {escape(acc_name)}, or failed.")
        if closest is not None:
            lines.append(
                "Closest: <b>trial "
                f"{_e(closest.get('number'))}: {_e(closest.get('label'))}</b>, "
                f"{escape(acc_name)} {escape(_pct(closest.get('accuracy')))} "
                f"(drop {escape(_pts(closest.get('accuracy_drop')))}), "
                f"{escape(obj_label)} {escape(_fmt_objective(result, closest.get('objective')))}."
            )
            fin = _final_of(result, closest_no)
            if fin is not None and original is not None:
                g = _gain(result, fin.get("objective"), original.get("objective"))
                if g is not None:
                    lines.append(f"It would be {escape(_ratio(g))} {escape(word)} than the original model, but over the accuracy budget.")
        elif closest_no is not None:
            lines.append(f"Closest: trial {_e(closest_no)} (not among the recorded trials).")
        else:
            lines.append("No trial came close: none completed.")
        lines.append("The original model is kept. Try a larger --max-accuracy-drop, more trials, or other search dimensions.")
        items = "".join(f"<li>{line}</li>" for line in lines)
        return f'<div class="nobudget" id="no-candidate"><div class="title">No candidate met the budget</div><ul class="figures">{items}</ul></div>'

    number = result.get("chosen")
    trial = _trial(result, number) or {}
    fin = _final_of(result, number)
    label = (fin or {}).get("label") or trial.get("label") or f"trial {number}"

    acc = _num((fin or {}).get("accuracy"))
    if acc is None:
        acc = _num(trial.get("accuracy"))
    ref_acc = _num((original or {}).get("accuracy"))
    if ref_acc is None:
        ref_acc = _num((result.get("baseline") or {}).get("accuracy"))
    drop = ref_acc - acc if acc is not None and ref_acc is not None else _num(trial.get("accuracy_drop"))
    value = (fin or {}).get("objective")
    if _num(value) is None:
        value = trial.get("objective")

    lines = [
        f"{escape(acc_name)} <b>{escape(_pct(acc))}</b>, drop <b>{escape(_pts(drop))}</b> vs the original"
        + (f" (budget {escape(_pts(budget))})" if budget is not None else ""),
        f"{escape(obj_label)}: <b>{escape(_fmt_objective(result, value))}</b>",
    ]
    if fin is not None and original is not None:
        g = _gain(result, fin.get("objective"), original.get("objective"))
        lines.append(
            f'<span id="speedup-original"><b>{escape(_versus(g, word))}</b> than the unoptimized model</span> '
            f"({escape(_fmt_objective(result, original.get('objective')))})"
        )
    else:
        lines.append("speedup vs the unoptimized model: not measured in the final comparison")
    if fin is not None and peer is not None:
        g = _gain(result, fin.get("objective"), peer.get("objective"))
        lines.append(
            f'<span id="speedup-peer"><b>{escape(_versus(g, word))}</b> than the fastest peer default</span> '
            f"({_e(peer.get('label'))}, {escape(_fmt_objective(result, peer.get('objective')))})"
        )
    else:
        lines.append("speedup vs the peer defaults: no peer default measured")
    items = "".join(f"<li>{line}</li>" for line in lines)
    return (
        f'<div class="headline" id="headline"><div class="recipe"><span class="marker">&#9733;</span> Chosen: {escape(str(label))}'
        f' <span style="font-weight:normal;color:#555">(trial {_e(number)})</span></div><ul class="figures">{items}</ul></div>'
    )


def _table(head: Iterable[str], rows: Iterable[str]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _final_table(result: dict) -> str:
    final = _final(result)
    if not final:
        return "<p>No final comparison was measured.</p>"
    peer = _best_peer(result)
    chosen = result.get("chosen") if result.get("met_budget") else None
    word = "speedup" if str(result.get("scenario")) in ("latency", "throughput", "", "None") else "gain"
    head = [
        "label",
        "kind",
        "backend",
        "precision",
        _accuracy_name(result),
        _objective_label(result),
        "ms / image",
        "images / s",
        f"{word} vs fastest peer default",
        "status",
    ]
    rows = []
    for f in final:
        is_chosen = chosen is not None and f.get("kind") == "candidate" and f.get("trial") == chosen
        status = str(f.get("status") or "ok")
        classes = [status] + (["chosen"] if is_chosen else [])
        g = _gain(result, f.get("objective"), peer.get("objective")) if peer is not None and _ok(f) else None
        label = _e(f.get("label"))
        if is_chosen:
            label = f'<span class="marker">&#9733;</span> {label} <b>(chosen)</b>'
        status_cell = escape(status) + (f'<div class="error">{_e(f.get("error"))}</div>' if f.get("error") else "")
        rows.append(
            f'<tr class="{escape(" ".join(classes))}">'
            f'<td class="text">{label}</td><td class="text">{_e(f.get("kind"))}</td>'
            f'<td class="text">{_e(f.get("backend"))}</td><td class="text">{_e(f.get("precision"))}</td>'
            f"<td>{escape(_pct(f.get('accuracy')))}</td><td>{escape(_fmt_objective(result, f.get('objective')))}</td>"
            f"<td>{escape(_g(f.get('per_image_ms')))}</td><td>{escape(_g(f.get('throughput_per_s')))}</td>"
            f'<td>{escape(_ratio(g))}</td><td class="text">{status_cell}</td></tr>'
        )
    note = (
        f"<p class=\"summary\">One run's re-measurement of the candidates, the original model and the peer defaults. "
        f"The {escape(word)} column compares {escape(_objective_label(result))} with the best peer default"
        + (f" ({_e(peer.get('label'))})" if peer is not None else " (none measured)")
        + ".</p>"
    )
    return note + _table(head, rows)


def _reasons(result: dict) -> str:
    reasons = [r for r in (result.get("reasons") or []) if r not in (None, "")]
    if not reasons:
        return "<p>No reasons were recorded.</p>"
    return '<ul class="notes">' + "".join(f"<li>{_e(r)}</li>" for r in reasons) + "</ul>"


def _recipe_text(result: dict, recipe_yaml: Optional[str]) -> tuple[Optional[str], Optional[dict]]:
    """The recipe text to show and the trial it belongs to (chosen, else closest)."""
    number = result.get("chosen") if result.get("met_budget") else result.get("closest")
    if number is None:
        number = result.get("chosen")
    trial = _trial(result, number)
    if recipe_yaml is not None:
        return recipe_yaml, trial
    recipe = (trial or {}).get("recipe")
    if not recipe:
        return None, trial
    try:
        import yaml

        return yaml.safe_dump(recipe, sort_keys=False, default_flow_style=False), trial
    except Exception:  # pragma: no cover - pyyaml is a dependency; a recipe it cannot dump still shows
        return json.dumps(recipe, indent=2, default=str), trial


def _recipe(result: dict, recipe_yaml: Optional[str]) -> str:
    text, trial = _recipe_text(result, recipe_yaml)
    if text is None:
        return "<p>No recipe to show: no candidate was chosen.</p>"
    met = bool(result.get("met_budget")) and result.get("chosen") is not None
    intro = (
        f"The chosen recipe (trial {_e((trial or {}).get('number', result.get('chosen')))}), as <code>recipe.yaml</code>:"
        if met
        else f"No recipe met the budget; this is the closest one (trial {_e((trial or {}).get('number', result.get('closest')))}), for reference:"
    )
    model = result.get("model")
    model_arg = shlex.quote(str(model)) if model else "MODEL"
    cmd = f"jiasu apply recipe.yaml {model_arg} -o OUT"
    return (
        f"<p>{intro}</p><pre class=\"recipe\">{escape(text)}</pre>"
        f'<p>To reproduce it: <code class="cmd">{escape(cmd)}</code> '
        "(OUT: where to write the optimized model).</p>"
    )


_LAYER_COLUMNS = (("name", "layer"), ("op", "op"), ("algorithm", "algorithm"), ("ms", "ms"), ("share", "share %"), ("macs", "MACs"))


def _per_layer(result: dict) -> str:
    layers = [r for r in (result.get("per_layer") or []) if isinstance(r, dict)]
    if not layers:
        return "<p>No per-layer timing was recorded for this recipe (its backend does not report one, or it was not measured).</p>"
    known = [k for k, _ in _LAYER_COLUMNS]
    extra = list(dict.fromkeys(k for r in layers for k in r if k not in known))
    columns = list(_LAYER_COLUMNS) + [(k, k) for k in extra]
    text_keys = {"name", "op", "algorithm"}
    rows = []
    for r in layers:
        cells = []
        for key, _ in columns:
            value = r.get(key)
            if key in text_keys or (value is not None and _num(value) is None):
                cells.append(f'<td class="text">{_e(value)}</td>')
            elif key == "macs":
                f = _num(value)
                cells.append(f"<td>{'–' if f is None else f'{f:,.0f}'}</td>")
            elif key == "share":
                f = _num(value)
                cells.append(f"<td>{'–' if f is None else f'{f:.1f}'}</td>")
            else:
                cells.append(f"<td>{escape(_g(value))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return _table([h for _, h in columns], rows)


def _trials_table(result: dict) -> str:
    trials = _trials(result)
    if not trials:
        return "<p>No trials were run.</p>"
    chosen = result.get("chosen") if result.get("met_budget") else None
    closest = result.get("closest")
    front = set(result.get("pareto") or [])
    budget = _num(result.get("max_accuracy_drop"))
    head = ["#", "label", "status", _accuracy_name(result), "drop", _objective_label(result), "Pareto", "error / reason"]
    rows = []
    for t in trials:
        status = str(t.get("status") or "ok")
        number = t.get("number")
        classes = [status]
        reason = ""
        if status == "ok":
            if not _feasible(result, t):
                classes.append("over-budget")
                drop = _num(t.get("accuracy_drop"))
                reason = f"over budget: drop {_pts(drop)}" + (f" > {_pts(budget)}" if budget is not None else "")
            if t.get("error"):
                reason = (reason + "; " if reason else "") + str(t["error"])
        elif status == "pruned":
            reason = str(t.get("error") or "pruned (stopped early)")
        else:
            reason = str(t.get("error") or status)
        if number is not None and number == chosen:
            classes.append("chosen")
            reason = "chosen" + (f"; {reason}" if reason else "")
        elif number is not None and number == closest and not result.get("met_budget"):
            reason = "closest to the budget" + (f"; {reason}" if reason else "")
        label = _e(t.get("label"))
        if "chosen" in classes:
            label = f'<span class="marker">&#9733;</span> {label}'
        rcls = "error" if status == "failed" else "reason"
        rows.append(
            f'<tr class="{escape(" ".join(classes))}"><td>{_e(number)}</td><td class="text">{label}</td>'
            f'<td class="text">{escape(status)}</td><td>{escape(_pct(t.get("accuracy")))}</td>'
            f"<td>{escape(_pts(t.get('accuracy_drop')))}</td><td>{escape(_fmt_objective(result, t.get('objective')))}</td>"
            f"<td>{'yes' if number in front else ''}</td><td class=\"{rcls}\">{escape(reason)}</td></tr>"
        )
    counts: dict[str, int] = {}
    for t in trials:
        counts[str(t.get("status") or "ok")] = counts.get(str(t.get("status") or "ok"), 0) + 1
    n_feasible = sum(1 for t in trials if str(t.get("status") or "ok") == "ok" and _feasible(result, t))
    summary = f"{len(trials)} trials: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + f"; {n_feasible} within the accuracy budget."
    return f'<p class="summary">{escape(summary)}</p>' + _table(head, rows)


def _flatten(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    if isinstance(value, dict) and depth < 2:
        items: list[tuple[str, str]] = []
        for k, v in value.items():
            items.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k), depth + 1))
        return items
    if value in (None, "", [], {}):
        return []
    if isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = ", ".join(f"{k} {v}" for k, v in value.items() if v not in (None, ""))
    else:
        text = str(value)
    return [(prefix, text)]


def _dl(items: list[tuple[str, str]]) -> str:
    return '<dl class="env">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items) + "</dl>"


def _elapsed(value: Any) -> Optional[str]:
    f = _num(value)
    if f is None:
        return None
    if f < 60:
        return f"{f:.1f} s"
    minutes, seconds = divmod(int(round(f)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{f:.0f} s (" + (f"{hours} h " if hours else "") + f"{minutes} min {seconds} s)"


def _run_facts(result: dict) -> str:
    base = result.get("baseline") or {}
    items = [
        ("model", result.get("model")),
        ("data", result.get("data")),
        ("scenario", result.get("scenario")),
        ("objective", f"{_objective_label(result)} ({_objective(result).get('direction', 'minimize')})"),
        ("accuracy metric", result.get("accuracy_metric")),
        ("max accuracy drop", _pts(result.get("max_accuracy_drop")) if result.get("max_accuracy_drop") is not None else None),
        (
            "baseline",
            f"{base.get('label') or 'original'}: {_pct(base.get('accuracy'))}, {_fmt_objective(result, base.get('objective'))}" if base else None,
        ),
        ("search", result.get("search")),
        ("trials", len(_trials(result))),
        ("study", result.get("study")),
        ("elapsed", _elapsed(result.get("elapsed_s"))),
        ("result format", f"{result.get('format')} v{result.get('version')}" if result.get("format") else None),
    ]
    return _dl([(k, str(v)) for k, v in items if v not in (None, "")])


def _environment(result: dict) -> str:
    env = result.get("environment")
    if not env:
        return "<p>No environment was recorded.</p>"
    if not isinstance(env, dict):
        return f"<p>{_e(env)}</p>"
    return _dl(_flatten(env))


def render_optimize_html(result: dict, recipe_yaml: str | None = None, title: str | None = None) -> str:
    """The report page of one ``jiasu optimize`` run (the ``result.json`` dict), self-contained HTML."""
    model = result.get("model")
    if title is None:
        title = f"jiasu optimize: {model}" if model else "jiasu optimize"
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    scenario = result.get("scenario") or "?"
    budget = result.get("max_accuracy_drop")
    summary = (
        f"Scenario <b>{_e(scenario)}</b> ({escape(_objective_label(result))}, "
        f"{'higher' if _maximize(result) else 'lower'} is better)"
        + (f", accuracy budget {escape(_pts(budget))}" if budget is not None else "")
        + (f", data {_e(result.get('data'))}" if result.get("data") else "")
        + f"; generated {generated}."
    )
    alt = f"{_accuracy_name(result)} vs {_objective_label(result)} for every completed trial, with the Pareto front"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}{EXTRA_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="summary">{summary}</p>',
        _headline(result),
        "<h2>Accuracy vs objective</h2>",
        f'<figure><img id="pareto" alt="{escape(alt)}" src="{_png(pareto_png(result))}">'
        "<figcaption>Blue: within the accuracy budget; grey: over it; orange: the Pareto front; star: the chosen recipe; "
        "dashed: the accuracy floor; diamond / squares: the original model and the peer defaults (final comparison). "
        "Failed and pruned trials are not drawn.</figcaption></figure>",
        "<h2>Final comparison</h2>",
        _final_table(result),
        "<h2>Why this choice</h2>",
        _reasons(result),
        "<h2>Recipe</h2>",
        _recipe(result, recipe_yaml),
        "<h2>Per-layer</h2>",
        _per_layer(result),
        "<h2>All trials</h2>",
        _trials_table(result),
        "<h2>Environment</h2>",
        _environment(result),
        "<h3>Run</h3>",
        _run_facts(result),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
