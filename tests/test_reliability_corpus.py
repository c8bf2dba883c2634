"""Bad corpora through `qa index` (fake embedder): every bad file is skipped with one warning line naming it,
the rest is indexed, and a folder with nothing readable is one error line that leaves the old index alone."""

from __future__ import annotations

import os
import shutil

import pytest
from test_load import minimal_pdf  # tests/ is on sys.path

import qa.embed
from qa.cli import main
from qa.settings import ROOT
from qa.store import FILES, load_store

from fakes import FakeEmbedder

SEED_FILES, SEED_CHUNKS = 5, 41
# name -> (how it is made, the start of its skip reason)
BAD_FILES = {
    "empty.txt": (lambda p: p.write_bytes(b""), "no text"),
    "blank.md": (lambda p: p.write_text(" \n\t\n"), "no text"),
    "binary.txt": (lambda p: p.write_bytes(bytes(range(256)) * 64), "binary file"),
    "latin1.txt": (lambda p: p.write_bytes("Café crème in Zürich".encode("latin-1")), "not UTF-8"),
    "cp1252.md": (lambda p: p.write_bytes("“Smart quotes” – and a dash".encode("cp1252")), "not UTF-8"),
    "huge.txt": (lambda p: _sparse(p, 51 * 1024 * 1024), "too large (51 MiB > 50 MiB)"),
    "broken.pdf": (lambda p: p.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage"), "broken PDF"),
    "truncated.pdf": (lambda p: p.write_bytes(minimal_pdf("Hello there")[:150]), "broken PDF"),
    "not-a-pdf.pdf": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300)), "broken PDF"),
    "zz_duplicate.txt": (lambda p: shutil.copy(p.parent / "002_1544d809993e5293.txt", p), "duplicate of 002_"),
    "photo.png": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n"), "unsupported type .png"),
    "loop": (lambda p: os.symlink(p.parent, p), "symlinked folder not followed"),
    "sub/self": (lambda p: (p.parent.mkdir(), os.symlink("../sub", p)), "symlinked folder not followed"),
    "dangling.txt": (lambda p: os.symlink(p.parent / "nowhere.txt", p), "cannot read"),
    "pipe.txt": (lambda p: os.mkfifo(p), "not a regular file"),  # reading it would block the build forever
    "zeros.txt": (lambda p: os.symlink("/dev/zero", p), "not a regular file"),  # ... or fill the memory
}


def _sparse(path, size: int) -> None:
    with path.open("wb") as f:
        f.truncate(size)  # no disk blocks are written


@pytest.fixture
def fake_embedder(monkeypatch):
    monkeypatch.setattr(qa.embed, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.embed, "OpenVINOEmbedder", lambda *args, **kwargs: FakeEmbedder())


@pytest.fixture
def corpus(tmp_path):
    shutil.copytree(ROOT / "seeds", tmp_path / "corpus")
    return tmp_path / "corpus"


def index(corpus, index_dir) -> int:
    return main(["index", "--corpus", str(corpus), "--index", str(index_dir)])


def warnings(err: str) -> dict[str, str]:
    """ "warning: skipped NAME: REASON" lines as {NAME: REASON}; any other stderr line fails the test."""
    found = {}
    for line in err.splitlines():
        if line.startswith("embedding chunks") or not line.strip():  # the progress bar
            continue
        assert line.startswith("warning: skipped "), f"unexpected stderr line: {line!r}"
        name, reason = line.removeprefix("warning: skipped ").split(": ", 1)
        found[name] = reason
    return found


def test_every_bad_file_is_skipped_with_a_warning_and_the_rest_indexed(fake_embedder, corpus, tmp_path, capsys):
    for name, (make, _) in BAD_FILES.items():
        make(corpus / name)
    assert index(corpus, tmp_path / "store") == 0
    out, err = capsys.readouterr()
    skipped = warnings(err)
    assert set(skipped) == set(BAD_FILES)
    for name, (_, reason) in BAD_FILES.items():
        assert skipped[name].startswith(reason), (name, skipped[name])
    assert f"{SEED_FILES} files, {SEED_CHUNKS} chunks" in out and f"{len(BAD_FILES)} skipped" in out
    store = load_store(tmp_path / "store")
    assert len(store.docs) == SEED_FILES and len(store.chunks) == SEED_CHUNKS


def test_an_empty_folder_is_one_error_line(fake_embedder, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert index(tmp_path / "empty", tmp_path / "store") == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: no readable documents in")
    assert not (tmp_path / "store").exists()


def test_a_folder_of_only_bad_files_keeps_the_previous_index(fake_embedder, corpus, tmp_path, capsys):
    assert index(corpus, tmp_path / "store") == 0
    before = {name: (tmp_path / "store" / name).read_bytes() for name in FILES}
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("empty.txt", "binary.txt", "latin1.txt", "broken.pdf", "pipe.txt", "huge.txt"):
        BAD_FILES[name][0](bad / name)
    capsys.readouterr()
    assert index(bad, tmp_path / "store") == 1
    err = capsys.readouterr().err
    assert set(warnings(err.replace(err.splitlines()[-1], ""))) == {
        "empty.txt",
        "binary.txt",
        "latin1.txt",
        "broken.pdf",
        "pipe.txt",
        "huge.txt",
    }
    assert err.splitlines()[-1].startswith("error: no readable documents")
    assert {name: (tmp_path / "store" / name).read_bytes() for name in FILES} == before


def test_a_missing_corpus_folder_and_a_file_given_as_corpus_are_one_error_line(fake_embedder, corpus, tmp_path, capsys):
    for target in (tmp_path / "nowhere", corpus / "002_1544d809993e5293.txt"):
        assert index(target, tmp_path / "store") == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith("error: corpus folder") and "does not exist" in err
