"""Bench report: the figures of one `qa bench` run as summaries, PASS/MISS targets, a table, SVG and HTML.

    distribution([1, 2, 3, 4])["p50"] == 2.5
    evaluate_targets({"answer.total_ms.p50": 4200.0})[0]["status"] == "PASS"
    paths = write_results(run, Path("bench/results"))   # <run>.json .svg .html, copied to latest.*
    python -m eval.bench_report bench/results/latest.json   # print and render a saved run again

Pure functions of the run record: nothing here measures, so a saved run can be re-rendered. The SVG is
drawn here (no plotting library) and the HTML makes no requests and runs no script.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from eval.aggregate import percentile
from eval.report import write_run_files

# (metric key, label, comparison, limit, unit): the targets of issue 6.
TARGETS = (
    ("answer.total_ms.p50", "end-to-end answer p50", "<=", 5000, "ms"),
    ("answer.ttft_ms.p50", "time to first token p50", "<=", 3000, "ms"),
    ("retrieval.x1.p50_ms", "retrieval p50 at seeds scale", "<=", 30, "ms"),
    ("retrieval.large.p50_ms", "retrieval p50 at ~100k chunks", "<=", 100, "ms"),
    ("index.chunks_per_s", "index build (largest corpus)", ">=", 150, "chunks/s"),
    ("cold_start.ready_s", "cold start to ready", "<=", 15, "s"),
    ("rss.assistant_peak_mb", "peak RSS of the assistant", "<=", 3072, "MB"),
)
PASS, MISS, NEUTRAL = "#1a7f37", "#cf222e", "#8c959f"
STAGES = (  # (sample key, legend, table label, colour): where the time of one generated answer goes
    ("retrieve_ms", "retrieval", "retrieval (query embedding + search)", "#8250df"),
    ("prompt_ms", "evidence", "evidence sentences + prompt", "#bf8700"),
    ("prefill_ms", "prefill", "prompt prefill to the first token", "#cf222e"),
    ("decode_ms", "decoding", "decoding the rest", "#0969da"),
    ("verify_ms", "verifying", "verification (support scores, the model's yes/no judge)", "#1a7f37"),
    ("post_ms", "other", "refusal decision and the rest", "#8c959f"),
)


# Summaries ------------------------------------------------------------------------------------------------


def distribution(values: Iterable[float]) -> dict[str, float | None]:
    """n, mean, p50, p95 and max, rounded: distribution([10, 20, 30, 40, 50])["p95"] == 48.0."""
    values = [float(v) for v in values]
    if not values:
        return {"n": 0, "mean": None, "p50": None, "p95": None, "max": None}
    return {
        "n": len(values),
        "mean": _round(statistics.fmean(values)),
        "p50": _round(percentile(values, 50)),
        "p95": _round(percentile(values, 95)),
        "max": _round(max(values)),
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Key-wise median of several runs' flat figures (numbers only; keys missing in a run are skipped).

    median_of([{"a": 1, "b": 5}, {"a": 3}, {"a": 2}]) == {"a": 2, "b": 5}
    """
    keys = [k for k in dict.fromkeys(k for run in runs for k in run)]
    out = {}
    for key in keys:
        values = [run[key] for run in runs if _is_number(run.get(key))]
        if values:
            out[key] = _round(statistics.median(values))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def answer_stages(sample: dict[str, Any]) -> dict[str, float]:
    """Split one generated answer's timings into consecutive stages (ms) that add up to total_ms.

    The assistant measures ttft_ms and total_ms from the start, generate_ms from the start of generation.
    """
    retrieve, prompt = sample.get("retrieve_ms", 0.0), sample.get("prompt_ms", 0.0)
    prefill = max(0.0, sample.get("ttft_ms", 0.0) - retrieve - prompt)
    generate, verify = sample.get("generate_ms", 0.0), sample.get("verify_ms", 0.0)
    post = max(0.0, sample.get("total_ms", 0.0) - retrieve - prompt - generate - verify)
    return {
        "retrieve_ms": retrieve,
        "prompt_ms": prompt,
        "prefill_ms": prefill,
        "decode_ms": max(0.0, generate - prefill),
        "verify_ms": verify,
        "post_ms": post,
    }


