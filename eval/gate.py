"""Gate: a suite's metrics against the floors and ceilings of eval/thresholds.toml, the questions whose
outcome changed since an earlier run, and the lines printed.

    tables = load_thresholds(Path("eval/thresholds.toml"))  # {"seeds/test": {"floors": {…}, "ceilings": {…}}}
    apply_gate(metrics, tables["seeds/test"], no_gate=False, retrieval_only=False, subset=False, split="test")
    summary_line(metrics, suite="seeds/test")               # "SUMMARY seeds/test answer_acc=0.40 …"
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class EvalError(ValueError):
    """A bad option or input file of the eval (thresholds, previous results)."""


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


def apply_gate(
    metrics: dict[str, float],
    table: dict[str, dict[str, float]],
    *,
    no_gate: bool,
    retrieval_only: bool,
    subset: bool,
    split: str,
) -> tuple[str, list[str]]:
    """(status, failures) of one suite. Floors apply to the test split (dev is for tuning); a subset run is
    not gated, as a handful of questions says little about a floor."""
    if no_gate:
        return "skipped (--no-gate)", []
    if subset:
        return "skipped (only part of the gold set was run)", []
    if not table:
        return f"skipped (no thresholds for the {split} split)", []
    floors, ceilings = table.get("floors", {}), table.get("ceilings", {})
    failures = check_thresholds(metrics, floors, ceilings, ("retrieval.",) if retrieval_only else ("",))
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


def summary_line(metrics: dict[str, float], retrieval_only: bool = False, suite: str = "") -> str:
    """SUMMARY seeds/test answer_acc=0.91 … p95_s=6.0 (metrics not measured show as n/a)."""
    parts = []
    for label, key, scale in RETRIEVAL_SUMMARY_KEYS if retrieval_only else SUMMARY_KEYS:
        value = metrics.get(key)
        shown = "n/a" if value is None else f"{value / scale:.1f}" if scale != 1 else f"{value:.2f}"
        parts.append(f"{label}={shown}")
    return "SUMMARY " + (f"{suite} " if suite else "") + " ".join(parts)


def overall_status(summaries: list[dict[str, Any]]) -> str:
    statuses = {s["gate"]["status"] for s in summaries}
    if "failed" in statuses:
        return "failed"
    return "passed" if "passed" in statuses else next(iter(statuses), "skipped (nothing run)")


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
