"""qa/embed.py without the model: which precision the embedder picks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qa.embed
from qa.embed import cpu_has_bf16


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("fpu avx2 avx512f avx512_bf16 avx512_vnni", True),
        ("fpu avx2 amx_bf16 amx_tile", True),
        ("fpu avx2 avx512f avx512bw", False),
        ("fpu avx512_bf16x", False),
    ],
)
def test_bf16_is_used_only_where_the_cpu_multiplies_it_natively(tmp_path, monkeypatch, flags, expected) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    real_path = Path
    monkeypatch.setattr(qa.embed, "Path", lambda p: real_path(cpuinfo) if p == "/proc/cpuinfo" else real_path(p))
    assert cpu_has_bf16() is expected


def test_no_cpuinfo_means_float32(monkeypatch) -> None:
    real_path = Path
    monkeypatch.setattr(
        qa.embed, "Path", lambda p: real_path("/nonexistent/cpuinfo") if p == "/proc/cpuinfo" else real_path(p)
    )
    assert cpu_has_bf16() is False


def test_the_caching_embedder_embeds_each_text_once_and_returns_the_same_vectors() -> None:
    import numpy as np

    from qa.embed import CachingEmbedder

    from fakes import FakeEmbedder

    inner = FakeEmbedder()
    cached = CachingEmbedder(inner, size=3)
    first = cached.embed(["a b", "c d", "a b"])
    assert inner.embedded == 2  # a repeated text in one call is embedded once
    assert np.allclose(first, inner.embed(["a b", "c d", "a b"]))
    inner.embedded = 0
    again = cached.embed(["c d", "e f"])
    assert inner.embedded == 1 and np.allclose(again[0], first[1])
    cached.embed(["g h"])  # four texts seen, room for three: the least recently used ("a b") goes
    inner.embedded = 0
    cached.embed(["a b"])
    assert inner.embedded == 1
    assert cached.embed([]).shape == (0, inner.dim)


@pytest.fixture(scope="module")
def openvino_embedder(tmp_path_factory):
    from qa.embed import OpenVINOEmbedder

    return OpenVINOEmbedder(None, tmp_path_factory.mktemp("embeddings"))


def test_openvino_gives_the_vectors_of_sentence_transformers_in_the_callers_order(openvino_embedder) -> None:
    from qa.embed import SentenceTransformerEmbedder

    texts = [
        "What percentage of sex trafficking victims are advertised online?",
        "a",
        "The OSCE Special Representative presented the report in Vienna. " * 40,  # over the 256-token window
        "Shelters opened in 2024.",
    ]
    reference = SentenceTransformerEmbedder(precision="float32").embed(texts)
    vectors = openvino_embedder.embed(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert (vectors * reference).sum(axis=1).min() > 0.999
    assert np.allclose(openvino_embedder.embed(texts[::-1])[::-1], vectors, atol=1e-5)  # batching keeps order
    assert openvino_embedder.embed([]).shape == (0, 384)


def test_openvino_reuses_its_converted_model(openvino_embedder, tmp_path_factory) -> None:
    import time

    from qa.embed import OpenVINOEmbedder

    cache = next(p for p in tmp_path_factory.getbasetemp().glob("embeddings*"))
    started = time.perf_counter()
    again = OpenVINOEmbedder(None, cache)
    assert time.perf_counter() - started < 5 and len(list(cache.glob("*/*/model.xml"))) == 1
    assert np.allclose(again.embed(["Shelters opened."]), openvino_embedder.embed(["Shelters opened."]))


def test_a_model_openvino_is_not_set_up_for_falls_back_to_pytorch(tmp_path) -> None:
    from qa.embed import OpenVINOEmbedder, UnsupportedBackendError

    folder = tmp_path / "cls-model"
    folder.mkdir()
    (folder / "modules.json").write_text('[{"type": "sentence_transformers.models.Transformer"}]')
    with pytest.raises(UnsupportedBackendError):
        OpenVINOEmbedder(folder, tmp_path / "cache")
