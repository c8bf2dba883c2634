"""Postgres (section `postgres`, `qa bench --backend postgres`): the PostgreSQL store at 100k (and 1M) chunks.

    result = measure_postgres(settings, [100_000], repeat=3, workdir=workdir, embedder=embedder)
    result.metrics["pg.100k.hybrid.p50_ms"]    # HybridRetriever over a PostgresStore, given the query vector
    result.metrics["pg.100k.recall@10"]        # pgvector's index (Settings.pg_ann) as set, against exact search

Per size: the vectors of the base index and points between neighbouring ones (synthetic.interpolate:
distinct rows where real ones lie), and its chunks repeated with unique ids (synthetic.py), written by PostgresWriter.save (COPY with the tsvectors, the GIN index kept up: insert rows/s),
then the vector index (Settings.pg_ann: IVFFlat with index.pgwrite.ivfflat_lists, or HNSW with
Settings.pg_hnsw_m, pg_hnsw_ef_construction) built and timed on its own. Then, after one
warm-up pass, dense, BM25 and hybrid latency on the gold questions' vectors, recall@10 against numpy's exact
search over the same vectors, FAISS beside it (ann.py), and a replica — a child process holding a
PostgresStore and no model (pg_replica.py) — answering the hybrid queries, for its peak RSS.

The database is a bundled server (index/db.py) in the scratch folder, stopped at the end; or, with
QA_DATABASE_URL, a database `qa_bench` beside that URL's, created and dropped (its own index is not touched;
a schema would not do: the writer's unqualified `DROP INDEX qa_chunks_ivfflat` would find the one in `public`).
The base is the settings' index (`--index`; index/store by default, built from the corpus if missing). Its
texts repeat over the rows, so a query word common in the base is in a large share of all rows
(`lexical_rows` says how many): BM25 in SQL reads at most qa.pgstore.IMPACT_TOP postings of each query word. With few base chunks (the seeds'
41) thousands of rows lie between each pair of neighbours, and recall@10 measures little; `--index` a
larger base for it (a real documentation site's index, 34,583 chunks, for the 1M figures). The queries are
the gold questions, or (`--pg-query-source titles`) section headings drawn from the base's own chunks, for
a base the gold questions are not about (a query far from every row has a top 10 of near-equal scores).
The vector index is built at every size, even below Settings.pg_exact_below.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench.ann import SearchComparison, compare_search
from eval.bench.gold import gold_queries
from eval.bench.records import json_fields
from eval.bench.retrieval import CANDIDATES
from eval.bench.summary import distribution, median_of, round_figure
from eval.bench.synthetic import interpolate, section_titles, synthetic_chunks
from eval.bench.timing import seconds_of, timed
from qa.errors import QAError
from qa.pgstore import ANN_INDEX

ROOT = Path(__file__).resolve().parents[2]
BENCH_DATABASE = "qa_bench"  # where the bench writes on a QA_DATABASE_URL server
RECALL_K = 10
WIDE = 4


class BenchDatabaseError(QAError):
    """QA_DATABASE_URL is the bench's own scratch database."""


@dataclass(frozen=True)
class Latency:
    """Medians over the repeats of each pass's p50 and p95 over the queries (ms; or rows, for lexical_rows)."""

    p50: float
    p95: float


@dataclass(frozen=True)
class Build:
    insert_s: float  # COPY of the chunks: vectors, tsvectors, hashes, the GIN index kept up
    insert_rows_per_s: float
    finish_s: float  # the rest of the build's transaction: term counts (ts_stat), postings, manifest, commit
    ann_build_s: float  # the vector index (IVFFlat or HNSW)
    vacuum_s: float  # VACUUM ANALYZE before the queries (autovacuum would do it at some point during them)
    index_type: str
    table_mb: float  # qa_chunks with its indexes and TOAST
    ann_mb: float
    gin_mb: float
    postings_mb: float  # qa_postings with its index


@dataclass(frozen=True)
class ReplicaRun:
    ready_rss_mb: float  # imports done and connected, before the first query
    peak_rss_mb: float  # after answering every query `repeat` times
    hybrid: Latency
    queries: int


