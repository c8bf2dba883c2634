"""Run: answer every gold question with the assistant, score it, write the reports and gate on thresholds.

    qa eval                                   # all 90 items with the default model, ~7 min on 2 cores
    qa eval --retrieval-only               # retrieval metrics only, in seconds, no LLM
    qa eval --ids sf-01,conv-03 --no-gate  # a few items, e.g. while debugging
    qa eval --compare eval/results/latest.json   # which questions changed outcome

Writes eval/results/<run>.{json,md,html} and latest.{json,md,html}; the last stdout line is `SUMMARY …`.
Exit code: 0, 1 when a threshold of eval/thresholds.toml is not met, 2 when the run could not be made.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from eval.dataset import GOLD_PATH, GoldError, GoldItem, load_gold
from eval.metrics import (
    CitationCheck, ItemResult, aggregate, check_thresholds, faithfulness_counts, missing_groups, outcome_changes,
    quote_valid,
)  # fmt: skip
from eval.report import write_reports
from qa.errors import QAError

EVAL_DIR = Path(__file__).resolve().parent
RESULTS_DIR = EVAL_DIR / "results"
THRESHOLDS_PATH = EVAL_DIR / "thresholds.toml"
RETRIEVAL_K = 10
SUMMARY_KEYS = (  # (label, metric key, scale)
    ("answer_acc", "answer.accuracy", 1), ("cite_file", "citation.file_accuracy", 1),
    ("quote_valid", "citation.quote_validity", 1), ("refusal", "refusal.accuracy", 1),
    ("false_refusal", "refusal.false_rate", 1), ("recall@5", "retrieval.recall@5", 1),
    ("faithfulness", "faithfulness", 1), ("p50_s", "latency.total_ms.p50", 1000),
    ("p95_s", "latency.total_ms.p95", 1000),
)  # fmt: skip
RETRIEVAL_SUMMARY_KEYS = (
    ("recall@1", "retrieval.recall@1", 1), ("recall@5", "retrieval.recall@5", 1), ("mrr@10", "retrieval.mrr@10", 1),
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return evaluate(args)
    except (QAError, GoldError, EvalError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


class EvalError(ValueError):
    """A bad option or input file of the eval (thresholds, previous results)."""


def evaluate(args: argparse.Namespace) -> int:
    """Run the selected gold items, write the reports, print the outcome; 1 if the gate failed."""
    from qa.assistant import Assistant

    if args.limit is not None and args.limit < 1:
        raise EvalError("--limit must be at least 1")
    gold = load_gold(args.gold)
    items = select_items(gold, args.ids, args.limit)
    floors, ceilings = ({}, {}) if args.no_gate else load_thresholds(args.thresholds)
    previous = load_previous(args.compare, args.retrieval_only) if args.compare else None  # fail early, not after
    settings = _settings(args)
    assistant = Assistant(settings)
    _check_sources(items, set(assistant.store.docs))
    name, created = run_name(settings, args.retrieval_only), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    started, load_before = time.perf_counter(), _load_average()

    results = run_items(assistant, items, args.retrieval_only)
    metrics = aggregate(results)
    gate, failures = apply_gate(metrics, floors, ceilings, args, subset=len(items) < len(gold))
    records = [r.to_dict() for r in results]
    run = {
        "run": name,
        "created_at": created,
        "mode": "retrieval-only" if args.retrieval_only else "full",
        "model": None if args.retrieval_only else model_name(settings),
        "settings": settings.model_dump(mode="json"),
        "gold": {"path": str(args.gold), "items": len(items), "of": len(gold), "ids": args.ids, "limit": args.limit},
        "duration_s": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before, "load_average_after": _load_average()},
        "metrics": metrics,
        "thresholds": {"floors": floors, "ceilings": ceilings},
        "gate": {"status": gate, "failures": failures},
        "compare": None if previous is None else {
            "previous": str(args.compare), "changes": outcome_changes(previous, records)
        },
        "items": records,
    }  # fmt: skip
    for path in write_reports(run, args.out):
        print(f"wrote {path}", file=sys.stderr)
    print_outcome(run)
    return 1 if failures else 0


def apply_gate(metrics: dict[str, float], floors: dict[str, float], ceilings: dict[str, float],
               args: argparse.Namespace, subset: bool) -> tuple[str, list[str]]:  # fmt: skip
    """(status, failures); a subset run is not gated, as a handful of questions says little about a floor."""
    if args.no_gate:
        return "skipped (--no-gate)", []
    if subset:
        return "skipped (only part of the gold set was run)", []
    failures = check_thresholds(metrics, floors, ceilings, ("retrieval.",) if args.retrieval_only else ("",))
    return ("failed" if failures else "passed"), failures


def print_outcome(run: dict[str, Any]) -> None:
    """Changed questions, gate failures (one line each), then the SUMMARY line last."""
    if run["compare"] is not None:
        changes = run["compare"]["changes"]
        print(f"{len(changes)} question(s) changed outcome versus {run['compare']['previous']}")
        for line in changes:
            print(f"CHANGED {line}")
    for line in run["gate"]["failures"]:
        print(f"GATE FAIL {line}")
    if run["gate"]["status"].startswith("skipped"):
        print(f"gate {run['gate']['status']}", file=sys.stderr)
    print(summary_line(run["metrics"], run["mode"] == "retrieval-only"))


def select_items(items: list[GoldItem], ids: str | None, limit: int | None) -> list[GoldItem]:
    """The items named by --ids (in gold order), then the first --limit of them."""
    if ids:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        unknown = sorted(set(wanted) - {item.id for item in items})
        if unknown:
            raise GoldError(f"unknown gold id(s): {', '.join(unknown)}")
        items = [item for item in items if item.id in set(wanted)]
    return items[:limit] if limit is not None else items


def run_items(assistant, items: list[GoldItem], retrieval_only: bool) -> list[ItemResult]:
    from tqdm import tqdm

    results: list[ItemResult] = []
    bar = tqdm(items, desc="retrieval" if retrieval_only else "eval", unit="q", file=sys.stderr, dynamic_ncols=True)
    for item in bar:
        result = retrieve_item(assistant, item) if retrieval_only else answer_item(assistant, item)
        results.append(result)
        passed = [r.passed for r in results if r.passed is not None]
        bar.set_postfix(passed=f"{sum(passed)}/{len(passed)}", refresh=False)
    return results


def retrieve_item(assistant, item: GoldItem) -> ItemResult:
    """Retrieval only: the same standalone query the assistant would search for, top 10 passages."""
    from qa.assistant import standalone_query

    query = standalone_query(item.question, item.previous)
    passages = assistant.retriever.retrieve(query, k=RETRIEVAL_K)
    retrieved = tuple(p.source for p in passages)
    return ItemResult(item.id, item.type, item.turns, item.answerable, item.sources, query, retrieved)


def answer_item(assistant, item: GoldItem) -> ItemResult:
    """Ask the question (a conversation's first turn first), then score the answer and its retrieval."""
    first_answer, history = "", []
    base = dict(id=item.id, type=item.type, turns=item.turns, answerable=item.answerable, gold_sources=item.sources)
    try:
        if item.previous:
            first_answer = assistant.ask(item.previous).text
            history = [{"role": "user", "content": item.previous}, {"role": "assistant", "content": first_answer}]
        answer, draft = ask_with_draft(assistant, item.question, history)
        retrieved = assistant.retriever.retrieve(answer.search_query, k=RETRIEVAL_K)
    except Exception as e:  # one broken item must not lose the other 89; it is reported and fails
        print(f"\nerror on {item.id}: {type(e).__name__}: {e}", file=sys.stderr)
        return ItemResult(**base, search_query="", retrieved=(), answer="", first_answer=first_answer,
                          error=f"{type(e).__name__}: {e}")  # fmt: skip
    docs = assistant.store.docs
    citations = tuple(
        CitationCheck(c.n, c.source, c.quote, c.start, c.end,
                      c.source in docs and quote_valid(c.quote, docs[c.source].text, c.start, c.end))
        for c in answer.citations
    )  # fmt: skip
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
        sentences=sentences,
        faithful_sentences=faithful,
        timings=dict(answer.timings),
        first_answer=first_answer,
        draft=draft,
        draft_correct=not missing_groups(draft, item.must_contain) if item.answerable and draft else None,
    )


