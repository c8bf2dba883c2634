"""Sentences: split text into sentence spans, shared by chunking, evidence selection and citation.

    sentence_spans("Dr. Kari Johnstone spoke. 75% were online.")
    == [(0, 25), (26, 42)]

Lines are always boundaries (each line of cleaned text is a paragraph, heading or list item).
"""

from __future__ import annotations

import re

ABBREVIATIONS = {
    "dr", "mr", "mrs", "ms", "prof", "st", "no", "nos", "vs", "etc", "e.g", "i.e", "jr", "sr", "fig",
    "art", "para", "approx", "inc", "ltd", "co", "u.s", "u.k", "u.n", "gen", "col", "sen", "rep", "gov",
}  # fmt: skip
ANAPHORS = {"these", "this", "they", "it", "he", "she", "his", "her", "their", "its", "such", "those", "there"}
BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence, whitespace excluded; `text[start:end]` is the sentence."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        spans.extend((offset + s, offset + e) for s, e in _line_spans(line))
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
    for m in BOUNDARY.finditer(line):
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
