"""Postgres store: the index in PostgreSQL + pgvector, shared by every replica; nothing of it held in memory.

    store = PostgresStore.connect("postgresql://…", expected=settings_fingerprint(name, 384, chunker))
    store.dense(query_vector, 30)        # pgvector: IVFFlat (or HNSW) above `exact_below` chunks, exact below
    store.lexical(terms("…"), 30)        # BM25 over postings of qa.tokens.terms, best impact first per term

Tables: qa_manifest (one row, JSON), qa_documents, qa_chunks (seq = the chunk key, in build order;
embedding vector(dim); tsv tsvector, GIN-indexed), qa_terms (chunks per term: rarity and IDF, as the file
store counts them), qa_postings (term, chunk, tf, length, impact: BM25's postings, read best-impact first),
qa_stats (for BM25). They are written by index/pgwrite.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from qa.errors import IndexCorruptError, IndexNotBuiltError, QAError
from qa.records import Chunk, DocumentSummary, Manifest, Metadata, SourceDoc
from qa.store import check_manifest

log = logging.getLogger("qa.pgstore")
MANIFEST_TTL = 5.0  # seconds a replica trusts its copy of the manifest (another replica may rebuild)
CONNECT_TIMEOUT = 3  # seconds
ANN_INDEX = {"ivfflat": "qa_chunks_ivfflat", "hnsw": "qa_chunks_hnsw"}  # pgvector's index on qa_chunks, by kind


class DatabaseUnavailableError(QAError):
    """The database cannot be reached (at start-up, or lost mid-request); it is retried on the next request."""

    http_status = 503
    headers = {"Retry-After": "5"}
    transient = True


def describe(url: str) -> str:
    """The URL without its password, for messages: "postgresql://qa@db:5432/qa"."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        return "the QA_DATABASE_URL database (unparsable URL)"
    user, host, port, db = (parts.get(k, "") for k in ("user", "host", "port", "dbname"))
    where = f"{host}:{port}" if port else host
    schema = url_schema(url)
    return f"postgresql://{user + '@' if user else ''}{where}/{db}" + (f" (schema {schema})" if schema else "")


SEARCH_PATH = "-csearch_path="


def with_schema(url: str, schema: str) -> str:
    """The URL with `schema` first on the search path of its connections, so every table qa reads and writes
    is that schema's (a collection's index, qa/collection.py); pgvector's types stay found in public."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options" or SEARCH_PATH not in v]
    options = " ".join(v for k, v in parse_qsl(parts.query) if k == "options" and SEARCH_PATH not in v)
    query.append(("options", f'{options} {SEARCH_PATH}"{schema}",public'.strip()))
    return urlunsplit(parts._replace(query=urlencode(query)))


def url_schema(url: str) -> str | None:
    """The schema `with_schema` put first on the URL's search path, or None."""
    from urllib.parse import parse_qsl, urlsplit

    for key, value in parse_qsl(urlsplit(url).query):
        if key == "options" and SEARCH_PATH in value:
            return value.split(SEARCH_PATH, 1)[1].split(",", 1)[0].strip('"')
    return None


def schemas_like(url: str, prefix: str) -> list[str]:
    """The database's schemas whose names start with `prefix` (collections made on any replica)."""
    import psycopg

    with unavailable_as_error(url), psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s) ORDER BY 1", (prefix,)
        ).fetchall()
    return [r[0] for r in rows]


def stored_manifest(url: str) -> Manifest | None:
    """The manifest of the index at `url`; None when none was built there yet."""
    store = PostgresStore(url)
    try:
        return store.manifest
    except IndexNotBuiltError:
        return None
    finally:
        store.close()


