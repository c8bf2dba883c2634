"""Metrics: deterministic scores of one answered gold item (ItemResult) and their aggregation, no LLM judge.

    answer_correct("It was 18 July 2022 [1].", False, (("18 July 2022", "July 18, 2022"),)) is True
    recall_at_k(["b.txt", "a.txt"], {"a.txt"}, k=1) == 0.0
    aggregate(results)["retrieval.recall@5"] == 0.99; aggregate(results)["by_type.list.answer.accuracy"] == 0.75

Relevance is by gold source file, so re-chunking the index does not invalidate the gold set. Keys are flat
(`answer.accuracy`, `citation.precision`, `latency.total_ms.p95`); `answer.accuracy` is the primary metric.
"""

from __future__ import annotations

import math
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


# Aggregation ---------------------------------------------------------------------------------------------


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default): percentile([1, 2, 3, 4], 50) == 2.5."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def aggregate(results: Sequence[ItemResult]) -> dict[str, float]:
    """Every metric overall, then per question type as `by_type.<type>.<metric>` and per finer label as
    `by_kind.<kind>.<metric>`."""
    metrics = summarize(results)
    for kind in sorted({r.type for r in results}):
        group = [r for r in results if r.type == kind]
        metrics.update({f"by_type.{kind}.{key}": value for key, value in summarize(group).items()})
    for label in sorted({r.kind for r in results if r.kind}):
        group = [r for r in results if r.kind == label]
        metrics.update({f"by_kind.{label}.{key}": value for key, value in summarize(group).items()})
    return metrics


def summarize(results: Sequence[ItemResult]) -> dict[str, float]:
    """The metrics of one group of results; a metric with no item to measure it on is left out."""
    answerable = [r for r in results if r.answerable]
    answered = [r for r in results if r.answered]
    values: dict[str, float | None] = {"count.items": len(results)}
    values["retrieval.recall@1"] = mean(recall_at_k(r.retrieved, set(r.gold_sources), 1) for r in answerable)
    values["retrieval.recall@5"] = mean(recall_at_k(r.retrieved, set(r.gold_sources), 5) for r in answerable)
    values["retrieval.mrr@10"] = mean(reciprocal_rank(r.retrieved, set(r.gold_sources), 10) for r in answerable)
    if answered:
        values.update(_answer_metrics(answered))
    return {key: round(value, 4) for key, value in values.items() if value is not None}


def _answer_metrics(answered: Sequence[ItemResult]) -> dict[str, float | None]:
    answerable = [r for r in answered if r.answerable]
    to_refuse = [r for r in answered if not r.answerable]
    cited = [r for r in answerable if not r.refused and not r.error]
    not_refused = [r for r in answered if not r.refused and not r.error]
    checks = [c.valid for r in not_refused for c in r.citations]
    sentences = sum(r.sentences for r in not_refused)
    values: dict[str, float | None] = {
        "count.errors": sum(bool(r.error) for r in answered),
        "answer.accuracy": mean(r.correct for r in answerable),
        "answer.correct_cited": mean(r.correct_cited for r in answerable),
        "citation.precision": mean(file_precision(set(r.cited_files), set(r.gold_sources)) for r in cited),
        "citation.recall": mean(file_recall(set(r.cited_files), set(r.gold_sources)) for r in cited),
        "citation.file_accuracy": mean(file_accurate(set(r.cited_files), set(r.gold_sources)) for r in cited),
        "citation.quote_validity": mean(checks),
        "refusal.accuracy": mean(r.refused for r in to_refuse),
        "refusal.false_rate": mean(r.refused for r in answerable),
        "verification.false_support": mean(r.falsely_supported for r in to_refuse),
        # of correct, cited answers: the quotes themselves state the gold answer (every must_contain group)
        "citation.quote_states_answer": mean(not r.quotes_missing for r in cited if r.correct and r.citations),
        "faithfulness": sum(r.faithful_sentences for r in not_refused) / sentences if sentences else None,
    }
    ok = [r for r in answered if not r.error]
    generated = [r for r in ok if r.timings.get("generate_ms", 0) > 0]
    for name in LATENCIES:
        timed = [r.timings[name] for r in (generated if name in GENERATION_LATENCIES else ok) if name in r.timings]
        values[f"latency.{name}.p50"] = percentile(timed, 50)
        values[f"latency.{name}.p95"] = percentile(timed, 95)
    for name in TOKENS:
        values[f"tokens.{name}.mean"] = mean(r.timings.get(name, 0) for r in generated)
    return values


# Gate and comparison -------------------------------------------------------------------------------------


def check_thresholds(
    metrics: dict[str, float], floors: dict[str, float], ceilings: dict[str, float], prefixes: tuple[str, ...] = ("",)
) -> list[str]:
    """One line per threshold not met; only metrics whose key starts with one of `prefixes` are checked.

    check_thresholds({"answer.accuracy": 0.8}, {"answer.accuracy": 0.85}, {}) ==
        ["answer.accuracy = 0.8000 is below the floor 0.85"]
    """
    failures = []
    for bounds, below in ((floors, True), (ceilings, False)):
        for key, bound in bounds.items():
            if not key.startswith(prefixes):
                continue
            value = metrics.get(key)
            if value is None:
                failures.append(f"{key} was not measured (threshold {bound})")
            elif below and value < bound:
                failures.append(f"{key} = {value:.4f} is below the floor {bound}")
            elif not below and value > bound:
                failures.append(f"{key} = {value:.4f} is above the ceiling {bound}")
    return failures


def outcome_changes(previous: Sequence[dict[str, Any]], current: Sequence[dict[str, Any]]) -> list[str]:
    """The items (by id, in both runs) whose pass/fail or refusal changed, one line each.

    outcome_changes([{"id": "a", "passed": True, "refused": False}], [{"id": "a", "passed": False,
        "refused": True, "question": "Q?"}]) == ["a: pass -> FAIL, answered -> refused  Q?"]
    """
    before = {item["id"]: item for item in previous}
    lines = []
    for item in current:
        old = before.get(item["id"])
        if old is None:
            continue
        parts = []
        if old.get("passed") != item.get("passed"):
            parts.append(f"{_outcome(old.get('passed'))} -> {_outcome(item.get('passed'))}")
        if None not in (old.get("refused"), item.get("refused")) and old["refused"] != item["refused"]:
            parts.append(f"{_refusal(old.get('refused'))} -> {_refusal(item.get('refused'))}")
        if parts:
            lines.append(f"{item['id']}: {', '.join(parts)}  {item.get('question', '')}".rstrip())
    return lines


def _outcome(passed: bool | None) -> str:
    return "n/a" if passed is None else "pass" if passed else "FAIL"


def _refusal(refused: bool | None) -> str:
    return "refused" if refused else "answered"


def _name_key(word: str) -> str:
    return POSSESSIVE.sub("", fold(word).replace("’", "'"))
