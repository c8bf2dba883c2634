"""A bounded load test on loopback: the real app in its own process (eval/bench/load_server.py, a stand-in
model that sleeps 20 ms a token), 50 concurrent clients x 4 questions (eval/bench/loadtest.py). Every request
ends in an answer or a fast 503 with Retry-After; the server survives and still answers. The stand-in models
themselves are checked too, without a server."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.bench.load_server import HashEmbedder, PacedGenerator
from eval.bench.loadtest import free_port, load_server_command, run_load, start_server, stop_server, wait_ready
from qa.generate import Stream

CLIENTS, QUESTIONS, BUDGET_SECONDS = 50, 4, 120


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("load") / "server.log"
    server = start_server(load_server_command(port, token_seconds=0.02), log=log)
    try:
        wait_ready(f"http://127.0.0.1:{port}", server, timeout=60)
        yield f"http://127.0.0.1:{port}", server
    finally:
        stop_server(server)


def test_50_clients_get_answers_or_fast_503s_and_the_server_survives(fake_server):
    base, server = fake_server
    figures = run_load(base, CLIENTS, QUESTIONS, BUDGET_SECONDS, server.pid)
    print("\n" + json.dumps(figures))
    assert figures["finished_in_time"] and figures["not_sent_or_cut"] == 0
    assert figures["other"] == [], "every request ends in 200 or 503"
    assert figures["ok"] + figures["busy_503"] == CLIENTS * QUESTIONS
    assert figures["ok"] >= 9 and figures["incomplete_ok"] == 0  # at least one full waiting line was answered
    assert all(figures["by_endpoint_ok"].values()), figures["by_endpoint_ok"]
    assert figures["busy_503"] > 0 and figures["busy_503_with_retry_after"] == figures["busy_503"]
    # A 503 never waits for the model. Its latency is mostly the closed loop itself: 50 clients that re-ask at
    # once share this CPU with the server (and, here, with whatever else runs), so it is bounded loosely.
    assert figures["latency_503_ms"]["p50"] < 1000, "a 503 is fast"
    assert figures["latency_503_ms"]["p95"] < figures["latency_ok_ms"]["p50"], "a 503 does not wait for the model"
    assert server.poll() is None and figures["health_after"] == 200
    assert figures["server_rss_mib_after"] < 400


def test_the_paced_generator_streams_the_first_sentence_of_passage_1_cited():
    messages = [{"role": "user", "content": "[1] OSCE report\nOnly 34 do. The rest do not.\n\nQuestion: how many?"}]
    generator = PacedGenerator(token_seconds=0)
    stream = Stream(generator.generate(messages))
    assert list(stream) == ["Only", " 34", " do.", " [1]"]
    assert stream.generation.usage.completion_tokens == 4
    assert "".join(generator.generate([{"role": "user", "content": "no passages"}])) == "The documents do not say."
    supported = [{"role": "user", "content": "Text: Only 34 signatories do.\nQuestion: How many signatories?"}]
    unrelated = [{"role": "user", "content": "Text: Only 34 signatories do.\nQuestion: Which bananas ripen?"}]
    assert generator.yes_probability(supported) > 0.5 > generator.yes_probability(unrelated) == pytest.approx(0.05)


def test_the_hash_embedder_gives_unit_rows_that_meet_on_shared_words():
    texts = ["34 of the 57 signatories", "the 57 signatories", "", "bananas"]
    vectors = HashEmbedder().embed(texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert vectors[0] @ vectors[1] > 0.5 and abs(vectors[0] @ vectors[3]) < 0.5
    np.testing.assert_array_equal(vectors, HashEmbedder().embed(texts))  # the same in every process
