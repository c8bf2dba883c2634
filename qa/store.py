"""Store: the saved index — manifest, cleaned documents, chunks, vectors and a FAISS index — and its checks.

    store = load_store(Path("index/store"), expected=settings_fingerprint(embedder.name, embedder.dim, chunker))
    store.chunks[0].chunk_id == "000_d2af82de5b2a880a.txt#0"
    store.dense(query_vector, 30)  # chunk keys, most similar first; store.fetch(keys, query_vector) their chunks

`Store` is what retrieval, verification and the catalog read; two kinds implement it: `IndexStore` (these
files, loaded whole into memory) and `qa.pgstore.PostgresStore` (PostgreSQL + pgvector, nothing held in memory).

Layout of the folder (written whole to a temporary folder, then renamed into place):
    manifest.json  docs.jsonl  chunks.jsonl  vectors.npy  faiss.index
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.errors import IndexCorruptError, IndexMismatchError, IndexNotBuiltError
from qa.records import Chunk, ChunkerSettings, DocumentSummary, Manifest, Metadata, SourceDoc
from qa.tokens import terms

FORMAT_VERSION = 2  # 2: chunk rows carry the hash of their embedded text
APPROXIMATE_ABOVE = 50_000  # chunks; above this an HNSW index replaces exact search
FILES = ("manifest.json", "docs.jsonl", "chunks.jsonl", "vectors.npy", "faiss.index")


class Store(Protocol):
    """A built index as the online pipeline reads it. Chunk keys are ints, in build order (ties in the fused
    ranking go to the lower key)."""

    manifest: Manifest
    docs: Mapping[str, SourceDoc]  # cleaned documents by source; citation offsets index into their text

    @property
    def n_chunks(self) -> int: ...

    def dense(self, query_vector: np.ndarray, n: int) -> list[int]:
        """Up to n chunk keys, most similar to the (unit) query vector first."""
        ...

    def lexical(self, query_terms: list[str], n: int) -> list[int]:
        """Up to n chunk keys sharing a term with the query, best match first ([] for no terms)."""
        ...

    def fetch(self, keys: list[int], query_vector: np.ndarray) -> dict[int, tuple[Chunk, float]]:
        """The chunks of these keys, each with its cosine similarity to the query vector."""
        ...

    def term_counts(self) -> Mapping[str, int]:
        """Every term of the corpus (`qa.tokens.terms`), with the number of chunks that contain it."""
        ...

    def summaries(self) -> list[DocumentSummary]:
        """Each document's source, title, chunk count and metadata (not its text), by source."""
        ...


