"""qa/retrieve.py: reciprocal rank fusion of dense (FAISS) and BM25 rankings."""

from __future__ import annotations

import numpy as np
import pytest

from qa.retrieve import HybridRetriever, fuse_rankings

Q34 = "How many of the 57 OSCE signatories criminalise the use of victims of trafficking for sexual exploitation?"


def test_fuse_rankings_known_example():
    fused = fuse_rankings([[3, 1], [1]], rrf_k=60)
    assert [i for i, _ in fused] == [1, 3]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1][1] == pytest.approx(1 / 61)


def test_fuse_rankings_agreement_beats_a_single_first_place():
    fused = fuse_rankings([[10, 20, 30], [20, 30, 10], [40]], rrf_k=1)
    # 20: 1/3 + 1/2; 10: 1/2 + 1/4; 30: 1/4 + 1/3; 40: 1/2
    assert [i for i, _ in fused] == [20, 10, 30, 40]


def test_fuse_rankings_ties_break_by_index_and_empty_is_empty():
    assert [i for i, _ in fuse_rankings([[5], [2]])] == [2, 5]
    assert fuse_rankings([[], []]) == []


@pytest.fixture
def retriever(seed_store, fake_embedder) -> HybridRetriever:
    return HybridRetriever(seed_store, fake_embedder)


def test_the_34_of_57_chunk_comes_first(retriever):
    passages = retriever.retrieve(Q34, k=5)
    assert len(passages) == 5
    assert passages[0].source == "002_1544d809993e5293.txt"
    assert "only 34 of the 57 signatories" in passages[0].text


def test_bm25_carries_the_34_of_57_chunk(retriever, seed_store):
    lexical = retriever.lexical_ranking(Q34, 30)
    assert "only 34 of the 57 signatories" in seed_store.chunks[lexical[0]].text


def test_the_lexical_ranking_is_bounded_and_empty_for_stopwords(retriever):
    assert len(retriever.lexical_ranking(Q34, 3)) == 3
    assert retriever.lexical_ranking("what is it?", 30) == []
    assert retriever.lexical_ranking(Q34, 0) == []


def test_the_75_percent_chunk_comes_first(retriever):
    passages = retriever.retrieve("What percentage of sex trafficking victims are advertised online?", k=3)
    assert passages[0].source == "004_c02d08bf38d297e0.txt" and "75% of sex trafficking victims" in passages[0].text


def test_passages_are_ranked_records_of_the_store(retriever, seed_store, fake_embedder):
    passages = retriever.retrieve(Q34, k=5)
    by_id = {c.chunk_id: (i, c) for i, c in enumerate(seed_store.chunks)}
    question = fake_embedder.embed([Q34])[0]
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert len({p.chunk_id for p in passages}) == 5
    for p in passages:
        i, c = by_id[p.chunk_id]
        assert (p.source, p.title, p.text, p.start, p.end) == (c.source, c.title, c.text, c.start, c.end)
        assert p.metadata == c.metadata
        assert p.similarity == pytest.approx(float(seed_store.vectors[i] @ question), abs=1e-4)


def test_k_larger_than_the_store(retriever, seed_store):
    passages = retriever.retrieve(Q34, k=1000)
    assert 0 < len(passages) <= len(seed_store.chunks)


def test_a_question_of_stopwords_uses_the_dense_ranking_only(retriever):
    passages = retriever.retrieve("what is it?", k=3)
    assert len(passages) == 3  # no BM25 terms, still answered from the vectors


def test_a_given_question_vector_is_used(retriever, seed_store):
    target = 11
    passages = retriever.retrieve("zzzz qqqq", k=1, query_vector=np.asarray(seed_store.vectors[target]))
    assert passages[0].chunk_id == seed_store.chunks[target].chunk_id
    assert passages[0].similarity == pytest.approx(1.0, abs=1e-4)


def test_the_fake_embedder_keeps_the_embedder_contract():
    from fakes import FakeEmbedder

    embedder = FakeEmbedder()
    vectors = embedder.embed(["34 of the 57 signatories", "the signatories: 34 of 57", "Canberra", "the of and", ""])
    assert vectors.shape == (5, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)  # stopwords only or empty: still unit length
    assert vectors[0] @ vectors[1] == pytest.approx(1.0) and vectors[0] @ vectors[2] < 0.5
    assert np.array_equal(
        vectors,
        FakeEmbedder().embed(["34 of the 57 signatories", "the signatories: 34 of 57", "Canberra", "the of and", ""]),
    )
    assert embedder.embedded == 5 and embedder.embed([]).shape == (0, 64)
