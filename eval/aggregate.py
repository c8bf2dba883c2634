"""Aggregate: the metrics of a group of ItemResults, flat keys, overall, per question type and per kind.

    aggregate(results)["retrieval.recall@5"] == 0.99; aggregate(results)["by_type.list.answer.accuracy"] == 0.75
    percentile([1, 2, 3, 4], 50) == 2.5

A metric with no item to measure it on is left out; `answer.accuracy` is the primary one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from eval.metrics import (
    GENERATION_LATENCIES,
    LATENCIES,
    TOKENS,
    ItemResult,
    file_accurate,
    file_precision,
    file_recall,
    recall_at_k,
    reciprocal_rank,
)


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