@dataclass(frozen=True)
class PostgresScale:
    rows: int
    build: Build
    dense: Latency  # PostgresStore.dense, CANDIDATES keys
    lexical: Latency  # PostgresStore.lexical (BM25 in SQL), CANDIDATES keys
    lexical_rows: Latency  # rows sharing a term with the question (BM25 reads IMPACT_TOP postings a term at most)
    hybrid: Latency  # HybridRetriever.retrieve(question, top_k, its vector)
    recall: float  # dense top RECALL_K against exact search
    wide_setting: int  # WIDE × IVFFlat's probes, or × HNSW's ef_search
    wide_recall: float  # what recall that wider search buys
    wide_recall: float
    faiss: SearchComparison  # the same vectors in FAISS, as the ann section measures them
    replica: ReplicaRun
    seconds: float

    @property
    def label(self) -> str:
        return size_label(self.rows)

    def figures(self) -> dict[str, Any]:
        b = self.build
        m: dict[str, Any] = {"rows": self.rows, **json_fields(b, *b.__dataclass_fields__)}
        for name in ("dense", "lexical", "hybrid"):
            part = getattr(self, name)
            m.update({f"{name}.p50_ms": part.p50, f"{name}.p95_ms": part.p95})
        m.update({"lexical_rows.p50": self.lexical_rows.p50, "lexical_rows.p95": self.lexical_rows.p95})
        m[f"recall@{RECALL_K}"] = self.recall
        m.update({"wide_setting": self.wide_setting, f"wide_recall@{RECALL_K}": self.wide_recall})
        m.update({f"faiss.{k}": v for k, v in self.faiss.metrics.items()})
        r = self.replica
        m.update({"replica.ready_rss_mb": r.ready_rss_mb, "replica.peak_rss_mb": r.peak_rss_mb})
        m.update({"replica.hybrid.p50_ms": r.hybrid.p50, "replica.hybrid.p95_ms": r.hybrid.p95})
        m["seconds"] = self.seconds
        return m


@dataclass(frozen=True)
class PostgresRun:
    server: str  # which database, its version and pgvector's
    shared_buffers: str
    source_index: str  # the store whose chunks and vectors were replicated
    base_chunks: int
    query_source: str  # "gold" questions, or section "titles" of the base
    queries: int  # dense search and recall
    lexical_queries: int  # evenly spaced ones of them: BM25, hybrid retrieval and the replica
    ann: str  # Settings.pg_ann
    ivfflat_probes: int
    ef_search: int
    hnsw_m: int
    ef_construction: int
    scales: tuple[PostgresScale, ...]  # smallest first

    @property
    def metrics(self) -> dict[str, Any]:
        m: dict[str, Any] = {"pg.base_chunks": self.base_chunks, "pg.queries": self.queries}
        m["pg.lexical_queries"] = self.lexical_queries
        m.update({"pg.ann": self.ann, "pg.ivfflat_probes": self.ivfflat_probes, "pg.ef_search": self.ef_search})
        m.update({"pg.hnsw_m": self.hnsw_m, "pg.ef_construction": self.ef_construction})
        for scale in self.scales:
            m.update({f"pg.{scale.label}.{k}": v for k, v in scale.figures().items()})
        m["pg.replica_rss_mb"] = max(s.replica.peak_rss_mb for s in self.scales)
        return m

    def to_json(self) -> dict[str, Any]:
        return json_fields(self, "server", "shared_buffers", "source_index", "query_source", "scales")


def size_label(rows: int) -> str:
    """size_label(100_000) == "100k"; size_label(1_000_000) == "1m"; size_label(1500) == "1500"."""
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    return f"{rows // 1000}k" if rows % 1000 == 0 else str(rows)


def measure_postgres(
    settings,
    sizes: list[int],
    repeat: int,
    workdir: Path,
    embedder,
    queries: list[str] | None = None,
    lexical_queries: int = 20,
    query_source: str = "gold",
) -> PostgresRun:
    """Each size in turn (sorted) in one database. `queries` (default: the gold questions) time dense search
    and recall; `lexical_queries` of them, evenly spaced, BM25, hybrid retrieval and the replica (seconds each at 100k)."""
    base, source = source_store(settings, workdir, embedder)
    label = query_source if queries is None else "given"
    if queries is None:
        queries = section_titles(base.chunks, len(gold_queries())) if query_source == "titles" else gold_queries()
    query_vectors = np.asarray(embedder.embed(queries), dtype=np.float32)
    scales = []
    with bench_database(settings, workdir) as (url, server, shared_buffers):
        for rows in sorted(sizes):
            print(f"[bench] postgres {size_label(rows)}: {rows:,} rows", file=sys.stderr)
            scale = measure_size(url, base, rows, queries, query_vectors, settings, repeat, lexical_queries)
            scales.append(scale)
    return PostgresRun(
        server,
        shared_buffers,
        str(source),
        len(base.chunks),
        label,
        len(queries),
        min(lexical_queries, len(queries)),
        settings.pg_ann,
        settings.pg_ivfflat_probes,
        settings.pg_ef_search,
        settings.pg_hnsw_m,
        settings.pg_hnsw_ef_construction,
        tuple(scales),
    )


