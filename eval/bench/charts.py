"""Charts: the six panels of a bench run (eight with the postgres section) as one matplotlib figure, rendered to an inline SVG.

    svg = render_svg(run)   # "<svg …>…</svg>": answer stages, prompt tokens vs TTFT, retrieval, build, search, targets

Pure functions of the run record, so a saved run draws the same. matplotlib (Agg) is imported only when
drawing, and svg.fonttype "none" keeps titles, labels and PASS/MISS as <text> (searchable, and checked by tests).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from eval.bench.summary import STAGES, answer_stages, is_generated
from eval.bench.table import load_text, number, pg_labels_of, scales_of
from eval.bench.targets import MISS, NEUTRAL, op_symbol, status_colour
from eval.charts import figure, to_svg

SERIES_COLOURS = ("#0969da", "#bf8700")
GREY = "#57606a"
TITLE = {"loc": "left", "fontsize": 10, "fontweight": "bold"}


class BarGroup(NamedTuple):
    label: str
    values: tuple[float | None, ...]  # one per series; None: not measured
    target: float | None = None  # drawn as a dashed line across the group


def render_svg(run: dict[str, Any]) -> str:
    """One SVG of six panels, two a row, under the run's name, model and load average."""
    m = run["metrics"]
    samples = run.get("sections", {}).get("answers", {}).get("samples", [])
    labels = pg_labels_of(m)
    fig, axes = figure(12.5, 17.3 if labels else 13.0, rows=4 if labels else 3, cols=2)
    (stages, scatter), (retrieval, build), (search, targets) = axes[:3]
    if labels:
        _pg_latency_panel(axes[3][0], m, labels)
        _pg_dense_panel(axes[3][1], m, labels[-1])
    _stages_panel(stages, samples)
    _scatter_panel(scatter, samples)
    _retrieval_panel(retrieval, m)
    _build_panel(build, m)
    _search_panel(search, m)
    _targets_panel(targets, run.get("targets", []))
    start = load_text(run.get("load_average", {}).get("start"))
    fig.suptitle(_literal(f"qa bench {run['run']}"), x=0.01, y=0.995, ha="left", fontsize=14, fontweight="bold")
    subtitle = f"{run['model']} · {run['machine']['cpus']} CPUs · load average at start {start}"
    fig.text(0.01, 0.968, _literal(subtitle), ha="left", color=GREY)
    fig.tight_layout(rect=(0, 0, 1, 0.96), h_pad=2.5)
    return to_svg(fig)


def _stages_panel(ax, samples: list[dict[str, Any]]) -> None:
    generated = sorted((answer_stages(s) for s in samples if is_generated(s)), key=lambda st: sum(st.values()))
    ax.set_title("Where each generated answer's time goes (s; dashed: 5 s)", **TITLE)
    if not generated:
        return _empty(ax)
    bottoms = [0.0] * len(generated)
    for key, legend, _, colour in STAGES:
        heights = [st[key] / 1000 for st in generated]
        ax.bar(range(len(generated)), heights, 0.8, bottom=bottoms, color=colour, label=legend)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    ax.axhline(5.0, color=MISS, linestyle="--", linewidth=1.2)
    ax.set_ylim(0, max(max(bottoms), 5.0) * 1.15)
    ax.set_xticks([])
    ax.set_xlabel(f"{len(generated)} answers, fastest to slowest", color=GREY)
    ax.set_ylabel("s")
    ax.legend(ncols=3, fontsize=7, loc="upper left", frameon=False)


def _scatter_panel(ax, samples: list[dict[str, Any]]) -> None:
    points = [(s["prompt_tokens"], s["ttft_ms"] / 1000) for s in samples if is_generated(s)]
    ax.set_title("Prompt tokens vs time to first token (s; dashed: 3 s)", **TITLE)
    if not points:
        return _empty(ax)
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=12, color=MISS, alpha=0.6)
    ax.axhline(3.0, color=MISS, linestyle="--", linewidth=1.2)
    ax.set_ylim(0, max(max(p[1] for p in points), 3.0) * 1.1)
    ax.set_xlim(0, max(p[0] for p in points) * 1.05)
    ax.set_xlabel("prompt tokens (incl. the cached fixed prefix)", color=GREY)
    ax.set_ylabel("s")


def _retrieval_panel(ax, m: dict[str, Any]) -> None:
    groups = [
        BarGroup(
            _count(m.get(f"index.x{s}.chunks")),
            (m.get(f"retrieval.x{s}.p50_ms"), m.get(f"retrieval.x{s}.p95_ms")),
            30 if s == 1 else None,
        )
        for s in scales_of(m)
    ]
    if m.get("retrieval.large.p50_ms") is not None:
        large = (m["retrieval.large.p50_ms"], m.get("retrieval.large.p95_ms"))
        groups.append(BarGroup(_count(m.get("ann.rows")), large, 100))
    _grouped_bars(ax, "Hybrid retrieval latency (ms) by chunks in the index", groups, ("p50", "p95"), "ms")


def _build_panel(ax, m: dict[str, Any]) -> None:
    groups = [
        BarGroup(f"×{s} ({_count(m.get(f'index.x{s}.chunks'))} chunks)", (m.get(f"index.x{s}.chunks_per_s"),), 150)
        for s in scales_of(m)
    ]
    _grouped_bars(ax, "Index build throughput (chunks/s; dashed: 150 target)", groups, ("chunks/s",), "")


