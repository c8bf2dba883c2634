"""Pgwrite: one build of the PostgreSQL index (qa/pgstore.py reads it), for `qa index` with QA_DATABASE_URL.

    with PostgresWriter(url, dim=384) as writer:   # a transaction holding the build lock
        vectors_by_hash = writer.previous(hashes)   # unchanged text is not embedded again
        writer.save(fingerprint, docs, chunks, vectors)

A build is one transaction under an advisory lock: a failed or killed build leaves the previous index
answering, and a second `qa index` waits for the first instead of interleaving with it.

BM25 postings (qa_postings: term, seq, tf, dl, impact) are made in SQL from the new chunks' tsvectors once
they are in, with the build's own average length, and ordered by term and impact (a full build writes each
term's best postings next to each other). impact = tf / (tf + k1 (1 - b + b dl / avgdl)) only orders a term's
postings (PostgresStore.lexical reads the top IMPACT_TOP of each): scores are computed from tf and dl with
the current average at query time. An incremental build keeps the old rows' impacts unless the average
length moved by more than IMPACT_DRIFT, when every posting is made again. There is no foreign key to
qa_chunks (a check per posting on insert, a cascade per deleted chunk) nor index on seq: a build deletes
the postings of the chunks it deletes itself, in one pass over the table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from qa.errors import IndexCorruptError
from qa.pgstore import (
    ANN_INDEX,
    CONNECT_TIMEOUT,
    lexeme,
    register_types,
    unavailable_as_error,
    url_schema,
    vector_param,
)
from qa.records import Chunk, Manifest, SourceDoc
from qa.tokens import terms

log = logging.getLogger("index.pgwrite")
BUILD_LOCK = 0x51A1DE  # pg_advisory_xact_lock key: one `qa index` at a time per database
IMPACT_DRIFT = 0.02  # relative change of the average chunk length beyond which every impact is recomputed
TABLES = ("qa_stats", "qa_terms", "qa_postings", "qa_chunks", "qa_documents", "qa_manifest")
PROGRESS_SECONDS = 5.0  # how often a vector index build under way says how far it is
LISTS_SLACK = 2.0  # an IVFFlat index is rebuilt when its lists are off the table's by more than this factor


def ivfflat_lists(rows: int) -> int:
    """IVFFlat lists for a table: 2 sqrt(rows), at least 1 (ivfflat_lists(100_000) == 632, 2,000 at 1M).
    With Settings.pg_ivfflat_probes = 100: at 1M rows recall@10 0.977 in 26 ms a query (1,000 lists with 50
    probed gave 0.963 in the same time); at 100k 0.977 in 7 ms, where 200 lists (rows / 500) had pgvector's
    planner read the whole table instead, at 100 probes (docs/measurements/ivfflat-1m-20261204). pgvector
    suggests rows / 1000 up to 1M rows and sqrt(rows) beyond."""
    return max(1, round(2 * rows**0.5))


def index_lists(conn) -> int:
    """The lists of qa_chunks' IVFFlat index, from its storage options (0 when there is none)."""
    row = conn.execute(
        "SELECT reloptions FROM pg_class WHERE oid = to_regclass(%s)", (ANN_INDEX["ivfflat"],)
    ).fetchone()
    options = dict(o.split("=", 1) for o in (row[0] or [])) if row else {}
    return int(options.get("lists", 0))


def tsvector_of(text: str) -> tuple[str, int]:
    """The tsvector literal of a text's terms with their positions, and how many terms it has (BM25's
    document length; 1 for none, as the file store's placeholder token): ("'victim':1,4 'traffick':2", 4)."""
    positions: dict[str, list[int]] = {}
    found = terms(text)
    for i, term in enumerate(found[:16000], start=1):  # positions stop at 16383
        positions.setdefault(term, []).append(i)
    literal = " ".join(f"{lexeme(t)}:{','.join(map(str, p[:256]))}" for t, p in positions.items())
    return literal, max(1, len(found))


