"""Run: the selected sections, in an order that keeps their memory apart, filling one run record (the JSON).

    run = bench(parser().parse_args(["--only", "index", "--scales", "1"]))   # parser() of cli.py
    run["metrics"]["retrieval.x1.p50_ms"] == 13.35     # every section's figures, flat
    run["sections"]["index"]["scales"][0]["build"]     # each section's own record
The files are rewritten after each section, so a killed run leaves the sections it finished.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.bench.ann import measure_ann
from eval.bench.answers import measure_answers
from eval.bench.cold_start import measure_cold_start
from eval.bench.indexing import measure_index
from eval.bench.model_load import Models, measure_load
from eval.bench.postgres import measure_postgres
from eval.bench.records import SectionResult
from eval.bench.report import write_results
from eval.bench.site import measure_site
from eval.bench.targets import evaluate_targets
from eval.bench.timing import children_peak_rss_mb, peak_rss_mb
from qa.errors import QAError

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "bench" / "results"
SECTIONS = (
    "load",
    "cold",
    "answers",
    "index",
    "site",
    "ann",
    "postgres",
)  # model sections first: their RSS is the assistant's
DEFAULT_SECTIONS = SECTIONS[:-1]  # postgres runs with --backend postgres (or --only postgres)


class BenchError(ValueError):
    """A bad option of the bench."""


@dataclass
class Context:
    """What the sections of one run share: the options, a scratch folder, the models and earlier results."""

    settings: Any
    args: argparse.Namespace
    workdir: Path
    models: Models = field(default_factory=Models)
    results: dict[str, SectionResult] = field(default_factory=dict)


def bench(args: argparse.Namespace, argv: list[str] | None = None) -> dict[str, Any]:
    """Run the sections `args.only` names (all by default); returns the run record, complete."""
    only = chosen_sections(args.only, getattr(args, "backend", "files"))
    settings = settings_for(args)
    previous = load_previous(args.compare) if args.compare else None
    warn_if_busy()
    run = new_run(args, argv, settings)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="qa-bench-", dir=args.workdir))

    def save_partial() -> None:
        write_results(finish(run, args.compare, started, previous), args.out)

    try:
        run_sections(run, only, Context(settings, args, workdir), save_partial)
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    run["complete"] = True
    return finish(run, args.compare, started, previous)


def new_run(args: argparse.Namespace, argv: list[str] | None, settings) -> dict[str, Any]:
    from eval.run import model_name

    model = model_name(settings.model_path, settings.model_profile)
    return {
        "run": f"{time.strftime('%Y%m%d-%H%M%S')}_{re.sub(r'[^A-Za-z0-9._-]+', '-', model)}",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": argv,
        "model": model,
        "machine": machine(),
        "settings": settings.model_dump(mode="json"),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "load_average": {"start": list(os.getloadavg())},
        "sections": {},
        "skipped": {},
        "metrics": {},
        "rss_after_mb": {},
        "complete": False,  # until every section has run; the files are rewritten after each section
    }


def run_sections(run: dict, only: set[str], context: Context, save_partial: Callable[[], None]) -> None:
    """Each chosen section in SECTIONS order; one that fails on a missing model or file is skipped with why."""
    for name in (s for s in SECTIONS if s in only):
        before = list(os.getloadavg())
        print(f"[bench] {name} (load average {before[0]:.2f})", file=sys.stderr)
        started = time.perf_counter()
        try:
            result = measure(name, context)
        except (QAError, OSError, subprocess.SubprocessError) as e:
            run["skipped"][name] = f"{type(e).__name__}: {e}"
            print(f"[bench] skipped {name}: {e}", file=sys.stderr)
            continue
        context.results[name] = result
        run["metrics"].update(result.metrics)
        run["sections"][name] = {
            **result.to_json(),
            "seconds": round(time.perf_counter() - started, 1),
            "load_average": {"before": before, "after": list(os.getloadavg())},
        }
        run["rss_after_mb"][name] = peak_rss_mb()
        save_partial()
        if getattr(result, "interrupted", False):
            raise KeyboardInterrupt
        if name == "answers":
            context.models.generator = None  # the big corpora come next; the chat model's pages need not stay
            gc.collect()


def measure(name: str, context: Context) -> SectionResult:
    """One section, given what the earlier ones left in the context."""
    settings, args, models = context.settings, context.args, context.models
    if name == "load":
        return measure_load(settings, args.repeat, models)
    if name == "cold":
        return measure_cold_start(settings, args.repeat)
    if name == "answers":
        return measure_answers(settings, models, args.limit, args.answer_repeat)
    embedder = models.loaded_embedder(settings)
    if name == "index":
        return measure_index(settings, args.scales, args.repeat, context.workdir, embedder)
    if name == "site":
        return measure_site(settings, args.site, context.workdir, embedder)
    if name == "postgres":
        return measure_postgres(
            settings,
            args.pg_sizes,
            args.repeat,
            context.workdir,
            embedder,
            None,
            args.pg_queries,
            args.pg_query_source,
        )
    index = context.results.get("index")
    source = Path(index.largest_index) if index is not None else None
    return measure_ann(settings, source, args.ann_rows, args.ann_noise, args.repeat, embedder)


def finish(run: dict[str, Any], compare: Path | None, started: float, previous: dict | None) -> dict[str, Any]:
    """Totals, memory and targets of the sections done so far (called after each, so a killed run leaves them)."""
    run["duration_s"] = round(time.perf_counter() - started, 1)
    run["load_average"]["end"] = list(os.getloadavg())
    torch = sys.modules.get("torch")  # only if a section loaded it: importing it costs seconds
    run["machine"]["torch_threads"] = torch.get_num_threads() if torch else None
    m = run["metrics"]
    m["rss.process_peak_mb"] = peak_rss_mb()
    m["rss.children_peak_mb"] = children_peak_rss_mb()
    assistant_peaks = [v for v in (m.get("cold_start.peak_rss_mb"), run["rss_after_mb"].get("answers")) if v]
    if assistant_peaks:
        m["rss.assistant_peak_mb"] = max(assistant_peaks)
    run["targets"] = evaluate_targets(m)
    if previous is not None:
        run["compare"] = {"previous": str(compare), "run": previous.get("run"), "metrics": previous["metrics"]}
    return run


def chosen_sections(only: str | None, backend: str = "files") -> set[str]:
    """chosen_sections("load, cold") == {"load", "cold"}; None is every section but postgres, which --backend
    postgres selects (alone, or added to --only's); an unknown one is a BenchError."""
    if not only:
        return {"postgres"} if backend == "postgres" else set(DEFAULT_SECTIONS)
    chosen = {s.strip() for s in only.split(",") if s.strip()} | ({"postgres"} if backend == "postgres" else set())
    unknown = chosen - set(SECTIONS)
    if unknown:
        # the message names the default sections; postgres is documented with --backend
        raise BenchError(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(DEFAULT_SECTIONS)}")
    return chosen


def settings_for(args: argparse.Namespace):
    from qa.settings import Settings

    return Settings.for_corpus(args.corpus, args.index, model_path=args.model)


def load_previous(path: Path) -> dict[str, Any]:
    """An earlier run's record for --compare; one without metrics is a BenchError."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        previous["metrics"].items()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise BenchError(f"cannot read earlier bench results {path}: {e}") from None
    return previous


def machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("llama_cpp_python", "faiss-cpu", "sentence-transformers", "torch", "bm25s"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpus": cpus, "python": platform.python_version(), "platform": platform.platform(), "versions": versions}


def warn_if_busy() -> None:
    load1, cpus = os.getloadavg()[0], machine()["cpus"] or 1
    if load1 > 0.5 * cpus:
        print(
            f"warning: load average {load1:.2f} on {cpus} CPUs — other processes will inflate the latencies",
            file=sys.stderr,
        )
