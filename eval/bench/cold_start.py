"""Cold start (section `cold`): a fresh interpreter to `Assistant().load()`, timed from its launch.

    result = measure_cold_start(settings, repeat=3)
    result.metrics["cold_start.ready_s"] == 7.85     # median; imports, embedder, index and chat model
    result.runs[0].peak_rss_mb == 2230.812           # the child's own peak

The page cache is warm, as on any start but the first after boot.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.bench.summary import median_of

ROOT = Path(__file__).resolve().parents[2]
COLD_START = """
import json, resource, sys, time
started = time.perf_counter()
from qa.assistant import Assistant
imported = time.perf_counter()
Assistant().load()
print(json.dumps({"ready_s": time.time() - float(sys.argv[1]), "import_s": imported - started,
                  "load_s": time.perf_counter() - imported,
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""  # ready_s: from the parent's launch (epoch seconds in argv) to ready, interpreter start-up included


@dataclass(frozen=True)
class ColdStartRun:
    wall_s: float  # launch to exit, which frees the models (~1 s)
    ready_s: float  # launch to ready
    import_s: float  # importing qa.assistant
    load_s: float  # Assistant().load()
    peak_rss_mb: float


@dataclass(frozen=True)
class ColdStart:
    runs: tuple[ColdStartRun, ...]

    @property
    def metrics(self) -> dict[str, float]:
        medians = median_of([dataclasses.asdict(r) for r in self.runs])
        m = {f"cold_start.{k}": medians[k] for k in ("ready_s", "wall_s", "import_s", "load_s")}
        m["cold_start.peak_rss_mb"] = max(r.peak_rss_mb for r in self.runs)
        return m

    def to_json(self) -> dict[str, Any]:
        return {"runs": [dataclasses.asdict(r) for r in self.runs]}


def measure_cold_start(settings, repeat: int) -> ColdStart:
    """`repeat` fresh processes, each with the settings' folders and model; a failed one raises SubprocessError."""
    from qa.assemble import model_path

    model_path(settings)  # fail here, with the setup hint, rather than in the child
    env = {
        **os.environ,
        "QA_CORPUS_DIR": str(settings.corpus_dir),
        "QA_INDEX_DIR": str(settings.index_dir),
        "QA_DATA_DIR": str(settings.data_dir),
    }
    if settings.model_path:
        env["QA_MODEL_PATH"] = str(settings.model_path)
    return ColdStart(tuple(start_once(env) for _ in range(repeat)))


def start_once(env: dict[str, str]) -> ColdStartRun:
    started = time.perf_counter()
    command = [sys.executable, "-c", COLD_START, repr(time.time())]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise subprocess.SubprocessError(f"cold start failed: {done.stderr.strip().splitlines()[-1:]}")
    child = json.loads(done.stdout.strip().splitlines()[-1])
    child["peak_rss_mb"] = child.pop("peak_rss_kb") / 1024
    return ColdStartRun(wall_s=round(wall, 3), **{k: round(v, 3) for k, v in child.items()})
