"""Retrieve: question -> top passages, fusing dense (FAISS), BM25 and year rankings by reciprocal rank fusion.

retriever = HybridRetriever(store, embedder)
passages = retriever.retrieve("What share of sex trafficking victims are advertised online?", k=5)
passages[0].source == "004_c02d08bf38d297e0.txt"
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from qa.embed import Embedder
from qa.records import Passage
from qa.store import IndexStore
from qa.tokens import terms

YEAR = re.compile(r"\b(?:19|20)\d\d\b")


class HybridRetriever:
    def __init__(self, store: IndexStore, embedder: Embedder, rrf_k: int = 60, candidates: int = 30) -> None:
        self.store = store
        self.embedder = embedder
        self.rrf_k = rrf_k
        self.candidates = candidates
        self._bm25 = None
        self._frequency: Counter | None = None

    def retrieve(self, query: str, k: int = 5, query_vector: np.ndarray | None = None) -> list[Passage]:
        if query_vector is None:
            query_vector = self.embedder.embed([query])[0]
        n = min(self.candidates, len(self.store.chunks))
        sims, ids = self.store.search(query_vector[None, :], n)
        dense = [int(i) for i in ids[0] if i >= 0]
        lexical = self.lexical_ranking(query, n)
        fused = fuse_rankings([dense, lexical, self._year_ranking(query, dense + lexical)], self.rrf_k)[:k]
        chunk_vectors = self.store.vectors[[i for i, _ in fused]] if fused else np.zeros((0, len(query_vector)))
        similarities = chunk_vectors @ query_vector
        return [self._passage(i, score, float(sim)) for (i, score), sim in zip(fused, similarities)]

    def _passage(self, i: int, score: float, similarity: float) -> Passage:
        c = self.store.chunks[i]
        return Passage(
            c.chunk_id, c.source, c.title, c.text, round(score, 5), round(similarity, 4), c.start, c.end, c.metadata
        )

    def rare_term_match(self, query: str, passages: list[Passage]) -> bool:
        """Whether a word of the query that few chunks contain (a name, an acronym) is in a passage."""
        frequency = self._term_frequency()
        rare_below = max(2, len(self.store.chunks) // 100)
        rare = {t for t in terms(query) if 0 < frequency.get(t, 0) <= rare_below and not t.isdigit()}
        return bool(rare) and any(rare & set(terms(f"{p.title} {p.text}")) for p in passages)

    @property
    def vocabulary(self) -> dict[str, int]:
        """Every term of the corpus, with the number of chunks that contain it."""
        return self._term_frequency()

    def _term_frequency(self) -> dict[str, int]:
        if self._frequency is None:
            self._frequency = Counter(t for c in self.store.chunks for t in set(terms(c.embed_text)))
        return self._frequency

    def _year_ranking(self, query: str, candidates: list[int]) -> list[int]:
        """Candidates dated in, or mentioning, every year the question names ("who held the post in 2024")."""
        years = set(YEAR.findall(query))
        if not years:
            return []
        ranking = []
        for i in dict.fromkeys(candidates):
            chunk = self.store.chunks[i]
            if years <= set(YEAR.findall(f"{chunk.metadata.date} {chunk.text}")):
                ranking.append(i)
        return ranking

    def lexical_ranking(self, query: str, n: int) -> list[int]:
        """The BM25 ranking alone: up to n chunk indexes that share a term with the query, best first.

        retriever.lexical_ranking("How many of the 57 signatories?", 30)[0]  # the 34-of-57 chunk's index
        The first call indexes the store's chunks (seconds at 100k chunks); [] for a query of stop words.
        """
        query_terms = terms(query)
        if not query_terms or n == 0:
            return []
        bm25 = self._bm25_index()
        ids, scores = bm25.retrieve([query_terms], k=n, show_progress=False)
        return [int(i) for i, s in zip(ids[0], scores[0]) if s > 0]

    def _bm25_index(self):
        if self._bm25 is None:
            import bm25s

            self._bm25 = bm25s.BM25()
            self._bm25.index([terms(c.embed_text) or ["∅"] for c in self.store.chunks], show_progress=False)
        return self._bm25


def fuse_rankings(rankings: list[list[int]], rrf_k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: fuse_rankings([[3, 1], [1]]) == [(1, 1/61 + 1/62), (3, 1/61)] (rounded)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (rrf_k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
