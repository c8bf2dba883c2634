"""Service: index/'s implementation of qa.corpus.Indexing, for clients that may not import index (web uploads)."""

from __future__ import annotations

from index.load import MAX_FILE_BYTES, SUPPORTED, Unreadable, read_text
from qa.corpus import BuildOutcome, UnreadableError


class FolderIndexing:
    supported = frozenset(SUPPORTED)
    max_file_bytes = MAX_FILE_BYTES

    def read(self, data: bytes, suffix: str) -> str:
        try:
            return read_text(data, suffix)
        except Unreadable as e:
            raise UnreadableError(str(e)) from e

    def build(self, settings, embedder, progress=None) -> BuildOutcome:
        from index.build import build_index
        from index.cli import index_target

        target = index_target(settings, embedder.dim)
        report = build_index(settings.corpus_dir, target, embedder, settings.chunker, progress=progress)
        return BuildOutcome(report.summary(), [(s.source, s.reason) for s in report.skipped])

    def remove(self, settings, embedder) -> None:
        import os
        import shutil
        import uuid

        if settings.database_url is not None:
            from index.pgwrite import PostgresWriter

            with PostgresWriter(settings.database_url.get_secret_value(), embedder.dim) as writer:
                writer.clear()  # every row, the manifest too: it reads as never built
            return
        index_dir = settings.index_dir
        if index_dir.exists():
            gone = index_dir.with_name(f".{index_dir.name}.removed-{uuid.uuid4().hex[:8]}")
            os.rename(index_dir, gone)  # at once: a reader sees the whole index or none
            shutil.rmtree(gone, ignore_errors=True)
