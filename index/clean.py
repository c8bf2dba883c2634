"""Clean: normalise text and drop boilerplate repeated across documents, keeping one copy of it.

    docs = clean_corpus(load_corpus(Path("seeds"))[0])

A block is boilerplate when at least `min_block_lines` of its lines also occur in another document (the
site menu three seed pages start with). The first document that has a block keeps it, so facts that live
only there stay answerable; later documents drop the lines already kept. Nothing else is removed except
lone "-" lines and blank lines; whitespace and unicode are normalised and hard-wrapped lines rejoined, except
inside ``` code fences, whose lines and spacing are kept. Location lines (index/formats.py: "page 3",
"slide 2") leave the text; their offsets go to `SourceDoc.locations`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import replace

from index.formats import LOCATION_MARK
from index.metadata import extract_metadata
from qa.records import SourceDoc
from qa.sentences import heading

MAX_GAP = 2  # short lines that differ inside a repeated block ("Czechia" / "Czech Republic") do not end it
MAX_GAP_WORDS = 6  # a longer line (a headline) always ends a block
MAX_LABEL_CHARS = 60
BULLET_ONLY = re.compile(r"^[-–—•*·]+$")
SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
ZERO_WIDTH = re.compile(r"[\u200c\u200d\u2060\ufeff\u00ad]")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
FENCE = "```"
HTML = (".html", ".htm")


def clean_corpus(docs: list[SourceDoc], min_block_lines: int = 10) -> list[SourceDoc]:
    # HTML has explicit blocks (index/convert.py): only plain text and PDFs carry hard-wrapped lines to rejoin
    line_lists = [normalise_lines(doc.text, rejoin=not doc.source.lower().endswith(HTML)) for doc in docs]
    kept = remove_boilerplate(line_lists, min_block_lines)
    cleaned = []
    for doc, lines, kept_lines in zip(docs, line_lists, kept):
        title, metadata = extract_metadata([line for line in lines if not is_location(line)])
        text, locations = without_locations(kept_lines)
        cleaned.append(replace(doc, text=text, title=title or doc.source, metadata=metadata, locations=locations))
    return cleaned


def is_location(line: str) -> bool:
    return line.startswith(LOCATION_MARK)


def without_locations(lines: list[str]) -> tuple[str, tuple[tuple[int, str], ...]]:
    """The text of `lines` without their location lines, and where each location starts in it.

    without_locations(["\\fpage 1", "A.", "\\fpage 2", "B."]) == ("A.\\nB.", ((0, "page 1"), (3, "page 2")))
    """
    text_lines: list[str] = []
    locations: list[tuple[int, str]] = []
    offset = 0
    for line in lines:
        if is_location(line):
            if locations and locations[-1][0] == offset:
                locations.pop()  # a location with no text of its own (an empty page)
            locations.append((offset, line[len(LOCATION_MARK) :]))
            continue
        text_lines.append(line)
        offset += len(line) + 1
    return "\n".join(text_lines), tuple(locations)


def normalise_lines(text: str, rejoin: bool = True) -> list[str]:
    """NFKC, one space between words, no blank or lone-dash lines, hard-wrapped sentence lines rejoined."""
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = ZERO_WIDTH.sub("", text)
    lines: list[str] = []
    joinable = False  # the previous line continues on the next one (no blank line between them)
    in_code = False  # inside a ``` fence: code keeps its lines and its spacing
    for raw in text.split("\n"):
        if raw.startswith(LOCATION_MARK) and not in_code:
            label = SPACES.sub(" ", CONTROL.sub("", raw)).strip()
            if label and len(label) <= MAX_LABEL_CHARS:
                lines.append(LOCATION_MARK + label)
                joinable = False
                continue
        raw = CONTROL.sub("", raw)
        if raw.strip().startswith(FENCE):
            in_code = not in_code
            lines.append(raw.strip())
            joinable = False
            continue
        if in_code:
            if raw.strip():
                lines.append(raw.rstrip().replace("\t", "    "))
            continue
        line = SPACES.sub(" ", raw).strip()
        if not line:
            joinable = False
            continue
        if BULLET_ONLY.match(line):
            continue
        if rejoin and joinable and _continues(lines[-1], line):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
        joinable = True
    return lines


def _continues(previous: str, line: str) -> bool:
    """A PDF-style wrap: the previous line ends mid-sentence and this one starts in lower case (a heading
    is never continued)."""
    ends = previous.endswith((".", "!", "?", ":", ";", '"', "”", ")"))
    return not ends and line[0].islower() and not heading(previous)


def remove_boilerplate(line_lists: list[list[str]], min_block_lines: int) -> list[list[str]]:
    """Drop, from each document, repeated-block lines that an earlier document already kept."""
    doc_freq = Counter(line for lines in line_lists for line in set(lines) if not is_location(line))
    shared = {line for line, n in doc_freq.items() if n >= 2}
    kept_before: set[str] = set()
    result = []
    for lines in line_lists:
        in_block = {i for start, end in _blocks(lines, shared, min_block_lines) for i in range(start, end)}
        result.append(
            [line for i, line in enumerate(lines) if i not in in_block or line not in kept_before or is_location(line)]
        )
        kept_before.update(lines[i] for i in in_block)
    return result


def _blocks(lines: list[str], shared: set[str], min_block_lines: int) -> list[tuple[int, int]]:
    """Index ranges [start, end) of runs with >= min_block_lines shared lines and short gaps."""
    runs: list[list[int]] = []  # indexes of the shared lines of each run
    gap_breaks = True
    for i, line in enumerate(lines):
        if line not in shared:
            gap_breaks = gap_breaks or len(line.split()) > MAX_GAP_WORDS
            continue
        if gap_breaks or i - runs[-1][-1] - 1 > MAX_GAP:
            runs.append([])
        runs[-1].append(i)
        gap_breaks = False
    return [(run[0], run[-1] + 1) for run in runs if len(run) >= min_block_lines]
