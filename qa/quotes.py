"""Quotes: the sentences the model was shown, located in their sources, and the fewest of them that hold a claim.

    shown = shown_sentences(evidence, passages)      # text that talks to a model (prompt injection) left out
    pick_quotes("Only 34 of the 57 signed.", {"34", "57", "signed"}, {"34", "57"}, shown, [1], embed)
        # -> [Shown(n=1, text="… 34 of the 57 …")]: up to three, the model's own passage first on ties

Quotes never come from text the model did not see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qa.language import INSTRUCTION
from qa.prompt import Evidence
from qa.records import Passage
from qa.sentences import entry_at
from qa.tokens import numbers, terms

MAX_QUOTES = 3


@dataclass(frozen=True)
class Shown:
    """A sentence the model was shown, under its passage's header."""

    n: int  # passage number, as in the prompt
    start: int  # offsets into the cleaned source
    end: int
    text: str
    header: str
    terms: frozenset[str]
    numbers: frozenset[str]
    header_terms: frozenset[str]
    header_numbers: frozenset[str]
    entry: int = -1  # inside a definition-list entry ("octopus: …"): where the entry's line starts; else -1

    @property
    def covers(self) -> frozenset[str]:
        return self.terms | self.header_terms


def quote_text(quotes: list[Shown]) -> str:
    """What the judge and the cosine read: each passage's header once, then its quoted sentences."""
    parts: dict[int, list[str]] = {}
    for q in quotes:
        parts.setdefault(q.n, [q.header]).append(q.text)
    return "\n".join(
        f"{lines[0]}: {' '.join(lines[1:])}" if lines[0] else " ".join(lines[1:]) for lines in parts.values()
    )


def pick_quotes(
    claim: str,
    new_terms: set[str],
    added_numbers: set[str],
    shown: list[Shown],
    cited: list[int],
    embed: Callable[[list[str]], np.ndarray],
) -> list[Shown]:
    """The fewest shown sentences (up to three) that hold the claim's new words and numbers; the model's
    own passage wins ties. With no word in common, the one sentence closest to the claim in meaning."""
    chosen: list[Shown] = []
    terms_left, numbers_left = set(new_terms), set(added_numbers)
    for _ in range(MAX_QUOTES):
        scored = [
            (
                len(terms_left & s.covers)
                + 0.1 * len(terms_left & s.terms)
                + 2 * len(numbers_left & (s.numbers | s.header_numbers))
                + 0.5 * (s.n in cited),
                s,
            )
            for s in shown
            if s not in chosen
        ]
        gain, best = max(scored, key=lambda g: g[0], default=(0.0, None))
        if best is None or gain < 1:
            break
        chosen.append(best)
        terms_left -= best.covers
        numbers_left -= best.numbers | best.header_numbers
        if not terms_left and not numbers_left:
            break
    if not chosen and shown:
        vectors = embed([claim] + [s.text for s in shown])
        chosen = [shown[int(np.argmax(vectors[1:] @ vectors[0]))]]
    # an entry is one statement about its term: the term's sentence and the one that says what is asked
    # ("octopus: This resolves …" + "This is the default … more than one branch") are quoted together
    entries = {(s.n, s.entry) for s in chosen if s.entry >= 0}
    for s in shown:
        if len(chosen) < MAX_QUOTES and (s.n, s.entry) in entries and s not in chosen:
            chosen.append(s)
    return sorted(chosen, key=lambda s: (s.n, s.start))


def shown_sentences(evidence: list[Evidence], passages: list[Passage]) -> list[Shown]:
    """The sentences of the prompt's evidence, located in their sources; text that talks to a model is left out."""
    out = []
    for block in evidence:
        passage = passages[block.n - 1]
        header_terms = frozenset(terms(block.header))
        header_numbers = frozenset(numbers(f"{block.header} {passage.metadata.date}"))
        for start, end in block.spans:
            text = passage.text[start - passage.start : end - passage.start]
            if not text or INSTRUCTION.search(text):
                continue
            out.append(
                Shown(
                    block.n,
                    start,
                    end,
                    text,
                    block.header,
                    frozenset(terms(text)),
                    frozenset(numbers(text)),
                    header_terms,
                    header_numbers,
                    _entry(passage, start),
                )
            )
    return out


def _entry(passage: Passage, start: int) -> int:
    """Where the definition-list entry that a sentence at `start` belongs to starts, or -1 (qa.sentences.entry_at)."""
    entry = entry_at(passage.text, start - passage.start)
    return passage.start + entry[0] if entry else -1
