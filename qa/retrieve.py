"""Retrieve: question -> top passages, fusing dense, lexical and year rankings by reciprocal rank fusion.

Dense and lexical rankings come from the store: FAISS and BM25 (bm25s) over files, or pgvector and
PostgreSQL full text.

retriever = HybridRetriever(store, embedder)
passages = retriever.retrieve("What share of sex trafficking victims are advertised online?", k=5)
passages[0].source == "004_c02d08bf38d297e0.txt"
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qa.embed import Embedder
from qa.language import YEAR
from qa.records import Chunk, Passage
from qa.store import Store
from qa.tokens import terms


class HybridRetriever:
    """Works on any `Store`: the chunks it fetches are the candidates of one question, never the whole index."""

    def __init__(self, store: Store, embedder: Embedder, rrf_k: int = 60, candidates: int = 30) -> None:
        self.store = store
        self.embedder = embedder
        self.rrf_k = rrf_k
        self.candidates = candidates

    def retrieve(self, query: str, k: int = 5, query_vector: np.ndarray | None = None) -> list[Passage]:
        if query_vector is None:
            query_vector = self.embedder.embed([query])[0]
        n = min(self.candidates, self.store.n_chunks)
        dense = self.store.dense(query_vector, n)
        lexical = self.lexical_ranking(query, n)
        fetched = self.store.fetch(list(dict.fromkeys(dense + lexical)), query_vector)
        fused = fuse_rankings([dense, lexical, _year_ranking(query, fetched)], self.rrf_k)[:k]
        return [_passage(*fetched[key], score) for key, score in fused]

    def rare_term_match(self, query: str, passages: list[Passage]) -> bool:
        """Whether a word of the query that few chunks contain (a name, an acronym) is in a passage."""
        frequency = self.vocabulary
        rare_below = max(2, self.store.n_chunks // 100)
        rare = {t for t in terms(query) if 0 < frequency.get(t, 0) <= rare_below and not t.isdigit()}
        return bool(rare) and any(rare & set(terms(f"{p.title} {p.text}")) for p in passages)

    @property
    def vocabulary(self) -> Mapping[str, int]:
        """Every term of the corpus, with the number of chunks that contain it."""
        return self.store.term_counts()

    def lexical_ranking(self, query: str, n: int) -> list[int]:
        """The lexical ranking alone: up to n chunk keys that share a term with the query, best first.

        retriever.lexical_ranking("How many of the 57 signatories?", 30)[0]  # the 34-of-57 chunk's key
        [] for a query of stop words.
        """
        return self.store.lexical(terms(query), n)


def _passage(chunk: Chunk, similarity: float, score: float) -> Passage:
    c = chunk
    return Passage(
        c.chunk_id, c.source, c.title, c.text, round(score, 5), round(similarity, 4), c.start, c.end, c.metadata
    )


def _year_ranking(query: str, candidates: dict[int, tuple[Chunk, float]]) -> list[int]:
    """Candidates dated in, or mentioning, every year the question names ("who held the post in 2024")."""
    years = set(YEAR.findall(query))
    if not years:
        return []
    return [
        key
        for key, (chunk, _) in candidates.items()
        if years <= set(YEAR.findall(f"{chunk.metadata.date} {chunk.text}"))
    ]


def fuse_rankings(rankings: list[list[int]], rrf_k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: fuse_rankings([[3, 1], [1]]) == [(1, 1/61 + 1/62), (3, 1/61)] (rounded)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (rrf_k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
