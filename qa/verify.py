"""Verify: one support score per claim — does a sentence the model was shown state the claim, as an answer to
what was asked?

    checks = verify(question, draft, evidence, passages, tools, SupportModel.load(path))
    checks[0].supported, checks[0].quotes[0].quote   # True, "Another glaring problem … 34 of the 57 …"

A claim is a stretch of the draft ending at a sentence end or a citation marker (qa/cite.py). Its quotes are
the fewest shown sentences (up to three) that hold what the claim adds to the question (qa/quotes.py). Features of (question, claim, quotes):

    claim_terms     share of the words the claim adds to the question found in the quotes or their headers
    question_cover  IDF-weighted share of the question's words found in the quotes' passages
    missing_idf     rarity (IDF, 0..1) of the rarest question word those passages lack; 0 when none is missing
    cosine          embedding cosine of "question claim" and the quotes under their header
    judge           the chat model's P(yes): "is the answer to this question stated in the text?" (quotes,
                    question); asked only when its answer could change the decision
    answer_min_p    the lowest probability the model gave a token of the claim as it wrote it (greedy)
    answer_mean_p   the mean of those probabilities
    added_min_p     the lowest of the tokens that spell the words the claim adds to the question: how sure the
                    model was of its answer, not of its restating of the question
    similarity      the best retrieval similarity of the question's passages

They combine into one probability (a logistic model fitted on the dev split by eval/calibrate.py); a claim is
supported when it reaches the calibrated threshold. The question-side features say whether the quotes answer
what was asked, whatever the claim says; so a claim must also be stated by its quotes, and four things make
it unsupported whatever its score: the model declined; the claim adds nothing to the question; a number it
adds is in neither the quotes, their headers nor the question; fewer than MIN_CLAIM_TERMS of the words it
adds are in them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from qa.cite import split_claims
from qa.language import DECLINED
from qa.prompt import Evidence
from qa.quotes import Shown, pick_quotes, quote_text, shown_sentences
from qa.records import Citation, ClaimCheck, Passage
from qa.support import SupportModel
from qa.tokens import WORD, numbers, terms

MIN_CLAIM_TERMS = 0.5  # share of the words a claim adds that its quotes must hold: the quotes state the claim


@dataclass
class Tools:
    """What verification needs from the models and the index, as plain callables (fakes in tests)."""

    embed: Callable[[list[str]], np.ndarray]  # unit rows
    document_frequency: Mapping[str, int]  # term -> chunks containing it
    n_chunks: int
    judge: Callable[[str, str], float | None] | None = None  # (question, text) -> P(yes), None if it cannot judge
    judge_always: bool = False  # also when the other features already decide (to fit the support model)
    _judged: dict[tuple[str, str], float | None] = field(default_factory=dict)

    def idf(self, term: str) -> float:
        """BM25's IDF, 0..max_idf: unknown words are the rarest."""
        df = self.document_frequency.get(term, 0)
        return math.log(1 + (self.n_chunks - df + 0.5) / (df + 0.5))

    @property
    def max_idf(self) -> float:
        return math.log(1 + (self.n_chunks + 0.5) / 0.5)

    def judged(self, question: str, text: str) -> float | None:
        """The judge's P(yes), once per (question, text); None without a judge (QA_JUDGE=off, or a model server
        that sends no log-probabilities), and then the claim is scored as if the judge had not been asked."""
        if self.judge is None:
            return None
        key = (question, text)
        if key not in self._judged:
            self._judged[key] = self.judge(question, text)
        return self._judged[key]


def verify(
    question: str,
    draft: str,
    evidence: list[Evidence],
    passages: list[Passage],
    tools: Tools,
    model: SupportModel,
    picks: list[tuple[int, int, int]] | None = None,
    confidence: list[tuple[str, float]] | None = None,
) -> list[ClaimCheck]:
    """Every claim of the draft, with its quotes, features and support. `picks` (passage n, start, end) are
    the sentences the model chose first in the extract mode: then they are every claim's quotes.
    `confidence` is the draft as the model wrote it, piece by piece, with the probability of each piece.

    The judge is asked once for the whole draft, about the quotes of the claims whose decision it could change
    (one model call of ~1 s an answer, however many claims it has)."""
    shown = shown_sentences(evidence, passages)
    picked = [s for s in shown if (s.n, s.start, s.end) in set(picks or [])]
    clean, claims = split_claims(draft)
    similarity = max((p.similarity for p in passages), default=0.0)
    pending, asked = [], set(terms(question))
    for claim in claims:
        text = clean[claim.start : claim.end].strip()
        if any(c.isalnum() for c in text):  # a lone "." after a marker is no claim
            sure = claim_confidence(text, confidence or [], set(terms(text)) - asked)
            pending.append(prepare(question, text, claim.cited, shown, passages, similarity, tools, picked, sure))
    judge_once(question, pending, tools, model)
    return [finish(p, passages, model) for p in pending]


@dataclass
class Pending:
    """A claim measured, not yet scored."""

    question: str
    claim: str
    cited: list[int]
    quotes: list[Shown]
    features: dict[str, float]
    note: str  # a gate that failed, or ""


