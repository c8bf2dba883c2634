"""Broken state: a missing, truncated or mismatched index, a missing or corrupt chat model, and a build killed
with SIGKILL. Each is one error line saying what to run; a killed build leaves the previous index answering."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import qa.assemble
import qa.embed
import qa.generate
from index.build import ChunkerSettings, build_index
from qa.assemble import ModelPackage, assemble_model, model_path
from qa.cli import main
from qa.errors import ModelNotFoundError
from qa.settings import ROOT, Settings
from qa.store import FILES, load_store, settings_fingerprint

from fakes import SUPPORT_MODEL, FakeEmbedder, FakeGenerator

Q75 = "What percentage of sex trafficking victims are advertised online?"
DOC_75 = "004_c02d08bf38d297e0.txt"
TESTS = Path(__file__).parent


def one_error_line(capsys) -> str:
    """The error line; `qa setup`'s progress bar may come before it."""
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("assembling chat model")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def fake_models(monkeypatch):
    generator = FakeGenerator("75% of sex trafficking victims are advertised online [1].")
    monkeypatch.setattr(qa.embed, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.embed, "OpenVINOEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.assemble, "model_path", lambda settings, progress=None: ROOT / "fake.gguf")
    monkeypatch.setattr(qa.generate, "LlamaCppGenerator", lambda *args, **kwargs: generator)
    return generator


def ask(built, *extra: str) -> int:
    return main(["ask", Q75, "--corpus", str(built.corpus_dir), "--index", str(built.index_dir), *extra])


# The index ----------------------------------------------------------------------------------------------------


def test_cli_without_an_index_says_run_qa_index(fake_models, built_index, capsys):
    for path in [built_index.index_dir / name for name in FILES] + [built_index.index_dir]:
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()
        assert ask(built_index) == 1
        line = one_error_line(capsys)
        assert "qa index" in line, (path.name, line)
    assert fake_models.calls == []


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("keep", [0, 0.5, 0.99], ids=["emptied", "half", "last-bytes-cut"])
def test_cli_with_a_truncated_index_file_says_rebuild(fake_models, built_index, capsys, name, keep):
    path = built_index.index_dir / name
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert ask(built_index) == 1
    assert "qa index --rebuild" in one_error_line(capsys)
    assert fake_models.calls == []


def test_cli_with_an_index_of_another_embedding_model_says_rebuild(fake_models, seed_corpus, tmp_path, capsys):
    class OtherEmbedder(FakeEmbedder):
        name = "paraphrase-multilingual-MiniLM-L12-v2"
        dim = 64

    index_dir = tmp_path / "store"
    build_index(seed_corpus, index_dir, OtherEmbedder())
    assert main(["ask", Q75, "--corpus", str(seed_corpus), "--index", str(index_dir)]) == 1
    line = one_error_line(capsys)
    assert "embedding_model" in line and "paraphrase-multilingual" in line and "qa index --rebuild" in line
    assert main(["index", "--corpus", str(seed_corpus), "--index", str(index_dir)]) == 1  # no silent mix
    assert "qa index --rebuild" in one_error_line(capsys)
    assert main(["index", "--rebuild", "--corpus", str(seed_corpus), "--index", str(index_dir)]) == 0
    capsys.readouterr()
    assert main(["ask", Q75, "--corpus", str(seed_corpus), "--index", str(index_dir)]) == 0


def test_cli_with_other_chunk_settings_says_rebuild(fake_models, built_index, capsys, monkeypatch):
    monkeypatch.setenv("QA_CHUNK_CHARS", "300")
    assert ask(built_index) == 1
    assert "chunker" in (line := one_error_line(capsys)) and "qa index --rebuild" in line


# The chat model -----------------------------------------------------------------------------------------------


class FilePackage(ModelPackage):
    """A model package whose parts are files in a folder, not installed packages."""

    folder: Path = Path()

    def part_paths(self) -> list[Path]:
        return [self.folder / f"part{n:02d}.bin" for n in range(1, self.parts + 1)]


def tiny_package(tmp_path: Path, sha256: str | None = None, size: int | None = None) -> FilePackage:
    parts = [b"GGUF" + bytes(range(256)) * 4, b"tensor data " * 100, b"the end"]
    for n, data in enumerate(parts, start=1):
        (tmp_path / f"part{n:02d}.bin").write_bytes(data)
    whole = b"".join(parts)
    package = FilePackage(
        "tiny.gguf",
        "tiny_part",
        len(parts),
        size or len(whole),
        sha256 or hashlib.sha256(whole).hexdigest(),
        "tiny-part1..3==1.0",
    )
    object.__setattr__(package, "folder", tmp_path)
    return package


def test_a_good_model_is_assembled_once_and_then_trusted(tmp_path):
    package = tiny_package(tmp_path)
    path = assemble_model(package, tmp_path / "data")
    assert path == tmp_path / "data" / "models" / "tiny.gguf" and path.stat().st_size == package.size
    for part in package.part_paths():
        part.unlink()
    assert assemble_model(package, tmp_path / "data") == path  # the stamp: parts are not read again


def test_a_wrong_hash_is_one_line_saying_what_to_do_and_leaves_nothing(tmp_path):
    package = tiny_package(tmp_path, sha256="0" * 64)
    with pytest.raises(ModelNotFoundError) as error:
        assemble_model(package, tmp_path / "data")
    message = str(error.value)
    assert "\n" not in message and "expected" in message and "reinstall tiny-part1..3" in message
    assert "qa setup" in message
    assert sorted(p.name for p in (tmp_path / "data" / "models").iterdir()) == []  # no partial, no model


def test_a_wrong_size_is_refused(tmp_path):
    package = tiny_package(tmp_path)
    object.__setattr__(package, "size", package.size + 1)
    with pytest.raises(ModelNotFoundError, match="reinstall"):
        assemble_model(package, tmp_path / "data")


def test_a_missing_part_and_a_missing_package_say_what_to_install(tmp_path):
    package = tiny_package(tmp_path)
    (tmp_path / "part02.bin").unlink()
    with pytest.raises(ModelNotFoundError, match=r"part02.bin is missing — reinstall tiny-part1..3"):
        assemble_model(package, tmp_path / "data")
    uninstalled = ModelPackage("tiny.gguf", "no_such_model_part", 2, 10, "0" * 64, "no-such-model-part1..2==1.0")
    with pytest.raises(ModelNotFoundError, match=r"no_such_model_part1 is missing — pip install no-such-model"):
        assemble_model(uninstalled, tmp_path / "data")


def test_a_model_damaged_on_disk_is_verified_and_assembled_again(tmp_path):
    package = tiny_package(tmp_path)
    path = assemble_model(package, tmp_path / "data")
    good = path.read_bytes()
    path.write_bytes(good[:100] + b"X" + good[101:])  # same size, new mtime: the stamp no longer matches
    assert assemble_model(package, tmp_path / "data").read_bytes() == good
    path.write_bytes(good[:-10])
    for part in package.part_paths():
        part.unlink()
    with pytest.raises(ModelNotFoundError, match="missing — reinstall"):
        assemble_model(package, tmp_path / "data")


def test_cli_with_a_wrong_model_hash_is_one_line(monkeypatch, built_index, tmp_path, capsys):
    monkeypatch.setattr(qa.embed, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.embed, "OpenVINOEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setitem(qa.assemble.PROFILES, "default", tiny_package(tmp_path, sha256="ab" * 32))
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    assert ask(built_index) == 1
    line = one_error_line(capsys)
    assert "sha256" in line and "qa setup" in line
    assert main(["setup", "--corpus", str(built_index.corpus_dir), "--index", str(built_index.index_dir)]) == 1
    assert "qa setup" in one_error_line(capsys)


def test_cli_with_a_missing_model_file_is_one_line(monkeypatch, built_index, tmp_path, capsys):
    monkeypatch.setattr(qa.embed, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.embed, "OpenVINOEmbedder", lambda *args, **kwargs: FakeEmbedder())
    assert ask(built_index, "--model", str(tmp_path / "gone.gguf")) == 1
    line = one_error_line(capsys)
    assert "gone.gguf" in line and "is not a file" in line and "unset it" in line
    with pytest.raises(ModelNotFoundError, match="QA_MODEL_PATH"):
        model_path(Settings(model_path=tmp_path))  # a folder is not a model either


def _truncated_real_model(tmp_path: Path) -> Path:
    real = ROOT / "data" / "models" / qa.assemble.PROFILES["default"].file_name
    if not real.is_file():
        pytest.skip("the default model is not assembled (run `qa setup`)")
    with real.open("rb") as f:
        (tmp_path / "cut.gguf").write_bytes(f.read(20_000_000))
    return tmp_path / "cut.gguf"


@pytest.mark.parametrize(
    "make",
    [lambda t: (t / "m.gguf").write_text("not a model") and t / "m.gguf", _truncated_real_model],
    ids=["text-file", "real-model-cut-to-20-MB"],
)
def test_a_file_that_is_not_a_loadable_gguf_is_one_clear_error(tmp_path, make):
    from qa.generate import LlamaCppGenerator

    with pytest.raises(ModelNotFoundError, match="is it a GGUF file"):
        LlamaCppGenerator(make(tmp_path))


# A build killed with SIGKILL ----------------------------------------------------------------------------------

CHILD = """
import os, sys, time
sys.path.insert(0, {tests!r})
from pathlib import Path
import index.build
from fakes import FakeEmbedder
from index.build import build_index

index.build.EMBED_BATCH = 4  # the seeds' chunks become a dozen batches


class SlowEmbedder(FakeEmbedder):
    def embed(self, texts):
        print("batch", flush=True)
        time.sleep(0.15)
        return super().embed(texts)


if {kill_at!r} == "swap":  # stop between save_store's two renames: the old index is out, the new not yet in
    real_replace = os.replace

    def replace(src, dst):
        real_replace(src, dst)
        if str(dst).endswith(".old"):
            print("swapping", flush=True)
            time.sleep(60)

    os.replace = replace
build_index(Path({corpus!r}), Path({index_dir!r}), SlowEmbedder(), rebuild=True)
print("finished", flush=True)
"""


def run_and_kill(corpus: Path, index_dir: Path, kill_at: str, batches: int = 3) -> list[str]:
    code = textwrap.dedent(CHILD).format(
        tests=str(TESTS), corpus=str(corpus), index_dir=str(index_dir), kill_at=kill_at
    )
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    seen: list[str] = []
    try:
        for line in child.stdout:
            seen.append(line.strip())
            if (kill_at == "embedding" and seen.count("batch") == batches) or line.strip() == "swapping":
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        if child.poll() is None and not seen:
            child.kill()
        child.wait(30)
    assert child.returncode == -signal.SIGKILL, (child.returncode, seen)
    assert "finished" not in seen
    return seen


def answers_from(index_dir: Path, corpus: Path) -> None:
    """The index loads, checks, retrieves and answers as it did before the killed build."""
    from qa.assistant import Assistant
    from qa.retrieve import HybridRetriever

    embedder = FakeEmbedder()
    store = load_store(index_dir, settings_fingerprint(embedder.name, embedder.dim, ChunkerSettings()))
    passages = HybridRetriever(store, embedder).retrieve(Q75, 5, embedder.embed([Q75])[0])
    assert passages[0].source == DOC_75
    generator = FakeGenerator("75% of sex trafficking victims are advertised online [1].")
    settings = Settings(corpus_dir=corpus, index_dir=index_dir)
    answer = Assistant(settings, embedder=embedder, store=store, generator=generator, support_model=SUPPORT_MODEL).ask(
        Q75
    )
    assert not answer.refused and answer.citations[0].source == DOC_75


@pytest.mark.parametrize("kill_at", ["embedding", "swap"])
def test_a_build_killed_with_sigkill_leaves_the_previous_index_answering(built_index, kill_at):
    corpus, index_dir = built_index.corpus_dir, built_index.index_dir
    before = {name: (index_dir / name).read_bytes() for name in FILES}
    (corpus / "005_new.txt").write_text("A new report about labour exploitation in Vienna.\n" * 3)
    run_and_kill(corpus, index_dir, kill_at)

    live = index_dir if kill_at == "embedding" else index_dir.with_name("store.old")
    assert {name: (live / name).read_bytes() for name in FILES} == before
    assert "005_new.txt" not in load_store(index_dir).docs
    answers_from(index_dir, corpus)

    # The next build repairs everything, including the temp folder the killed process left behind.
    report = build_index(corpus, index_dir, FakeEmbedder())
    assert report.added == ["005_new.txt"] and report.embedded < report.chunks  # the old vectors are reused
    assert sorted(p.name for p in index_dir.parent.iterdir()) == ["store"]
    answers_from(index_dir, corpus)
