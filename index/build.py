"""Build: corpus folder -> index store, re-embedding only chunks whose text changed.

report = build_index(Path("seeds"), Path("index/store"), embedder, ChunkerSettings())
report.summary() == "5 files, 40 chunks (40 embedded, 0 reused); +5 ~0 -0 files; 0 skipped"

load -> clean -> chunk -> embed (new chunks only) -> save (temp folder renamed into place, or one transaction
in PostgreSQL: `build_index(corpus, PostgresTarget(url, dim=384), embedder)`)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from index.chunk import chunk_corpus
from index.clean import clean_corpus
from index.load import Skipped, load_corpus, supported_types
from index.pgwrite import PostgresWriter
from qa.embed import Embedder
from qa.errors import CorpusError, IndexMismatchError, QAError
from qa.records import (  # noqa: F401  (ChunkerSettings: re-exported)
    Chunk,
    ChunkerSettings,
    Manifest,
    SourceDoc,
    content_hash,
)
from qa.store import check_manifest, load_store, read_manifest, save_store, settings_fingerprint

EMBED_BATCH = 256  # texts per call: progress granularity (the embedder batches within)


@dataclass(frozen=True)
class BuildReport:
    files: int
    chunks: int
    embedded: int
    reused: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unchanged: bool = False
    seconds: float = 0.0
    vector_index: str = ""  # an unchanged corpus whose vector index was made again, as the settings now ask

    def summary(self) -> str:
        if self.unchanged:
            remade = f"; vector index now {self.vector_index}" if self.vector_index else ""
            return f"index is up to date: {self.files} files, {self.chunks} chunks; {len(self.skipped)} skipped{remade}"
        return (
            f"{self.files} files, {self.chunks} chunks ({self.embedded} embedded, {self.reused} reused); "
            f"+{len(self.added)} ~{len(self.changed)} -{len(self.deleted)} files; {len(self.skipped)} skipped; "
            f"{self.seconds:.1f} s"
        )


class Target(Protocol):
    """Where a build goes: a folder of files (FileTarget) or a database (PostgresTarget)."""

    def session(self) -> AbstractContextManager[Target]:
        """The build's lifetime: the new index replaces the old one only when it ends without an error."""
        ...

    def previous(self, fingerprint: Manifest, chunks: list[Chunk]) -> tuple[Manifest | None, dict[str, np.ndarray]]:
        """The old index's manifest and its vectors by chunk hash; (None, {}) when there is none to reuse."""
        ...

    def clear(self) -> None:
        """Forget the old index (a rebuild)."""
        ...

    def save(self, fingerprint: Manifest, docs: list[SourceDoc], chunks: list[Chunk], vectors: np.ndarray) -> None: ...

    def refresh(self, manifest: Manifest) -> str | None:
        """When nothing changed: bring what the index's settings decide (its kind of vector index) up to date;
        what the vector index is now, if that changed."""
        ...


