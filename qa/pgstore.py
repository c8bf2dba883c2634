"""Postgres store: the index in PostgreSQL + pgvector, shared by every replica; nothing of it held in memory.

    store = PostgresStore.connect("postgresql://…", expected=settings_fingerprint(name, 384, chunker))
    store.dense(query_vector, 30)        # pgvector: HNSW above `exact_below` chunks, exact search below
    store.lexical(terms("…"), 30)        # full text: a tsvector of qa.tokens.terms (the same words as BM25)
    with PostgresWriter(url, dim=384) as writer:   # `qa index` with QA_DATABASE_URL set
        files, vectors_by_hash = writer.previous(fingerprint)
        writer.save(fingerprint, docs, chunks, vectors)

Tables: qa_manifest (one row, JSON), qa_documents, qa_chunks (seq = the chunk key, in build order;
embedding vector(dim); tsv tsvector, GIN-indexed), qa_terms (chunks per term: rarity and IDF, as the file
store counts them), qa_stats (for BM25). A build is one transaction under an advisory lock: a failed or
killed build leaves the previous index answering, and a second `qa index` waits for the first instead of
interleaving with it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np

from qa.errors import IndexCorruptError, IndexNotBuiltError, QAError
from qa.records import Chunk, DocumentSummary, Manifest, Metadata, SourceDoc
from qa.store import check_manifest
from qa.tokens import terms

log = logging.getLogger("qa.pgstore")
BUILD_LOCK = 0x51A1DE  # pg_advisory_xact_lock key: one `qa index` at a time per database
MANIFEST_TTL = 5.0  # seconds a replica trusts its copy of the manifest (another replica may rebuild)
CONNECT_TIMEOUT = 3  # seconds


class DatabaseUnavailableError(QAError):
    """The database cannot be reached (at start-up, or lost mid-request); it is retried on the next request."""

    http_status = 503
    headers = {"Retry-After": "5"}


def describe(url: str) -> str:
    """The URL without its password, for messages: "postgresql://qa@db:5432/qa"."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        return "the QA_DATABASE_URL database (unparsable URL)"
    user, host, port, db = (parts.get(k, "") for k in ("user", "host", "port", "dbname"))
    where = f"{host}:{port}" if port else host
    return f"postgresql://{user + '@' if user else ''}{where}/{db}"


@contextmanager
def _unavailable_as_error(url: str) -> Iterator[None]:
    """psycopg's connection failures as one QAError saying which database and what to do."""
    import psycopg

    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise DatabaseUnavailableError(
            f"database {describe(url)} is unreachable ({reason[:200]}) — start it (`qa db start` for a local "
            "one) or check QA_DATABASE_URL"
        ) from None


