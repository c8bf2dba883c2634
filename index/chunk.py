"""Chunk: split cleaned documents into sections, then pack whole sentences into chunks.

    chunks = chunk_document(doc, target_chars=500, max_chars=900)
    doc.text[chunks[0].start:chunks[0].end] == chunks[0].text

A section starts at a markdown heading or at a headline followed by a date line ("Publishing date: …",
"- Date:"), so each item of a news list is its own unit and carries its own title and metadata.
Sentences are never split: one longer than `max_chars` becomes a chunk on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.metadata import extract_metadata, is_date_key
from qa.records import Chunk, SourceDoc
from qa.sentences import is_anaphoric, sentence_spans


@dataclass(frozen=True)
class Section:
    title: str
    start: int  # offsets into the document's cleaned text
    end: int
    metadata: dict[str, str]


def chunk_corpus(docs: list[SourceDoc], target_chars: int = 500, max_chars: int = 900) -> list[Chunk]:
    return [c for doc in docs for c in chunk_document(doc, target_chars, max_chars)]


def chunk_document(doc: SourceDoc, target_chars: int = 500, max_chars: int = 900) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in find_sections(doc):
        spans = [(section.start + s, section.start + e) for s, e in sentence_spans(doc.text[section.start : section.end])]
        leans_back = [is_anaphoric(doc.text[s:e]) for s, e in spans]
        for start, end in _pack(spans, target_chars, max_chars, leans_back):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.source}#{len(chunks)}",
                    source=doc.source,
                    title=section.title,
                    text=doc.text[start:end],
                    start=start,
                    end=end,
                    metadata=section.metadata,
                )
            )
    return chunks


def find_sections(doc: SourceDoc) -> list[Section]:
    lines = doc.text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    starts = [i for i in range(len(lines)) if _starts_section(lines, i)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    sections = []
    for k, first in enumerate(starts):
        last = starts[k + 1] if k + 1 < len(starts) else len(lines)
        title, fields = extract_metadata(lines[first:last])
        is_preamble = first == 0 and not _starts_section(lines, 0)
        if lines[first].startswith("#"):
            section_title = lines[first].lstrip("# ").strip() or doc.title
        else:
            section_title = doc.title if is_preamble or not title else lines[first]
        # a preamble before the first dated section (a site menu, a page header) is not dated by it
        metadata = (dict(doc.metadata) if len(starts) == 1 else {}) if is_preamble else fields
        sections.append(Section(section_title, offsets[first], offsets[last] - 1, metadata))
    return sections


def _starts_section(lines: list[str], i: int) -> bool:
    if lines[i].startswith("#"):
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
            chunks.append((start, end))
            overlap = leans_back is not None and leans_back[i] and e - spans[i - 1][0] <= max_chars
            start, end = (spans[i - 1][0] if overlap else s), e
        else:
            end = e
    if start >= 0:
        if chunks and end - start < target_chars // 3 and end - chunks[-1][0] <= max_chars:
            start = chunks.pop()[0]  # fold a short tail into the chunk before it
        chunks.append((start, end))
    return chunks