class PostgresWriter:
    """One build: a transaction holding the build lock, from reading the old index to the new manifest."""

    def __init__(
        self,
        url: str,
        dim: int,
        *,
        ann: str = "ivfflat",
        hnsw_m: int = 32,
        ef_construction: int = 128,
        exact_below: int = 50_000,
        build_memory: str = "4GB",
        stage: Callable[[str], None] | None = None,
    ) -> None:
        """stage: told of each long step of a large build (the vector index, the BM25 postings) as it starts."""
        if ann not in ANN_INDEX:
            raise ValueError(f"unknown approximate index {ann!r}: one of {', '.join(ANN_INDEX)}")
        self.url, self.dim, self.build_memory, self.ann = url, dim, build_memory, ann
        self.hnsw_m, self.ef_construction, self.exact_below = int(hnsw_m), int(ef_construction), exact_below
        self.stage = stage or (lambda message: None)
        self._retired: list[str] = []  # vector indexes this build drops at its end (_swap_vectors)
        self._renamed: tuple[str, str] | None = None  # (new, old): a rebuilt index takes its old name there
        self._conn: Any = None

    def __enter__(self) -> PostgresWriter:
        import psycopg

        with unavailable_as_error(self.url):
            self._conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT)
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (BUILD_LOCK,))  # waits for a running build
        schema = url_schema(self.url)  # a collection's index: its own schema, made by its first build
        if schema:
            from psycopg import sql

            self._conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        self._conn.execute("CREATE EXTENSION IF NOT EXISTS vector" + (" SCHEMA public" if schema else ""))

        register_types(self._conn)
        self._create_tables()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if kind is None:
                self._conn.commit()
            else:
                self._conn.rollback()
        finally:
            self._conn.close()

    def _create_tables(self) -> None:
        for statement in (
            "CREATE TABLE IF NOT EXISTS qa_manifest (id int PRIMARY KEY CHECK (id = 1), body jsonb NOT NULL)",
            "CREATE TABLE IF NOT EXISTS qa_documents (source text PRIMARY KEY, title text NOT NULL, "
            "text text NOT NULL, metadata jsonb NOT NULL, file_hash text NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS qa_chunks (seq bigserial PRIMARY KEY, chunk_id text UNIQUE NOT NULL, "
            "source text NOT NULL REFERENCES qa_documents ON DELETE CASCADE, title text NOT NULL, "
            "text text NOT NULL, start_at int NOT NULL, end_at int NOT NULL, metadata jsonb NOT NULL, "
            f"hash text NOT NULL, embedding vector({int(self.dim)}) NOT NULL, tsv tsvector NOT NULL, "
            "n_terms int NOT NULL)",
            "CREATE INDEX IF NOT EXISTS qa_chunks_tsv ON qa_chunks USING gin (tsv)",
            "CREATE INDEX IF NOT EXISTS qa_chunks_source ON qa_chunks (source)",
            "CREATE INDEX IF NOT EXISTS qa_chunks_hash ON qa_chunks (hash)",
            "CREATE TABLE IF NOT EXISTS qa_terms (term text PRIMARY KEY, chunks int NOT NULL)",
            "CREATE TABLE IF NOT EXISTS qa_stats (id int PRIMARY KEY CHECK (id = 1), n_chunks bigint NOT NULL, "
            "avg_terms float8 NOT NULL)",
            "CREATE TABLE IF NOT EXISTS qa_postings (term text NOT NULL, seq bigint NOT NULL, tf int NOT NULL, "
            "dl int NOT NULL, impact real NOT NULL)",
            "CREATE INDEX IF NOT EXISTS qa_postings_top ON qa_postings (term, impact DESC, seq) INCLUDE (tf, dl)",
        ):
            self._conn.execute(statement)
        # columns that databases made by earlier versions lack: ALTER TABLE locks out every reader until the
        # build commits, so only when one is missing
        self._add_column("qa_documents", "locations", "jsonb NOT NULL DEFAULT '[]'")  # [[offset, "page 2"], ...]
        self._add_column("qa_stats", "impact_avg_terms", "float8")  # the average length the impacts used

    def _add_column(self, table: str, column: str, definition: str) -> None:
        found = self._conn.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s AND NOT attisdropped",
            (table, column),
        ).fetchone()
        if not found:
            self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def manifest(self) -> Manifest | None:
        row = self._conn.execute("SELECT body FROM qa_manifest WHERE id = 1").fetchone()
        return Manifest.from_dict(row[0]) if row else None

    def previous(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """The vectors already stored for these chunk hashes (unchanged text is not embedded again)."""
        rows = self._conn.execute(
            "SELECT DISTINCT ON (hash) hash, embedding FROM qa_chunks WHERE hash = ANY(%s)", (hashes,)
        ).fetchall()
        return {h: np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=np.float32) for h, v in rows}

    def clear(self) -> None:
        """A rebuild: every row goes, inside this transaction, so the old index answers until the commit
        (rows are deleted, not tables dropped, which would block readers; unless the vector size changed)."""
        dim = self._conn.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'qa_chunks'::regclass AND attname = 'embedding'"
        ).fetchone()
        if dim is not None and dim[0] != self.dim:
            self._conn.execute(f"DROP TABLE {', '.join(TABLES)}")
            self._create_tables()
            return
        for table in TABLES:
            self._conn.execute(f"DELETE FROM {table}")

    def save(
        self,
        fingerprint: Manifest,
        docs: list[SourceDoc],
        chunks: list[Chunk],
        vectors: np.ndarray,
        progress=None,
    ) -> Manifest:
        """Documents that are new or changed are replaced with their chunks; gone ones deleted. Changed means
        its file, or what cleaning made of it (boilerplate is found across files: deleting one file can change
        another's cleaned text), or its chunks."""
        new_files = {d.source: d.file_hash for d in docs}
        stored = self._stored_signatures()
        by_source: dict[str, list[Chunk]] = {}
        for c in chunks:
            by_source.setdefault(c.source, []).append(c)
        fresh = {d.source for d in docs if stored.get(d.source) != _signature(d, by_source.get(d.source, []))}
        stale = [s for s in stored if s not in new_files or s in fresh]
        self._conn.execute(
            "DELETE FROM qa_postings WHERE seq IN (SELECT seq FROM qa_chunks WHERE source = ANY(%s))", (stale,)
        )
        self._conn.execute("DELETE FROM qa_documents WHERE source = ANY(%s)", (stale,))
        last_kept = self._conn.execute("SELECT coalesce(max(seq), 0) FROM qa_chunks").fetchone()[0]
        with self._conn.cursor().copy(
            "COPY qa_documents (source, title, text, metadata, file_hash, locations) FROM STDIN"
        ) as copy:
            for d in docs:
                if d.source in fresh:
                    metadata, locations = json.dumps(d.metadata.to_dict()), json.dumps(d.locations)
                    copy.write_row((d.source, d.title, d.text, metadata, d.file_hash, locations))
        rows = [(c, v) for c, v in zip(chunks, vectors) if c.source in fresh]
        insert_chunks(self._conn, rows, progress)
        n_chunks = self._conn.execute("SELECT count(*) FROM qa_chunks").fetchone()[0]
        index_type = self._prepare_vectors(n_chunks)
        self._conn.execute("DELETE FROM qa_terms")
        self._conn.execute("INSERT INTO qa_terms SELECT word, ndoc FROM ts_stat('SELECT tsv FROM qa_chunks')")
        self.write_postings(last_kept)
        manifest = replace(
            fingerprint,
            built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            files=new_files,
            n_chunks=n_chunks,
            index_type=index_type,
        )
        if n_chunks != len(chunks):
            raise IndexCorruptError(f"the database holds {n_chunks} chunks after the build, not {len(chunks)}")
        self._swap_vectors()
        self._conn.execute(
            "INSERT INTO qa_manifest (id, body) VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            (json.dumps(manifest.to_dict()),),
        )
        return manifest

    def write_postings(self, last_kept: int) -> None:
        """qa_stats, and the postings of the chunks after seq `last_kept` (the new ones), or of every chunk
        when the average length moved by more than IMPACT_DRIFT since the kept rows' impacts were made."""
        old = self._conn.execute("SELECT impact_avg_terms FROM qa_stats WHERE id = 1").fetchone()
        avg, total, fresh = self._conn.execute(
            "SELECT coalesce(avg(n_terms), 1)::float8, count(*), count(*) FILTER (WHERE seq > %s) FROM qa_chunks",
            (last_kept,),
        ).fetchone()
        impact_avg = old[0] if old and old[0] else None
        if impact_avg is None or abs(avg / impact_avg - 1) > IMPACT_DRIFT:
            self._conn.execute("DELETE FROM qa_postings")
            impact_avg, last_kept, fresh = avg, 0, total
        self._conn.execute("DELETE FROM qa_stats")
        self._conn.execute("INSERT INTO qa_stats SELECT 1, count(*), %s, %s FROM qa_chunks", (avg, impact_avg))
        self._conn.execute("SET LOCAL work_mem = '256MB'")  # the sort by term and impact
        if fresh >= self.exact_below:
            self.stage(f"writing the BM25 postings of {fresh:,} chunks")
        self._conn.execute(POSTINGS_SQL, (impact_avg, last_kept))

    def _stored_signatures(self) -> dict[str, str]:
        """Each stored document's signature, as `_signature` makes it from a new one."""
        rows = self._conn.execute(
            "SELECT d.source, d.file_hash, md5(d.text), d.title, d.metadata::text, d.locations::text, "
            "coalesce(string_agg(c.chunk_id || ' ' || c.hash || ' ' || c.start_at || ' ' || c.end_at, ',' "
            "ORDER BY c.seq), '') FROM qa_documents d LEFT JOIN qa_chunks c ON c.source = d.source GROUP BY d.source"
        ).fetchall()
        return {
            r[0]: _joined(
                r[1], r[2], r[3], json.dumps(json.loads(r[4]), sort_keys=True), json.dumps(json.loads(r[5])), r[6]
            )
            for r in rows
        }

    def refresh(self, manifest: Manifest) -> str | None:
        """An unchanged corpus: the vector index the settings ask for now (QA_PG_ANN, QA_PG_EXACT_BELOW may have
        changed), recorded in the manifest; what it is, when it changed."""
        index_type = self.index_vectors(manifest.n_chunks)
        if index_type == manifest.index_type:
            return None
        self._conn.execute(
            "UPDATE qa_manifest SET body = jsonb_set(body, '{index_type}', to_jsonb(%s::text)) WHERE id = 1",
            (index_type,),
        )
        return index_type

    def index_vectors(self, n_chunks: int) -> str:
        """The vector index for n_chunks rows, made and swapped in now (the bench times this step alone)."""
        index_type = self._prepare_vectors(n_chunks)
        self._swap_vectors()
        return index_type

    def _prepare_vectors(self, n_chunks: int) -> str:
        """The approximate index above the exact-search threshold, built after the rows are in, as pgvector
        advises. HNSW takes new rows into its graph, so an existing one stays. IVFFlat assigns new rows to the
        lists its build made: it is built again when the table has outgrown (or shrunk from) its lists by more
        than LISTS_SLACK. A new index is built beside the old one (CREATE INDEX lets readers on); the indexes
        that go are dropped by _swap_vectors at the end of the build, since DROP INDEX locks every reader out
        until the commit."""
        existing = [kind for kind, name in ANN_INDEX.items() if self._exists(name)]
        if n_chunks < self.exact_below:
            self._retired = [ANN_INDEX[kind] for kind in existing]
            return "exact (pgvector)"
        self._retired = [ANN_INDEX[kind] for kind in existing if kind != self.ann]
        if self.ann == "ivfflat":
            lists, built = ivfflat_lists(n_chunks), index_lists(self._conn)
            if built and lists / LISTS_SLACK <= built <= lists * LISTS_SLACK:
                return f"ivfflat (pgvector, lists={built})"
            self._create(f"ivfflat (embedding vector_ip_ops) WITH (lists = {lists})", n_chunks)
            return f"ivfflat (pgvector, lists={lists})"
        if "hnsw" not in existing:
            self._create(
                f"hnsw (embedding vector_ip_ops) WITH (m = {self.hnsw_m}, ef_construction = {self.ef_construction})",
                n_chunks,
            )
        return f"hnsw (pgvector, m={self.hnsw_m}, ef_construction={self.ef_construction})"

    def _exists(self, index: str) -> bool:
        return self._conn.execute("SELECT to_regclass(%s)", (index,)).fetchone()[0] is not None

    def _create(self, method: str, n_chunks: int) -> None:
        """CREATE INDEX with the build's memory, warning when the HNSW graph outgrows it; beside an index of
        the same name, under a name of its own until _swap_vectors."""
        name = ANN_INDEX[self.ann]
        if self._exists(name):
            self._retired.append(name)
            self._renamed = (f"{name}_new", name)
            name = f"{name}_new"
        self.stage(
            f"building the vector index of {n_chunks:,} chunks: {method.split(' (')[0]} {method.split('WITH ')[-1]}"
        )
        self._conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (self.build_memory,))
        self._conn.add_notice_handler(self._warn_if_spilled)
        watch = BuildProgress(self.url, self._conn.info.backend_pid, self.stage)
        watch.start()
        try:
            self._conn.execute(f"CREATE INDEX {name} ON qa_chunks USING {method}")
        finally:
            watch.stop()
            self._conn.remove_notice_handler(self._warn_if_spilled)

    def _swap_vectors(self) -> None:
        """The old vector indexes dropped and a replacement given its name: the last steps before the commit."""
        for index in self._retired:
            self._conn.execute(f"DROP INDEX {index}")
        if self._renamed:
            self._conn.execute("ALTER INDEX {} RENAME TO {}".format(*self._renamed))
        self._retired, self._renamed = [], None

    def _warn_if_spilled(self, notice) -> None:
        """pgvector's notice that the graph outgrew maintenance_work_mem, as a warning saying what to change."""
        if "no longer fits into maintenance_work_mem" in (notice.message_primary or ""):
            log.warning(
                "warning: the HNSW graph outgrew QA_PG_BUILD_MEMORY=%s (%s); the rest of the build is on disk and "
                "takes about 3x longer: raise QA_PG_BUILD_MEMORY if the database server has the memory",
                self.build_memory,
                notice.message_primary,
            )