class PostgresStore:
    """The `qa.store.Store` protocol over a database, through a few reused connections."""

    def __init__(self, url: str, expected: Manifest | None = None, ef_search: int = 100) -> None:
        self.url, self.expected, self.ef_search = url, expected, ef_search
        self._pool = _Connections(url, self._configure)
        self._manifest: Manifest | None = None
        self._manifest_read = 0.0
        self.docs = _Documents(self)
        self._terms = _TermCounts(self)

    @classmethod
    def connect(cls, url: str, expected: Manifest | None = None, ef_search: int = 100) -> PostgresStore:
        """Connect and check the manifest now: an unreachable database, a missing or mismatched index is an
        error here, with what to run."""
        store = cls(url, expected, ef_search)
        _ = store.manifest
        return store

    def close(self) -> None:
        self._pool.close()

    def _configure(self, conn) -> None:
        from pgvector.psycopg import register_vector

        try:
            register_vector(conn)
        except Exception:  # no vector extension yet: no index either, which the manifest check reports
            pass
        conn.execute(f"SET hnsw.ef_search = {int(self.ef_search)}")

    @contextmanager
    def _cursor(self):
        with _unavailable_as_error(self.url), self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None or time.monotonic() - self._manifest_read > MANIFEST_TTL:
            manifest = self._read_manifest()
            if self.expected is not None:
                check_manifest(manifest, self.expected)
            self._manifest, self._manifest_read = manifest, time.monotonic()
        return self._manifest

    def _read_manifest(self) -> Manifest:
        import psycopg

        not_built = IndexNotBuiltError(f"the database {describe(self.url)}")
        try:
            with self._cursor() as cur:
                row = cur.execute("SELECT body FROM qa_manifest WHERE id = 1").fetchone()
        except psycopg.errors.UndefinedTable:
            raise not_built from None
        if row is None:
            raise not_built
        try:
            return Manifest.from_dict(row[0])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise IndexCorruptError(f"the index manifest in {describe(self.url)} is unreadable ({e})") from e

    @property
    def n_chunks(self) -> int:
        return self.manifest.n_chunks

    def dense(self, query_vector: np.ndarray, n: int) -> list[int]:
        if n == 0:
            return []
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT seq FROM qa_chunks ORDER BY embedding <#> %s LIMIT %s", (_vector(query_vector), n)
            ).fetchall()
        return [r[0] for r in rows]

    def lexical(self, query_terms: list[str], n: int) -> list[int]:
        """BM25 as bm25s computes it (Lucene's IDF and term-frequency saturation, k1 1.5, b 0.75), in SQL
        over the chunks the GIN index finds: the same ranking as the file store, up to ties."""
        if not query_terms or n == 0:
            return []
        weights = Counter(query_terms)  # bm25s scores a repeated query word once per repetition
        query = " | ".join(_lexeme(t) for t in weights)
        with self._cursor() as cur:
            rows = cur.execute(BM25_SQL, (list(weights), list(weights.values()), query, n)).fetchall()
        return [r[0] for r in rows]

    def fetch(self, keys: list[int], query_vector: np.ndarray) -> dict[int, tuple[Chunk, float]]:
        if not keys:
            return {}
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT seq, chunk_id, source, title, text, start_at, end_at, metadata, "
                "-(embedding <#> %s) FROM qa_chunks WHERE seq = ANY(%s)",
                (_vector(query_vector), list(keys)),
            ).fetchall()
        found = {r[0]: (Chunk(*r[1:7], Metadata.from_dict(r[7] or {})), float(r[8])) for r in rows}
        return {k: found[k] for k in keys if k in found}

    def term_counts(self) -> Mapping[str, int]:
        return self._terms

    def summaries(self) -> list[DocumentSummary]:
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT d.source, d.title, count(c.seq), d.metadata FROM qa_documents d "
                "LEFT JOIN qa_chunks c ON c.source = d.source GROUP BY d.source ORDER BY d.source"
            ).fetchall()
        return [DocumentSummary(s, t, n, Metadata.from_dict(m or {})) for s, t, n, m in rows]


