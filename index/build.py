"""Build: corpus folder -> index store, re-embedding only chunks whose text changed.

report = build_index(Path("seeds"), Path("index/store"), embedder, ChunkerSettings())
report.summary() == "5 files, 40 chunks (40 embedded, 0 reused); +5 ~0 -0 files; 0 skipped"

load -> clean -> chunk -> embed (new chunks only) -> save (temp folder, renamed into place)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.chunk import chunk_corpus
from index.clean import clean_corpus
from index.load import Skipped, load_corpus
from qa.embed import Embedder
from qa.errors import CorpusError, IndexMismatchError, QAError
from qa.records import Chunk, ChunkerSettings, Manifest  # noqa: F401  (ChunkerSettings: re-exported for callers)
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

    def summary(self) -> str:
        if self.unchanged:
            return f"index is up to date: {self.files} files, {self.chunks} chunks; {len(self.skipped)} skipped"
        return (
            f"{self.files} files, {self.chunks} chunks ({self.embedded} embedded, {self.reused} reused); "
            f"+{len(self.added)} ~{len(self.changed)} -{len(self.deleted)} files; {len(self.skipped)} skipped; "
            f"{self.seconds:.1f} s"
        )


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunker: ChunkerSettings = ChunkerSettings(),
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    started = time.perf_counter()
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist")
    raw_docs, skipped = load_corpus(corpus_dir)
    if not raw_docs:
        raise CorpusError(
            f"no readable documents in {corpus_dir} (.txt, .md, .html, .pdf; {len(skipped)} skipped) — "
            "the index was not changed",
            skipped,
        )
    docs = clean_corpus(raw_docs, chunker.boilerplate_min_lines)
    chunks = chunk_corpus(docs, chunker.chunk_chars, chunker.chunk_max_chars)
    fingerprint = settings_fingerprint(embedder.name, embedder.dim, chunker)

    old_files, old_vectors = ({}, {}) if rebuild else _previous(index_dir, fingerprint)
    new_files = {d.source: d.file_hash for d in docs}
    added = sorted(set(new_files) - set(old_files))
    deleted = sorted(set(old_files) - set(new_files))
    changed = sorted(s for s in new_files if s in old_files and old_files[s] != new_files[s])
    if old_files and not (added or deleted or changed) and all(c.hash in old_vectors for c in chunks):
        return BuildReport(len(docs), len(chunks), 0, len(chunks), skipped=skipped, unchanged=True)

    vectors, embedded = _embed(chunks, old_vectors, embedder, progress)
    save_store(index_dir, fingerprint, docs, chunks, vectors)
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


def _previous(index_dir: Path, fingerprint: Manifest) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """The old index's file hashes and vectors by chunk hash; nothing if there is no usable old index."""
    try:
        manifest = read_manifest(index_dir)
    except QAError:
        return {}, {}  # an unreadable manifest: rebuild everything
    if manifest is None:
        return {}, {}
    try:
        check_manifest(manifest, fingerprint)
    except IndexMismatchError as e:
        raise IndexMismatchError(f"{e} (it was built with other settings)") from None
    try:
        store = load_store(index_dir)
    except QAError:
        return {}, {}  # a damaged old index is simply rebuilt
    return manifest.files, dict(zip(store.embedded_hashes, store.vectors))


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