class BuildProgress(threading.Thread):
    """How far a CREATE INDEX under way is, every `every` seconds while it runs, read from PostgreSQL's
    pg_stat_progress_create_index on a connection of its own (the build's is busy): pgvector reports its
    phases (k-means, assigning and loading tuples for IVFFlat; loading tuples for HNSW) with the tuples done.
    Progress is a courtesy: if it cannot be read, the build goes on without it."""

    def __init__(self, url: str, pid: int, say: Callable[[str], None], every: float = PROGRESS_SECONDS) -> None:
        super().__init__(name="vector-index-progress", daemon=True)
        self.url, self.pid, self.say, self.every = url, pid, say, every
        self._done = threading.Event()

    def run(self) -> None:
        import psycopg

        started = time.monotonic()
        try:
            with psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
                while not self._done.wait(self.every):
                    row = conn.execute(
                        "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index WHERE pid = %s",
                        (self.pid,),
                    ).fetchone()
                    if row and not self._done.is_set():
                        self.say(progress_line(*row, time.monotonic() - started))
        except Exception as e:  # noqa: BLE001 - a courtesy: never the reason a build fails
            log.debug("vector index progress unavailable: %s", e)

    def stop(self) -> None:
        self._done.set()
        self.join(CONNECT_TIMEOUT + 1)