class _Connections:
    """A few idle connections, each checked before reuse (one round trip): after an outage the next request
    connects afresh, at once, instead of waiting out a pool's reconnection backoff."""

    def __init__(self, url: str, configure, keep: int = 4) -> None:
        self.url, self.configure, self.keep = url, configure, keep
        self._idle: list = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self):
        import psycopg

        conn = self._checked_idle()
        if conn is None:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
            self.configure(conn)
        try:
            yield conn
        except BaseException:
            conn.close()  # its state is unknown (a lost server, a cancelled query)
            raise
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(conn)
                return
        conn.close()

    def _checked_idle(self):
        import psycopg

        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            try:
                conn.execute("SELECT 1")
                return conn
            except psycopg.Error:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _Documents(Mapping):
    """store.docs: each document read when asked for (a citation's source view), none kept."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def __getitem__(self, source: str) -> SourceDoc:
        with self._store._cursor() as cur:
            row = cur.execute(
                "SELECT source, text, title, metadata, file_hash FROM qa_documents WHERE source = %s", (source,)
            ).fetchone()
        if row is None:
            raise KeyError(source)
        return SourceDoc(row[0], row[1], row[2], Metadata.from_dict(row[3] or {}), row[4])

    def __iter__(self) -> Iterator[str]:
        with self._store._cursor() as cur:
            return iter([r[0] for r in cur.execute("SELECT source FROM qa_documents ORDER BY source")])

    def __len__(self) -> int:
        with self._store._cursor() as cur:
            return cur.execute("SELECT count(*) FROM qa_documents").fetchone()[0]


class _TermCounts(Mapping):
    """Chunks per term, looked up term by term and remembered until the index changes."""

    LIMIT = 100_000  # terms remembered

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._known: dict[str, int] = {}
        self._built_at = ""

    def __getitem__(self, term: str) -> int:
        built_at = self._store.manifest.built_at
        if built_at != self._built_at or len(self._known) > self.LIMIT:
            self._known, self._built_at = {}, built_at
        if term not in self._known:
            with self._store._cursor() as cur:
                row = cur.execute("SELECT chunks FROM qa_terms WHERE term = %s", (term,)).fetchone()
            self._known[term] = row[0] if row else 0
        if not self._known[term]:
            raise KeyError(term)
        return self._known[term]

    def __iter__(self) -> Iterator[str]:
        with self._store._cursor() as cur:
            return iter([r[0] for r in cur.execute("SELECT term FROM qa_terms")])

    def __len__(self) -> int:
        with self._store._cursor() as cur:
            return cur.execute("SELECT count(*) FROM qa_terms").fetchone()[0]


BM25_SQL = """
WITH q AS (SELECT * FROM unnest(%s::text[], %s::int[]) AS q(term, weight)),
     s AS (SELECT n_chunks, avg_terms FROM qa_stats WHERE id = 1)
SELECT c.seq, sum(q.weight * ln(1 + (s.n_chunks - t.chunks + 0.5) / (t.chunks + 0.5))
                  * cardinality(u.positions)
                  / (cardinality(u.positions) + 1.5 * (0.25 + 0.75 * c.n_terms / s.avg_terms))) AS score
FROM s, qa_chunks c
CROSS JOIN LATERAL unnest(c.tsv) AS u(lexeme, positions, weights)
JOIN q ON q.term = u.lexeme
JOIN qa_terms t ON t.term = u.lexeme
WHERE c.tsv @@ CAST(%s AS tsquery)
GROUP BY c.seq ORDER BY score DESC, c.seq LIMIT %s
"""


def _vector(v: np.ndarray):
    from pgvector import Vector

    return Vector(np.asarray(v, dtype=np.float32))


def _lexeme(term: str) -> str:
    """A term as a quoted tsquery/tsvector lexeme, taken verbatim (no parser, no stemming: terms() did that)."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_of(text: str) -> tuple[str, int]:
    """The tsvector literal of a text's terms with their positions, and how many terms it has (BM25's
    document length; 1 for none, as the file store's placeholder token): ("'victim':1,4 'traffick':2", 4)."""
    positions: dict[str, list[int]] = {}
    found = terms(text)
    for i, term in enumerate(found[:16000], start=1):  # positions stop at 16383
        positions.setdefault(term, []).append(i)
    literal = " ".join(f"{_lexeme(t)}:{','.join(map(str, p[:256]))}" for t, p in positions.items())
    return literal, max(1, len(found))