def _search_panel(ax, m: dict[str, Any]) -> None:
    recall = m.get("ann.hnsw.recall@10")
    title = (
        f"FAISS search at {_count(m['ann.rows'])} rows (ms)"
        if m.get("ann.rows")
        else "FAISS search, exact vs HNSW (ms)"
    )
    if recall is not None:
        title += f" · HNSW recall@10 {recall:.3f}"
    groups = [
        BarGroup(name, (m.get(f"ann.{key}.p50_ms"), m.get(f"ann.{key}.p95_ms")))
        for key, name in (("exact", "exact (FlatIP)"), ("hnsw", "HNSW"))
        if m.get(f"ann.{key}.p50_ms") is not None
    ]
    _grouped_bars(ax, title, groups, ("p50", "p95"), "ms")


def _pg_latency_panel(ax, m: dict[str, Any], labels: list[str]) -> None:
    groups = [
        BarGroup(
            f"{name} {label}",
            (m.get(f"pg.{label}.{key}.p50_ms"), m.get(f"pg.{label}.{key}.p95_ms")),
            50 if key == "hybrid" else None,
        )
        for label in labels
        for key, name in (("dense", "dense"), ("lexical", "BM25"), ("hybrid", "hybrid"))
    ]
    title = "PostgreSQL retrieval given the vector (ms; dashed: 50 ms at 1M)"
    _grouped_bars(ax, title, groups, ("p50", "p95"), "ms")


def _pg_dense_panel(ax, m: dict[str, Any], label: str) -> None:
    p = f"pg.{label}"
    recall, faiss_recall = m.get(f"{p}.recall@10"), m.get(f"{p}.faiss.hnsw.recall@10")
    title = f"Dense search at {_count(m.get(f'{p}.rows'))} rows (ms)"
    if recall is not None and faiss_recall is not None:
        title += f" · recall@10 pgvector {recall:.3f}, FAISS {faiss_recall:.3f}"
    groups = [
        BarGroup(name, (m.get(f"{p}.{key}.p50_ms"), m.get(f"{p}.{key}.p95_ms")))
        for key, name in (("dense", "pgvector"), ("faiss.hnsw", "FAISS HNSW"), ("faiss.exact", "FAISS exact"))
    ]
    _grouped_bars(ax, title, groups, ("p50", "p95"), "ms")


def _grouped_bars(ax, title: str, groups: list[BarGroup], series: tuple[str, ...], unit: str) -> None:
    """Bars side by side per group, each labelled with its value; a dashed line marks a group's target."""
    ax.set_title(title, **TITLE)
    values = [v for g in groups for v in g.values if v is not None]
    if not values:
        return _empty(ax)
    width = 0.7 / len(series)
    for j, name in enumerate(series):
        offset = (j - (len(series) - 1) / 2) * width
        points = [(i + offset, g.values[j]) for i, g in enumerate(groups) if g.values[j] is not None]
        bars = ax.bar(
            [x for x, _ in points], [v for _, v in points], width * 0.92, color=SERIES_COLOURS[j % 2], label=name
        )
        ax.bar_label(bars, labels=[number(v, unit) for _, v in points], fontsize=7, padding=2)
    for i, group in enumerate(groups):
        if group.target:
            ax.hlines(group.target, i - 0.42, i + 0.42, colors=MISS, linestyles="--", linewidth=1.5)
    ax.set_xticks(range(len(groups)), [g.label for g in groups])
    ax.set_ylim(0, max(values + [g.target for g in groups if g.target]) * 1.18)
    if unit:
        ax.set_ylabel(unit)
    if len(series) > 1:
        ax.legend(fontsize=7, loc="upper left", frameon=False)


def _targets_panel(ax, targets: list[dict[str, Any]]) -> None:
    ax.set_title("Targets", **TITLE)
    ax.axis("off")
    step = min(0.135, 0.93 / max(1, len(targets)))  # the postgres section adds five
    for i, t in enumerate(targets):
        y = 0.93 - i * step
        box = {"boxstyle": "round,pad=0.3", "facecolor": status_colour(t["status"]), "edgecolor": "none"}
        ax.text(0.0, y, t["status"], transform=ax.transAxes, va="center", color="white", fontweight="bold", bbox=box)
        value = "not measured" if t["value"] is None else f"{number(t['value'], t['unit'])} {t['unit']}"
        line = f"{t['label']}: {value} (target {op_symbol(t['op'])} {t['limit']:g} {t['unit']})"
        ax.text(0.1, y, line, transform=ax.transAxes, va="center", fontsize=8.5)


def _empty(ax) -> None:
    ax.text(0.5, 0.5, "not measured in this run", transform=ax.transAxes, ha="center", va="center", color=NEUTRAL)
    ax.set_xticks([])
    ax.set_yticks([])


def _count(value: float | None) -> str:
    return "?" if value is None else f"{value:,.0f}"


def _literal(text: str) -> str:
    """A model or run name drawn as written: a pair of $ would otherwise start mathtext."""
    return text.replace("$", r"\$")