def ask_with_draft(assistant, question: str, history: list[dict[str, str]]):
    """(Answer, the model's raw text): the draft shows what a refusal or a dropped citation replaced."""
    from qa.records import Answer

    draft, answer = "", None
    for event in assistant.ask_stream(question, history):
        if isinstance(event, Answer):
            answer = event
        else:
            draft += event
    if answer is None:
        raise RuntimeError("ask_stream ended without an Answer")
    return answer, draft


def load_thresholds(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """([floors], [ceilings]) of a thresholds file; any other table or a non-number value is an error."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise EvalError(f"cannot read thresholds {path}: {e}") from None
    unknown = set(data) - {"floors", "ceilings"}
    if unknown:
        raise EvalError(f"{path}: unknown table(s) {sorted(unknown)}; use [floors] and [ceilings]")
    tables = []
    for name in ("floors", "ceilings"):
        table = data.get(name, {})
        bad = [k for k, v in table.items() if isinstance(v, bool) or not isinstance(v, int | float)]
        if bad:
            raise EvalError(f"{path}: [{name}] values must be numbers: {', '.join(bad)}")
        tables.append({k: float(v) for k, v in table.items()})
    return tables[0], tables[1]


def load_previous(path: Path, retrieval_only: bool) -> list[dict[str, Any]]:
    """The per-item records of an earlier results file, for --compare."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        items = previous["items"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EvalError(f"cannot read previous results {path}: {e}") from None
    mode = "retrieval-only" if retrieval_only else "full"
    if previous.get("mode") != mode:
        print(f"warning: comparing a {mode} run with a {previous.get('mode')} run: pass means different things",
              file=sys.stderr)  # fmt: skip
    if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
        raise EvalError(f"{path}: items must be a list of objects with an id")
    return items


def summary_line(metrics: dict[str, float], retrieval_only: bool = False) -> str:
    """SUMMARY answer_acc=0.91 cite_file=0.95 … p95_s=6.0 (metrics not measured show as n/a)."""
    parts = []
    for label, key, scale in RETRIEVAL_SUMMARY_KEYS if retrieval_only else SUMMARY_KEYS:
        value = metrics.get(key)
        shown = "n/a" if value is None else f"{value / scale:.1f}" if scale != 1 else f"{value:.2f}"
        parts.append(f"{label}={shown}")
    return "SUMMARY " + " ".join(parts)


def model_name(settings) -> str:
    """The chat model's file name without .gguf, known without loading it."""
    from qa.assemble import PROFILES

    path = settings.model_path or Path(PROFILES[settings.model_profile].file_name)
    return Path(path).name.removesuffix(".gguf")


def run_name(settings, retrieval_only: bool) -> str:
    """A sortable, file-safe name: 20261125-093000_qwen2.5-coder-1.5b-instruct-q4_k_m."""
    label = "retrieval-only" if retrieval_only else model_name(settings)
    return f"{time.strftime('%Y%m%d-%H%M%S')}_{re.sub(r'[^A-Za-z0-9._-]+', '-', label)}"


def _settings(args: argparse.Namespace):
    from qa.cli import settings_from  # one place decides that --corpus without --index means <corpus>/.qa-index

    return settings_from(argparse.Namespace(corpus=args.corpus, index_dir=args.index, model_path=args.model))


def _load_average() -> list[float] | None:
    """1/5/15-minute load: latency figures mean little if other jobs shared the CPU."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _check_sources(items: list[GoldItem], indexed: set[str]) -> None:
    """Gold files missing from the index would silently score 0: stop instead."""
    missing = sorted({s for item in items for s in item.sources} - indexed)
    if missing:
        raise GoldError(f"gold source(s) not in the index: {', '.join(missing)} — wrong --corpus or --index?")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa eval", description="Run the gold question set and gate on thresholds.")
    p.add_argument("--model", type=Path, help="a GGUF chat model to use instead of the default")
    p.add_argument("--corpus", type=Path, help="corpus folder (default: seeds/)")
    p.add_argument("--index", type=Path, help="index folder (default: index/store)")
    p.add_argument("--retrieval-only", action="store_true", help="only retrieval metrics, no LLM (seconds)")
    p.add_argument("--limit", type=int, help="run only the first N items (the gate is then skipped)")
    p.add_argument("--ids", help="comma-separated gold ids to run (the gate is then skipped)")
    p.add_argument("--compare", type=Path, metavar="PREV.json", help="list questions whose outcome changed")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (default: eval/results)")
    p.add_argument("--no-gate", action="store_true", help="do not fail on eval/thresholds.toml")
    p.add_argument("--gold", type=Path, default=GOLD_PATH, help=argparse.SUPPRESS)
    p.add_argument("--thresholds", type=Path, default=THRESHOLDS_PATH, help=argparse.SUPPRESS)
    return p


if __name__ == "__main__":
    sys.exit(main())
