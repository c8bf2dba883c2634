"""Replica (the postgres section's child process): a PostgresStore and hybrid retrieval, no model, and its RSS.

    echo '{"url": …, "queries": […], "vectors": [[…]], "repeat": 3, …}' | python -m eval.bench.pg_replica
    # prints {"ready_rss_mb": 61.2, "peak_rss_mb": 64.0, "p50_ms": 9.1, "p95_ms": 14.3}

What a replica without an in-process model holds for retrieval: qa's retrieval path, psycopg's pool and the
answers to the queries, each given its vector (a replica would ask QA_EMBEDDING_URL for it). It imports only
that path, not the rest of the bench, so its RSS is the replica's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    import numpy as np

    from qa.pgstore import PostgresStore
    from qa.retrieve import HybridRetriever

    spec = json.loads(sys.stdin.read())
    store = PostgresStore.connect(spec["url"], ef_search=spec["ef_search"], probes=spec["probes"])
    retriever = HybridRetriever(store, None, spec["rrf_k"])
    vectors = np.asarray(spec["vectors"], dtype=np.float32)
    ready_mb = memory_mb("VmRSS")
    times = []
    for _ in range(spec["repeat"]):
        for query, vector in zip(spec["queries"], vectors):
            started = time.perf_counter()
            retriever.retrieve(query, spec["top_k"], vector)
            times.append((time.perf_counter() - started) * 1000)
    store.close()
    figures = {
        "ready_rss_mb": round(ready_mb, 1),
        "peak_rss_mb": round(memory_mb("VmHWM"), 1),
        "p50_ms": float(np.percentile(times, 50)),
        "p95_ms": float(np.percentile(times, 95)),
    }
    print(json.dumps(figures))
    return 0


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process from /proc, in MB. Not getrusage's ru_maxrss: Linux keeps
    that across execve, so a child would report the peak of the bench process that started it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise OSError(f"no {field} in /proc/self/status")


if __name__ == "__main__":
    sys.exit(main())
