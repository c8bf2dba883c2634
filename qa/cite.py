"""Cite: verify the model's `[n]` citations against the passages, moving or dropping the ones that are wrong.

    result = cite(question, "Only 34 of the 57 signatories do [2].", passages, sources)
    result.text == "Only 34 of the 57 signatories do [1]."        # "34" is only in passage 1
    result.citations[0].quote == "Another glaring problem was highlighted that only 34 of the 57 …"

The answer is cut into claims: the text up to each group of markers, or each sentence. A claim is backed by
the fewest passage sentences that contain what it adds to the question (its numbers must all match); the
model's own passage wins ties, otherwise the citation moves to the passage that backs the claim, and a
claim nothing backs loses its marker.
Every quote is checked to be the exact text at its offsets in the cleaned source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.records import Citation, Passage
from qa.sentences import sentence_spans
from qa.tokens import numbers, terms

MARKERS = re.compile(r"\s*((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)")
NUMBER_IN_MARKER = re.compile(r"\d+")
MIN_SUPPORT = 0.5
INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget)\b[^.]{0,40}\b(instructions|rules|prompts?|passages|context|above)\b"
    r"|\b(ai|assistant|chatbot|language model|llm)s? reading this\b"
    r"|\b(tell|inform) the (user|reader)\b|\byou (must|should) (answer|say|reply|respond|tell)"
    r"|^\s*(system|assistant|user)\s*:|<\|im_(start|end)\|>|\bas an ai\b|\b(new|updated) instructions?\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Claim:
    start: int  # span in the answer with its markers removed
    end: int
    cited: list[int]  # passage numbers the model gave


@dataclass(frozen=True)
class CiteResult:
    text: str  # the answer with verified markers
    citations: list[Citation]
    claims: int  # claims that say something beyond the question
    supported: int  # of those, how many a passage backs
    backed_numbers: frozenset[str] = frozenset()  # numbers the answer adds that a quote backs
    unmatched_question_numbers: frozenset[str] = frozenset()  # digits asked about, in no retrieved document


@dataclass(frozen=True)
class _Sentence:
    n: int
    start: int
    end: int
    text: str
    terms: frozenset[str]
    numbers: frozenset[str]
    chunk_id: str
    context_numbers: frozenset[str]  # numbers anywhere in the sentence's passage, and the passage's date
    context_terms: frozenset[str]  # terms of the passage's title, which the model also sees
    date_numbers: frozenset[str] = frozenset()  # numbers of the passage's date, which the model also sees

    @property
    def covers(self) -> frozenset[str]:
        return self.terms | self.context_terms


def cite(
    question: str, answer: str, passages: list[Passage], sources: dict[str, str], min_support: float = MIN_SUPPORT
) -> CiteResult:
    sentences = _passage_sentences(passages, sources)
    question_terms, question_numbers = set(terms(question)), numbers(question)
    clean, claims = split_claims(answer)
    parts: list[str] = []
    citations: dict[tuple[int, int], Citation] = {}
    n_claims = n_supported = 0
    backed_numbers: set[str] = set()
    for claim in claims:
        text = clean[claim.start : claim.end]
        new_terms = set(terms(text)) - question_terms
        backing = back_claim(new_terms, numbers(text), question_numbers, sentences, claim.cited, min_support)
        n_claims += bool(new_terms)
        if not backing:
            parts.append(text)
            continue
        n_supported += 1
        backed_numbers |= numbers(text) & set().union(*(s.numbers | s.date_numbers for s in backing))
        score = backing_score(new_terms, backing)
        for sentence in backing:
            citations.setdefault(
                (sentence.n, sentence.start),
                Citation(sentence.n, passages[sentence.n - 1].source, sentence.text, sentence.start, sentence.end,
                         score, sentence.chunk_id),
            )  # fmt: skip
        cut = re.search(r"[\s.,;:!?]*$", text).start()
        markers = "".join(f"[{n}]" for n in dict.fromkeys(s.n for s in backing))
        parts.append(f"{text[:cut]} {markers}{text[cut:]}")
    ordered = sorted(citations.values(), key=lambda c: (c.n, c.start))
    # "the 23rd conference", "in 2026": a number asked about that no retrieved document mentions at all
    in_documents = set().union(*(numbers(text, words=False) for text in sources.values())) if sources else set()
    unmatched = frozenset(numbers(question, words=False) - in_documents)
    return CiteResult("".join(parts).strip(), ordered, n_claims, n_supported, frozenset(backed_numbers), unmatched)


def split_claims(answer: str) -> tuple[str, list[Claim]]:
    """The answer without markers, and its claims: stretches ending at a sentence end or a marker group.

    split_claims("A is 1 [2]. B.") == ("A is 1. B.", [Claim(0, 6, [2]), Claim(6, 7, []), Claim(7, 10, [])])
    """
    clean, marks = _strip_markers(answer)
    bounds = sorted({e for _, e in sentence_spans(clean)} | {pos for pos, _ in marks} | {len(clean)})
    claims, start = [], 0
    for bound in bounds:
        if bound <= start:
            continue
        cited = [n for pos, ns in marks if start < pos <= bound for n in ns]
        claims.append(Claim(start, bound, cited))
        start = bound
    return clean, claims


def _strip_markers(answer: str) -> tuple[str, list[tuple[int, list[int]]]]:
    clean, marks, position = "", [], 0
    for m in MARKERS.finditer(answer):
        clean += answer[position : m.start()]
        marks.append((len(clean), [int(x) for x in NUMBER_IN_MARKER.findall(m.group(1))]))
        position = m.end()
        following = answer[position : position + 1]
        if following and following.isalnum() and not clean.endswith(" "):
            clean += " "
    return clean + answer[position:], marks


def back_claim(
    new_terms: set[str],
    claim_numbers: set[str],
    question_numbers: set[str],
    sentences: list[_Sentence],
    cited: list[int],
    min_support: float,
    max_sentences: int = 3,
) -> list[_Sentence]:
    """The fewest passage sentences (up to three) that together back a claim, or [] if they do not.

    Backing means: every number the claim adds is in a chosen sentence; every number it repeats from the
    question (a year asked about) is in the sentence or elsewhere in its source document, so "Malta chairs
    in 2025" is not backed by a 2024 press release about Malta; and at least `min_support` of the claim's
    new terms are in the chosen sentences or their passage titles. On ties the model's own passage wins.
    """
    if not new_terms:
        return []
    required = claim_numbers - question_numbers
    asked = {n for n in claim_numbers & question_numbers if len(n) == 4}  # years asked about, not "two groups"
    pool = [s for s in sentences if asked <= s.numbers | s.context_numbers]  # a year asked about: same passage
    chosen: list[_Sentence] = []
    terms_left, numbers_left = set(new_terms), set(required)
    for _ in range(max_sentences):
        gains = [
            # title words count for backing, but a sentence's own words break ties between its sentences
            (len(terms_left & s.covers) + 0.1 * len(terms_left & s.terms) + 2 * len(numbers_left & (s.numbers | s.date_numbers))
             + 0.5 * (s.n in cited), s)
            for s in pool
        ]  # fmt: skip
        gain, best = max(gains, key=lambda g: g[0], default=(0, None))
        if best is None or gain < 1:
            break
        chosen.append(best)
        terms_left -= best.covers
        numbers_left -= best.numbers | best.date_numbers  # the model sees each passage's date in its header
        if not terms_left and not numbers_left:
            break
    if numbers_left or backing_score(new_terms, chosen) < min_support:
        return []
    return chosen


def backing_score(new_terms: set[str], backing: list[_Sentence]) -> float:
    """Share of the claim's new terms found in the backing sentences (or their passage titles)."""
    covered = set().union(*(s.covers for s in backing)) if backing else set()
    return round(len(new_terms & covered) / len(new_terms), 3) if new_terms else 0.0


def _passage_sentences(passages: list[Passage], sources: dict[str, str]) -> list[_Sentence]:
    out = []
    for n, p in enumerate(passages, start=1):
        source_text = sources.get(p.source, "")
        date_numbers = frozenset(numbers(p.metadata.get("date", "")))
        context = frozenset(numbers(p.text)) | date_numbers
        title_terms = frozenset(terms(p.title))
        for s, e in sentence_spans(p.text):
            start, end = p.start + s, p.start + e
            text = p.text[s:e]
            if source_text[start:end] != text:  # the quote must be the cleaned source's own text
                continue
            if INSTRUCTION.search(text):  # text that talks to the model is not evidence (prompt injection)
                continue
            out.append(
                _Sentence(n, start, end, text, frozenset(terms(text)), frozenset(numbers(text)), p.chunk_id, context,
                          title_terms, date_numbers)  # fmt: skip
            )
    return out
