"""web/: the HTTP API and pages over an Assistant built from fakes (an index of seeds/ plus one hostile file)."""

from __future__ import annotations

import asyncio
import builtins
import io
import json
import os
import re
import shutil
import threading
import time

import pytest
from fastapi.testclient import TestClient

from eval.bench.load_server import first_sentence_of_passage_1
from index.build import build_index
from qa.assistant import Assistant
from qa.settings import ROOT, Settings
from qa.store import IndexStore, load_store
from web.app import SECURITY_HEADERS, create_app
from web.deps import GenerationQueue

from fakes import SUPPORT_MODEL, FakeEmbedder, FakeGenerator  # tests/ is on sys.path (pytest rootdir conftest)

Q75 = "What percentage of sex trafficking victims are advertised online?"
DOC_75 = "004_c02d08bf38d297e0.txt"
HOSTILE = "zz_widgets.txt"
HOSTILE_TEXT = (
    "Widget factory weekly notes\n\n"
    'The widget factory in Oslo paints <script>alert("owned")</script> blue widgets every Tuesday. '
    "It ships them to Bergen by train on Fridays.\n"
)
TEMPLATES = ROOT / "web" / "templates"


@pytest.fixture(scope="module")
def web_index(tmp_path_factory) -> tuple[Settings, IndexStore]:
    root = tmp_path_factory.mktemp("web-index")
    shutil.copytree(ROOT / "seeds", root / "corpus")
    (root / "corpus" / HOSTILE).write_text(HOSTILE_TEXT, encoding="utf-8")
    build_index(root / "corpus", root / "store", FakeEmbedder())
    return Settings(
        corpus_dir=root / "corpus", index_dir=root / "store", collections_dir=root / "collections"
    ), load_store(root / "store")


@pytest.fixture
def generator() -> FakeGenerator:
    return FakeGenerator(first_sentence_of_passage_1)


@pytest.fixture
def assistant(web_index, generator) -> Assistant:
    settings, store = web_index
    return Assistant(settings, embedder=FakeEmbedder(), store=store, generator=generator, support_model=SUPPORT_MODEL)


def ready(client: TestClient, headers: dict[str, str] | None = None) -> TestClient:
    """The app loads on its worker thread at start-up; wait for it (instant with fakes)."""
    for _ in range(200):
        if client.get("/api/health", headers=headers).status_code == 200:
            return client
        time.sleep(0.01)
    raise AssertionError(client.get("/api/health", headers=headers).json())


@pytest.fixture
def client(assistant, generator):
    with TestClient(create_app(assistant)) as c:
        ready(c)
        assert len(generator.calls) == 1  # the start-up warm-up of the fixed prompt prefix
        generator.calls.clear()
        yield c


def sse_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        events.append((lines.get("event", "message"), json.loads(lines["data"])))
    return events


# Health, answers, streaming ----------------------------------------------------------------------------


def test_health_reports_the_model_and_the_index_size(client, web_index):
    _, store = web_index
    body = client.get("/api/health").json()
    assert body["status"] == "ready" and body["ready"] is True
    assert body["model"] == "fake-generator" and body["embedding_model"] == "fake-hash-embedder"
    assert (body["chunks"], body["files"]) == (len(store.chunks), 6)
    assert body["built_at"] == store.manifest.built_at


def test_ask_returns_the_answer_with_quotes_that_are_the_source_text(client, web_index):
    _, store = web_index
    r = client.post("/api/ask", json={"question": Q75})
    assert r.status_code == 200
    body = r.json()
    assert not body["refused"] and "75%" in body["text"] and body["text"].endswith("[1].")
    assert set(body) >= {"question", "text", "citations", "passages", "refused", "timings", "search_query"}
    assert [c["source"] for c in body["citations"]] == [DOC_75]
    for c in body["citations"]:
        assert store.docs[c["source"]].text[c["start"] : c["end"]] == c["quote"]
    assert body["passages"][0]["source"] == DOC_75 and body["timings"]["total_ms"] >= 0


def test_stream_sends_deltas_then_the_final_answer_then_done(client, generator):
    r = client.post("/api/ask/stream", json={"question": Q75})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"] and len(names) > 3
    assert set(names[:-2]) == {"delta"}
    draft = "".join(data["text"] for name, data in events if name == "delta")
    assert draft == first_sentence_of_passage_1(generator.calls[0])
    answer = events[-2][1]
    assert "75%" in answer["text"] and answer["citations"][0]["source"] == DOC_75