def source_store(settings, workdir: Path, embedder):
    """The settings' index (index/store), or, when it was never built, the corpus indexed now into workdir."""
    from index.build import build_index
    from qa.store import load_store, read_manifest

    source = settings.index_dir
    if read_manifest(source) is None:
        source = workdir / "source-index"
        print(f"[bench] postgres: no index at {settings.index_dir}; indexing {settings.corpus_dir}", file=sys.stderr)
        build_index(settings.corpus_dir, source, embedder, settings.chunker)
    return load_store(source), source


@contextmanager
def bench_database(settings, workdir: Path) -> Iterator[tuple[str, str, str]]:
    """(url, what server it is, its shared_buffers): a database `qa_bench` on QA_DATABASE_URL's server (CREATEDB
    needed), or a bundled server."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from index.db import start_local, stop_local
    from qa.pgstore import describe

    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        bench_url = make_conninfo(url, dbname=BENCH_DATABASE)
        if conninfo_to_dict(url).get("dbname") == BENCH_DATABASE:
            raise BenchDatabaseError(f"QA_DATABASE_URL names the database {BENCH_DATABASE}, which the bench replaces")
        _drop_database(url)  # left by a killed run
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {BENCH_DATABASE}")
        where, cleanup = f"database {BENCH_DATABASE} beside {describe(url)}", lambda: _drop_database(url)
    else:
        data_dir = workdir / "postgres"
        bench_url = start_local(data_dir)
        where, cleanup = "bundled server (index/db.py) in a temporary folder", lambda: stop_local(data_dir)
    try:
        with psycopg.connect(bench_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            version = conn.execute("SHOW server_version").fetchone()[0]
            pgvector = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
            shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
        yield bench_url, f"PostgreSQL {version} + pgvector {pgvector}, {where}", shared_buffers
    finally:
        cleanup()


def _drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")


def measure_size(url, base, rows, queries, query_vectors, settings, repeat, lexical_queries) -> PostgresScale:
    from qa.pgstore import PostgresStore
    from qa.retrieve import HybridRetriever

    started = time.perf_counter()
    vectors = interpolate(base.vectors, rows)
    build = build_tables(url, base, synthetic_chunks(base.chunks, rows), vectors, settings)
    print(
        f"[bench] postgres {size_label(rows)}: inserted in {build.insert_s} s, {build.index_type} in {build.ann_build_s} s",
        file=sys.stderr,
    )
    store = PostgresStore.connect(url, ef_search=settings.pg_ef_search, probes=settings.pg_ivfflat_probes)
    try:
        first_key = _first_key(url)
        retriever = HybridRetriever(store, None, settings.rrf_k)  # no embedder: every query brings its vector
        dense = latency(lambda v: store.dense(v, CANDIDATES), list(query_vectors), repeat)
        recall = dense_recall(store, vectors, query_vectors, first_key)
        wide = PostgresStore.connect(
            url, ef_search=WIDE * settings.pg_ef_search, probes=WIDE * settings.pg_ivfflat_probes
        )
        try:
            wide_recall = dense_recall(wide, vectors, query_vectors, first_key)
        finally:
            wide.close()
        spread = evenly_spaced(len(queries), lexical_queries)
        few, few_vectors = [queries[i] for i in spread], query_vectors[spread]
        lexical = latency(lambda q: retriever.lexical_ranking(q, CANDIDATES), few, repeat, warm=2)
        pairs = list(zip(few, few_vectors))
        hybrid = latency(lambda p: retriever.retrieve(p[0], settings.top_k, p[1]), pairs, repeat, warm=2)
    finally:
        store.close()
    replica = run_replica(url, few, few_vectors, settings, repeat)
    faiss, hnsw = compare_search(vectors, query_vectors, repeat)
    del hnsw
    shared = lexical_rows(base.chunks, rows, few)
    seconds = round(time.perf_counter() - started, 1)
    wide_setting = WIDE * (settings.pg_ef_search if settings.pg_ann == "hnsw" else settings.pg_ivfflat_probes)
    return PostgresScale(
        rows, build, dense, lexical, shared, hybrid, recall, wide_setting, wide_recall, faiss, replica, seconds
    )


def build_tables(url: str, base, chunks: list, vectors: np.ndarray, settings) -> Build:
    """Fresh tables, then one `qa index`-style build without the vector index, which is then built (and timed) alone."""
    import psycopg

    from index.pgwrite import PostgresWriter
    from qa.store import settings_fingerprint

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS qa_stats, qa_terms, qa_postings, qa_chunks, qa_documents, qa_manifest")
    manifest = base.manifest
    fingerprint = settings_fingerprint(manifest.embedding_model, manifest.dim, manifest.chunker)
    dim, marks = vectors.shape[1], {}

    def progress(done: int, total: int) -> None:
        if done == total:
            marks["inserted"] = time.perf_counter()

    started = time.perf_counter()
    with PostgresWriter(url, dim, exact_below=len(chunks) + 1) as writer:  # no vector index in this transaction
        writer.save(fingerprint, list(base.docs.values()), chunks, vectors, progress)
    insert_s, finish_s = marks["inserted"] - started, time.perf_counter() - marks["inserted"]
    ann = PostgresWriter(
        url,
        dim,
        ann=settings.pg_ann,
        hnsw_m=settings.pg_hnsw_m,
        ef_construction=settings.pg_hnsw_ef_construction,
        exact_below=0,
        build_memory=settings.pg_build_memory,
    )
    with ann as writer:  # as `qa index` makes the index the settings ask for, and records it in the manifest
        written = writer.manifest()
        index_type, ann_s = timed(lambda: writer.refresh(written) or written.index_type)
    with psycopg.connect(url, autocommit=True) as conn:
        _, vacuum_s = timed(lambda: conn.execute("VACUUM ANALYZE qa_chunks, qa_postings"))
        sizes = conn.execute(
            "SELECT pg_total_relation_size('qa_chunks'), pg_relation_size(%s), "
            "pg_relation_size('qa_chunks_tsv'), pg_total_relation_size('qa_postings')",
            (ANN_INDEX[settings.pg_ann],),
        ).fetchone()
    table_mb, ann_mb, gin_mb, postings_mb = (round(s / 2**20, 1) for s in sizes)
    rate = round(len(chunks) / insert_s, 1)
    return Build(
        round(insert_s, 2),
        rate,
        round(finish_s, 2),
        ann_s,
        vacuum_s,
        index_type,
        table_mb,
        ann_mb,
        gin_mb,
        postings_mb,
    )


def evenly_spaced(n: int, k: int) -> list[int]:
    """k indexes spread over range(n), first and last included: evenly_spaced(10, 3) == [0, 4, 9]."""
    if k >= n:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]


def _first_key(url: str) -> int:
    """The seq of row 0 (1 in fresh tables): chunk keys are row index + it, rows being COPYed in order."""
    import psycopg

    with psycopg.connect(url) as conn:
        low, high, n = conn.execute("SELECT min(seq), max(seq), count(*) FROM qa_chunks").fetchone()
    if high - low + 1 != n:
        raise RuntimeError(f"chunk keys {low}..{high} are not contiguous over {n} rows")
    return low


def latency(call: Callable[[Any], Any], items: list, repeat: int, warm: int | None = None) -> Latency:
    """p50 and p95 ms of call(item) over the items, medians over `repeat` passes after a warm-up pass over
    the first `warm` items (default: all)."""
    for item in items[:warm]:
        call(item)
    runs = [[seconds_of(lambda item=item: call(item)) * 1000 for item in items] for _ in range(repeat)]
    stats = median_of([{"p50": distribution(r)["p50"], "p95": distribution(r)["p95"]} for r in runs])
    return Latency(stats["p50"], stats["p95"])


def dense_recall(store, vectors: np.ndarray, query_vectors: np.ndarray, first_key: int, k: int = RECALL_K) -> float:
    """Mean share of the exact top k (numpy, inner product of unit vectors) that the store's dense search finds."""
    scores = query_vectors @ vectors.T
    truth = np.argpartition(-scores, k, axis=1)[:, :k] + first_key
    found = [store.dense(v, k) for v in query_vectors]
    return round(float(np.mean([len(set(t.tolist()) & set(f)) / k for t, f in zip(truth, found)])), 4)


