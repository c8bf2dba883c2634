"""index/formats.py: Office, e-book, table and reStructuredText files become text with their structure, each
chunk knows its page, slide or sheet, and a file that cannot be read is skipped with one reason."""

from __future__ import annotations

import io
import random

import pytest
from documents import docx_bytes, epub_bytes, odt_bytes, pdf_bytes, pptx_bytes, xlsx_bytes

from index.chunk import chunk_corpus
from index.clean import clean_corpus
from index.load import load_corpus, read_text
from qa.records import Metadata, Passage


def chunks_of(tmp_path, name: str, data: bytes):
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / name).write_bytes(data)
    docs, skipped = load_corpus(corpus)
    assert skipped == []
    return chunk_corpus(clean_corpus(docs), target_chars=60, max_chars=200)


def test_docx_keeps_headings_as_section_titles_and_table_rows(tmp_path):
    data = docx_bytes(
        "Annual report",
        [("Budget", ["The budget was 12 million euros in 2024."]), ("Staff", ["Staff grew to 34 people."])],
        table=[["Region", "Staff"], ["Vienna", "34"]],
    )
    chunks = chunks_of(tmp_path, "report.docx", data)
    assert [c.title for c in chunks if "12 million euros" in c.text] == ["Annual report › Budget"]
    assert any("Vienna | 34" in c.text for c in chunks)
    assert Passage("x", "report.docx", "Annual report › Budget", "", 0.0).location == "Budget"


def test_pptx_chunks_name_their_slide(tmp_path):
    data = pptx_bytes([("Findings", ["Victims identified: 120"]), ("Next steps", ["Train 40 judges in 2025."])])
    chunks = chunks_of(tmp_path, "deck.pptx", data)
    located = {c.metadata.location for c in chunks if "judges" in c.text}
    assert located == {"slide 2"}
    assert {c.title for c in chunks if "judges" in c.text} == {"Next steps"}
    assert all(c.metadata.location for c in chunks)


def test_pdf_chunks_name_their_page_and_never_span_two(tmp_path):
    pages = ["The first page is about shelters.", "The second page says 57 States signed.", "Page three ends it."]
    chunks = chunks_of(tmp_path, "report.pdf", pdf_bytes(pages))
    assert [(c.metadata.location, c.text) for c in chunks] == [
        ("page 1", pages[0]),
        ("page 2", pages[1]),
        ("page 3", pages[2]),
    ]
    doc = clean_corpus(load_corpus(tmp_path / "corpus")[0])[0]
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert "page" not in doc.text.replace("page is", "").replace("page says", "").lower().replace("page three", "")


def test_xlsx_rows_name_their_columns_and_sheet(tmp_path):
    data = xlsx_bytes({"Offices": [["Office", "Staff", "Budget"], ["Vienna", 34, 1.5], ["Warsaw", None, 2.0]]})
    chunks = chunks_of(tmp_path, "offices.xlsx", data)
    text = "\n".join(c.text for c in chunks)
    assert "Office: Vienna; Staff: 34; Budget: 1.5" in text
    assert "Office: Warsaw; Budget: 2" in text
    assert {c.metadata.location for c in chunks} == {"sheet Offices"}


def test_csv_rows_name_their_columns():
    text = read_text(b"name;age\nAnn;34\nBob;40\n", ".csv")
    assert text.splitlines()[1:] == ["name: Ann; age: 34", "name: Bob; age: 40"]


def test_odt_epub_and_rst_keep_headings():
    assert read_text(odt_bytes("Minutes", ["The meeting opened at 9."]), ".odt") == (
        "# Minutes\nThe meeting opened at 9."
    )
    # chapters come in the order of the book's spine, not of its file names
    epub = read_text(epub_bytes([("One", "First chapter."), ("Two", "Second chapter.")]), ".epub")
    assert epub == "# Two\nSecond chapter.\n# One\nFirst chapter."
    rst = b"Guide\n=====\n\nInstall\n-------\n\nRun it.\n\n.. note:: Keep a copy.\n\ntimeout\n   How long to wait.\n"
    assert read_text(rst, ".rst").splitlines() == [
        "# Guide",
        "## Install",
        "Run it.",
        "Note",
        "Keep a copy.",
        "timeout: How long to wait.",
    ]


def test_rst_cannot_include_other_files(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the password is hunter2")
    text = read_text(f"Doc\n===\n\n.. include:: {secret}\n\n.. raw:: html\n   <b>raw</b>\n".encode(), ".rst")
    assert "hunter2" not in text and "raw" not in text


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(["Secret page."]))))
    writer.encrypt("a password")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("random.docx", random.Random(1).randbytes(300), "broken DOCX"),
        ("truncated.pptx", pptx_bytes([("A", ["b"])])[:400], "broken PPTX"),
        ("random.xlsx", random.Random(2).randbytes(300), "broken XLSX"),
        ("text.odt", b"not a zip file at all", "broken ODT"),
        ("empty.epub", b"", "broken EPUB"),
        ("latin1.csv", "name\nJos\xe9\n".encode("latin-1"), "not UTF-8"),
        ("locked.pdf", _encrypted_pdf(), "password-protected PDF"),
    ],
)
def test_unreadable_files_are_skipped_with_one_reason(tmp_path, name, data, reason):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("A good document.")
    (corpus / name).write_bytes(data)
    docs, skipped = load_corpus(corpus)
    assert [d.source for d in docs] == ["good.txt"]
    assert len(skipped) == 1 and skipped[0].source == name and skipped[0].reason.startswith(reason)


def test_passage_location_prefers_the_page_to_the_section():
    on_page = Passage("r.pdf#0", "r.pdf", "Report › Results", "", 0.0, metadata=Metadata(location="page 3"))
    assert on_page.location == "page 3"
    assert Passage("n.txt#0", "n.txt", "A news item", "", 0.0).location == ""
