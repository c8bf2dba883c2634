"""qa/embed.py without the model: which precision the embedder picks."""

from __future__ import annotations

from pathlib import Path

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