@contextmanager
def unavailable_as_error(url: str) -> Iterator[None]:
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

    def __init__(self, url: str, expected: Manifest | None = None, ef_search: int = 100, probes: int = 100) -> None:
        """ef_search: HNSW's candidate list; probes: the lists of an IVFFlat index a query searches."""
        self.url, self.expected, self.ef_search, self.probes = url, expected, ef_search, probes
        self._pool = _Connections(url, self._configure)
        self._manifest: Manifest | None = None
        self._manifest_read = 0.0
        self.docs = _Documents(self)
        self._terms = _TermCounts(self)

    @classmethod
    def connect(
        cls, url: str, expected: Manifest | None = None, ef_search: int = 100, probes: int = 100
    ) -> PostgresStore:
        """Connect and check the manifest now: an unreachable database, a missing or mismatched index is an
        error here, with what to run."""
        store = cls(url, expected, ef_search, probes)
        _ = store.manifest
        return store

    def close(self) -> None:
        self._pool.close()

    def _configure(self, conn) -> None:

        try:
            register_types(conn)
        except Exception:  # no vector extension yet: no index either, which the manifest check reports
            pass
        conn.execute(f"SET hnsw.ef_search = {int(self.ef_search)}")
        conn.execute(f"SET ivfflat.probes = {int(self.probes)}")  # every list, when there are fewer

    @contextmanager
    def _cursor(self):
        with unavailable_as_error(self.url), self._pool.connection() as conn, conn.cursor() as cur:
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
                # a collection's schema not made yet: the search path would fall through to public's tables
                if (schema := url_schema(self.url)) and cur.execute("SELECT current_schema()").fetchone()[0] != schema:
                    raise not_built
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
                "SELECT seq FROM qa_chunks ORDER BY embedding <#> %s LIMIT %s", (vector_param(query_vector), n)
            ).fetchall()
        return [r[0] for r in rows]

    def lexical(self, query_terms: list[str], n: int) -> list[int]:
        """BM25 as bm25s computes it (Lucene's IDF and term-frequency saturation, k1 1.5, b 0.75), in SQL
        over each query term's IMPACT_TOP best postings (qa_postings, by tf / (tf + k1 (1 - b + b dl / avgdl))):
        the same ranking as the file store, up to ties, while no query term is in more than IMPACT_TOP chunks.
        Beyond that a chunk is scored on the terms in whose top it is, and one in none of them is not found."""
        import psycopg

        if not query_terms or n == 0:
            return []
        weights = Counter(query_terms)  # bm25s scores a repeated query word once per repetition
        top = max(IMPACT_TOP, n)
        try:
            with self._cursor() as cur:
                rows = cur.execute(BM25_SQL, (list(weights), list(weights.values()), top, n)).fetchall()
        except psycopg.errors.UndefinedTable:
            raise IndexCorruptError(
                f"the index in {describe(self.url)} has no BM25 postings (built by an older `qa index`) — run "
                "`qa index --rebuild`"
            ) from None
        return [r[0] for r in rows]

    def fetch(self, keys: list[int], query_vector: np.ndarray) -> dict[int, tuple[Chunk, float]]:
        if not keys:
            return {}
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT seq, chunk_id, source, title, text, start_at, end_at, metadata, "
                "-(embedding <#> %s) FROM qa_chunks WHERE seq = ANY(%s)",
                (vector_param(query_vector), list(keys)),
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
                "SELECT source, text, title, metadata, file_hash, locations FROM qa_documents WHERE source = %s",
                (source,),
            ).fetchone()
        if row is None:
            raise KeyError(source)
        locations = tuple((int(offset), str(label)) for offset, label in row[5] or ())
        return SourceDoc(row[0], row[1], row[2], Metadata.from_dict(row[3] or {}), row[4], locations)

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


IMPACT_TOP = 1000  # postings read per query term, best impact first (index/pgwrite.py writes them)

BM25_SQL = """
WITH q AS (SELECT * FROM unnest(%s::text[], %s::int[]) AS q(term, weight)),
     s AS (SELECT n_chunks::float8 AS n_chunks, avg_terms FROM qa_stats WHERE id = 1),
     hits AS (
       SELECT p.seq, q.weight * ln(1 + (s.n_chunks - t.chunks + 0.5) / (t.chunks + 0.5))
                     * p.tf / (p.tf + 1.5 * (0.25 + 0.75 * p.dl / s.avg_terms)) AS score
       FROM s, q JOIN qa_terms t ON t.term = q.term
       CROSS JOIN LATERAL (
         SELECT seq, tf, dl FROM qa_postings WHERE term = q.term ORDER BY impact DESC, seq LIMIT %s
       ) AS p
     )
SELECT seq, sum(score) AS score FROM hits GROUP BY seq ORDER BY score DESC, seq LIMIT %s
"""


def register_types(conn) -> None:
    """pgvector's types on a connection: numpy arrays and Vector in, vectors out."""
    from pgvector.psycopg import register_vector

    register_vector(conn)


def vector_param(v: np.ndarray):
    from pgvector import Vector

    return Vector(np.asarray(v, dtype=np.float32))


def lexeme(term: str) -> str:
    """A term as a quoted tsquery/tsvector lexeme, taken verbatim (no parser, no stemming: terms() did that)."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"
