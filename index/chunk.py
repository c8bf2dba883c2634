"""Chunk: split cleaned documents into sections, then pack whole sentences into chunks.

    chunks = chunk_document(doc, target_chars=500, max_chars=900)
    doc.text[chunks[0].start:chunks[0].end] == chunks[0].text

A section starts at a markdown heading or at a headline followed by a date line ("Publishing date: …",
"- Date:"), so each item of a news list is its own unit and carries its own title and metadata. A heading's
section is titled by its path ("git-clean(1) Manual Page › OPTIONS"); a heading with no text of its own
joins the section after it. A page, slide or sheet (`SourceDoc.locations`) starts a new piece of its section,
its chunks' `metadata.location`. A chunk that starts inside a definition-list entry is titled by its term too. Sentences are never split, and a ``` code block is kept whole: a unit longer
than `max_chars` becomes a chunk on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from index.metadata import extract_metadata, is_date_key
from qa.records import SECTION_SEPARATOR, Chunk, Metadata, SourceDoc
from qa.sentences import code_blocks, code_lines, entry_at, heading, is_anaphoric, sentence_spans

TITLE_SEPARATOR = SECTION_SEPARATOR


@dataclass(frozen=True)
class Section:
    title: str
    start: int  # offsets into the document's cleaned text
    end: int
    metadata: Metadata


def chunk_corpus(docs: list[SourceDoc], target_chars: int = 500, max_chars: int = 900) -> list[Chunk]:
    return [c for doc in docs for c in chunk_document(doc, target_chars, max_chars)]


def chunk_document(doc: SourceDoc, target_chars: int = 500, max_chars: int = 900) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in located(find_sections(doc), doc.locations):
        spans = units(doc.text[section.start : section.end], section.start)
        leans_back = [is_anaphoric(doc.text[s:e]) for s, e in spans]
        for start, end in _pack(spans, target_chars, max_chars, leans_back):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.source}#{len(chunks)}",
                    source=doc.source,
                    title=_title(doc.text, section, start),
                    text=doc.text[start:end],
                    start=start,
                    end=end,
                    metadata=section.metadata,
                )
            )
    return chunks


def _title(text: str, section: Section, start: int) -> str:
    """The section's title; a chunk that starts inside a definition-list entry adds the entry's term
    ("git-gc(1) Manual Page › CONFIGURATION › gc.auto"), which its text has left behind in the chunk before."""
    entry = entry_at(text, start)
    if entry is None or entry[0] == start or entry[0] < section.start:
        return section.title
    return f"{section.title}{TITLE_SEPARATOR}{entry[1]}"


def units(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """What chunks are packed from: sentence spans, except that a ``` code block is one unit, fences included."""
    blocks = code_blocks(text)
    spans = [(s, e) for s, e in sentence_spans(text) if not any(bs <= s < be for bs, be in blocks)]
    return [(offset + s, offset + e) for s, e in sorted(spans + blocks)]


def find_sections(doc: SourceDoc) -> list[Section]:
    lines = doc.text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    code = code_lines(lines)
    starts = [i for i in range(len(lines)) if i not in code and _starts_section(lines, i)]
    starts = [i for k, i in enumerate(starts) if not (k and _heading_only(lines, starts[k - 1], i))]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    titles = _heading_paths(lines, code)
    sections = []
    for k, first in enumerate(starts):
        last = starts[k + 1] if k + 1 < len(starts) else len(lines)
        title, fields = extract_metadata(lines[first:last])
        is_preamble = first == 0 and not _starts_section(lines, 0)
        if heading(lines[first]):
            section_title = titles[_last_heading(lines, first, last)] or doc.title
        else:
            section_title = doc.title if is_preamble or not title else lines[first]
        # a preamble before the first dated section (a site menu, a page header) is not dated by it
        metadata = (doc.metadata if len(starts) == 1 else Metadata()) if is_preamble else fields
        sections.append(Section(section_title, offsets[first], offsets[last] - 1, metadata))
    return sections


def located(sections: list[Section], locations: tuple[tuple[int, str], ...]) -> list[Section]:
    """`sections` cut where a page, slide or sheet starts, each piece with its location in its metadata (a
    chunk never spans two pages, so a citation names one)."""
    if not locations:
        return sections
    pieces = []
    for section in sections:
        starts = [section.start] + [at for at, _ in locations if section.start < at < section.end]
        for k, start in enumerate(starts):
            end = starts[k + 1] - 1 if k + 1 < len(starts) else section.end
            label = next((name for at, name in reversed(locations) if at <= start), "")
            pieces.append(replace(section, start=start, end=end, metadata=replace(section.metadata, location=label)))
    return pieces


def _heading_only(lines: list[str], start: int, following: int) -> bool:
    """A section that is a heading line directly followed by another heading: the two are one section."""
    return following == start + 1 and bool(heading(lines[start])) and bool(heading(lines[following]))


def _last_heading(lines: list[str], first: int, last: int) -> int:
    """The last of the heading lines a section starts with (a merged "# Page" + "## NAME" is titled by NAME)."""
    i = first
    while i + 1 < last and heading(lines[i + 1]):
        i += 1
    return i


def _heading_paths(lines: list[str], code: set[int]) -> dict[int, str]:
    """For each heading line, the path of headings it sits under: "Page › OPTIONS" for "## OPTIONS"."""
    stack: list[tuple[int, str]] = []
    paths: dict[int, str] = {}
    for i, line in enumerate(lines):
        found = None if i in code else heading(line)
        if found:
            level, text = found
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, text)]
            paths[i] = TITLE_SEPARATOR.join(t for _, t in stack)
    return paths


def _starts_section(lines: list[str], i: int) -> bool:
    if heading(lines[i]):
        return True
    return i + 1 < len(lines) and not is_date_key(lines[i]) and is_date_key(lines[i + 1])


def _pack(
    spans: list[tuple[int, int]], target_chars: int, max_chars: int, leans_back: list[bool] | None = None
) -> list[tuple[int, int]]:
    """Group consecutive sentence spans into chunks of about target_chars, never over max_chars
    unless a single sentence is longer. A chunk that would start with a sentence leaning on the one
    before it ("These include …") starts one sentence earlier, so the two are retrieved together."""
    chunks: list[tuple[int, int]] = []
    start = end = -1
    for i, (s, e) in enumerate(spans):
        if start < 0:
            start, end = s, e
        elif end - start >= target_chars or e - start > max_chars:
            overlap = leans_back is not None and leans_back[i] and e - spans[i - 1][0] <= max_chars
            if not (overlap and start == spans[i - 1][0]):  # else the chunk so far is that one sentence: grow it
                chunks.append((start, end))
            start, end = (spans[i - 1][0] if overlap else s), e
        else:
            end = e
    if start >= 0:
        if chunks and end - start < target_chars // 3 and end - chunks[-1][0] <= max_chars:
            start = chunks.pop()[0]  # fold a short tail into the chunk before it
        chunks.append((start, end))
    return chunks
