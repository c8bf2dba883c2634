"""Load test: many concurrent clients asking questions of a server on this machine; prints the figures as JSON.

    python -m eval.bench.loadtest --serve --clients 8 --questions 1        # `qa serve` with the default model
    python -m eval.bench.loadtest --url http://127.0.0.1:8000 --pid 4242   # a server that is already running

Only loopback addresses are accepted. Each client asks its questions one after another (each client moves
through /api/ask, /api/ask/stream and /v1/chat/completions in turn); the run is bounded in time. Every request
should end in 200, or in a fast 503 with Retry-After when the model's waiting line is full. The figures:
throughput, p50/p95 latency of the answers and of the 503s, counts by outcome, and the server's RSS
(from /proc/<pid>/status) before and after. To load the web layer alone, start the load server (a paced
stand-in model, eval/bench/load_server.py) with `start_server(load_server_command(port))`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
QUESTIONS = [
    "What percentage of sex trafficking victims are advertised online?",
    "How many of the 57 OSCE signatories criminalise the use of victims of trafficking for sexual exploitation?",
    "Who chaired the OSCE in 2024?",
    "What is the capital of Australia?",
]
ENDPOINTS = ("/api/ask", "/api/ask/stream", "/v1/chat/completions")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def serve_command(port: int) -> list[str]:
    """`qa serve` with the default model, on 127.0.0.1:port."""
    return [str(Path(sys.executable).with_name("qa")), "serve", "--port", str(port)]


def load_server_command(port: int, token_seconds: float = 0.02) -> list[str]:
    """The load server (eval/bench/load_server.py) on 127.0.0.1:port, its stand-in model `token_seconds` a piece."""
    return [sys.executable, "-m", "eval.bench.load_server", "--port", str(port), "--token-seconds", str(token_seconds)]


def start_server(
    command: list[str], log: Path | None = None, settings: dict[str, str] | None = None
) -> subprocess.Popen:
    """A server process started from the project's root, without the caller's QA_* settings (with `settings`:
    only those, e.g. {"QA_DATABASE_URL": url})."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | (settings or {})
    out = log.open("w") if log else subprocess.DEVNULL
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(base: str, process: subprocess.Popen | None = None, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            if httpx.get(f"{base}/api/health", timeout=2).json().get("ready"):
                return
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base} was not ready within {timeout:.0f} s")


def stop_server(process: subprocess.Popen, grace: float = 15) -> None:
    """Terminate a server started by start_server; kill it if it has not exited within `grace` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()


async def _one(client: httpx.AsyncClient, endpoint: str, question: str) -> dict:
    chat = endpoint.startswith("/v1")
    body = {"messages": [{"role": "user", "content": question}]} if chat else {"question": question}
    started = time.perf_counter()
    outcome = {"endpoint": endpoint}
    try:
        async with client.stream("POST", endpoint, json=body) as r:
            text = (await r.aread()).decode()
            outcome.update(status=r.status_code, retry_after=r.headers.get("retry-after"))
            if r.status_code == 200 and endpoint == "/api/ask/stream":
                outcome["complete"] = text.rstrip().endswith("event: done\ndata: {}")
            elif r.status_code == 200:
                outcome["complete"] = bool(json.loads(text))
    except httpx.HTTPError as e:
        outcome.update(status=type(e).__name__)
    outcome["ms"] = (time.perf_counter() - started) * 1000
    return outcome


async def _client(http: httpx.AsyncClient, n: int, questions: int, results: list[dict]) -> None:
    for i in range(questions):
        # Each client moves on to the next endpoint with each question: a client that has just been answered
        # re-asks at once, before the clients waiting out a 503, so the first few clients in tend to keep their
        # places, and a client held to one endpoint could leave an endpoint with no answers at all.
        results.append(await _one(http, ENDPOINTS[(n + i) % len(ENDPOINTS)], QUESTIONS[(n + i) % len(QUESTIONS)]))


async def _run(base: str, clients: int, questions: int, timeout: float) -> tuple[list[dict], float, bool]:
    results: list[dict] = []
    # One connection pool for all clients: an AsyncClient each would load the CA bundle 50 times (~30 ms
    # apiece) on this event loop, and that pause would show up as server latency.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=None, limits=limits) as http:
        started = time.perf_counter()
        tasks = [asyncio.create_task(_client(http, n, questions, results)) for n in range(clients)]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return results, time.perf_counter() - started, not pending


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731 - nearest rank
    return {"p50": round(pick(0.50)), "p95": round(pick(0.95)), "max": round(ordered[-1])}


def run_load(base: str, clients: int, questions: int, timeout: float = 120, pid: int | None = None) -> dict:
    """Run the clients against `base` (a loopback URL) and return the figures."""
    if urlparse(base).hostname not in LOOPBACK:
        raise ValueError(f"{base}: load is only ever sent to this machine's loopback address")
    before = memory_mib(pid) if pid else {}
    results, seconds, finished = asyncio.run(_run(base, clients, questions, timeout))
    after = memory_mib(pid) if pid else {}
    ok = [r for r in results if r["status"] == 200]
    busy = [r for r in results if r["status"] == 503]
    try:
        health = httpx.get(f"{base}/api/health", timeout=10).status_code
    except httpx.HTTPError as e:
        health = type(e).__name__
    return {
        "clients": clients,
        "questions_per_client": questions,
        "requests": clients * questions,
        "finished_in_time": finished,
        "seconds": round(seconds, 2),
        "ok": len(ok),
        "incomplete_ok": sum(not r.get("complete") for r in ok),
        "busy_503": len(busy),
        "busy_503_with_retry_after": sum(bool(r["retry_after"]) for r in busy),
        "other": sorted(str(r["status"]) for r in results if r["status"] not in (200, 503)),
        "not_sent_or_cut": clients * questions - len(results),
        "answers_per_second": round(len(ok) / seconds, 2) if seconds else 0.0,
        "latency_ok_ms": percentiles([r["ms"] for r in ok]),
        "latency_503_ms": percentiles([r["ms"] for r in busy]),
        "by_endpoint_ok": {e: sum(r["endpoint"] == e for r in ok) for e in ENDPOINTS},
        "server_rss_mib_before": before.get("VmRSS"),
        "server_rss_mib_after": after.get("VmRSS"),
        "server_rss_mib_peak": after.get("VmHWM"),
        "health_after": health,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.loadtest", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--serve", action="store_true", help="start `qa serve` on a free loopback port")
    where.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--pid", type=int, help="the running server's process id, for its memory figures")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--questions", type=int, default=1, help="questions per client, asked one after another")
    parser.add_argument("--timeout", type=float, default=120, help="seconds for the whole run")
    args = parser.parse_args(argv)
    if args.url:
        figures = run_load(args.url, args.clients, args.questions, args.timeout, args.pid)
    else:
        port = free_port()
        server = start_server(serve_command(port))
        try:
            wait_ready(f"http://127.0.0.1:{port}", server)
            figures = {
                "server": "qa serve",
                **run_load(f"http://127.0.0.1:{port}", args.clients, args.questions, args.timeout, server.pid),
            }
            figures["server_alive_after"] = server.poll() is None
        finally:
            stop_server(server)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
