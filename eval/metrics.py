"""Metrics: deterministic scores of one answered gold item (ItemResult), no LLM judge.

    answer_correct("It was 18 July 2022 [1].", False, (("18 July 2022", "July 18, 2022"),)) is True
    recall_at_k(["b.txt", "a.txt"], {"a.txt"}, k=1) == 0.0

Relevance is by gold source file, so re-chunking the index does not invalidate the gold set. Keys are flat
(`answer.accuracy`, `citation.precision`, `latency.total_ms.p95`); eval/aggregate.py sums them up over a group.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from qa.cite import split_claims
from qa.sentences import split_sentences

# The yardstick is defined here, not borrowed from qa.tokens, so that tuning the assistant cannot move it.
NAME = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")  # a word without digits: "Co-operation", "Europe's"
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")  # written in digits: "1,200", "75", "2.5"
POSSESSIVE = re.compile(r"['’]s$")
LATENCIES = ("retrieve_ms", "ttft_ms", "generate_ms", "verify_ms", "total_ms")
GENERATION_LATENCIES = {"ttft_ms", "generate_ms", "verify_ms"}  # only measured when the model ran
TOKENS = ("prompt_tokens", "completion_tokens")


@dataclass(frozen=True)
class CitationCheck:
    n: int
    source: str
    quote: str
    start: int
    end: int
    valid: bool  # quote == cleaned source text[start:end]


@dataclass(frozen=True)
class ItemResult:
    """What one gold item got: retrieval always, the answer unless the run was retrieval-only."""

    id: str
    type: str
    turns: tuple[str, ...]
    answerable: bool
    gold_sources: tuple[str, ...]
    search_query: str
    retrieved: tuple[str, ...]  # sources of the top-10 retrieved passages, in rank order
    answer: str | None = None  # None in a retrieval-only run
    refused: bool = False
    refusal_reason: str = ""
    passages: tuple[str, ...] = ()  # sources of the passages the answer came with
    citations: tuple[CitationCheck, ...] = ()
    missing: tuple[tuple[str, ...], ...] = ()  # must_contain groups the answer lacks
    sentences: int = 0
    faithful_sentences: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    first_answer: str = ""  # a conversation's ungraded first turn
    draft: str = ""  # the model's raw text, before citation checks and refusal
    draft_correct: bool | None = None  # the draft has every must_contain group (answerable items)
    error: str = ""
    kind: str = ""
    suite: str = ""
    quotes_missing: tuple[tuple[str, ...], ...] = ()  # must_contain groups that no cited quote holds
    checks: tuple[dict[str, Any], ...] = ()  # the verifier's record of each claim (features, support score)

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def cited_files(self) -> list[str]:
        return sorted({c.source for c in self.citations})

    @property
    def correct(self) -> bool:
        """The answer-accuracy criterion: not refused, no error, every must_contain group found."""
        return self.answered and not self.refused and not self.error and not self.missing

    @property
    def correct_cited(self) -> bool:
        """Correct, with at least one citation, and every cited file a gold file."""
        return self.correct and file_accurate(set(self.cited_files), set(self.gold_sources))

    @property
    def falsely_supported(self) -> bool:
        """A question the documents do not answer, answered with a quote shown as verified."""
        return not self.answerable and self.answered and not self.refused and not self.error and bool(self.citations)

    @property
    def passed(self) -> bool | None:
        """Pass/fail of the item: correct answer, or refusal where the documents hold none."""
        if not self.answered:
            return recall_at_k(self.retrieved, set(self.gold_sources), 5) == 1.0 if self.answerable else None
        return self.correct if self.answerable else (self.refused and not self.error)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            question=self.turns[-1],
            cited_files=self.cited_files,
            refused=self.refused if self.answered else None,
            correct=self.correct if self.answered else None,
            passed=self.passed,
            hit_rank=hit_rank(self.retrieved, set(self.gold_sources)),
            diagnosis=diagnose(self),
        )
        return d


# Per-item scores -----------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents: fold("Türkiye") == "turkiye"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def numbers(text: str) -> set[str]:
    """Numbers written in digits, thousands separators removed: numbers("1,200 and 75%") == {"1200", "75"}."""
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def normalize(text: str) -> str:
    """Case- and accent-insensitive form with single spaces: normalize("Türkiye  Ünal") == "turkiye unal"."""
    return " ".join(fold(text).split())


def missing_groups(text: str, must_contain: Iterable[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    """The must_contain groups none of whose alternatives occurs in text (substring match after normalize)."""
    folded = normalize(text)
    return tuple(tuple(g) for g in must_contain if not any(normalize(alt) in folded for alt in g))


def answer_correct(text: str, refused: bool, must_contain: Iterable[Sequence[str]]) -> bool:
    return not refused and not missing_groups(text, must_contain)


def hit_rank(retrieved: Sequence[str], gold: set[str]) -> int | None:
    """1-based rank of the first retrieved source that is a gold file: hit_rank(["x", "a"], {"a"}) == 2."""
    return next((rank for rank, source in enumerate(retrieved, start=1) if source in gold), None)


def recall_at_k(retrieved: Sequence[str], gold: set[str], k: int) -> float:
    """1.0 if a gold file is among the first k retrieved passages, else 0.0."""
    rank = hit_rank(retrieved, gold)
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(retrieved: Sequence[str], gold: set[str], k: int = 10) -> float:
    """1/rank of the first gold file within the first k, else 0: reciprocal_rank(["x", "a"], {"a"}) == 0.5."""
    rank = hit_rank(retrieved, gold)
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def file_precision(cited: set[str], gold: set[str]) -> float:
    """Share of cited files that are gold files; an answer that cites nothing scores 0."""
    return len(cited & gold) / len(cited) if cited else 0.0


def file_recall(cited: set[str], gold: set[str]) -> float:
    """Share of gold files cited."""
    return len(cited & gold) / len(gold) if gold else 0.0


def file_accurate(cited: set[str], gold: set[str]) -> bool:
    """At least one file cited, and every cited file a gold file."""
    return bool(cited) and cited <= gold


def quote_valid(quote: str, source_text: str, start: int, end: int) -> bool:
    """The quote is the non-empty cleaned source text at its offsets."""
    return bool(quote) and 0 <= start < end <= len(source_text) and source_text[start:end] == quote


def claim_words(sentence: str) -> tuple[set[str], set[str]]:
    """(numbers, capitalised names not at sentence start) of a sentence, names folded and without 's.

    claim_words("In 2024 Malta chaired the OSCE's Council.") == ({"2024"}, {"malta", "osce", "council"})
    """
    found = [m for m in NAME.finditer(sentence)]
    first = min([m.start() for m in found] + [m.start() for m in re.finditer(r"\d", sentence)], default=0)
    names = {_name_key(m.group()) for m in found if m.group()[0].isupper() and m.start() != first}
    return numbers(sentence), names


def sentence_faithful(sentence: str, quotes: Sequence[str]) -> bool:
    """Every number and capitalised name of the sentence appears in the quotes (names as whole words)."""
    quoted = " ".join(quotes)
    sentence_numbers, names = claim_words(sentence)
    quoted_names = {_name_key(m.group()) for m in NAME.finditer(quoted)}
    return sentence_numbers <= numbers(quoted) and names <= quoted_names


def faithfulness_counts(answer: str, quotes: Sequence[str]) -> tuple[int, int]:
    """(faithful sentences, sentences) of an answer, citation markers removed before splitting."""
    clean, _ = split_claims(answer)
    sentences = split_sentences(clean)
    return sum(sentence_faithful(s, quotes) for s in sentences), len(sentences)


def diagnose(r: ItemResult) -> list[str]:
    """Why an item failed, or what is off about a pass: retrieval, answer, refusal, citation, faithfulness."""
    why: list[str] = []
    if r.error:
        return [f"error: {r.error}"]
    gold = set(r.gold_sources)
    if r.answerable and not recall_at_k(r.retrieved, gold, 5):
        why.append("wrong retrieval (no gold file in top 5)")
    if not r.answered:
        return why
    if r.answerable and r.refused:
        draft = {True: "; the draft had the answer", False: "; the draft was wrong too"}.get(r.draft_correct, "")
        why.append(f"false refusal ({r.refusal_reason}{draft})")
    elif r.answerable and r.missing:
        why.append("wrong answer (missing " + "; ".join(" | ".join(g) for g in r.missing) + ")")
    elif not r.answerable and not r.refused:
        why.append("missed refusal")
    if r.answerable and not r.refused:
        cited = set(r.cited_files)
        if not cited:
            why.append("citation: none")
        elif not cited <= gold:
            why.append("citation: non-gold file " + ", ".join(sorted(cited - gold)))
    if any(not c.valid for c in r.citations):
        why.append("citation: invalid quote")
    if not r.refused and r.faithful_sentences < r.sentences:
        why.append(f"unfaithful: {r.sentences - r.faithful_sentences}/{r.sentences} sentences")
    return why


def _name_key(word: str) -> str:
    return POSSESSIVE.sub("", fold(word).replace("’", "'"))