def test_a_follow_up_searches_with_the_earlier_question(client):
    history = [{"role": "user", "content": Q75}, {"role": "assistant", "content": "75% [1]."}]
    body = client.post("/api/ask", json={"question": "And what about it?", "history": history}).json()
    assert body["search_query"] != body["question"] and Q75 in body["search_query"]


def test_an_unanswerable_question_is_refused_with_the_closest_passages(web_index, generator):
    settings, store = web_index
    strict = settings.model_copy(update={"min_similarity": 0.99})  # the fake embedder's cosines are never that high
    with TestClient(
        create_app(
            Assistant(strict, embedder=FakeEmbedder(), store=store, generator=generator, support_model=SUPPORT_MODEL)
        )
    ) as c:
        ready(c)
        generator.calls.clear()  # the start-up warm-up
        body = c.post("/api/ask", json={"question": "What is the capital of Australia?"}).json()
    assert body["refused"] and body["refusal_reason"] == "low_similarity" and "do not contain" in body["text"]
    assert body["citations"] == [] and len(body["passages"]) == 5
    assert all(0 <= p["similarity"] < 0.99 for p in body["passages"])
    assert generator.calls == []


def test_a_refusal_after_generation_is_streamed_to_openai_clients_too(client, generator):
    generator.reply = "Canberra is the capital [1]."
    payload = {"stream": True, "messages": [{"role": "user", "content": "Where are the OSCE headquarters?"}]}
    lines = [
        line.removeprefix("data: ") for line in client.post("/v1/chat/completions", json=payload).text.split("\n\n")
    ]
    chunks = [json.loads(line) for line in lines if line.strip() and line != "[DONE]"]
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert content.startswith("Canberra") and content.endswith(
        "The documents do not contain an answer to this question."
    )
    assert chunks[-1]["answer"]["refused"] is True and chunks[-1]["sources"] == []


# Bad input, not found, limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, says",
    [
        ({"question": ""}, "at least 1 character"),
        ({"question": "x" * 2001}, "at most 2000 characters"),
        ({"question": "   "}, "the question is empty"),
        ({"question": "?!?"}, "no words"),
        ({}, "question: Field required"),
        ({"question": "ok?", "history": [{"role": "system", "content": "x"}]}, "history.0.role"),
    ],
)
def test_bad_questions_are_422_with_a_json_error(client, generator, payload, says):
    for path in ("/api/ask", "/api/ask/stream"):
        r = client.post(path, json=payload)
        assert r.status_code == 422 and says in r.json()["error"], r.text
    assert generator.calls == []


def test_a_body_that_is_not_json_is_422(client):
    r = client.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json() == {"error": "the request body is not valid JSON"}


@pytest.mark.parametrize(
    "path",
    [
        "/sources/..%2F..%2Fetc%2Fpasswd",
        "/sources/%2Fetc%2Fpasswd",
        "/api/sources/../pyproject.toml",
        "/api/sources/..%2Fpyproject.toml",
        "/sources/../../pyproject.toml",
        "/api/sources/%2Fetc%2Fpasswd",
    ],
)
def test_sources_refuse_path_traversal_without_reading_a_file(client, monkeypatch, path):
    opened = []

    def watch(real):
        def wrapper(file, *args, **kwargs):
            opened.append(str(file))
            return real(file, *args, **kwargs)

        return wrapper

    for module, name in ((builtins, "open"), (io, "open"), (os, "open")):
        monkeypatch.setattr(module, name, watch(getattr(module, name)))
    r = client.get(path)
    assert r.status_code == 404 and "error" in r.json()
    assert not [f for f in opened if "passwd" in f or "pyproject" in f]