def is_generated(sample: dict[str, Any]) -> bool:
    """Whether the model ran and produced text (refusals before generation have no TTFT)."""
    return sample.get("generate_ms", 0) > 0 and sample.get("completion_tokens", 0) > 0


def answer_summary(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Flat figures of one pass over the gold set: end-to-end over every ask (what a user waits, refusals
    included, as eval/metrics.py does), TTFT, tokens and stages over the answers the model generated."""
    generated = [s for s in samples if is_generated(s)]
    stages = [answer_stages(s) for s in generated]
    refused_early = sum(1 for s in samples if s.get("refused") and not s.get("generate_ms"))
    out: dict[str, float] = {"count": len(samples), "generated": len(generated), "refused_early": refused_early}
    series = {
        "total_ms": [s["total_ms"] for s in samples if "total_ms" in s],
        "generated_total_ms": [s["total_ms"] for s in generated],
        "ttft_ms": [s["ttft_ms"] for s in generated],
        "tokens_per_s": [s["completion_tokens"] / (s["generate_ms"] / 1000) for s in generated],
        "decode_tokens_per_s": [
            (s["completion_tokens"] - 1) / (st["decode_ms"] / 1000)  # after the first token
            for s, st in zip(generated, stages)
            if st["decode_ms"] > 0 and s["completion_tokens"] > 1
        ],
        "prompt_tokens": [s["prompt_tokens"] for s in generated],
        "completion_tokens": [s["completion_tokens"] for s in generated],
        **{key: [st[key] for st in stages] for key, *_ in STAGES},
    }
    for name, values in series.items():
        d = distribution(values)
        for stat in ("p50", "p95", "mean"):
            if d[stat] is not None:
                out[f"{name}.{stat}"] = d[stat]
    return out


def evaluate_targets(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and PASS, MISS or n/a (not measured in this run)."""
    results = []
    for key, label, op, limit, unit in TARGETS:
        value = metrics.get(key)
        status = "n/a" if value is None else "PASS" if (value <= limit if op == "<=" else value >= limit) else "MISS"
        results.append(
            {"key": key, "label": label, "op": op, "limit": limit, "unit": unit, "value": value, "status": status}
        )
    return results


# Text table -----------------------------------------------------------------------------------------------


def table_rows(run: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(group, label, metric keys, unit) of every figure worth printing, in reading order."""
    m = run["metrics"]
    rows = [
        ("model load", "embedder, first in process (with imports)", ("load.embedder_first_s",), "s"),
        ("model load", "embedder, again (median)", ("load.embedder_s",), "s"),
        ("model load", "chat model, first in process (with import)", ("load.generator_first_s",), "s"),
        ("model load", "chat model, again (median)", ("load.generator_s",), "s"),
        ("cold start", "fresh process to ready (median)", ("cold_start.ready_s",), "s"),
        (
            "cold start",
            "… of which imports of qa / loading models and index",
            ("cold_start.import_s", "cold_start.load_s"),
            "s",
        ),
        ("cold start", "launch to exit (exit frees the models)", ("cold_start.wall_s",), "s"),
        (
            "answers",
            "asks / generated / refused before generation",
            ("answer.count", "answer.generated", "answer.refused_early"),
            "",
        ),
        ("answers", "end-to-end p50 / p95 (every ask)", ("answer.total_ms.p50", "answer.total_ms.p95"), "ms"),
        (
            "answers",
            "end-to-end p50 / p95 (generated answers)",
            ("answer.generated_total_ms.p50", "answer.generated_total_ms.p95"),
            "ms",
        ),
        ("answers", "time to first token p50 / p95", ("answer.ttft_ms.p50", "answer.ttft_ms.p95"), "ms"),
        ("answers", "tokens/s: completion ÷ generate time (p50)", ("answer.tokens_per_s.p50",), "tok/s"),
        ("answers", "tokens/s: decoding after the first token (p50)", ("answer.decode_tokens_per_s.p50",), "tok/s"),
        (
            "answers",
            "prompt tokens per answer mean / p50",
            ("answer.prompt_tokens.mean", "answer.prompt_tokens.p50"),
            "tok",
        ),
        ("answers", "… of which the cached fixed prefix (≈)", ("answer.fixed_prefix_tokens",), "tok"),
        ("answers", "completion tokens per answer mean", ("answer.completion_tokens.mean",), "tok"),
        *[("answers", f"stage p50: {label}", (f"answer.{key}.p50",), "ms") for key, _, label, _ in STAGES],
        ("answers", "first answer after load (prefix not yet cached)", ("answer.warmup_total_ms",), "ms"),
    ]
    for scale in sorted({int(k.split(".")[1][1:]) for k in m if k.startswith("index.x")}):
        x = f"x{scale}"
        rows += [
            (f"index {x}", "documents / chunks", (f"index.{x}.docs", f"index.{x}.chunks"), ""),
            (f"index {x}", "build seconds / of which embedding", (f"index.{x}.build_s", f"index.{x}.embed_s"), "s"),
            (f"index {x}", "build throughput", (f"index.{x}.chunks_per_s",), "chunks/s"),
            (
                f"index {x}",
                "retrieval p50 / p95 (embed + FAISS + BM25 + fusion)",
                (f"retrieval.{x}.p50_ms", f"retrieval.{x}.p95_ms"),
                "ms",
            ),
            (
                f"index {x}",
                "… parts p50: query embedding / FAISS / BM25",
                (f"retrieval.{x}.embed_ms", f"retrieval.{x}.dense_ms", f"retrieval.{x}.bm25_ms"),
                "ms",
            ),
            (
                f"index {x}",
                "… retrieve() given the query vector p50 / p95",
                (f"retrieval.{x}.search_ms", f"retrieval.{x}.search_p95_ms"),
                "ms",
            ),
            (f"index {x}", "first query (builds BM25)", (f"retrieval.{x}.first_ms",), "ms"),
            (f"index {x}", "store load", (f"retrieval.{x}.store_load_s",), "s"),
        ]
    rows += [
        ("index", "build throughput at the largest corpus", ("index.chunks_per_s",), "chunks/s"),
        ("search", "rows (replicated from how many chunks)", ("ann.rows", "ann.base_chunks"), ""),
        ("search", "FAISS exact (IndexFlatIP) p50 / p95", ("ann.exact.p50_ms", "ann.exact.p95_ms"), "ms"),
        ("search", "FAISS HNSW p50 / p95", ("ann.hnsw.p50_ms", "ann.hnsw.p95_ms"), "ms"),
        ("search", "HNSW recall@10 against exact", ("ann.hnsw.recall@10",), "ratio"),
        ("search", "index build exact / HNSW", ("ann.exact.build_s", "ann.hnsw.build_s"), "s"),
        (
            "search",
            "hybrid retrieval p50 / p95 at these rows",
            ("retrieval.large.p50_ms", "retrieval.large.p95_ms"),
            "ms",
        ),
        (
            "search",
            "… parts p50: query embedding / FAISS / BM25",
            ("retrieval.large.embed_ms", "retrieval.large.dense_ms", "retrieval.large.bm25_ms"),
            "ms",
        ),
        (
            "search",
            "… retrieve() given the query vector p50 / p95",
            ("retrieval.large.search_ms", "retrieval.large.search_p95_ms"),
            "ms",
        ),
        ("search", "first query (builds BM25 over all rows)", ("retrieval.large.first_ms",), "ms"),
        ("memory", "peak RSS of the assistant (cold start or answering)", ("rss.assistant_peak_mb",), "MB"),
        (
            "memory",
            "peak RSS of this process / of child processes",
            ("rss.process_peak_mb", "rss.children_peak_mb"),
            "MB",
        ),
    ]
    return [row for row in rows if any(m.get(k) is not None for k in row[2])]


def format_table(run: dict[str, Any]) -> str:
    """The printed figures; a target's row ends in PASS or MISS, and an earlier run's values follow with --compare."""
    m, targets = run["metrics"], {t["key"]: t for t in run.get("targets", [])}
    previous = (run.get("compare") or {}).get("metrics")
    load = run.get("load_average", {})
    partial = "" if run.get("complete", True) else f" · PARTIAL (sections done: {', '.join(run.get('sections', {}))})"
    lines = [
        f"qa bench {run['run']}{partial} · {run['machine']['cpus']} CPUs · load average "
        f"{_load(load.get('start'))} → {_load(load.get('end'))} · {run.get('duration_s', '?')} s"
    ]
    header = f"{'':58} {'value':>24}  {'target':<14}"
    lines.append(header + (f"  {'previous':>24}" if previous is not None else ""))
    group = None
    for row_group, label, keys, unit in table_rows(run):
        if row_group != group:
            lines.append(row_group)
            group = row_group
        target = targets.get(keys[0])
        mark = f"{_op(target['op'])} {target['limit']:g} {target['unit']}" if target else ""
        status = target["status"] if target else ""
        line = f"  {label:56} {format_values(m, keys, unit):>24}  {mark:<10} {status:<4}"
        if previous is not None:
            line += f"  {format_values(previous, keys, unit):>24}"
        lines.append(line.rstrip())
    for name, reason in run.get("skipped", {}).items():
        lines.append(f"skipped {name}: {reason}")
    verdict = [f"{t['label']}: {t['status']}" for t in run.get("targets", [])]
    lines.append("TARGETS " + " · ".join(verdict))
    return "\n".join(lines)


def format_values(metrics: dict[str, Any], keys: tuple[str, ...], unit: str) -> str:
    values = [metrics.get(k) for k in keys]
    if all(v is None for v in values):
        return "n/a"
    shown = " / ".join("n/a" if v is None else _number(v, unit) for v in values)
    return shown if unit == "ratio" else f"{shown} {unit}".rstrip()


def _number(value: float, unit: str) -> str:
    """_number(1234.5, "ms") == "1,234"; _number(0.98765, "ratio") == "0.988"; _number(41, "") == "41"."""
    if unit == "ratio":
        return f"{value:.3f}"
    if unit == "ms" and value >= 100 or unit in ("MB", "tok", "chunks/s", "") and value >= 10:
        return f"{value:,.0f}"
    if unit == "" and float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _op(op: str) -> str:
    return op.replace("<=", "≤").replace(">=", "≥")


def _load(values: list[float] | None) -> str:
    return " ".join(f"{v:.2f}" for v in values) if values else "?"


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2 if abs(value) < 100 else 1)


# SVG ------------------------------------------------------------------------------------------------------

PANEL_W, PANEL_H, GAP = 470, 290, 20
PLOT = {"left": 58, "right": 12, "top": 34, "bottom": 46}


def render_svg(run: dict[str, Any]) -> str:
    """One self-contained SVG: six panels, two a row."""
    m = run["metrics"]
    panels = [
        _answer_stages_panel(run.get("sections", {}).get("answers", {}).get("samples", [])),
        _scatter_panel(run.get("sections", {}).get("answers", {}).get("samples", [])),
        _retrieval_panel(m),
        _build_panel(m),
        _search_panel(m),
        _targets_panel(run.get("targets", [])),
    ]
    width = 2 * PANEL_W + 3 * GAP
    rows = math.ceil(len(panels) / 2)
    height = 50 + rows * (PANEL_H + GAP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        _text(GAP, 26, f"qa bench {run['run']}", size=15, weight="bold"),
        _text(
            GAP,
            42,
            f"{run['model']} · {run['machine']['cpus']} CPUs · load average at start "
            f"{_load(run.get('load_average', {}).get('start'))}",
            fill="#57606a",
        ),
    ]
    for i, body in enumerate(panels):
        x, y = GAP + (i % 2) * (PANEL_W + GAP), 50 + (i // 2) * (PANEL_H + GAP)
        parts.append(f'<g transform="translate({x},{y})">')
        parts.append(f'<rect width="{PANEL_W}" height="{PANEL_H}" fill="#f6f8fa" stroke="#d0d7de" rx="4"/>')
        parts += body
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _answer_stages_panel(samples: list[dict[str, Any]]) -> list[str]:
    generated = sorted((answer_stages(s) for s in samples if is_generated(s)), key=lambda st: sum(st.values()))
    parts = [_title("Where each generated answer's time goes (s; dashed: 5 s)")]
    if not generated:
        return parts + [_empty()]
    totals = [sum(st.values()) / 1000 for st in generated]
    top = nice_max(max(max(totals), 5.0))
    parts += _y_axis(top, "s", target=5.0)
    plot_w, plot_h = _plot_size()
    step = plot_w / len(generated)
    for i, stages in enumerate(generated):
        bottom = 0.0
        for key, _, label, colour in STAGES:
            value = stages[key] / 1000
            if value <= 0:
                continue
            y1, y2 = _y(bottom + value, top), _y(bottom, top)
            x = PLOT["left"] + i * step + step * 0.1
            parts.append(
                f'<rect x="{x:.1f}" y="{y1:.1f}" width="{step * 0.8:.1f}" height="{y2 - y1:.1f}" '
                f'fill="{colour}"><title>{escape(label)}: {value:.2f} s</title></rect>'
            )
            bottom += value
    parts += _legend([(legend, colour) for _, legend, _, colour in STAGES], y=PANEL_H - 16)
    note = f"{len(generated)} answers, fastest to slowest"
    parts.append(_text(PLOT["left"], PANEL_H - 30, note, fill="#57606a", size=10))
    return parts


def _scatter_panel(samples: list[dict[str, Any]]) -> list[str]:
    points = [(s["prompt_tokens"], s["ttft_ms"] / 1000) for s in samples if is_generated(s)]
    parts = [_title("Prompt tokens vs time to first token (s; dashed: 3 s)")]
    if not points:
        return parts + [_empty()]
    top = nice_max(max(max(p[1] for p in points), 3.0))
    right = nice_max(max(p[0] for p in points))
    parts += _y_axis(top, "s", target=3.0)
    plot_w, plot_h = _plot_size()
    for tick in _ticks(right):
        x = PLOT["left"] + plot_w * tick / right
        parts.append(_text(x, PLOT["top"] + plot_h + 14, f"{tick:g}", anchor="middle", fill="#57606a"))
    axis = "prompt tokens (incl. the cached fixed prefix)"
    parts.append(_text(PLOT["left"] + plot_w / 2, PANEL_H - 12, axis, anchor="middle", fill="#57606a"))
    for tokens, seconds in points:
        x, y = PLOT["left"] + plot_w * tokens / right, _y(seconds, top)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#cf222e" fill-opacity="0.6">'
            f"<title>{tokens} tokens, {seconds:.2f} s</title></circle>"
        )
    return parts


def _retrieval_panel(m: dict[str, Any]) -> list[str]:
    groups = [
        (
            _count(m.get(f"index.x{s}.chunks")),
            m.get(f"retrieval.x{s}.p50_ms"),
            m.get(f"retrieval.x{s}.p95_ms"),
            30 if s == 1 else None,
        )
        for s in _scales(m)
    ]  # four groups: short labels fit
    if m.get("retrieval.large.p50_ms") is not None:
        large = (m["retrieval.large.p50_ms"], m.get("retrieval.large.p95_ms"))
        groups.append((_count(m.get("ann.rows")), *large, 100))
    return _grouped_bars("Hybrid retrieval latency (ms) by chunks in the index", groups, ("p50", "p95"), "ms")


def _search_panel(m: dict[str, Any]) -> list[str]:
    recall = m.get("ann.hnsw.recall@10")
    title = f"FAISS search at {_count(m.get('ann.rows'))} rows (ms)"
    if recall is not None:
        title += f" · HNSW recall@10 {recall:.3f}"
    groups = [
        (name, m.get(f"ann.{key}.p50_ms"), m.get(f"ann.{key}.p95_ms"), None)
        for key, name in (("exact", "exact (FlatIP)"), ("hnsw", "HNSW"))
    ]
    return _grouped_bars(title, [g for g in groups if g[1] is not None], ("p50", "p95"), "ms")


def _build_panel(m: dict[str, Any]) -> list[str]:
    groups = [(_scale_label(m, s), m.get(f"index.x{s}.chunks_per_s"), 150) for s in _scales(m)]
    return _grouped_bars("Index build throughput (chunks/s; dashed: 150 target)", groups, ("chunks/s",), "")


def _grouped_bars(title: str, groups: list[tuple], series: tuple[str, ...], unit: str) -> list[str]:
    """Bars per group (label, value per series…, target or None); a dashed line marks a group's target."""
    parts = [_title(title)]
    values = [v for g in groups for v in g[1 : 1 + len(series)] if v is not None]
    if not values:
        return parts + [_empty()]
    top = nice_max(max(values + [g[-1] for g in groups if g[-1]]))
    parts += _y_axis(top, unit)
    plot_w, _ = _plot_size()
    colours = ("#0969da", "#bf8700")
    group_w = plot_w / len(groups)
    bar_w = group_w * 0.7 / len(series)
    for i, group in enumerate(groups):
        x0 = PLOT["left"] + i * group_w + group_w * 0.15
        for j, value in enumerate(group[1 : 1 + len(series)]):
            if value is None:
                continue
            y = _y(value, top)
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{y:.1f}" width="{bar_w * 0.92:.1f}" '
                f'height="{_y(0, top) - y:.1f}" fill="{colours[j % 2]}">'
                f"<title>{escape(series[j])}: {value:g}</title></rect>"
            )
            parts.append(_text(x0 + j * bar_w + bar_w * 0.46, y - 3, _number(value, unit), anchor="middle", size=10))
        target = group[-1]
        if target:
            ty = _y(target, top)
            parts.append(
                f'<line x1="{x0 - 4:.1f}" x2="{x0 + group_w * 0.7 + 4:.1f}" y1="{ty:.1f}" y2="{ty:.1f}" '
                'stroke="#cf222e" stroke-width="1.5" stroke-dasharray="5,3"/>'
            )
        parts.append(_text(x0 + group_w * 0.35, PANEL_H - PLOT["bottom"] + 14, group[0], anchor="middle"))
    if len(series) > 1:
        parts += _legend(list(zip(series, colours)), y=PANEL_H - 16)
    return parts


def _targets_panel(targets: list[dict[str, Any]]) -> list[str]:
    parts = [_title("Targets")]
    for i, t in enumerate(targets):
        y = 56 + i * 30
        parts.append(f'<rect x="14" y="{y - 14}" width="44" height="19" rx="3" fill="{_colour(t["status"])}"/>')
        parts.append(_text(36, y, t["status"], anchor="middle", fill="#ffffff", weight="bold"))
        value = "not measured" if t["value"] is None else f"{_number(t['value'], t['unit'])} {t['unit']}"
        parts.append(_text(68, y, f"{t['label']}: {value} (target {_op(t['op'])} {t['limit']:g} {t['unit']})"))
    return parts


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at or above value: nice_max(37) == 50; nice_max(0) == 1."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value * (1 - 1e-9))


def _ticks(top: float) -> list[float]:
    return [top * i / 5 for i in range(6)]


def _plot_size() -> tuple[float, float]:
    return PANEL_W - PLOT["left"] - PLOT["right"], PANEL_H - PLOT["top"] - PLOT["bottom"]


def _y(value: float, top: float) -> float:
    _, plot_h = _plot_size()
    return PLOT["top"] + plot_h * (1 - value / top)


def _y_axis(top: float, unit: str, target: float | None = None) -> list[str]:
    plot_w, _ = _plot_size()
    parts = []
    for tick in _ticks(top):
        y = _y(tick, top)
        parts.append(
            f'<line x1="{PLOT["left"]}" x2="{PLOT["left"] + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>'
        )
        parts.append(_text(PLOT["left"] - 6, y + 4, f"{tick:g}", anchor="end", fill="#57606a"))
    if target is not None and target <= top:
        y = _y(target, top)
        parts.append(
            f'<line x1="{PLOT["left"]}" x2="{PLOT["left"] + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#cf222e" stroke-width="1.5" stroke-dasharray="5,3"/>'
        )
    return parts


def _legend(items: list[tuple[str, str]], y: float) -> list[str]:
    parts, x = [], PLOT["left"]
    for label, colour in items:
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(_text(x + 14, y, label, size=10))
        x += 22 + 6 * len(label)
    return parts


def _colour(status: str) -> str:
    return {"PASS": PASS, "MISS": MISS}.get(status, NEUTRAL)


def _title(text: str) -> str:
    return _text(12, 20, text, size=12, weight="bold")


def _empty() -> str:
    return _text(PANEL_W / 2, PANEL_H / 2, "not measured in this run", anchor="middle", fill=NEUTRAL)


def _text(
    x: float, y: float, text: str, anchor: str = "start", size: int = 11, weight: str = "normal", fill: str = "#24292f"
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" '
        f'fill="{fill}">{escape(text)}</text>'
    )


def _scales(m: dict[str, Any]) -> list[int]:
    return sorted({int(k.split(".")[1][1:]) for k in m if k.startswith("index.x")})


def _scale_label(m: dict[str, Any], scale: int) -> str:
    return f"×{scale} ({_count(m.get(f'index.x{scale}.chunks'))} chunks)"


def _count(value: float | None) -> str:
    return "?" if value is None else f"{value:,.0f}"


# HTML and files -------------------------------------------------------------------------------------------


def render_html(run: dict[str, Any], svg: str) -> str:
    targets = "".join(
        f"<tr><td>{escape(t['label'])}</td><td>{escape(format_values(t, ('value',), t['unit']))}</td>"
        f"<td>{escape(_op(t['op']))} {t['limit']:g} {escape(t['unit'])}</td>"
        f'<td style="color:{_colour(t["status"])};font-weight:bold">{t["status"]}</td></tr>'
        for t in run.get("targets", [])
    )
    figures = "".join(
        f"<tr><td>{escape(group)}</td><td>{escape(label)}</td>"
        f"<td>{escape(format_values(run['metrics'], keys, unit))}</td></tr>"
        for group, label, keys, unit in table_rows(run)
    )
    loads = "".join(
        f"<li>{escape(name)}: {_load(s['load_average']['before'])} → {_load(s['load_average']['after'])} "
        f"({s['seconds']} s)</li>"
        for name, s in run.get("sections", {}).items()
    )
    load = run.get("load_average", {})
    skipped = "".join(f"<li>skipped {escape(k)}: {escape(v)}</li>" for k, v in run.get("skipped", {}).items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>qa bench {escape(run["run"])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#24292f;max-width:1000px}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border-bottom:1px solid #d0d7de;padding:3px 10px;text-align:left}}
td:nth-child(3){{font-variant-numeric:tabular-nums}}.meta{{color:#57606a}}</style></head><body>
<h1>qa bench {escape(run["run"])}{"" if run.get("complete", True) else " (partial)"}</h1>
<p class="meta">model {escape(run["model"])} · {run["machine"]["cpus"]} CPUs · {escape(run["machine"]["platform"])} ·
{run.get("duration_s", "?")} s · load average {_load(load.get("start"))} → {_load(load.get("end"))}</p>
<h2>Targets</h2><table><tr><th>target</th><th>measured</th><th>limit</th><th></th></tr>{targets}</table>
{svg}
<h2>Figures</h2><table><tr><th>section</th><th>figure</th><th>value</th></tr>{figures}</table>
<h2>Load average per section (1, 5, 15 min)</h2><ul>{loads}{skipped}</ul>
</body></html>
"""


def write_results(run: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write <run>.json, .svg and .html into out_dir and copy them to latest.*; returns the run's paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    svg = render_svg(run)
    contents = {"json": json.dumps(run, ensure_ascii=False, indent=1), "svg": svg, "html": render_html(run, svg)}
    return write_run_files(run["run"], contents, out_dir)


if __name__ == "__main__":  # re-render a saved run: python -m eval.bench_report bench/results/latest.json
    saved = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    for written in write_results(saved, Path(sys.argv[1]).parent):
        print(f"wrote {written}", file=sys.stderr)
    print(format_table(saved))
