"""Model load (section `load`): seconds to construct the embedder and the llama.cpp generator.

models = Models()
result = measure_load(settings, repeat=3, models=models)   # models now holds the last ones built
result.metrics["load.embedder_s"] == 0.06                  # the median construction after the first
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from eval.bench.records import json_fields
from eval.bench.timing import timed
from qa.errors import QAError


@dataclass
class Models:
    """The models a section constructed, passed on to the later sections so that each loads once."""

    embedder: Any = None
    generator: Any = None

    def loaded_embedder(self, settings) -> Any:
        """The embedder, constructed now if no section has yet."""
        if self.embedder is None:
            self.embedder = new_embedder(settings)
        return self.embedder


@dataclass(frozen=True)
class ModelLoad:
    embedder_runs_s: tuple[float, ...]  # the first includes importing torch and sentence-transformers
    generator_runs_s: tuple[float, ...] | None = None  # None: no chat model, and generator_skipped says why
    model: str | None = None  # the GGUF file
    model_mb: int | None = None
    generator_skipped: str | None = None

    @property
    def metrics(self) -> dict[str, float]:
        m = {
            "load.embedder_first_s": self.embedder_runs_s[0],
            "load.embedder_s": statistics.median(self.embedder_runs_s[1:]),
        }
        if self.generator_runs_s:
            m["load.generator_first_s"] = self.generator_runs_s[0]
            m["load.generator_s"] = statistics.median(self.generator_runs_s[1:])
            m["load.model_mb"] = self.model_mb
        return m

    def to_json(self) -> dict[str, Any]:
        return json_fields(self, "embedder_runs_s", "generator_runs_s", "model", "generator_skipped")


def measure_load(settings, repeat: int, models: Models) -> ModelLoad:
    """Construct each model `repeat + 1` times (at least twice): the first includes importing torch or
    llama_cpp in this process, the median of the rest is the construction alone."""
    from qa.assemble import model_path

    embed_runs = _construct(lambda: new_embedder(settings), repeat, models, "embedder")
    try:
        path = model_path(settings)  # assembles the GGUF on first use: not part of the load time
    except QAError as e:
        return ModelLoad(embed_runs, generator_skipped=str(e))
    from qa.generate import LlamaCppGenerator

    build = lambda: LlamaCppGenerator(path, settings.n_ctx, settings.n_threads)  # noqa: E731
    generator_runs = _construct(build, repeat, models, "generator")
    return ModelLoad(embed_runs, generator_runs, str(path), round(path.stat().st_size / 2**20))


def _construct(
    build: Callable[[], Any], repeat: int, models: Models, role: Literal["embedder", "generator"]
) -> tuple[float, ...]:
    """Seconds of each construction, with one model of the role in memory at a time; the last is kept."""
    runs, model = [], None
    for _ in range(max(2, repeat + 1)):
        setattr(models, role, None)
        model = None  # else the last one is still referenced here while the next loads: two in memory
        gc.collect()
        model, seconds = timed(build)
        setattr(models, role, model)
        runs.append(seconds)
    return tuple(runs)


def new_embedder(settings) -> Any:
    """The embedder the assistant uses (qa.embed.embedder_for: OpenVINO by default, QA_EMBEDDING_BACKEND)."""
    from qa.embed import embedder_for

    return embedder_for(settings)