def build_index(
    corpus_dir: Path,
    index_dir: Path | Target,
    embedder: Embedder,
    chunker: ChunkerSettings = ChunkerSettings(),
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """`index_dir`: a folder, or a Target (PostgresTarget for QA_DATABASE_URL)."""
    target = FileTarget(index_dir) if isinstance(index_dir, Path) else index_dir
    with target.session():
        return _build(corpus_dir, target, embedder, chunker, rebuild, progress)


def _build(
    corpus_dir: Path,
    target: Target,
    embedder: Embedder,
    chunker: ChunkerSettings,
    rebuild: bool,
    progress: Callable[[int, int], None] | None,
) -> BuildReport:
    started = time.perf_counter()
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist")
    raw_docs, skipped = load_corpus(corpus_dir)
    if not raw_docs:
        raise CorpusError(
            f"no readable documents in {corpus_dir} ({supported_types()}; {len(skipped)} skipped) — "
            "the index was not changed",
            skipped,
        )
    docs = clean_corpus(raw_docs, chunker.boilerplate_min_lines)
    chunks = chunk_corpus(docs, chunker.chunk_chars, chunker.chunk_max_chars)
    fingerprint = settings_fingerprint(embedder.name, embedder.dim, chunker)

    if rebuild:
        target.clear()
    old_manifest, old_vectors = (None, {}) if rebuild else target.previous(fingerprint, chunks)
    old_files = old_manifest.files if old_manifest else {}
    fingerprint = replace(fingerprint, chunks_digest=chunks_digest(chunks))
    new_files = {d.source: d.file_hash for d in docs}
    added = sorted(set(new_files) - set(old_files))
    deleted = sorted(set(old_files) - set(new_files))
    changed = sorted(s for s in new_files if s in old_files and old_files[s] != new_files[s])
    if old_manifest and old_manifest.chunks_digest == fingerprint.chunks_digest and not (added or deleted or changed):
        vector_index = target.refresh(old_manifest) or ""
        return BuildReport(
            len(docs), len(chunks), 0, len(chunks), skipped=skipped, unchanged=True, vector_index=vector_index
        )

    vectors, embedded = _embed(chunks, old_vectors, embedder, progress)
    target.save(fingerprint, docs, chunks, vectors)
    return BuildReport(
        len(docs),
        len(chunks),
        embedded,
        len(chunks) - embedded,
        added,
        changed,
        deleted,
        skipped,
        seconds=time.perf_counter() - started,
    )


@dataclass
class FileTarget:
    """The file store: written whole to a temporary folder, then renamed into place."""

    index_dir: Path

    @contextmanager
    def session(self) -> Iterator[FileTarget]:
        yield self

    def previous(self, fingerprint: Manifest, chunks: list[Chunk]) -> tuple[Manifest | None, dict[str, np.ndarray]]:
        try:
            manifest = read_manifest(self.index_dir)
        except QAError:
            return None, {}  # an unreadable manifest: rebuild everything
        if manifest is None:
            return None, {}
        _check_for_update(manifest, fingerprint)
        try:
            store = load_store(self.index_dir)
        except QAError:
            return None, {}  # a damaged old index is simply rebuilt
        return manifest, dict(zip(store.embedded_hashes, store.vectors))

    def clear(self) -> None:
        pass  # the new store replaces the old one whole

    def refresh(self, manifest: Manifest) -> str | None:
        return None  # the vector index (flat, or HNSW by size) is decided by the chunks alone

    def save(self, fingerprint: Manifest, docs: list[SourceDoc], chunks: list[Chunk], vectors: np.ndarray) -> None:
        save_store(self.index_dir, fingerprint, docs, chunks, vectors)


@dataclass
class PostgresTarget:
    """PostgreSQL + pgvector: the build is one transaction holding the build lock (qa/pgstore.py)."""

    url: str
    dim: int
    ann: str = "ivfflat"
    hnsw_m: int = 32
    ef_construction: int = 128
    exact_below: int = 50_000
    build_memory: str = "4GB"
    stage: Callable[[str], None] | None = None  # told of each long step of a large build
    _writer: PostgresWriter | None = None

    @contextmanager
    def session(self) -> Iterator[PostgresTarget]:
        writer = PostgresWriter(
            self.url,
            self.dim,
            ann=self.ann,
            hnsw_m=self.hnsw_m,
            ef_construction=self.ef_construction,
            exact_below=self.exact_below,
            build_memory=self.build_memory,
            stage=self.stage,
        )
        with writer:
            self._writer = writer
            try:
                yield self
            finally:
                self._writer = None

    @property
    def writer(self) -> PostgresWriter:
        assert self._writer is not None, "use PostgresTarget inside session()"
        return self._writer

    def previous(self, fingerprint: Manifest, chunks: list[Chunk]) -> tuple[Manifest | None, dict[str, np.ndarray]]:
        manifest = self.writer.manifest()
        if manifest is None:
            return None, {}
        _check_for_update(manifest, fingerprint)
        return manifest, self.writer.previous([c.hash for c in chunks])

    def clear(self) -> None:
        self.writer.clear()

    def refresh(self, manifest: Manifest) -> str | None:
        return self.writer.refresh(manifest)

    def save(self, fingerprint: Manifest, docs: list[SourceDoc], chunks: list[Chunk], vectors: np.ndarray) -> None:
        self.writer.save(fingerprint, docs, chunks, vectors)


def _check_for_update(manifest: Manifest, fingerprint: Manifest) -> None:
    try:
        check_manifest(manifest, fingerprint)
    except IndexMismatchError as e:
        raise IndexMismatchError(f"{e} (it was built with other settings)") from None


def chunks_digest(chunks: list[Chunk]) -> str:
    """One hash of the chunk list: an index whose files did not change is still rewritten when the chunking
    did (a new version that names pages, say), though no vector is embedded again."""
    rows = (
        json.dumps([c.chunk_id, c.start, c.end, c.title, c.metadata.to_dict(), c.hash], sort_keys=True) for c in chunks
    )
    return content_hash("\n".join(rows))


def _embed(
    chunks: list[Chunk], old_vectors: dict[str, np.ndarray], embedder: Embedder, progress: Callable | None
) -> tuple[np.ndarray, int]:
    # Shortest first, so each batch holds texts of like length and little of it is padding (1.3× here).
    todo = [i for i, c in enumerate(chunks) if c.hash not in old_vectors]
    todo.sort(key=lambda i: len(chunks[i].embed_text))
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    for i, c in enumerate(chunks):
        if c.hash in old_vectors:
            vectors[i] = old_vectors[c.hash]
    for batch_start in range(0, len(todo), EMBED_BATCH):
        batch = todo[batch_start : batch_start + EMBED_BATCH]
        vectors[batch] = embedder.embed([chunks[i].embed_text for i in batch])
        if progress:
            progress(min(batch_start + EMBED_BATCH, len(todo)), len(todo))
    return vectors, len(todo)