def progress_line(phase: str, done: int | None, total: int | None, seconds: float) -> str:
    """progress_line("loading tuples", 250_000, 1_000_000, 42.0)
    == "vector index: loading tuples, 250,000 of 1,000,000 chunks (25%), 42 s" """
    phase = (phase or "").removeprefix("building index: ")
    if done is not None and total:
        return f"vector index: {phase}, {done:,} of {total:,} chunks ({100 * done // total}%), {seconds:.0f} s"
    if done:  # HNSW counts the tuples it has loaded, without a total
        return f"vector index: {phase}, {done:,} chunks, {seconds:.0f} s"
    return f"vector index: {phase}, {seconds:.0f} s"


POSTINGS_SQL = """
INSERT INTO qa_postings (term, seq, tf, dl, impact)
SELECT u.lexeme, c.seq, cardinality(u.positions), c.n_terms,
       cardinality(u.positions) / (cardinality(u.positions) + 1.5 * (0.25 + 0.75 * c.n_terms / %s::float8))
FROM qa_chunks c CROSS JOIN LATERAL unnest(c.tsv) AS u(lexeme, positions, weights)
WHERE c.seq > %s
ORDER BY 1, 5 DESC, 2
"""


def _signature(doc: SourceDoc, own_chunks: list[Chunk]) -> str:
    """What decides a document's rows: its file, cleaned text, title, metadata, locations and chunks."""
    own = ",".join(f"{c.chunk_id} {c.hash} {c.start} {c.end}" for c in own_chunks)
    text_md5 = hashlib.md5(doc.text.encode("utf-8")).hexdigest()  # noqa: S324 - a fingerprint, as Postgres md5()
    metadata = json.dumps(doc.metadata.to_dict(), sort_keys=True)
    return _joined(doc.file_hash, text_md5, doc.title, metadata, json.dumps(doc.locations), own)


def _joined(*parts: str) -> str:
    return "\x1f".join(parts)


def insert_chunks(conn, rows: list[tuple[Chunk, np.ndarray]], progress=None, batch: int = 5000) -> None:
    """COPY the chunks in, in build order (their seq keys follow it), with their vectors and tsvectors."""
    with conn.cursor().copy(
        "COPY qa_chunks (chunk_id, source, title, text, start_at, end_at, metadata, hash, embedding, tsv, n_terms) "
        "FROM STDIN"
    ) as copy:
        for i, (c, v) in enumerate(rows, start=1):
            copy.write_row(
                (
                    c.chunk_id,
                    c.source,
                    c.title,
                    c.text,
                    c.start,
                    c.end,
                    json.dumps(c.metadata.to_dict()),
                    c.hash,
                    vector_param(v),
                    *tsvector_of(c.embed_text),
                )
            )
            if progress and (i % batch == 0 or i == len(rows)):
                progress(i, len(rows))
