"""Indexing (section `index`): build the corpus and synthetic corpora N× its size, then time retrieval on each.

result = measure_index(settings, scales=[1, 100], repeat=3, workdir=Path("/tmp/qa-bench"), embedder=embedder)
result.metrics["index.x100.chunks_per_s"] == 64.0
result.largest_index                # the ×100 index, which the ann section replicates
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench.gold import gold_queries
from eval.bench.records import json_fields
from eval.bench.retrieval import RetrievalTiming, measure_retrieval
from eval.bench.summary import median_of
from eval.bench.synthetic import synthesize_corpus, write_corpus


@dataclass(frozen=True)
class BuildTiming:
    docs: float
    chunks: float
    build_s: float
    embed_s: float  # of build_s, the seconds spent in the embedder
    chunks_per_s: float
    runs: int  # builds of which these are the medians


@dataclass(frozen=True)
class ScaleRun:
    scale: int  # 1: the corpus itself; N: N synthetic copies of it
    build: BuildTiming
    retrieval: RetrievalTiming


@dataclass(frozen=True)
class IndexRun:
    scales: tuple[ScaleRun, ...]  # smallest first
    largest_index: str

    @property
    def metrics(self) -> dict[str, Any]:
        m: dict[str, Any] = {}
        for run in self.scales:
            build = dataclasses.asdict(run.build)
            m.update({f"index.x{run.scale}.{k}": v for k, v in build.items() if k != "runs"})
            m.update({f"retrieval.x{run.scale}.{k}": v for k, v in run.retrieval.figures().items()})
        m["index.chunks_per_s"] = self.scales[-1].build.chunks_per_s  # steady state: the largest
        return m

    def to_json(self) -> dict[str, Any]:
        return json_fields(self, "scales", "largest_index")


class TimedEmbedder:
    """An Embedder that adds up the seconds spent embedding, to split a build into embedding and the rest."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.seconds = inner, inner.name, inner.dim, 0.0

    def embed(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - started


def measure_index(settings, scales: list[int], repeat: int, workdir: Path, embedder) -> IndexRun:
    """Build each scale (sorted) into workdir/index-x<scale>, then time retrieval on it."""
    from index.load import load_corpus

    seeds = [(d.source, d.text) for d in load_corpus(settings.corpus_dir)[0]]
    queries = gold_queries()
    runs = tuple(measure_scale(seeds, scale, settings, repeat, workdir, embedder, queries) for scale in sorted(scales))
    return IndexRun(runs, str(workdir / f"index-x{runs[-1].scale}"))


def measure_scale(
    seeds: list[tuple[str, str]], scale: int, settings, repeat: int, workdir: Path, embedder, queries: list[str]
) -> ScaleRun:
    corpus = settings.corpus_dir
    if scale != 1:
        corpus = write_corpus(synthesize_corpus(seeds, scale), workdir / f"corpus-x{scale}")
    times = repeat if scale <= 10 else 1  # a big build is long enough to be steady, and costs minutes
    builds = [build_once(corpus, workdir / f"index-x{scale}", embedder, settings) for _ in range(times)]
    build = BuildTiming(**{**median_of([dataclasses.asdict(b) for b in builds]), "runs": len(builds)})
    retrieval = measure_retrieval(workdir / f"index-x{scale}", embedder, settings, queries, repeat)
    print(
        f"[bench] x{scale}: {build.chunks:.0f} chunks, {build.chunks_per_s:.0f} chunks/s, "
        f"retrieval p50 {retrieval.p50_ms:.1f} ms",
        file=sys.stderr,
    )
    if scale != 1:
        shutil.rmtree(corpus, ignore_errors=True)
    return ScaleRun(scale, build, retrieval)


def build_once(corpus: Path, index_dir: Path, embedder, settings) -> BuildTiming:
    """One full rebuild of corpus into index_dir."""
    from index.build import build_index

    timed = TimedEmbedder(embedder)
    report = build_index(corpus, index_dir, timed, settings.chunker, rebuild=True)
    return BuildTiming(
        docs=report.files,
        chunks=report.chunks,
        build_s=round(report.seconds, 3),
        embed_s=round(timed.seconds, 3),
        chunks_per_s=round(report.chunks / report.seconds, 1),
        runs=1,
    )
