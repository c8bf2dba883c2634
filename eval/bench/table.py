"""Table: the printed figures of a run, a row per figure, PASS/MISS at the rows that carry a target.

print(format_table(run))    # "  end-to-end p50 / p95 (every ask)   4,200 / 6,181 ms  ≤ 5000 ms   PASS"
number(1234.5, "ms") == "1,234"; number(0.98765, "ratio") == "0.988"; number(41, "") == "41"
"""

from __future__ import annotations

from typing import Any, NamedTuple

from eval.bench.summary import STAGES
from eval.bench.targets import op_symbol


class Row(NamedTuple):
    group: str
    label: str
    keys: tuple[str, ...]  # metric keys shown side by side ("p50 / p95")
    unit: str


STARTUP_ROWS = (
    Row("model load", "embedder, first in process (with imports)", ("load.embedder_first_s",), "s"),
    Row("model load", "embedder, again (median)", ("load.embedder_s",), "s"),
    Row("model load", "chat model, first in process (with import)", ("load.generator_first_s",), "s"),
    Row("model load", "chat model, again (median)", ("load.generator_s",), "s"),
    Row("cold start", "fresh process to ready (median)", ("cold_start.ready_s",), "s"),
    Row(
        "cold start",
        "… of which imports of qa / loading models and index",
        ("cold_start.import_s", "cold_start.load_s"),
        "s",
    ),
    Row("cold start", "launch to exit (exit frees the models)", ("cold_start.wall_s",), "s"),
)
ANSWER_ROWS = (
    Row(
        "answers",
        "asks / generated / refused before generation",
        ("answer.count", "answer.generated", "answer.refused_early"),
        "",
    ),
    Row("answers", "end-to-end p50 / p95 (every ask)", ("answer.total_ms.p50", "answer.total_ms.p95"), "ms"),
    Row(
        "answers",
        "end-to-end p50 / p95 (generated answers)",
        ("answer.generated_total_ms.p50", "answer.generated_total_ms.p95"),
        "ms",
    ),
    Row("answers", "time to first token p50 / p95", ("answer.ttft_ms.p50", "answer.ttft_ms.p95"), "ms"),
    Row("answers", "tokens/s: completion ÷ generate time (p50)", ("answer.tokens_per_s.p50",), "tok/s"),
    Row("answers", "tokens/s: decoding after the first token (p50)", ("answer.decode_tokens_per_s.p50",), "tok/s"),
    Row(
        "answers",
        "prompt tokens per answer mean / p50",
        ("answer.prompt_tokens.mean", "answer.prompt_tokens.p50"),
        "tok",
    ),
    Row("answers", "… of which the cached fixed prefix (≈)", ("answer.fixed_prefix_tokens",), "tok"),
    Row("answers", "completion tokens per answer mean", ("answer.completion_tokens.mean",), "tok"),
    *(Row("answers", f"stage p50: {label}", (f"answer.{key}.p50",), "ms") for key, _, label, _ in STAGES),
    Row("answers", "first answer after load (prefix not yet cached)", ("answer.warmup_total_ms",), "ms"),
)
SEARCH_ROWS = (
    Row("index", "build throughput at the largest corpus", ("index.chunks_per_s",), "chunks/s"),
    Row("search", "rows (replicated from how many chunks)", ("ann.rows", "ann.base_chunks"), ""),
    Row("search", "FAISS exact (IndexFlatIP) p50 / p95", ("ann.exact.p50_ms", "ann.exact.p95_ms"), "ms"),
    Row("search", "FAISS HNSW p50 / p95", ("ann.hnsw.p50_ms", "ann.hnsw.p95_ms"), "ms"),
    Row("search", "HNSW recall@10 against exact", ("ann.hnsw.recall@10",), "ratio"),
    Row("search", "index build exact / HNSW", ("ann.exact.build_s", "ann.hnsw.build_s"), "s"),
    Row(
        "search", "hybrid retrieval p50 / p95 at these rows", ("retrieval.large.p50_ms", "retrieval.large.p95_ms"), "ms"
    ),
    Row(
        "search",
        "… parts p50: query embedding / FAISS / BM25",
        ("retrieval.large.embed_ms", "retrieval.large.dense_ms", "retrieval.large.bm25_ms"),
        "ms",
    ),
    Row(
        "search",
        "… retrieve() given the query vector p50 / p95",
        ("retrieval.large.search_ms", "retrieval.large.search_p95_ms"),
        "ms",
    ),
    Row("search", "first query (builds BM25 over all rows)", ("retrieval.large.first_ms",), "ms"),
    Row("memory", "peak RSS of the assistant (cold start or answering)", ("rss.assistant_peak_mb",), "MB"),
    Row(
        "memory", "peak RSS of this process / of child processes", ("rss.process_peak_mb", "rss.children_peak_mb"), "MB"
    ),
)


