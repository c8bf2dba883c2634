"""Load: read a corpus folder into raw `SourceDoc`s, skipping files that cannot be read.

    docs, skipped = load_corpus(Path("seeds"))
    docs[0].source == "000_d2af82de5b2a880a.txt"
    skipped == [Skipped("photo.png", "unsupported type .png")]

Reads .txt, .md, .html/.htm (converted by index/convert.py: headings, definition lists and code kept, page
furniture dropped), and .pdf, .docx, .pptx, .xlsx, .odt, .epub, .rst, .csv (index/formats.py: with the page,
slide or sheet each part comes from), recursively, in sorted order.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from index.convert import html_to_text
from index.formats import CONVERTED, FormatError, document_text
from qa.records import SourceDoc

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | set(CONVERTED)
MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


class Unreadable(Exception):
    """A file that is skipped; the message is the reason shown to the user."""


def load_corpus(corpus_dir: Path) -> tuple[list[SourceDoc], list[Skipped]]:
    docs: list[SourceDoc] = []
    skipped: list[Skipped] = []
    seen_hashes: dict[str, str] = {}
    files, linked_dirs = _walk(corpus_dir)
    skipped += [Skipped(d, "symlinked folder not followed") for d in linked_dirs]
    for path in files:
        source = path.relative_to(corpus_dir).as_posix()
        try:
            data = _read_bytes(path)
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen_hashes:
                raise Unreadable(f"duplicate of {seen_hashes[digest]}")
            text = read_text(data, path.suffix.lower())
            if not text.strip():
                raise Unreadable("no text")
        except Unreadable as e:
            skipped.append(Skipped(source, str(e)))
            continue
        seen_hashes[digest] = source
        docs.append(SourceDoc(source=source, text=text, file_hash=digest[:16]))
    return docs, skipped


def _walk(corpus_dir: Path) -> tuple[list[Path], list[str]]:
    """Files under corpus_dir in sorted order, and the symlinked folders left out (so loops cannot hang)."""
    files, linked = [], []
    for dirpath, dirnames, filenames in os.walk(corpus_dir, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        linked += [
            (Path(dirpath) / d).relative_to(corpus_dir).as_posix() for d in dirnames if (Path(dirpath) / d).is_symlink()
        ]
        files.extend(Path(dirpath) / f for f in filenames if not f.startswith("."))
    return sorted(files, key=lambda p: p.relative_to(corpus_dir).as_posix()), sorted(linked)


def _read_bytes(path: Path) -> bytes:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise Unreadable(f"unsupported type {suffix or '(none)'}")
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block the build forever, /dev/zero would fill memory
            raise Unreadable("not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise Unreadable(f"too large ({st.st_size // 1_048_576} MiB > {MAX_FILE_BYTES // 1_048_576} MiB)")
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # a file that grew since stat() is still bounded
        if len(data) > MAX_FILE_BYTES:
            raise Unreadable(f"too large (> {MAX_FILE_BYTES // 1_048_576} MiB)")
        return data
    except OSError as e:
        raise Unreadable(f"cannot read ({e.strerror or e})") from e


def read_text(data: bytes, suffix: str) -> str:
    """Decode one file's bytes into plain text by its type."""
    if suffix in CONVERTED:
        try:
            return document_text(data, suffix)
        except FormatError as e:
            raise Unreadable(str(e)) from e
    if b"\x00" in data[:8192]:
        raise Unreadable("binary file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise Unreadable(f"not UTF-8 (byte {e.start})") from e
    return html_to_text(text) if suffix in HTML_SUFFIXES else text


def supported_types() -> str:
    """ ".csv, .docx, …" for messages."""
    return ", ".join(sorted(SUPPORTED))
