"""ANN (section `ann`): exact vs HNSW FAISS search at ~100k rows, and hybrid retrieval over that many chunks.

    result = measure_ann(settings, source=None, rows=100_000, noise=0.02, repeat=3, embedder=embedder)
    result.metrics["ann.hnsw.recall@10"] == 0.956     # against exact search, on the gold queries
    result.metrics["retrieval.large.p50_ms"] == 14.0

The rows are a built store's vectors (the index section's largest, or index/store) replicated with noise
(synthetic.py); HNSW is the index qa/store.py builds above APPROXIMATE_ABOVE chunks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench.gold import gold_queries
from eval.bench.retrieval import CANDIDATES, RetrievalTiming, time_retriever
from eval.bench.summary import distribution, median_of
from eval.bench.synthetic import replicate, synthetic_store
from eval.bench.timing import seconds_of


@dataclass(frozen=True)
class SearchComparison:
    exact_build_s: float
    hnsw_build_s: float
    hnsw_type: str  # the FAISS class qa/store.py chose (IndexHNSWFlat)
    exact_p50_ms: float  # one query at a time, as the assistant searches
    exact_p95_ms: float
    hnsw_p50_ms: float
    hnsw_p95_ms: float
    k: int
    hnsw_recall: float  # of the exact top k

    @property
    def metrics(self) -> dict[str, Any]:
        return {
            "exact.build_s": self.exact_build_s,
            "hnsw.build_s": self.hnsw_build_s,
            "hnsw.type": self.hnsw_type,
            "exact.p50_ms": self.exact_p50_ms,
            "exact.p95_ms": self.exact_p95_ms,
            "hnsw.p50_ms": self.hnsw_p50_ms,
            "hnsw.p95_ms": self.hnsw_p95_ms,
            f"hnsw.recall@{self.k}": self.hnsw_recall,
        }


@dataclass(frozen=True)
class AnnRun:
    source_index: str  # the store whose vectors were replicated
    noise: float
    rows: int
    base_chunks: int
    search: SearchComparison
    retrieval: RetrievalTiming

    @property
    def metrics(self) -> dict[str, Any]:
        m = {f"ann.{k}": v for k, v in self.search.metrics.items()}
        m.update({"ann.rows": self.rows, "ann.base_chunks": self.base_chunks})
        m.update({f"retrieval.large.{k}": v for k, v in self.retrieval.figures().items()})
        return m

    def to_json(self) -> dict[str, Any]:
        return {"source_index": self.source_index, "noise": self.noise}


def measure_ann(settings, source: Path | None, rows: int, noise: float, repeat: int, embedder) -> AnnRun:
    """`source` (default: the settings' index) replicated to `rows` (at least APPROXIMATE_ABOVE + 1, below
    which the store keeps exact search), searched both ways, then hybrid retrieval over it."""
    from qa.retrieve import HybridRetriever
    from qa.store import APPROXIMATE_ABOVE, load_store

    source = source or settings.index_dir
    base = load_store(source)
    rows = max(rows, APPROXIMATE_ABOVE + 1)
    vectors = replicate(base.vectors, rows, noise)
    queries = gold_queries()
    search, hnsw = compare_search(vectors, embedder.embed(queries), repeat)
    retriever = HybridRetriever(synthetic_store(base, vectors, hnsw), embedder, settings.rrf_k)
    retrieval = time_retriever(retriever, queries, settings.top_k, repeat)
    return AnnRun(str(source), noise, rows, len(base.chunks), search, retrieval)


def compare_search(
    vectors: np.ndarray, query_vectors: np.ndarray, repeat: int, k: int = 10
) -> tuple[SearchComparison, Any]:
    """The figures, and the HNSW index (which took a while to build) for the retrieval that follows."""
    import faiss

    from qa.store import build_faiss_index

    started = time.perf_counter()
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    exact_build = time.perf_counter() - started
    started = time.perf_counter()
    hnsw = build_faiss_index(vectors)
    hnsw_build = time.perf_counter() - started
    exact_ms, hnsw_ms = latency(exact, query_vectors, repeat), latency(hnsw, query_vectors, repeat)
    _, truth = exact.search(query_vectors, k)
    _, found = hnsw.search(query_vectors, k)
    recall = float(np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found)]))
    comparison = SearchComparison(
        round(exact_build, 2), round(hnsw_build, 2), type(hnsw).__name__, *exact_ms, *hnsw_ms, k, round(recall, 4)
    )
    return comparison, hnsw


def latency(index, query_vectors: np.ndarray, repeat: int) -> tuple[float, float]:
    """(p50, p95) ms of searching one query at a time, medians over the repeats."""
    runs = [
        [seconds_of(lambda: index.search(q[None, :], CANDIDATES)) * 1000 for q in query_vectors] for _ in range(repeat)
    ]
    p50 = median_of([{"v": distribution(r)["p50"]} for r in runs])["v"]
    p95 = median_of([{"v": distribution(r)["p95"]} for r in runs])["v"]
    return p50, p95
