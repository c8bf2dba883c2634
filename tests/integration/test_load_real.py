"""Load with the real default model: `qa serve` on a free loopback port, 8 concurrent clients x 1 question.

One model serves questions one at a time; 8 fit in its waiting line, so all are answered, the last after
the seven before it. Prints the figures that docs/reliability.md records (noisy: the CPU may be shared).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from eval.bench.loadtest import free_port, run_load, serve_command, start_server, stop_server, wait_ready
from qa.settings import ROOT

pytestmark = pytest.mark.integration


def test_8_clients_against_the_real_model(tmp_path):
    if not (ROOT / "index" / "store" / "manifest.json").exists():
        subprocess.run([str(ROOT / ".venv" / "bin" / "qa"), "setup"], cwd=ROOT, check=True)
    port = free_port()
    server = start_server(serve_command(port), log=tmp_path / "serve.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}", server, timeout=300)
        figures = run_load(f"http://127.0.0.1:{port}", clients=8, questions=1, timeout=900, pid=server.pid)
        print("\n" + json.dumps(figures))
        assert figures["finished_in_time"] and figures["other"] == []
        assert figures["ok"] + figures["busy_503"] == 8 and figures["ok"] >= 1 and figures["incomplete_ok"] == 0
        assert figures["busy_503_with_retry_after"] == figures["busy_503"]
        assert server.poll() is None and figures["health_after"] == 200
    finally:
        stop_server(server)