def index_rows(scale: int) -> list[Row]:
    """The rows of one corpus size (index.x100.*, retrieval.x100.*)."""
    x, group = f"x{scale}", f"index x{scale}"
    return [
        Row(group, "documents / chunks", (f"index.{x}.docs", f"index.{x}.chunks"), ""),
        Row(group, "build seconds / of which embedding", (f"index.{x}.build_s", f"index.{x}.embed_s"), "s"),
        Row(group, "build throughput", (f"index.{x}.chunks_per_s",), "chunks/s"),
        Row(
            group,
            "retrieval p50 / p95 (embed + FAISS + BM25 + fusion)",
            (f"retrieval.{x}.p50_ms", f"retrieval.{x}.p95_ms"),
            "ms",
        ),
        Row(
            group,
            "… parts p50: query embedding / FAISS / BM25",
            (f"retrieval.{x}.embed_ms", f"retrieval.{x}.dense_ms", f"retrieval.{x}.bm25_ms"),
            "ms",
        ),
        Row(
            group,
            "… retrieve() given the query vector p50 / p95",
            (f"retrieval.{x}.search_ms", f"retrieval.{x}.search_p95_ms"),
            "ms",
        ),
        Row(group, "first query (builds BM25)", (f"retrieval.{x}.first_ms",), "ms"),
        Row(group, "store load", (f"retrieval.{x}.store_load_s",), "s"),
    ]


PG_ROWS = (
    Row(
        "postgres",
        "pgvector index / IVFFlat probes / HNSW m / ef_construction / ef_search",
        ("pg.ann", "pg.ivfflat_probes", "pg.hnsw_m", "pg.ef_construction", "pg.ef_search"),
        "",
    ),
    Row("postgres", "replica RSS without a model (largest size)", ("pg.replica_rss_mb",), "MB"),
)


def pg_rows(label: str) -> list[Row]:
    """The rows of one size of the postgres section (pg.100k.*)."""
    p, group = f"pg.{label}", f"postgres {label}"
    return [
        Row(
            group, "rows (replicated from how many chunks) / queries", (f"{p}.rows", "pg.base_chunks", "pg.queries"), ""
        ),
        Row(group, "insert throughput (COPY: vectors, tsvectors, GIN)", (f"{p}.insert_rows_per_s",), "chunks/s"),
        Row(
            group,
            "insert / term counts, postings + commit / vector index build / VACUUM ANALYZE",
            (f"{p}.insert_s", f"{p}.finish_s", f"{p}.ann_build_s", f"{p}.vacuum_s"),
            "s",
        ),
        Row(
            group,
            "table with indexes / vector index / GIN / BM25 postings",
            (f"{p}.table_mb", f"{p}.ann_mb", f"{p}.gin_mb", f"{p}.postings_mb"),
            "MB",
        ),
        Row(group, "hybrid retrieve() given the vector p50 / p95", (f"{p}.hybrid.p50_ms", f"{p}.hybrid.p95_ms"), "ms"),
        Row(group, "… dense (pgvector) p50 / p95", (f"{p}.dense.p50_ms", f"{p}.dense.p95_ms"), "ms"),
        Row(group, "… lexical (BM25 in SQL) p50 / p95", (f"{p}.lexical.p50_ms", f"{p}.lexical.p95_ms"), "ms"),
        Row(
            group,
            "… rows sharing a query term (BM25 reads ≤ IMPACT_TOP a term) p50 / p95",
            (f"{p}.lexical_rows.p50", f"{p}.lexical_rows.p95"),
            "",
        ),
        Row(group, "pgvector recall@10 against exact", (f"{p}.recall@10",), "ratio"),
        Row(
            group,
            "… at a 4× wider search (probes, or ef_search)",
            (f"{p}.wide_recall@10", f"{p}.wide_setting"),
            "",
        ),
        Row(
            group, "FAISS exact / HNSW p50 (same vectors)", (f"{p}.faiss.exact.p50_ms", f"{p}.faiss.hnsw.p50_ms"), "ms"
        ),
        Row(group, "FAISS HNSW recall@10 against exact", (f"{p}.faiss.hnsw.recall@10",), "ratio"),
        Row(group, "FAISS HNSW build (M=32)", (f"{p}.faiss.hnsw.build_s",), "s"),
        Row(
            group,
            "replica (no model) RSS ready / peak",
            (f"{p}.replica.ready_rss_mb", f"{p}.replica.peak_rss_mb"),
            "MB",
        ),
        Row(group, "replica hybrid p50 / p95", (f"{p}.replica.hybrid.p50_ms", f"{p}.replica.hybrid.p95_ms"), "ms"),
        Row(group, "section seconds at this size", (f"{p}.seconds",), "s"),
    ]


