"""Site (section `site`): a real documentation site indexed from scratch, re-indexed after one edit, then served.

    result = measure_site(settings, Path("/usr/share/doc/python3.11/html"), workdir, embedder)
    result.metrics["site.chunks_per_s"]          # a first build: load, convert, clean, chunk, embed, save
    result.metrics["site.reindex_one_s"]         # the same build after one sentence was added to one page
    result.metrics["site.first_answer_s"]        # `qa serve` launched -> ready -> one answer, on that index

The site is copied into the scratch folder first (the edit must not touch it). By default it is git's manual
pages and user manual kept in eval/corpora/git (35 pages); `--site` names another folder, e.g. Debian's
python3.11-doc (`/usr/share/doc/python3.11/html`, 530 pages: `apt-get install python3.11-doc`). The server
is the real `qa serve` with the settings' chat model, asked one question built from a section heading of the
site; its peak RSS is read from /proc.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SITE = ROOT / "eval" / "corpora" / "git" / "docs"
READY_TIMEOUT_S = 300


@dataclass(frozen=True)
class SiteRun:
    site: str
    files: int
    chunks: int
    index_s: float  # first build, everything embedded
    chunks_per_s: float
    embed_s: float  # of index_s: from the first batch embedded to the index saved
    reindex_one_s: float  # one page changed: the whole folder read again, its new chunks embedded
    reindexed_chunks: int
    index_mb: float
    ready_s: float  # `qa serve` launched -> /api/health ready (models and this index loaded)
    first_answer_s: float  # ready -> the answer to one question
    question: str
    answered: bool  # the answer has a verified citation (not a refusal)
    server_peak_rss_mb: float

    @property
    def metrics(self) -> dict[str, Any]:
        m = {f"site.{k}": v for k, v in asdict(self).items() if isinstance(v, (int, float)) and k != "answered"}
        m["site.answered"] = int(self.answered)
        return m

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def measure_site(settings, site: Path | None, workdir: Path, embedder) -> SiteRun:
    from eval.bench.synthetic import section_titles
    from index.build import build_index
    from qa.store import load_store

    site = Path(site or DEFAULT_SITE)
    if not site.is_dir():
        raise FileNotFoundError(f"no documentation site at {site} (e.g. `apt-get install python3.11-doc`)")
    corpus, index_dir = workdir / "site", workdir / "site-index"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(index_dir, ignore_errors=True)
    shutil.copytree(site, corpus, ignore=shutil.ignore_patterns(".*"))  # not an index kept in it
    embed_started: list[float] = []

    def progress(done: int, total: int) -> None:
        if not embed_started:
            embed_started.append(time.perf_counter())

    print(f"[bench] site: indexing {site}", file=sys.stderr)
    started = time.perf_counter()
    first = build_index(corpus, index_dir, embedder, settings.chunker, progress=progress)
    ended = time.perf_counter()
    index_s = ended - started
    # progress comes after each batch: from the first one to the end is embedding (less one batch) and saving
    embed_s = ended - embed_started[0] if embed_started else 0.0
    store = load_store(index_dir)
    biggest = max(store.docs.values(), key=lambda d: len(d.text))
    with (corpus / biggest.source).open("a", encoding="utf-8") as f:  # one new sentence at the end of a page
        f.write("\n<p>The bench added this sentence to see what one edit costs.</p>\n")
    started = time.perf_counter()
    second = build_index(corpus, index_dir, embedder, settings.chunker)
    reindex_s = time.perf_counter() - started
    question = f"What is {section_titles(store.chunks, 1, seed=0)[0]}?"
    print(f"[bench] site: {first.summary()}; one edit: {second.summary()}; serving it", file=sys.stderr)
    ready_s, answer_s, answered, rss = serve_and_ask(settings, corpus, index_dir, question)
    return SiteRun(
        str(site),
        first.files,
        first.chunks,
        round(index_s, 1),
        round(first.chunks / index_s, 1),
        round(max(embed_s, 0.0), 1),
        round(reindex_s, 1),
        second.embedded,
        round(sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) / 1_048_576, 1),
        round(ready_s, 1),
        round(answer_s, 1),
        question,
        answered,
        rss,
    )


def serve_and_ask(settings, corpus: Path, index_dir: Path, question: str) -> tuple[float, float, bool, float]:
    """(launch -> ready s, ready -> answer s, answered with a citation, the server's peak RSS MB)."""
    import httpx

    from eval.bench.loadtest import stop_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_") or k == "QA_MODEL_PATH"}
    env |= {"QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(index_dir), "QA_DATA_DIR": str(settings.data_dir)}
    qa = Path(sys.executable).with_name("qa")
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(qa), "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                raise subprocess.SubprocessError(f"qa serve exited: {process.stderr.read().decode()[-300:]}")
            if time.perf_counter() - started > READY_TIMEOUT_S:
                raise subprocess.SubprocessError(f"qa serve was not ready within {READY_TIMEOUT_S} s")
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        ready = time.perf_counter()
        answer = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=READY_TIMEOUT_S).json()
        answered = time.perf_counter()
        rss = _peak_rss_mb(process.pid)
    finally:
        stop_server(process)
    return ready - started, answered - ready, bool(answer.get("citations")), rss


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0