def prepare(
    question: str,
    claim: str,
    cited: list[int],
    shown: list[Shown],
    passages: list[Passage],
    similarity: float,
    tools: Tools,
    picked: list[Shown] | None = None,
    sure: dict[str, float] | None = None,
) -> Pending:
    new_terms = set(terms(claim)) - set(terms(question))
    added_numbers = numbers(claim) - numbers(question)
    if DECLINED.search(claim):
        return Pending(question, claim, cited, [], {}, "declined")
    if not new_terms:
        return Pending(question, claim, cited, [], {}, "restates the question")
    quotes = picked or pick_quotes(claim, new_terms, added_numbers, shown, cited, tools.embed)
    features = measure(question, claim, new_terms, quotes, passages, similarity, tools)
    features.update({k: round(v, 4) for k, v in (sure or {}).items()})
    note = ""
    if not added_numbers <= set().union(*(q.numbers | q.header_numbers for q in quotes)):
        note = "number not in the quotes"
    elif features["claim_terms"] < MIN_CLAIM_TERMS:
        note = "claim not in the quotes"
    return Pending(question, claim, cited, quotes, features, note)


def judge_once(question: str, pending: list[Pending], tools: Tools, model: SupportModel) -> None:
    """The judge's P(yes) for the quotes of the claims it could decide (of every claim with quotes, when
    fitting), added to those claims' features."""
    gated = ("number not in the quotes", "claim not in the quotes")
    needs = [
        p
        for p in pending
        if p.quotes
        and (
            tools.judge_always
            and (not p.note or p.note in gated)
            or not p.note
            and not model.decided_without(p.features, "judge")
        )
    ]
    if not needs:
        return
    quotes = sorted({(q.n, q.start): q for p in needs for q in p.quotes}.values(), key=lambda q: (q.n, q.start))
    judged = tools.judged(question, quote_text(quotes))
    if judged is not None:
        for p in needs:
            p.features["judge"] = round(judged, 4)


def finish(p: Pending, passages: list[Passage], model: SupportModel) -> ClaimCheck:
    support = 0.0 if p.note or not p.quotes else model.score(p.features)
    citations = [
        Citation(q.n, passage.source, q.text, q.start, q.end, round(support, 3), passage.chunk_id, passage.location)
        for q in p.quotes
        for passage in [passages[q.n - 1]]
    ]
    return ClaimCheck(
        p.claim,
        p.cited,
        citations,
        p.features,
        round(support, 4),
        support >= model.threshold and support > 0,
        p.question,
        p.note,
    )


def claim_confidence(claim: str, pieces: list[tuple[str, float]], added: set[str] = frozenset()) -> dict[str, float]:
    """The lowest and the mean probability of the pieces of the draft that spell the claim (the whole draft
    when the claim is not found in it as one stretch), and the lowest of those that spell a word whose term
    is in `added`; {} when unknown."""
    if not pieces:
        return {}
    draft = "".join(text for text, _ in pieces)
    at = draft.find(claim)
    start, end = (at, at + len(claim)) if at >= 0 else (0, len(draft))
    words = WORD.finditer(claim) if at >= 0 else ()
    spans = [(start + m.start(), start + m.end()) for m in words if added & set(terms(m[0]))]
    probabilities, answer, offset = [], [], 0
    for text, p in pieces:
        if offset < end and offset + len(text) > start and text.strip():
            probabilities.append(p)
            if any(offset < b and offset + len(text) > a for a, b in spans):
                answer.append(p)
        offset += len(text)
    if not probabilities:
        return {}
    sure = {"answer_min_p": min(probabilities), "answer_mean_p": sum(probabilities) / len(probabilities)}
    return {**sure, "added_min_p": min(answer) if answer else sure["answer_min_p"]}


def measure(
    question: str,
    claim: str,
    new_terms: set[str],
    quotes: list[Shown],
    passages: list[Passage],
    similarity: float,
    tools: Tools,
) -> dict[str, float]:
    covered = set().union(*(q.covers for q in quotes)) if quotes else set()
    asked = set(terms(question))
    context = set().union(
        *(
            set(terms(f"{p.title} {p.metadata.date} {p.text}"))
            for p in {passages[q.n - 1].chunk_id: passages[q.n - 1] for q in quotes}.values()
        )
    )
    weights = {t: tools.idf(t) for t in asked}
    total = sum(weights.values())
    missing = [weights[t] for t in asked if t not in context]
    quoted = quote_text(quotes)
    features = {
        "claim_terms": len(new_terms & covered) / len(new_terms),
        "question_cover": sum(w for t, w in weights.items() if t in context) / total if total else 1.0,
        "missing_idf": max(missing) / tools.max_idf if missing else 0.0,
        "cosine": _cosine(tools, f"{question} {claim}", quoted) if quotes else 0.0,
        "similarity": similarity,
    }
    return {k: round(v, 4) for k, v in features.items()}


def _cosine(tools: Tools, a: str, b: str) -> float:
    vectors = tools.embed([a, b])
    return float(vectors[0] @ vectors[1])