def test_unknown_paths_are_404_json(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404 and r.json() == {"error": "not found: /no/such/page"}


def test_bodies_over_64_kib_are_413_json(client):
    big = json.dumps({"question": "x" * 100_000}).encode()
    r = client.post("/api/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "64 KiB" in r.json()["error"]
    chunked = client.post(
        "/api/ask", content=iter([big[:50_000], big[50_000:]]), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413 and chunked.json()["error"]


@pytest.mark.parametrize("path", ["/", "/api/health", "/static/app.js", "/docs", "/no/such/page", f"/sources/{DOC_75}"])
def test_every_response_carries_the_security_headers(client, path):
    r = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_error_responses_carry_the_security_headers_too(client):
    for r in (client.post("/api/ask", json={"question": ""}), client.post("/api/ask", content=b"x" * 70_000)):
        assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in r.headers


# Waiting line, cancellation, readiness --------------------------------------------------------------------


class GatedGenerator(FakeGenerator):
    """Streams until told to finish; records whether its stream was closed."""

    def __init__(self, pieces: int = 2000) -> None:
        super().__init__("unused")
        self.pieces = pieces
        self.started, self.release, self.closed = threading.Event(), threading.Event(), threading.Event()
        self.yielded = 0

    def generate(self, messages, max_tokens=96, grammar=None):
        self.started.set()
        try:
            yield "75% of sex trafficking victims are advertised online [1]."
            for _ in range(self.pieces):
                if self.release.is_set():
                    return
                self.yielded += 1
                yield " more"
                time.sleep(0.005)
        finally:
            self.closed.set()


def test_questions_beyond_the_waiting_limit_get_503_with_retry_after(web_index):
    settings, store = web_index
    gated = GatedGenerator()
    app = create_app(
        Assistant(settings, embedder=FakeEmbedder(), store=store, generator=gated, support_model=SUPPORT_MODEL),
        max_waiting=1,
    )
    with TestClient(app) as c:
        ready(c)
        gated.started.clear()  # set by the start-up warm-up
        queue: GenerationQueue = app.state.queue
        results = []
        ask = lambda: results.append(c.post("/api/ask", json={"question": Q75}).status_code)  # noqa: E731
        running = threading.Thread(target=ask)
        running.start()
        assert gated.started.wait(5)
        waiting = threading.Thread(target=ask)
        waiting.start()
        for _ in range(500):
            if queue.waiting == 1:
                break
            time.sleep(0.01)
        r = c.post("/api/ask", json={"question": Q75})
        assert r.status_code == 503 and r.headers["retry-after"] and "waiting" in r.json()["error"]
        gated.release.set()
        running.join(10), waiting.join(10)
        assert results == [200, 200]


def test_a_consumer_that_goes_away_stops_the_generation(web_index):
    settings, store = web_index
    gated = GatedGenerator()
    queue = GenerationQueue(
        Assistant(settings, embedder=FakeEmbedder(), store=store, generator=gated, support_model=SUPPORT_MODEL)
    )

    async def consume_one_delta_then_leave():
        queue.start_loading()
        while queue.status == "loading":
            await asyncio.sleep(0.01)
        gated.started.clear(), gated.closed.clear()  # set by the start-up warm-up
        events = queue.submit(Q75, []).events()
        assert "75%" in await anext(events)
        await events.aclose()

    asyncio.run(consume_one_delta_then_leave())
    assert gated.closed.wait(2), "the model's stream was not closed"
    assert gated.yielded < gated.pieces
    queue.close()


def test_while_loading_questions_get_503_and_health_says_loading(web_index, generator):
    settings, store = web_index
    gate = threading.Event()

    class SlowAssistant(Assistant):
        def load(self) -> None:
            gate.wait(5)
            super().load()

    with TestClient(
        create_app(
            SlowAssistant(
                settings, embedder=FakeEmbedder(), store=store, generator=generator, support_model=SUPPORT_MODEL
            )
        )
    ) as c:
        health = c.get("/api/health")
        assert health.status_code == 503 and health.json()["status"] == "loading"
        r = c.post("/api/ask", json={"question": Q75})
        assert r.status_code == 503 and r.headers["retry-after"] and "loading" in r.json()["error"]
        assert c.get("/").status_code == 200
        gate.set()
        assert ready(c).post("/api/ask", json={"question": Q75}).status_code == 200


def test_a_missing_index_is_reported_as_503_saying_what_to_run(tmp_path, generator):
    settings = Settings(corpus_dir=tmp_path, index_dir=tmp_path / "no-index")
    with TestClient(
        create_app(Assistant(settings, embedder=FakeEmbedder(), generator=generator, support_model=SUPPORT_MODEL))
    ) as c:
        for _ in range(200):
            health = c.get("/api/health").json()
            if health["status"] != "loading":
                break
            time.sleep(0.01)
        assert health["status"] == "failed" and "qa index" in health["error"]
        r = c.post("/api/ask", json={"question": Q75})
        assert r.status_code == 503 and "qa index" in r.json()["error"]
        assert "Traceback" not in r.text


# API key ---------------------------------------------------------------------------------------------------


def test_an_api_key_guards_the_api_but_not_the_page(assistant):
    with TestClient(create_app(assistant, api_key="s3cret")) as c:
        good = {"Authorization": "Bearer s3cret"}
        ready(c, good)
        r = c.get("/api/health")
        assert r.status_code == 401 and r.json()["error"] and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/api/ask", json={"question": Q75}).status_code == 401
        assert c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": Q75}]}).status_code == 401
        assert c.post("/api/ask", json={"question": Q75}, headers=good).status_code == 200
        assert c.get("/").status_code == 200 and c.get("/static/app.js").status_code == 200
        assert c.get(f"/sources/{DOC_75}").status_code == 401
        c.cookies.set("qa_api_key", "s3cret")
        assert c.get(f"/sources/{DOC_75}").status_code == 200
        assert c.get("/api/health").status_code == 401, "the API takes the key from the header only"


# OpenAI-compatible -----------------------------------------------------------------------------------------


def test_chat_completions_returns_the_openai_shape_with_sources(client, web_index):
    _, store = web_index
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": Q75}]},
    ]
    r = client.post("/v1/chat/completions", json={"model": "anything", "messages": messages, "temperature": 0.2})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int) and body["model"] == "fake-generator"
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and "75%" in choice["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    (source,) = body["sources"]
    assert store.docs[source["source"]].text[source["start"] : source["end"]] == source["quote"]


def test_chat_completions_streams_chunks_then_done(client):
    payload = {"stream": True, "messages": [{"role": "user", "content": Q75}]}
    r = client.post("/v1/chat/completions", json=payload)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    lines = [line.removeprefix("data: ") for line in r.text.split("\n\n") if line.strip()]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "75%" in content
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop" and final["choices"][0]["delta"] == {}
    assert final["sources"][0]["source"] == DOC_75 and final["usage"]["total_tokens"] > 0
    assert "75%" in final["answer"]["text"] and final["answer"]["refused"] is False


def test_chat_completions_needs_a_user_message_last(client):
    messages = [{"role": "user", "content": Q75}, {"role": "assistant", "content": "75%"}]
    r = client.post("/v1/chat/completions", json={"messages": messages})
    assert r.status_code == 422 and "last message" in r.json()["error"]


# Pages -----------------------------------------------------------------------------------------------------


def test_the_source_page_escapes_document_text(client):
    r = client.get(f"/sources/{HOSTILE}")
    assert r.status_code == 200
    assert "<script>alert" not in r.text and "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in r.text


def test_the_source_page_highlights_the_cited_span(client, web_index):
    _, store = web_index
    citation = client.post("/api/ask", json={"question": Q75}).json()["citations"][0]
    r = client.get(f"/sources/{citation['source']}", params={"start": citation["start"], "end": citation["end"]})
    assert r.status_code == 200
    mark = re.search(r'<mark id="hl"[^>]*>(.*?)</mark>', r.text, re.S)
    assert mark and mark.group(1) == citation["quote"] and "75%" in mark.group(1)
    assert '<script src="/static/source.js"' in r.text
    unmarked = client.get(f"/sources/{DOC_75}", params={"start": 10, "end": 10**9})
    assert unmarked.status_code == 200 and "<mark" not in unmarked.text
    assert client.get(f"/sources/{DOC_75}", params={"start": -1, "end": 5}).status_code == 422


def test_api_sources_returns_the_cleaned_text(client, web_index):
    _, store = web_index
    body = client.get(f"/api/sources/{DOC_75}").json()
    assert body == {"source": DOC_75, "title": store.docs[DOC_75].title, "text": store.docs[DOC_75].text}


def test_documents_are_listed_as_json_and_html(client, web_index):
    _, store = web_index
    body = client.get("/api/documents").json()
    assert [d["source"] for d in body["documents"]] == sorted(store.docs)
    assert sum(d["chunks"] for d in body["documents"]) == body["chunks"] == len(store.chunks)
    assert body["built_at"] == store.manifest.built_at
    page = client.get("/documents").text
    assert all(f'href="/sources/{source}"' in page for source in store.docs)
    assert "&lt;script&gt;" in page or "<script>alert" not in page


def test_the_chat_page_has_a_labelled_question_box_and_only_external_scripts(client):
    page = client.get("/").text
    assert '<label for="question">' in page and 'id="question"' in page
    assert '<script src="/static/app.js" defer></script>' in page
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_have_no_inline_scripts_or_styles(template):
    html = (TEMPLATES / template).read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script> is blocked by the CSP"
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), "inline styles and handlers are blocked by the CSP"


def test_static_code_never_sets_html_from_text():
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "web" / "static").glob("*.js"))
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", code)