def pg_labels_of(metrics: dict[str, Any]) -> list[str]:
    """The sizes of the postgres section, smallest first: pg_labels_of({"pg.1m.rows": 1e6, "pg.2k.rows": 2e3}) == ["2k", "1m"]."""
    rows = {k.split(".")[1]: v for k, v in metrics.items() if k.startswith("pg.") and k.endswith(".rows")}
    return sorted(rows, key=rows.get)


def scales_of(metrics: dict[str, Any]) -> list[int]:
    """The corpus sizes a run indexed: scales_of({"index.x1.chunks": 41, "index.x100.chunks": 3429}) == [1, 100]."""
    return sorted({int(k.split(".")[1][1:]) for k in metrics if k.startswith("index.x")})


def table_rows(run: dict[str, Any]) -> list[Row]:
    """Every row worth printing (at least one of its figures measured), in reading order."""
    m = run["metrics"]
    rows = [*STARTUP_ROWS, *ANSWER_ROWS, *(row for scale in scales_of(m) for row in index_rows(scale)), *SEARCH_ROWS]
    rows += [row for label in pg_labels_of(m) for row in pg_rows(label)]
    rows += PG_ROWS
    return [row for row in rows if any(m.get(k) is not None for k in row.keys)]


def format_table(run: dict[str, Any]) -> str:
    """The printed figures; a target's row ends in PASS or MISS, and an earlier run's values follow with --compare."""
    m, targets = run["metrics"], {t["key"]: t for t in run.get("targets", [])}
    previous = (run.get("compare") or {}).get("metrics")
    lines = [
        _heading(run),
        f"{'':58} {'value':>24}  {'target':<14}" + (f"  {'previous':>24}" if previous is not None else ""),
    ]
    group = None
    for row in table_rows(run):
        if row.group != group:
            lines.append(row.group)
            group = row.group
        target = targets.get(row.keys[0])
        mark = f"{op_symbol(target['op'])} {target['limit']:g} {target['unit']}" if target else ""
        status = target["status"] if target else ""
        line = f"  {row.label:56} {format_values(m, row.keys, row.unit):>24}  {mark:<10} {status:<4}"
        if previous is not None:
            line += f"  {format_values(previous, row.keys, row.unit):>24}"
        lines.append(line.rstrip())
    lines += [f"skipped {name}: {reason}" for name, reason in run.get("skipped", {}).items()]
    lines.append("TARGETS " + " · ".join(f"{t['label']}: {t['status']}" for t in run.get("targets", [])))
    return "\n".join(lines)


def _heading(run: dict[str, Any]) -> str:
    load = run.get("load_average", {})
    partial = "" if run.get("complete", True) else f" · PARTIAL (sections done: {', '.join(run.get('sections', {}))})"
    return (
        f"qa bench {run['run']}{partial} · {run['machine']['cpus']} CPUs · load average "
        f"{load_text(load.get('start'))} → {load_text(load.get('end'))} · {run.get('duration_s', '?')} s"
    )


def format_values(metrics: dict[str, Any], keys: tuple[str, ...], unit: str) -> str:
    """format_values({"a": 4200.0, "b": 6181.4}, ("a", "b"), "ms") == "4,200 / 6,181 ms"; "n/a" when none."""
    values = [metrics.get(k) for k in keys]
    if all(v is None for v in values):
        return "n/a"
    shown = " / ".join("n/a" if v is None else number(v, unit) for v in values)
    return shown if unit == "ratio" else f"{shown} {unit}".rstrip()


def number(value: float, unit: str) -> str:
    """number(1234.5, "ms") == "1,234"; number(0.98765, "ratio") == "0.988"; number(3.14159, "s") == "3.14";
    a name stays as it is: number("ivfflat", "") == "ivfflat"."""
    if isinstance(value, str):
        return value
    if unit == "ratio":
        return f"{value:.3f}"
    if unit == "ms" and value >= 100 or unit in ("MB", "tok", "chunks/s", "") and value >= 10:
        return f"{value:,.0f}"
    if unit == "" and float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def load_text(values: list[float] | None) -> str:
    """load_text([0.5, 0.4, 0.3]) == "0.50 0.40 0.30"; "?" when not recorded."""
    return " ".join(f"{v:.2f}" for v in values) if values else "?"
