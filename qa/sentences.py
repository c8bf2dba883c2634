"""Sentences: split text into sentence spans, shared by chunking, evidence selection and citation.

    sentence_spans("Dr. Kari Johnstone spoke. 75% were online.")
    == [(0, 25), (26, 42)]

Lines are always boundaries (each line of cleaned text is a paragraph, heading or list item). Inside a
``` code block every line is one span, never split; the fence lines themselves are no sentence.
"""

from __future__ import annotations

import re

from qa.language import ABBREVIATIONS, ANAPHORS, SENTENCE_END

FENCE = "```"
HEADING = re.compile(r"^(#{1,6})\s+(\S.*?)\s*#*\s*$")
# a definition-list entry as qa/index's converter writes it: "-u, --update: Update the index …", "gc.auto: When …"
# (the term: no colon, no sentence end, at most 60 characters; then ": " and the description)
ENTRY = re.compile(r"^((?:[^\s:.!?]|[.!?](?!\s))(?:[^:.!?]|[.!?](?!\s)){0,59}):\s+\S")


def heading(line: str) -> tuple[int, str] | None:
    """A markdown heading line's level and text: heading("## OPTIONS") == (2, "OPTIONS"); else None."""
    m = HEADING.match(line)
    return (len(m.group(1)), m.group(2)) if m else None


def entry_term(line: str) -> str | None:
    """The term a definition-list line describes: entry_term("gc.auto: When there are …") == "gc.auto"."""
    m = ENTRY.match(line)
    return m.group(1) if m and not heading(line) else None


def entry_at(text: str, offset: int) -> tuple[int, str] | None:
    """The definition-list entry that the character at `offset` of `text` belongs to: where its line starts
    and its term, or None: entry_at("a\\ngc.auto: When … This is …", 22) == (2, "gc.auto")."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", line_start)
    term = entry_term(text[line_start : line_end if line_end >= 0 else len(text)])
    return (line_start, term) if term else None


def code_lines(lines: list[str]) -> set[int]:
    """Indexes of the lines inside ``` fences, the fences included (an unclosed fence runs to the end)."""
    inside, found = False, set()
    for i, line in enumerate(lines):
        fence = line.lstrip().startswith(FENCE)
        if inside or fence:
            found.add(i)
        if fence:
            inside = not inside
    return found


def code_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each ``` block of text, from its opening fence to the end of its closing one."""
    blocks, offset, start = [], 0, None
    for line in text.split("\n"):
        if line.lstrip().startswith(FENCE):
            if start is None:
                start = offset
            else:
                blocks.append((start, offset + len(line)))
                start = None
        offset += len(line) + 1
    if start is not None:
        blocks.append((start, len(text)))
    return blocks


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence, whitespace excluded; `text[start:end]` is the sentence."""
    spans: list[tuple[int, int]] = []
    offset = 0
    lines = text.split("\n")
    code = code_lines(lines)
    for i, line in enumerate(lines):
        if i not in code:
            spans.extend((offset + s, offset + e) for s, e in _line_spans(line))
        elif line.strip() and not line.lstrip().startswith(FENCE):
            start = len(line) - len(line.lstrip())
            spans.append((offset + start, offset + len(line.rstrip())))
        offset += len(line) + 1
    return spans


def is_anaphoric(sentence: str) -> bool:
    """Whether a sentence leans on the one before it: is_anaphoric("These include forced begging.")."""
    first = sentence.lstrip("“\"'‘(").split(" ", 1)[0].lower()
    return first in ANAPHORS


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def _line_spans(line: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for m in SENTENCE_END.finditer(line):
        following = line[m.end() :].lstrip("\"'“‘([")
        if not following or not (following[0].isupper() or following[0].isdigit()):
            continue
        if _is_abbreviation(line, m.start()):
            continue
        end = m.end() - (len(m.group(0)) - len(m.group(0).rstrip()))
        spans.append((start, end))
        start = m.end()
    spans.append((start, len(line)))
    return [(s, e) for s, e in _strip(line, spans) if e > s]


def _is_abbreviation(line: str, dot: int) -> bool:
    """True for the period of "Dr.", "e.g." or an initial like "J."."""
    if line[dot] != ".":
        return False
    word = line[:dot].rsplit(None, 1)[-1] if line[:dot].strip() else ""
    word = word.lstrip("(\"'“‘[").lower()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _strip(line: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for s, e in spans:
        while s < e and line[s].isspace():
            s += 1
        while e > s and line[e - 1].isspace():
            e -= 1
        out.append((s, e))
    return out