def test_api_docs_are_served_without_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/api/ask/stream" in page.text and "/v1/chat/completions" in page.text
    assert "cdn" not in page.text.lower()
    schema = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/ask/stream", "/api/health", "/v1/chat/completions"} <= set(schema["paths"])


def test_a_browser_that_disconnects_mid_stream_stops_the_model(web_index):
    """Over a real socket (uvicorn): closing the connection after the first delta closes the model's stream."""
    import socket

    import httpx
    import uvicorn

    settings, store = web_index
    gated = GatedGenerator()
    app = create_app(
        Assistant(settings, embedder=FakeEmbedder(), store=store, generator=gated, support_model=SUPPORT_MODEL)
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(500):
            try:
                if httpx.get(f"{base}/api/health").status_code == 200:
                    gated.started.clear(), gated.closed.clear()  # set by the start-up warm-up
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.01)
        with httpx.stream("POST", f"{base}/api/ask/stream", json={"question": Q75}, timeout=10) as r:
            assert r.status_code == 200
            first = next(r.iter_lines())
            assert first == "event: delta"
        assert gated.closed.wait(3), "the model kept generating for a client that left"
        assert gated.yielded < gated.pieces
        gated.release.set()  # the next question's stream ends at once
        assert httpx.post(f"{base}/api/ask", json={"question": Q75}, timeout=10).status_code == 200, "model is free"
    finally:
        gated.release.set()
        server.should_exit = True
        thread.join(5)


