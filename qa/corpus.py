"""Corpus: what a client (the web app's uploads) may ask of the indexing package without importing it.

    indexing = corpus_indexing()            # index/'s implementation, found through the `qa.indexing` entry point
    text = indexing.read(data, ".docx")     # the file's text, or UnreadableError with the reason
    outcome = indexing.build(settings, embedder, progress)   # an incremental build of settings.corpus_dir
    indexing.remove(settings, embedder)     # no index at all (a collection whose last document went)

The packages import `qa` and not each other (../shared/STYLE.md); this protocol is the seam, as `qa.commands`
is for subcommands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from qa.errors import QAError


class UnreadableError(QAError):
    """A file that is not indexed; the message is the reason shown to the user."""

    http_status = 422


@dataclass(frozen=True)
class BuildOutcome:
    summary: str  # "6 files, 42 chunks (1 embedded, 41 reused); …"
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason) the build left out


class Indexing(Protocol):
    supported: frozenset[str]  # file name suffixes read, ".pdf"
    max_file_bytes: int

    def read(self, data: bytes, suffix: str) -> str:
        """The text of one file's bytes, or UnreadableError."""
        ...

    def build(self, settings, embedder, progress: Callable[[int, int], None] | None = None) -> BuildOutcome:
        """An incremental build of settings.corpus_dir into its index (files or database); QAError on failure,
        the old index unchanged."""
        ...

    def remove(self, settings, embedder) -> None:
        """Remove settings' index whole (its folder, or every row of its database schema): afterwards it reads
        as never built."""
        ...


def corpus_indexing() -> Indexing:
    from importlib.metadata import entry_points

    found = sorted(entry_points(group="qa.indexing"), key=lambda e: e.name)
    if not found:
        raise QAError("no indexing package is installed (entry point group qa.indexing) — reinstall qa")
    return found[0].load()()