class PostgresWriter:
    """One build: a transaction holding the build lock, from reading the old index to the new manifest."""

    def __init__(
        self, url: str, dim: int, *, hnsw_m: int = 16, ef_construction: int = 64, exact_below: int = 50_000
    ) -> None:
        self.url, self.dim = url, dim
        self.hnsw_m, self.ef_construction, self.exact_below = hnsw_m, ef_construction, exact_below
        self._conn: Any = None

    def __enter__(self) -> PostgresWriter:
        import psycopg

        with _unavailable_as_error(self.url):
            self._conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT)
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (BUILD_LOCK,))  # waits for a running build
        self._conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        from pgvector.psycopg import register_vector

        register_vector(self._conn)
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
        ):
            self._conn.execute(statement)

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
            self._conn.execute("DROP TABLE qa_stats, qa_terms, qa_chunks, qa_documents, qa_manifest")
            self._create_tables()
            return
        for table in ("qa_stats", "qa_terms", "qa_chunks", "qa_documents", "qa_manifest"):
            self._conn.execute(f"DELETE FROM {table}")

    def save(
        self,
        fingerprint: Manifest,
        docs: list[SourceDoc],
        chunks: list[Chunk],
        vectors: np.ndarray,
        progress=None,
    ) -> Manifest:
        """Documents whose file hash changed (or are new) are replaced with their chunks; gone ones deleted."""
        old = self.manifest()
        old_files = old.files if old else {}
        new_files = {d.source: d.file_hash for d in docs}
        stale = [s for s in old_files if new_files.get(s) != old_files[s]]
        fresh = {d.source for d in docs if old_files.get(d.source) != d.file_hash}
        self._conn.execute("DELETE FROM qa_documents WHERE source = ANY(%s)", (stale,))
        with self._conn.cursor().copy(
            "COPY qa_documents (source, title, text, metadata, file_hash) FROM STDIN"
        ) as copy:
            for d in docs:
                if d.source in fresh:
                    copy.write_row((d.source, d.title, d.text, json.dumps(d.metadata.to_dict()), d.file_hash))
        rows = [(c, v) for c, v in zip(chunks, vectors) if c.source in fresh]
        insert_chunks(self._conn, rows, progress)
        n_chunks = self._conn.execute("SELECT count(*) FROM qa_chunks").fetchone()[0]
        index_type = self.index_vectors(n_chunks)
        self._conn.execute("DELETE FROM qa_terms")
        self._conn.execute("INSERT INTO qa_terms SELECT word, ndoc FROM ts_stat('SELECT tsv FROM qa_chunks')")
        self._conn.execute("DELETE FROM qa_stats")
        self._conn.execute("INSERT INTO qa_stats SELECT 1, count(*), coalesce(avg(n_terms), 1) FROM qa_chunks")
        manifest = replace(
            fingerprint,
            built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            files=new_files,
            n_chunks=n_chunks,
            index_type=index_type,
        )
        if n_chunks != len(chunks):
            raise IndexCorruptError(f"the database holds {n_chunks} chunks after the build, not {len(chunks)}")
        self._conn.execute(
            "INSERT INTO qa_manifest (id, body) VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            (json.dumps(manifest.to_dict()),),
        )
        return manifest

    def index_vectors(self, n_chunks: int) -> str:
        """HNSW above the exact-search threshold (built after the rows are in, as pgvector advises)."""
        if n_chunks < self.exact_below:
            self._conn.execute("DROP INDEX IF EXISTS qa_chunks_hnsw")
            return "exact (pgvector)"
        exists = self._conn.execute("SELECT to_regclass('qa_chunks_hnsw')").fetchone()[0]
        if not exists:
            self._conn.execute("SET LOCAL maintenance_work_mem = '2GB'")
            self._conn.execute(
                "CREATE INDEX qa_chunks_hnsw ON qa_chunks USING hnsw (embedding vector_ip_ops) "
                f"WITH (m = {int(self.hnsw_m)}, ef_construction = {int(self.ef_construction)})"
            )
        return f"hnsw (pgvector, m={self.hnsw_m}, ef_construction={self.ef_construction})"


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
                    _vector(v),
                    *tsvector_of(c.embed_text),
                )
            )
            if progress and (i % batch == 0 or i == len(rows)):
                progress(i, len(rows))
