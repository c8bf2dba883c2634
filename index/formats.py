"""Formats: Office, e-book, table and reStructuredText files to the plain text the later stages read.

    text = document_text(Path("report.docx").read_bytes(), ".docx")

Each format goes through a well-kept reader, and where that reader writes HTML the page converter
(index/convert.py) does the rest, so headings, definition lists, tables and code keep the same structure
whatever the source:
- .docx: mammoth's HTML; .odt: odfpy's XHTML; .rst: docutils' HTML; .epub: its chapters' XHTML, in the
  order of the book's spine;
- .pptx: markitdown's text of each slide (title as a heading, text frames, tables, notes), each slide
  starting with a location line "slide N";
- .xlsx and .csv: one heading per sheet, then one line per row naming each cell by its column's header
  ("Region: Vienna; Staff: 34"), so a row retrieved alone still says what its numbers are; a sheet starts
  with a location line "sheet NAME";
- .pdf: pypdf's text of each page, each page starting with a location line "page N".

A location line is LOCATION_MARK followed by its label; index/clean.py takes these lines out of the text and
keeps their offsets, so that a citation can name the page, slide or sheet it quotes.
"""

from __future__ import annotations

import csv
import io
import logging
import posixpath
import re
import zipfile

from index.convert import html_to_text

LOCATION_MARK = "\f"  # a form feed, the page break of plain text, starts a location line
MAX_ROWS = 20_000  # rows read from one sheet or CSV file
MAX_CELL_CHARS = 2_000


class FormatError(Exception):
    """The file cannot be read as its type; the message is the reason shown to the user."""


def location_line(label: str) -> str:
    return f"{LOCATION_MARK}{label}"


def document_text(data: bytes, suffix: str) -> str:
    """The text of one file of a converted type (`CONVERTED`), or FormatError."""
    read = CONVERTED[suffix]
    try:
        return read(data)
    except FormatError:
        raise
    except Exception as e:  # readers parse untrusted bytes and fail in many ways; any of them means skip
        raise FormatError(_reason(suffix, e)) from e


def _reason(suffix: str, error: Exception) -> str:
    if isinstance(error, zipfile.BadZipFile) or "zip" in str(error).lower():
        return f"broken {suffix[1:].upper()} (not a zip archive; encrypted or damaged?)"
    return f"broken {suffix[1:].upper()} ({type(error).__name__})"


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    # pypdf logs each repair of a damaged file to stderr; the skip reason (or a clean load) says enough
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise FormatError("password-protected PDF")
    pages = [page.extract_text() or "" for page in reader.pages]
    return "\n".join(f"{location_line(f'page {n}')}\n{text}" for n, text in enumerate(pages, start=1) if text.strip())


def docx_text(data: bytes) -> str:
    import mammoth

    result = mammoth.convert_to_html(io.BytesIO(data))
    return html_to_text(f"<html><body>{result.value}</body></html>")


def odt_text(data: bytes) -> str:
    from odf.odf2xhtml import ODF2XHTML

    return html_to_text(ODF2XHTML(generate_css=False, embedable=True).odf2xhtml(io.BytesIO(data)))


def rst_text(data: bytes) -> str:
    from docutils.core import publish_string

    html = publish_string(
        data.decode("utf-8-sig"),
        writer="html4css1",  # html5 puts admonitions ("note", "warning") in <aside>, which pages use for sidebars
        settings_overrides={
            "report_level": 5,  # markup errors do not stop the conversion; the text is still read
            "halt_level": 5,
            "file_insertion_enabled": False,  # `.. include::` and `.. raw::` could read other files
            "raw_enabled": False,
            "doctitle_xform": False,  # a lone first section stays a heading, not a subtitle
        },
    )
    return html_to_text(html.decode("utf-8"))


def epub_text(data: bytes) -> str:
    """The book's chapters in spine order (META-INF/container.xml names the package file that lists them)."""
    from defusedxml import ElementTree

    with zipfile.ZipFile(io.BytesIO(data)) as book:
        container = ElementTree.fromstring(book.read("META-INF/container.xml"))
        package_path = next(e.get("full-path") for e in container.iter() if e.tag.endswith("rootfile"))
        package = ElementTree.fromstring(book.read(package_path))
        items = {e.get("id"): e.get("href") for e in package.iter() if e.tag.endswith("}item")}
        spine = [e.get("idref") for e in package.iter() if e.tag.endswith("}itemref")]
        folder = posixpath.dirname(package_path)
        chapters = []
        for idref in spine:
            href = items.get(idref)
            if href:
                path = posixpath.normpath(posixpath.join(folder, href.split("#")[0]))
                chapters.append(html_to_text(book.read(path).decode("utf-8", errors="replace")))
    return "\n".join(c for c in chapters if c.strip())


def pptx_text(data: bytes) -> str:
    from markitdown import StreamInfo
    from markitdown.converters import PptxConverter

    markdown = PptxConverter().convert(io.BytesIO(data), StreamInfo(extension=".pptx")).markdown
    return SLIDE_COMMENT.sub(lambda m: location_line(f"slide {m.group(1)}"), markdown)


SLIDE_COMMENT = re.compile(r"^<!-- Slide number: (\d+) -->$", re.MULTILINE)


def xlsx_text(data: bytes) -> str:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = [
            table_text(sheet.title, (row for _, row in zip(range(MAX_ROWS), sheet.iter_rows(values_only=True))))
            for sheet in workbook.worksheets
        ]
    finally:
        workbook.close()
    return "\n".join(s for s in sheets if s)


def csv_text(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FormatError(f"not UTF-8 (byte {e.start})") from e
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    return table_text("", (row for _, row in zip(range(MAX_ROWS), rows)))


def table_text(name: str, rows) -> str:
    """A sheet as lines: its name as heading and location, then each row with its cells named by the header.

    table_text("Staff", [("Region", "Staff"), ("Vienna", 34)]) == "\\fsheet Staff\\n## Staff\\nRegion: Vienna; Staff: 34"
    """
    lines = [location_line(f"sheet {name}"), f"## {name}"] if name else []
    header: list[str] = []
    for row in rows:
        cells = [_cell(v) for v in row]
        if not any(cells):
            continue
        if not header:
            header = cells
            lines.append(" | ".join(c for c in cells if c))
            continue
        named = [f"{h}: {c}" if h else c for h, c in zip(header + [""] * len(cells), cells) if c]
        lines.append("; ".join(named))
    return "\n".join(lines) if header else ""


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())[:MAX_CELL_CHARS]


CONVERTED = {
    ".pdf": pdf_text,
    ".docx": docx_text,
    ".odt": odt_text,
    ".rst": rst_text,
    ".epub": epub_text,
    ".pptx": pptx_text,
    ".xlsx": xlsx_text,
    ".csv": csv_text,
}
