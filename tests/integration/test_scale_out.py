"""Beyond one machine, with real servers: the seeds indexed into PostgreSQL + pgvector (bundled server), the
default model behind llama.cpp's OpenAI-compatible server, two `qa serve` replicas sharing both. The acceptance
questions get the same answers and citations as the embedded default (FAISS files + in-process model), and
killing one replica leaves the other answering."""

from __future__ import annotations

import subprocess
import sys
import threading

import httpx
import pytest

from eval.bench.loadtest import free_port, memory_mib, serve_command, start_server, stop_server, wait_ready
from index.build import PostgresTarget, build_index
from index.db import start_local, stop_local
from qa.assemble import model_path
from qa.settings import Settings

pytestmark = pytest.mark.integration

QUESTIONS = [
    "How many of the 57 OSCE signatories criminalise the use of victims of trafficking for sexual exploitation?",
    "What percentage of sex trafficking victims are advertised online?",
    "What is the capital of Australia?",
]


@pytest.fixture(scope="module")
def model_server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("llm") / "llama_cpp.server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path(Settings()))]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"]
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_for_models(url, process)
        yield url
    finally:
        stop_server(process)


def _wait_for_models(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "llama_cpp.server exited"
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError("llama_cpp.server did not start")


@pytest.fixture(scope="module")
def database(tmp_path_factory, real_assistant):
    data = tmp_path_factory.mktemp("pg") / "data"
    url = start_local(data)
    embedder = real_assistant.embedder
    build_index(real_assistant.settings.corpus_dir, PostgresTarget(url, embedder.dim), embedder)
    yield url
    stop_local(data)


def test_two_replicas_answer_as_the_embedded_default_and_survive_one_being_killed(
    model_server, database, real_assistant, tmp_path
):
    settings = {"QA_DATABASE_URL": database, "QA_LLM_URL": model_server}
    ports = [free_port(), free_port()]
    replicas = [start_server(serve_command(p), tmp_path / f"replica{p}.log", settings) for p in ports]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for base, replica in zip(bases, replicas):
            wait_ready(base, replica, timeout=180)
        for i, question in enumerate(QUESTIONS):
            embedded = real_assistant.ask(question)
            for base in bases[i % 2 :] + bases[: i % 2]:  # both replicas, in turn first
                response = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=120)
                assert response.status_code == 200, (base, question, response.text)
                got = response.json()
                assert got["text"] == embedded.text, (base, question)
                assert got["refused"] == embedded.refused
                cited = [(c["source"], c["start"], c["end"]) for c in got["citations"]]
                assert cited == [(c.source, c.start, c.end) for c in embedded.citations]
        rss = memory_mib(replicas[1].pid)
        print(f"\nreplica without a model, after {2 * len(QUESTIONS)} answers: {rss}")

        answered: dict[str, int] = {}
        asking = threading.Thread(
            target=lambda: answered.setdefault(
                "status", httpx.post(f"{bases[1]}/api/ask", json={"question": QUESTIONS[1]}, timeout=120).status_code
            )
        )
        asking.start()
        replicas[0].kill()  # one replica dies while the other is answering
        asking.join(130)
        assert answered["status"] == 200
        again = httpx.post(f"{bases[1]}/api/ask", json={"question": QUESTIONS[0]}, timeout=120)
        assert again.status_code == 200 and again.json()["citations"]
    finally:
        for replica in replicas:
            stop_server(replica)
