"""Retrieval timing: hybrid retrieval as the assistant does it, per query, and its parts, over one store.

timing = measure_retrieval(index_dir, embedder, settings, gold_queries(), repeat=3)
timing.p50_ms == 13.35          # query embedding + FAISS + BM25 + fusion, the latency the assistant reports
timing.figures()["bm25_ms"]     # the flat figures, as index and ann put them under retrieval.<size>.*
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.bench.records import json_fields
from eval.bench.summary import distribution, median_of
from eval.bench.timing import seconds_of, timed

CANDIDATES = 30  # what HybridRetriever asks FAISS and BM25 for


@dataclass(frozen=True, kw_only=True)
class RetrievalTiming:
    """Medians over the repeats of each pass's p50 (or p95) over the queries, in ms."""

    store_load_s: float | None = None  # loading the store from disk; None when it was built in memory
    p50_ms: float  # query embedding + retrieve() given the vector
    p95_ms: float
    embed_ms: float  # the query embedding alone
    search_ms: float  # retrieve() given the query vector: the part that grows with the index
    search_p95_ms: float
    dense_ms: float  # FAISS alone
    bm25_ms: float  # the lexical ranking alone
    first_ms: float  # the first query, which builds the BM25 index
    queries: int
    chunks: int

    def figures(self) -> dict[str, Any]:
        return json_fields(self, *(f.name for f in dataclasses.fields(self)))


def measure_retrieval(index_dir: Path, embedder, settings, queries: list[str], repeat: int) -> RetrievalTiming:
    """Load the store at index_dir (timed), then time hybrid retrieval on it."""
    from qa.retrieve import HybridRetriever
    from qa.store import load_store

    store, load_s = timed(lambda: load_store(index_dir))
    retriever = HybridRetriever(store, embedder, settings.rrf_k)
    timing = time_retriever(retriever, queries, settings.top_k, repeat)
    return dataclasses.replace(timing, store_load_s=round(load_s, 3))


def time_retriever(retriever, queries: list[str], top_k: int, repeat: int) -> RetrievalTiming:
    """Per query: the query embedding, then retrieve() given that vector, and FAISS and BM25 alone; p50/p95
    of embedding + retrieve() is the retrieval latency the assistant reports."""
    first = seconds_of(lambda: retriever.retrieve(queries[0], top_k)) * 1000
    runs = [_one_pass(retriever, queries, top_k) for _ in range(repeat)]
    return RetrievalTiming(
        **median_of(runs), first_ms=round(first, 1), queries=len(queries), chunks=len(retriever.store.chunks)
    )


def _one_pass(retriever, queries: list[str], top_k: int) -> dict[str, float]:
    embedder, store = retriever.embedder, retriever.store
    total, embed, search, dense, lexical = [], [], [], [], []
    for q in queries:
        vector, embed_s = timed(lambda: embedder.embed([q])[0])
        search_s = seconds_of(lambda: retriever.retrieve(q, top_k, vector))
        total.append((embed_s + search_s) * 1000)
        embed.append(embed_s * 1000)
        search.append(search_s * 1000)
        dense.append(seconds_of(lambda: store.search(vector[None, :], CANDIDATES)) * 1000)
        lexical.append(seconds_of(lambda: retriever.lexical_ranking(q, CANDIDATES)) * 1000)
    return {
        "p50_ms": distribution(total)["p50"],
        "p95_ms": distribution(total)["p95"],
        "embed_ms": distribution(embed)["p50"],
        "search_ms": distribution(search)["p50"],
        "search_p95_ms": distribution(search)["p95"],
        "dense_ms": distribution(dense)["p50"],
        "bm25_ms": distribution(lexical)["p50"],
    }
