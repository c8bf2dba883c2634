"""qa/embed.py without the model: which precision the embedder picks."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa.embed
from qa.embed import cpu_has_bf16


@pytest.mark.parametrize(
    ("flags", "expected"),
    [("fpu avx2 avx512f avx512_bf16 avx512_vnni", True), ("fpu avx2 amx_bf16 amx_tile", True),
     ("fpu avx2 avx512f avx512bw", False), ("fpu avx512_bf16x", False)],
)  # fmt: skip
def test_bf16_is_used_only_where_the_cpu_multiplies_it_natively(tmp_path, monkeypatch, flags, expected) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    real_path = Path
    monkeypatch.setattr(qa.embed, "Path", lambda p: real_path(cpuinfo) if p == "/proc/cpuinfo" else real_path(p))
    assert cpu_has_bf16() is expected


def test_no_cpuinfo_means_float32(monkeypatch) -> None:
    real_path = Path
    monkeypatch.setattr(qa.embed, "Path", lambda p: real_path("/nonexistent/cpuinfo") if p == "/proc/cpuinfo" else real_path(p))
    assert cpu_has_bf16() is False
