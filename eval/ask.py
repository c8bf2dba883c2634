"""Ask: each gold item put to an assistant, and what came back scored into an ItemResult.

    results = run_items(assistant, load_suite(suite), retrieval_only=False, label="seeds/test")
    results[0].passed  # True: answered with the gold words and a valid quote, or refused where it should be

A conversation's first turn is asked first and its answer passed as history; one broken item is reported
and fails, the others still run.
"""

from __future__ import annotations

import sys
from dataclasses import asdict

from eval.dataset import GoldError, GoldItem
from eval.metrics import CitationCheck, ItemResult, faithfulness_counts, missing_groups, quote_valid

RETRIEVAL_K = 10


def select_items(items: list[GoldItem], ids: str | None, limit: int | None) -> list[GoldItem]:
    """The items named by --ids (in gold order), then the first --limit of them."""
    if ids:
        wanted = {i.strip() for i in ids.split(",") if i.strip()}
        items = [item for item in items if item.id in wanted]
    return items[:limit] if limit is not None else items


def run_items(assistant, items: list[GoldItem], retrieval_only: bool, label: str = "eval") -> list[ItemResult]:
    from tqdm import tqdm

    results: list[ItemResult] = []
    bar = tqdm(
        items, desc=f"{label} retrieval" if retrieval_only else label, unit="q", file=sys.stderr, dynamic_ncols=True
    )
    for item in bar:
        result = retrieve_item(assistant, item) if retrieval_only else answer_item(assistant, item)
        results.append(result)
        passed = [r.passed for r in results if r.passed is not None]
        bar.set_postfix(passed=f"{sum(passed)}/{len(passed)}", refresh=False)
    return results


def retrieve_item(assistant, item: GoldItem) -> ItemResult:
    """Retrieval only: the same standalone query the assistant would search for, top 10 passages."""
    from qa.questions import standalone_query

    query = standalone_query(item.question, item.previous)
    passages = assistant.retriever.retrieve(query, k=RETRIEVAL_K)
    retrieved = tuple(p.source for p in passages)
    return ItemResult(
        item.id,
        item.type,
        item.turns,
        item.answerable,
        item.sources,
        query,
        retrieved,
        kind=item.kind,
        suite=item.suite,
    )


def answer_item(assistant, item: GoldItem) -> ItemResult:
    """Ask the question (a conversation's first turn first), then score the answer and its retrieval."""
    first_answer, history = "", []
    base = dict(
        id=item.id,
        type=item.type,
        turns=item.turns,
        answerable=item.answerable,
        gold_sources=item.sources,
        kind=item.kind,
        suite=item.suite,
    )
    try:
        if item.previous:
            first_answer = assistant.ask(item.previous).text
            history = [{"role": "user", "content": item.previous}, {"role": "assistant", "content": first_answer}]
        answer = assistant.ask(item.question, history)
        retrieved = assistant.retriever.retrieve(answer.search_query, k=RETRIEVAL_K)
    except Exception as e:  # one broken item must not lose the other 89; it is reported and fails
        print(f"\nerror on {item.id}: {type(e).__name__}: {e}", file=sys.stderr)
        return ItemResult(
            **base,
            search_query="",
            retrieved=(),
            answer="",
            first_answer=first_answer,
            error=f"{type(e).__name__}: {e}",
        )
    return score_answer(item, base, answer, retrieved, assistant.store.docs, first_answer)


def score_answer(item: GoldItem, base: dict, answer, retrieved, docs, first_answer: str) -> ItemResult:
    """The answer's figures: its quotes checked against the cleaned documents, gold words found or missing,
    and its draft (the model's own text, what a refusal or a dropped citation replaced) scored the same way."""
    citations = tuple(
        CitationCheck(
            c.n,
            c.source,
            c.quote,
            c.start,
            c.end,
            c.source in docs and quote_valid(c.quote, docs[c.source].text, c.start, c.end),
        )
        for c in answer.citations
    )
    faithful, sentences = (0, 0) if answer.refused else faithfulness_counts(answer.text, [c.quote for c in citations])
    return ItemResult(
        **base,
        search_query=answer.search_query,
        retrieved=tuple(p.source for p in retrieved),
        answer=answer.text,
        refused=answer.refused,
        refusal_reason=answer.refusal_reason,
        passages=tuple(p.source for p in answer.passages),
        citations=citations,
        missing=missing_groups(answer.text, item.must_contain) if item.answerable else (),
        quotes_missing=missing_groups(" ".join(c.quote for c in citations), item.must_contain)
        if item.answerable and citations
        else (),
        checks=tuple(answer.to_dict().get("checks", ())),
        sentences=sentences,
        faithful_sentences=faithful,
        timings={**asdict(answer.timings), **asdict(answer.usage)},  # one flat row of figures in the run file
        first_answer=first_answer,
        draft=answer.draft,
        draft_correct=not missing_groups(answer.draft, item.must_contain) if item.answerable and answer.draft else None,
    )


def check_sources(items: list[GoldItem], indexed: set[str]) -> None:
    """Gold files missing from the index would silently score 0: stop instead."""
    missing = sorted({s for item in items for s in item.sources} - indexed)
    if missing:
        raise GoldError(f"gold source(s) not in the index: {', '.join(missing)} — wrong --corpus or --index?")
