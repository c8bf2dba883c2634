"""index/load.py: every file that cannot be read is skipped with one reason; the rest load; nothing raises."""

from __future__ import annotations

import os
import random
import shutil

import pytest
from documents import pdf_bytes

import index.load
from index.load import Skipped, load_corpus, read_text

GOOD = "A good document about trafficking in human beings.\nIt has two lines.\n"


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` in Helvetica (tests/documents.py writes it)."""
    return pdf_bytes([text])


def blank_pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "good.txt").write_text(GOOD, encoding="utf-8")
    return root


def load_with(corpus, name: str, data: bytes) -> tuple[list, list[Skipped]]:
    path = corpus / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return load_corpus(corpus)


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("empty.txt", b"", "no text"),
        ("blank.md", b" \n\n\t \n", "no text"),
        ("binary.txt", b"abc\x00\x01\x02def" * 10, "binary file"),
        ("latin1.txt", "Café in Zürich, 1 € only".encode("latin-1", errors="replace"), "not UTF-8 (byte 3)"),
        ("photo.png", b"\x89PNG\r\n\x1a\n", "unsupported type .png"),
        ("Makefile", b"all:\n\techo hi\n", "unsupported type (none)"),
        ("broken.pdf", random.Random(0).randbytes(64) + b"random bytes, not a PDF", "broken PDF"),
        ("truncated.pdf", minimal_pdf("Hello there")[:120], "broken PDF"),
        ("blank.pdf", blank_pdf(), "no text"),
    ],
)
def test_bad_file_is_skipped_with_one_reason(corpus, name, data, reason):
    docs, skipped = load_with(corpus, name, data)
    assert [d.source for d in docs] == ["good.txt"]
    assert len(skipped) == 1 and skipped[0].source == name
    assert skipped[0].reason.startswith(reason)


def test_duplicate_file_is_skipped_once(corpus):
    shutil.copy(corpus / "good.txt", corpus / "z_copy.txt")
    (corpus / "sub").mkdir()
    shutil.copy(corpus / "good.txt", corpus / "sub" / "again.md")
    docs, skipped = load_corpus(corpus)
    assert [d.source for d in docs] == ["good.txt"]
    assert skipped == [Skipped("sub/again.md", "duplicate of good.txt"), Skipped("z_copy.txt", "duplicate of good.txt")]


def test_too_large_file_is_skipped(corpus, monkeypatch):
    monkeypatch.setattr(index.load, "MAX_FILE_BYTES", 1024)
    docs, skipped = load_with(corpus, "big.txt", b"word " * 1000)
    assert [d.source for d in docs] == ["good.txt"]
    assert [s.source for s in skipped] == ["big.txt"] and skipped[0].reason.startswith("too large")


def test_dangling_symlink_is_skipped(corpus):
    os.symlink(corpus / "missing.txt", corpus / "dangling.txt")
    docs, skipped = load_corpus(corpus)
    assert [d.source for d in docs] == ["good.txt"]
    assert [s.source for s in skipped] == ["dangling.txt"] and skipped[0].reason.startswith("cannot read")


def test_symlink_loop_does_not_hang_and_the_rest_loads(corpus):
    (corpus / "sub").mkdir()
    (corpus / "sub" / "inner.txt").write_text("An inner document.\n")
    os.symlink(corpus, corpus / "loop")
    os.symlink(corpus / "sub", corpus / "sub" / "loop")
    docs, skipped = load_corpus(corpus)
    assert [d.source for d in docs] == ["good.txt", "sub/inner.txt"]
    assert all(s.source in {"loop", "sub/loop"} for s in skipped)


def test_symlinked_folder_is_reported_as_skipped(corpus):
    os.symlink(corpus, corpus / "loop")
    _, skipped = load_corpus(corpus)
    assert [s.source for s in skipped] == ["loop"]


def test_hidden_files_and_folders_are_ignored(corpus):
    (corpus / ".git").mkdir()
    (corpus / ".git" / "notes.txt").write_text("Hidden document.\n")
    (corpus / ".draft.txt").write_text("Hidden draft.\n")
    docs, skipped = load_corpus(corpus)
    assert [d.source for d in docs] == ["good.txt"] and skipped == []


def test_loaded_documents_are_in_sorted_order_with_hashes(corpus):
    (corpus / "a").mkdir()
    (corpus / "a" / "z.md").write_text("# Z\nZed.\n")
    (corpus / "b.txt").write_text("Bee.\n")
    docs, _ = load_corpus(corpus)
    assert [d.source for d in docs] == ["a/z.md", "b.txt", "good.txt"]
    assert all(len(d.file_hash) == 16 for d in docs) and len({d.file_hash for d in docs}) == 3


def test_utf8_with_bom_is_read(corpus):
    docs, skipped = load_with(corpus, "bom.txt", "\ufeffWith a byte order mark.\n".encode("utf-8"))
    assert skipped == []
    assert next(d for d in docs if d.source == "bom.txt").text == "With a byte order mark.\n"


def test_a_small_real_pdf_is_read(corpus):
    docs, skipped = load_with(corpus, "report.pdf", minimal_pdf("Only 34 of the 57 signatories do."))
    assert skipped == []
    assert (
        next(d for d in docs if d.source == "report.pdf").text.rstrip() == "\fpage 1\nOnly 34 of the 57 signatories do."
    )


def test_pdf_with_a_damaged_trailer_is_skipped(corpus):
    damaged = minimal_pdf("Hello world").replace(b"trailer\n<<", b"trailer\n.<")
    docs, skipped = load_with(corpus, "damaged.pdf", damaged)
    assert [d.source for d in docs] == ["good.txt"]
    assert [s.source for s in skipped] == ["damaged.pdf"] and skipped[0].reason.startswith("broken PDF")


HTML = """<!doctype html>
<html><head><title>Trafficking report</title>
<style>body { color: red; } .menu { display: none; }</style>
<script>var secret = "tracking code";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/menu">Site menu link</a></nav>
<h1>Trafficking report</h1>
<p>Only 34 of the 57 signatories criminalise the use of victims.</p>
<ul><li>First finding</li><li>Second finding</li></ul>
<footer>Copyright footer</footer>
</body></html>"""


def test_html_keeps_text_and_drops_scripts_styles_and_navigation(corpus):
    docs, skipped = load_with(corpus, "page.html", HTML.encode("utf-8"))
    assert skipped == []
    text = next(d for d in docs if d.source == "page.html").text
    for kept in ("Trafficking report", "Only 34 of the 57 signatories", "First finding", "Second finding"):
        assert kept in text
    for dropped in ("secret", "color: red", "Site menu link", "Copyright footer"):
        assert dropped not in text
    assert "First finding\n" in text  # block elements end their line


def test_read_text_decodes_plain_text_by_suffix():
    assert read_text(b"Plain <b>text</b>.", ".md") == "Plain <b>text</b>."
