"""Cite: verify the model's `[n]` citations against the passages, moving or dropping the ones that are wrong.

    result = cite(question, "Only 34 of the 57 signatories do [2].", passages, sources)
    result.text == "Only 34 of the 57 signatories do [1]."        # "34" is only in passage 1
    result.citations[0].quote == "Another glaring problem was highlighted that only 34 of the 57 …"

The answer is cut into claims: the text up to each group of markers, or each sentence. A claim is backed by
the passage sentence that contains most of what the claim adds to the question (numbers must all match).
The cited passage keeps the citation if one of its sentences backs the claim about as well as the best one;
otherwise the citation moves to the passage that does; a claim nothing backs loses its marker.
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
KEEP_MARGIN = 0.15  # the model's own choice is kept if it is this close to the best passage


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


@dataclass(frozen=True)
class _Sentence:
    n: int
    start: int
    end: int
    text: str
    terms: frozenset[str]
    numbers: frozenset[str]
    chunk_id: str
    context_numbers: frozenset[str]  # numbers in the passage's title and date


def cite(
    question: str, answer: str, passages: list[Passage], sources: dict[str, str], min_support: float = MIN_SUPPORT
) -> CiteResult:
    sentences = _passage_sentences(passages, sources)
    question_terms, question_numbers = set(terms(question)), numbers(question)
    clean, claims = split_claims(answer)
    parts: list[str] = []
    citations: dict[tuple[int, int], Citation] = {}
    n_claims = n_supported = 0
    for claim in claims:
        text = clean[claim.start : claim.end]
        new_terms = set(terms(text)) - question_terms
        best = _best_support(new_terms, numbers(text), question_numbers, sentences, claim.cited, min_support)
        n_claims += bool(new_terms)
        if best is None:
            parts.append(text)
            continue
        n_supported += 1
        sentence, score = best
        citations.setdefault(
            (sentence.n, sentence.start),
            Citation(sentence.n, passages[sentence.n - 1].source, sentence.text, sentence.start, sentence.end,
                     round(score, 3), sentence.chunk_id),
        )  # fmt: skip
        cut = re.search(r"[\s.,;:!?]*$", text).start()
        parts.append(f"{text[:cut]} [{sentence.n}]{text[cut:]}")
    ordered = sorted(citations.values(), key=lambda c: (c.n, c.start))
    return CiteResult("".join(parts).strip(), ordered, n_claims, n_supported)


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


def _best_support(
    new_terms: set[str],
    claim_numbers: set[str],
    question_numbers: set[str],
    sentences: list[_Sentence],
    cited: list[int],
    min_support: float,
) -> tuple[_Sentence, float] | None:
    if not new_terms:
        return None
    scored = [(s, support(new_terms, claim_numbers, question_numbers, s)) for s in sentences]
    if not scored:
        return None
    best = max(scored, key=lambda x: x[1])
    if best[1] < min_support:
        return None
    own = [x for x in scored if x[0].n in cited]
    if own:
        best_own = max(own, key=lambda x: x[1])
        if best_own[1] >= min_support and best_own[1] >= best[1] - KEEP_MARGIN:
            return best_own
    return best


def support(new_terms: set[str], claim_numbers: set[str], question_numbers: set[str], sentence: _Sentence) -> float:
    """Share of the claim's new terms found in the sentence; 0 if a number of the claim is missing.

    Numbers the claim adds must be in the sentence; numbers it repeats from the question (a year asked
    about) must be in the sentence or in its passage's date, so "Malta chairs in 2025" is not backed by a
    2024 sentence about Malta.
    """
    if (claim_numbers - question_numbers) - sentence.numbers:
        return 0.0
    if (claim_numbers & question_numbers) - sentence.numbers - sentence.context_numbers:
        return 0.0
    return len(new_terms & sentence.terms) / len(new_terms)


def _passage_sentences(passages: list[Passage], sources: dict[str, str]) -> list[_Sentence]:
    out = []
    for n, p in enumerate(passages, start=1):
        source_text = sources.get(p.source, "")
        context = frozenset(numbers(f"{p.title} {p.metadata.get('date', '')}"))
        for s, e in sentence_spans(p.text):
            start, end = p.start + s, p.start + e
            text = p.text[s:e]
            if source_text[start:end] != text:  # the quote must be the cleaned source's own text
                continue
            out.append(
                _Sentence(n, start, end, text, frozenset(terms(text)), frozenset(numbers(text)), p.chunk_id, context)
            )
    return out