def lexical_rows(base_chunks: list, rows: int, queries: list[str]) -> Latency:
    """p50 and p95 over the queries of the rows holding a term of the query (row i is base chunk i mod n)."""
    from qa.tokens import terms

    copies, extra = divmod(rows, len(base_chunks))
    chunk_terms = [set(terms(c.embed_text)) for c in base_chunks]
    counts = [
        sum(copies + (j < extra) for j, found in enumerate(chunk_terms) if found & set(terms(q))) for q in queries
    ]
    d = distribution(counts)
    return Latency(d["p50"], d["p95"])


def run_replica(url: str, queries: list[str], query_vectors: np.ndarray, settings, repeat: int) -> ReplicaRun:
    """pg_replica.py in a fresh interpreter, given the queries and the settings on stdin (the URL stays off argv)."""
    spec = {
        "url": url,
        "ef_search": settings.pg_ef_search,
        "probes": settings.pg_ivfflat_probes,
        "rrf_k": settings.rrf_k,
        "top_k": settings.top_k,
        "repeat": repeat,
        "queries": queries,
        "vectors": query_vectors.tolist(),
    }
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench.pg_replica"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    hybrid = Latency(round_figure(out["p50_ms"]), round_figure(out["p95_ms"]))
    return ReplicaRun(out["ready_rss_mb"], out["peak_rss_mb"], hybrid, len(queries))