def test_embeddings_are_openai_compatible(client, assistant):
    import numpy as np

    texts = ["victims advertised online", "a second text"]
    reply = client.post("/v1/embeddings", json={"input": texts}).json()
    assert reply["model"] == assistant.embedder.name and [d["index"] for d in reply["data"]] == [0, 1]
    assert np.allclose([d["embedding"] for d in reply["data"]], assistant.embedder.embed(texts), atol=1e-6)
    one = client.post("/v1/embeddings", json={"input": "one text", "model": assistant.embedder.name}).json()
    assert len(one["data"]) == 1
    wrong = client.post("/v1/embeddings", json={"input": "x", "model": "text-embedding-3-small"})
    assert wrong.status_code == 422 and "embeds with" in wrong.json()["error"]
    too_many = client.post("/v1/embeddings", json={"input": ["x"] * 257})
    assert too_many.status_code == 422 and "at most 256" in too_many.json()["error"]
    assert client.post("/v1/embeddings", json={"input": []}).status_code == 422


def test_the_remote_embedder_reads_this_servers_embeddings(assistant):
    """qa serve as the embeddings server of other replicas (QA_EMBEDDING_URL=http://that-host:8000/v1)."""
    import threading

    import httpx
    import numpy as np
    import uvicorn

    from eval.bench.loadtest import free_port
    from qa.remote import OpenAIEmbedder

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(assistant), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            if server.started and httpx.get(f"{base}/api/health").status_code == 200:
                break
            time.sleep(0.1)
        remote = OpenAIEmbedder(f"{base}/v1", assistant.embedder.name)
        texts = [f"text number {i} about trafficking" for i in range(70)]  # more than one batch
        assert remote.dim == assistant.embedder.dim and remote.name == assistant.embedder.name
        assert np.allclose(remote.embed(texts), assistant.embedder.embed(texts), atol=1e-6)
    finally:
        server.should_exit = True
        thread.join(5)
