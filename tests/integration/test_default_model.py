"""The three acceptance questions of the pipeline, answered by the real default model (Qwen2.5 1.5B)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_counts_34_of_57_cites_002(real_assistant):
    a = real_assistant.ask(
        "How many of the 57 OSCE signatories criminalise the use of victims of trafficking for sexual exploitation?"
    )
    assert not a.refused
    assert "34" in a.text
    cited = {c.source for c in a.citations}
    assert cited == {"002_1544d809993e5293.txt"}
    assert any("34 of the 57" in c.quote for c in a.citations)
    for c in a.citations:
        assert real_assistant.store.docs[c.source].text[c.start : c.end] == c.quote


def test_75_percent_online_cites_004(real_assistant):
    a = real_assistant.ask("What percentage of sex trafficking victims are advertised online?")
    assert not a.refused
    assert "75" in a.text
    assert {c.source for c in a.citations} == {"004_c02d08bf38d297e0.txt"}
    assert any("75%" in c.quote for c in a.citations)


def test_capital_of_australia_is_refused(real_assistant):
    a = real_assistant.ask("What is the capital of Australia?")
    assert a.refused
    assert a.citations == []
    assert "do not contain" in a.text
    assert a.passages, "the closest passages are still returned"
    assert all(p.similarity < 0.3 for p in a.passages)


def test_ask_stream_yields_deltas_then_answer(real_assistant):
    events = list(real_assistant.ask_stream("What percentage of sex trafficking victims are advertised online?"))
    assert all(isinstance(e, str) for e in events[:-1]) and len(events) > 2
    final = events[-1]
    assert final.timings.ttft_ms > 0 and final.usage.prompt_tokens > 0


def test_bfloat16_embeddings_match_float32_ones() -> None:
    """The bfloat16 fast path changes vectors by less than any ranking difference we could measure."""
    import numpy as np

    from index.chunk import chunk_corpus
    from index.clean import clean_corpus
    from index.load import load_corpus
    from qa.embed import SentenceTransformerEmbedder
    from qa.settings import ROOT

    texts = [c.embed_text for c in chunk_corpus(clean_corpus(load_corpus(ROOT / "seeds")[0]))]
    exact = SentenceTransformerEmbedder(precision="float32").embed(texts)
    fast = SentenceTransformerEmbedder(precision="bfloat16").embed(texts)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert (exact * fast).sum(axis=1).min() > 0.999
    assert ((fast @ exact.T).argmax(axis=1) == np.arange(len(texts))).all()
