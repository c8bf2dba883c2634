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
def openvino_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="module")
def openvino_embedder(openvino_cache):
    """The default: int8, quantized here from the model converted here."""
    from qa.embed import OpenVINOEmbedder

    return OpenVINOEmbedder(None, openvino_cache)


TEXTS = [
    "What percentage of sex trafficking victims are advertised online?",
    "a",
    "The OSCE Special Representative presented the report in Vienna. " * 40,  # over the 256-token window
    "Shelters opened in 2024.",
]


@pytest.mark.parametrize("precision, floor", [("bfloat16", 0.999), ("int8", 0.98)])
def test_openvino_gives_the_vectors_of_sentence_transformers_in_the_callers_order(
    openvino_embedder, openvino_cache, precision, floor
) -> None:
    """int8 is near, not equal: its floor sits under the 0.981 measured on 1,024 chunks of a corpus its
    calibration never saw (qa/embed.py)."""
    from qa.embed import OpenVINOEmbedder, SentenceTransformerEmbedder

    embedder = openvino_embedder if precision == "int8" else OpenVINOEmbedder(None, openvino_cache, precision=precision)
    reference = SentenceTransformerEmbedder(precision="float32").embed(TEXTS)
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert (vectors * reference).sum(axis=1).min() > floor
    assert np.allclose(embedder.embed(TEXTS[::-1])[::-1], vectors, atol=1e-5)  # batching keeps order
    many = TEXTS * 20  # several batches in flight on the two requests at once
    assert np.allclose(embedder.embed(many), np.tile(vectors, (20, 1)), atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_int8_vectors_are_named_apart_so_an_index_never_mixes_them(openvino_embedder, openvino_cache) -> None:
    from qa.embed import OpenVINOEmbedder

    assert openvino_embedder.precision == "int8" and openvino_embedder.name == "all-MiniLM-L6-v2-int8"
    assert OpenVINOEmbedder(None, openvino_cache, precision="float32").name == "all-MiniLM-L6-v2"


def test_int8_needs_openvino() -> None:
    from qa.embed import SentenceTransformerEmbedder
    from qa.errors import QAError

    with pytest.raises(QAError, match="int8 needs the OpenVINO backend"):
        SentenceTransformerEmbedder(precision="int8")


def test_openvino_reuses_its_converted_and_quantized_models(openvino_embedder, openvino_cache) -> None:
    import time

    from qa.embed import OpenVINOEmbedder

    started = time.perf_counter()
    again = OpenVINOEmbedder(None, openvino_cache)
    assert time.perf_counter() - started < 5
    assert len(list(openvino_cache.glob("*/*/model.xml"))) == 2  # float32, and int8 made from it
    assert np.allclose(again.embed(["Shelters opened."]), openvino_embedder.embed(["Shelters opened."]))


def test_openvino_and_nncf_send_no_telemetry(openvino_embedder) -> None:
    """They would ask Google Analytics unless a consent file says no; after our embedder loads, they do not."""
    from openvino_telemetry import Telemetry

    telemetry = Telemetry(app_name="nncf", app_version="0", tid="G-TEST", backend="ga4", enable_opt_in_dialog=False)
    assert telemetry.consent is False


def test_a_model_openvino_is_not_set_up_for_falls_back_to_pytorch(tmp_path) -> None:
    from qa.embed import OpenVINOEmbedder, UnsupportedBackendError

    folder = tmp_path / "cls-model"
    folder.mkdir()
    (folder / "modules.json").write_text('[{"type": "sentence_transformers.models.Transformer"}]')
    with pytest.raises(UnsupportedBackendError):
        OpenVINOEmbedder(folder, tmp_path / "cache")