@dataclass
class IndexStore:
    manifest: Manifest
    docs: dict[str, SourceDoc]
    chunks: list[Chunk]
    vectors: np.ndarray  # (len(chunks), dim), unit rows
    faiss_index: Any
    embedded_hashes: list[str] = field(default_factory=list)  # hash of the text each vector was made from
    _bm25: Any = field(default=None, init=False, repr=False, compare=False)
    _terms: Counter | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_chunks(self) -> int:
        return len(self.chunks)

    def dense(self, query_vector: np.ndarray, n: int) -> list[int]:
        _, ids = self.search(query_vector[None, :], n)
        return [int(i) for i in ids[0] if i >= 0]

    def lexical(self, query_terms: list[str], n: int) -> list[int]:
        """BM25 (bm25s); the first call indexes the chunks (seconds at 100k chunks)."""
        if not query_terms or n == 0:
            return []
        if self._bm25 is None:
            import bm25s

            self._bm25 = bm25s.BM25()
            self._bm25.index([terms(c.embed_text) or ["∅"] for c in self.chunks], show_progress=False)
        ids, scores = self._bm25.retrieve([query_terms], k=min(n, len(self.chunks)), show_progress=False)
        return [int(i) for i, s in zip(ids[0], scores[0]) if s > 0]

    def fetch(self, keys: list[int], query_vector: np.ndarray) -> dict[int, tuple[Chunk, float]]:
        similarities = self.vectors[keys] @ query_vector if keys else []
        return {k: (self.chunks[k], float(sim)) for k, sim in zip(keys, similarities)}

    def term_counts(self) -> Mapping[str, int]:
        if self._terms is None:
            self._terms = Counter(t for c in self.chunks for t in set(terms(c.embed_text)))
        return self._terms

    def summaries(self) -> list[DocumentSummary]:
        counts = Counter(c.source for c in self.chunks)
        return [DocumentSummary(d.source, d.title, counts[d.source], d.metadata) for _, d in sorted(self.docs.items())]

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, chunk indexes), each (n_queries, k); missing hits have index -1."""
        k = min(k, len(self.chunks))
        if k == 0:
            empty = np.zeros((len(query_vectors), 0))
            return empty, empty.astype(np.int64)
        return self.faiss_index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)

    def with_vectors(self, chunks: list[Chunk], vectors: np.ndarray, faiss_index: Any = None) -> IndexStore:
        """This store's documents over other chunks and vectors, in memory only (benchmarks, experiments).

        bigger = store.with_vectors(store.chunks * 2, np.vstack([store.vectors] * 2))
        bigger.manifest.n_chunks == 2 * len(store.chunks)
        The FAISS index is built from `vectors` (HNSW above APPROXIMATE_ABOVE) unless one is given; there
        are no embedded-text hashes, so the result is not for saving or incremental re-indexing.
        """
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        faiss_index = build_faiss_index(vectors) if faiss_index is None else faiss_index
        manifest = replace(self.manifest, n_chunks=len(chunks), index_type=type(faiss_index).__name__)
        return IndexStore(manifest, self.docs, list(chunks), vectors, faiss_index)


def settings_fingerprint(embedding_model: str, dim: int, chunker: ChunkerSettings) -> Manifest:
    """A manifest of what the running settings would build: the fields `check_manifest` compares."""
    return Manifest(FORMAT_VERSION, embedding_model, dim, chunker)


def build_faiss_index(vectors: np.ndarray) -> Any:
    import faiss

    dim = vectors.shape[1]
    if len(vectors) > APPROXIMATE_ABOVE:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save_store(
    index_dir: Path, fingerprint: Manifest, docs: list[SourceDoc], chunks: list[Chunk], vectors: np.ndarray
) -> Manifest:
    """Write the whole store to a temporary folder beside index_dir, then swap it into place."""
    import faiss

    index_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_temps(index_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.tmp-{os.getpid()}-", dir=index_dir.parent))
    try:
        faiss_index = build_faiss_index(vectors)
        manifest = replace(
            fingerprint,
            built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            files={d.source: d.file_hash for d in docs},
            n_chunks=len(chunks),
            index_type=type(faiss_index).__name__,
        )
        _write_jsonl(tmp / "docs.jsonl", (_row(d) for d in docs))
        # each row keeps the hash of the text its vector was made from, for incremental re-indexing
        _write_jsonl(tmp / "chunks.jsonl", ({**_row(c), "hash": c.hash} for c in chunks))
        np.save(tmp / "vectors.npy", vectors.astype(np.float32))
        faiss.write_index(faiss_index, str(tmp / "faiss.index"))
        (tmp / "manifest.json").write_text(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False))  # written last
        _swap_into_place(tmp, index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _swap_into_place(tmp: Path, index_dir: Path) -> None:
    """Two renames; if interrupted between them, load_store falls back to the `.old` copy."""
    old = index_dir.with_name(index_dir.name + ".old")
    if index_dir.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(index_dir, old)
    # else `.old` may be the only live copy (an earlier swap was cut short): keep it until the new one is in
    os.replace(tmp, index_dir)
    shutil.rmtree(old, ignore_errors=True)


def _remove_abandoned_temps(index_dir: Path) -> None:
    """Temp folders of builds whose process is gone (killed mid-save) would otherwise stay on disk for good."""
    prefix = f".{index_dir.name}.tmp-"
    for tmp in index_dir.parent.glob(prefix + "*"):
        pid = tmp.name.removeprefix(prefix).split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _row(record: SourceDoc | Chunk) -> dict[str, Any]:
    """A record as a JSON row, its metadata only with the fields that are set; a document's locations (where
    its pages or slides begin, which the source view shows) only when it has any."""
    row = {**asdict(record), "metadata": record.metadata.to_dict()}
    if not row.get("locations"):
        row.pop("locations", None)
    return row


def _write_jsonl(path: Path, rows: Any) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_manifest(index_dir: Path) -> Manifest | None:
    path = _live_dir(index_dir) / "manifest.json"
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise IndexCorruptError(f"index manifest {path} is unreadable ({e}) — run `qa index --rebuild`") from e


def load_store(index_dir: Path, expected: Manifest | None = None) -> IndexStore:
    """Load and check the store; a missing, damaged or mismatched one is an error saying what to run."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexNotBuiltError(index_dir)
    if expected is not None:
        check_manifest(manifest, expected)
    live = _live_dir(index_dir)
    try:
        import faiss

        docs = [SourceDoc(**_with_metadata(row)) for row in _read_jsonl(live / "docs.jsonl")]
        rows = _read_jsonl(live / "chunks.jsonl")
        embedded_hashes = [row.pop("hash") for row in rows]
        chunks = [Chunk(**_with_metadata(row)) for row in rows]
        vectors = np.load(live / "vectors.npy")
        faiss_index = faiss.read_index(str(live / "faiss.index"))
    except (OSError, EOFError, ValueError, TypeError, RuntimeError, KeyError) as e:
        raise IndexCorruptError(
            f"index at {index_dir} is damaged ({type(e).__name__}) — run `qa index --rebuild`"
        ) from e
    by_source = {d.source: d for d in docs}
    if not (
        len(chunks) == len(vectors) == faiss_index.ntotal == manifest.n_chunks
        and set(by_source) == set(manifest.files)
        and all(c.source in by_source and by_source[c.source].text[c.start : c.end] == c.text for c in chunks)
    ):  # an emptied docs.jsonl parses fine, and would fail later on every answer that cites it
        raise IndexCorruptError(f"index at {index_dir} is inconsistent — run `qa index --rebuild`")
    return IndexStore(manifest, by_source, chunks, vectors, faiss_index, embedded_hashes)


def check_manifest(manifest: Manifest, expected: Manifest) -> None:
    """The fields that decide what the vectors mean must match; when and from what it was built need not."""
    for key in ("format_version", "embedding_model", "dim", "chunker"):
        have, want = getattr(manifest, key), getattr(expected, key)
        if have != want:
            have, want = (asdict(v) if key == "chunker" else v for v in (have, want))
            raise IndexMismatchError(
                f"index was built with {key}={have!r} but the settings ask for {want!r} — run `qa index --rebuild`"
            )


def _live_dir(index_dir: Path) -> Path:
    """index_dir, or its `.old` copy when a swap was interrupted between its two renames."""
    old = index_dir.with_name(index_dir.name + ".old")
    if not (index_dir / "manifest.json").exists() and (old / "manifest.json").exists():
        return old
    return index_dir


def _with_metadata(row: dict[str, Any]) -> dict[str, Any]:
    row = {**row, "metadata": Metadata.from_dict(row.get("metadata") or {})}
    if "locations" in row:
        row["locations"] = tuple((int(offset), str(label)) for offset, label in row["locations"])
    return row


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
