"""qa/store.py: the saved index is checked on load; missing, mismatched or damaged ones are clear errors."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, replace

import numpy as np
import pytest

import index.build
from index.build import ChunkerSettings, build_index
from qa.errors import IndexCorruptError, IndexMismatchError, IndexNotBuiltError
from qa.records import Manifest
from qa.store import FILES, load_store, read_manifest, settings_fingerprint

from fakes import FailingEmbedder, FakeEmbedder

CHUNKER = asdict(ChunkerSettings())


def expected(name: str = FakeEmbedder.name, dim: int = FakeEmbedder.dim, **chunker) -> Manifest:
    return settings_fingerprint(name, dim, ChunkerSettings(**{**CHUNKER, **chunker}))


def snapshot(index_dir) -> dict[str, bytes]:
    return {name: (index_dir / name).read_bytes() for name in FILES}


def test_a_built_store_loads_and_matches(built_index):
    store = load_store(built_index.index_dir, expected())
    assert sorted(os.listdir(built_index.index_dir)) == sorted(FILES)
    assert len(store.chunks) == len(store.vectors) == store.faiss_index.ntotal == store.manifest.n_chunks
    assert store.chunks[0].chunk_id == "000_d2af82de5b2a880a.txt#0"
    assert set(store.docs) == set(store.manifest.files) == {p.name for p in built_index.corpus_dir.iterdir()}
    assert np.allclose(np.linalg.norm(store.vectors, axis=1), 1.0)
    for c in store.chunks:
        assert store.docs[c.source].text[c.start : c.end] == c.text


def test_search_finds_a_chunk_by_its_own_vector(built_index):
    store = load_store(built_index.index_dir)
    sims, ids = store.search(store.vectors[[7]], k=3)
    assert ids.shape == (1, 3) and ids[0][0] == 7 and sims[0][0] == pytest.approx(1.0, abs=1e-5)


def test_a_store_over_other_vectors_is_searched_and_describes_itself(built_index):
    store = load_store(built_index.index_dir)
    n = len(store.chunks)
    shifted = np.roll(store.vectors, 1, axis=0)  # chunk i now has chunk i-1's vector
    bigger = store.with_vectors(store.chunks * 2, np.vstack([store.vectors, shifted]))
    assert bigger.manifest.n_chunks == 2 * n and store.manifest.n_chunks == n  # the original is unchanged
    assert bigger.faiss_index.ntotal == 2 * n and bigger.docs is store.docs
    _, ids = bigger.search(store.vectors[[7]], k=2)
    assert sorted(ids[0]) == [7, n + 8]
    given = store.with_vectors(store.chunks, store.vectors, faiss_index=store.faiss_index)
    assert given.faiss_index is store.faiss_index
    with pytest.raises(ValueError, match="chunks but"):
        store.with_vectors(store.chunks, store.vectors[:-1])


def test_missing_index_is_not_built(tmp_path):
    with pytest.raises(IndexNotBuiltError, match="qa index"):
        load_store(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "fingerprint, field",
    [
        (expected(name="all-MiniLM-L6-v2"), "embedding_model"),
        (expected(dim=384), "dim"),
        (expected(chunk_chars=300), "chunker"),
        (expected(boilerplate_min_lines=5), "chunker"),
        (replace(expected(), format_version=999), "format_version"),
    ],
)
def test_mismatched_settings_say_to_rebuild(built_index, fingerprint, field):
    with pytest.raises(IndexMismatchError, match="qa index --rebuild") as error:
        load_store(built_index.index_dir, fingerprint)
    assert field in str(error.value)


def _truncate(path, keep) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: keep(len(data))])


@pytest.mark.parametrize(
    "name, damage",
    [
        pytest.param("vectors.npy", lambda n: 0, id="vectors-empty"),
        pytest.param("vectors.npy", lambda n: 10, id="vectors-header-cut"),
        pytest.param("vectors.npy", lambda n: n // 2, id="vectors-half"),
        pytest.param("vectors.npy", lambda n: n - 1, id="vectors-last-byte-missing"),
        pytest.param("faiss.index", lambda n: 0, id="faiss-empty"),
        pytest.param("faiss.index", lambda n: n // 2, id="faiss-half"),
        pytest.param("chunks.jsonl", lambda n: n // 2, id="chunks-half"),
        pytest.param("docs.jsonl", lambda n: n - 10, id="docs-cut"),
        pytest.param("manifest.json", lambda n: n // 2, id="manifest-half"),
    ],
)
def test_truncated_files_are_corrupt(built_index, name, damage):
    _truncate(built_index.index_dir / name, damage)
    with pytest.raises(IndexCorruptError, match="qa index --rebuild"):
        load_store(built_index.index_dir, expected())


@pytest.mark.parametrize("name", ["vectors.npy", "faiss.index", "chunks.jsonl"])
def test_garbage_files_are_corrupt(built_index, name):
    (built_index.index_dir / name).write_bytes(bytes(range(256)) * 4)
    with pytest.raises(IndexCorruptError):
        load_store(built_index.index_dir, expected())


@pytest.mark.parametrize("name", ["vectors.npy", "faiss.index", "docs.jsonl", "chunks.jsonl"])
def test_a_missing_file_is_corrupt(built_index, name):
    (built_index.index_dir / name).unlink()
    with pytest.raises(IndexCorruptError):
        load_store(built_index.index_dir, expected())


def test_vectors_of_another_length_are_inconsistent(built_index):
    store = load_store(built_index.index_dir)
    np.save(built_index.index_dir / "vectors.npy", store.vectors[:-1])
    with pytest.raises(IndexCorruptError, match="inconsistent"):
        load_store(built_index.index_dir)


def test_an_interrupted_swap_still_loads(built_index):
    """Between save_store's two renames the live index is only at `store.old`."""
    index_dir = built_index.index_dir
    before = load_store(index_dir)
    os.replace(index_dir, index_dir.with_name("store.old"))
    after = load_store(index_dir, expected())
    assert [c.chunk_id for c in after.chunks] == [c.chunk_id for c in before.chunks]
    assert np.array_equal(after.vectors, before.vectors)
    assert read_manifest(index_dir) == before.manifest


def test_a_build_after_an_interrupted_swap_repairs_it(built_index):
    index_dir = built_index.index_dir
    os.replace(index_dir, index_dir.with_name("store.old"))
    (built_index.corpus_dir / "005_new.txt").write_text("A new page about the weather in Vienna today.\n")
    report = build_index(built_index.corpus_dir, index_dir, built_index.embedder)
    assert report.added == ["005_new.txt"] and report.embedded == 1  # the rest reused from `store.old`
    assert index_dir.is_dir() and not index_dir.with_name("store.old").exists()
    assert "005_new.txt" in load_store(index_dir, expected()).docs


def test_a_failed_build_leaves_the_previous_index_unchanged(built_index, monkeypatch):
    monkeypatch.setattr(index.build, "EMBED_BATCH", 8)  # the seeds' 41 chunks become 6 batches
    before = snapshot(built_index.index_dir)
    failing = FailingEmbedder(fail_on=2)
    with pytest.raises(RuntimeError, match="on purpose"):
        build_index(built_index.corpus_dir, built_index.index_dir, failing, rebuild=True)
    assert failing.calls == 2
    assert snapshot(built_index.index_dir) == before
    assert sorted(p.name for p in built_index.index_dir.parent.iterdir()) == ["store"]  # no temp folder left
    assert len(load_store(built_index.index_dir, expected()).chunks) == built_index.report.chunks


def test_manifest_is_self_describing(built_index):
    manifest = json.loads((built_index.index_dir / "manifest.json").read_text())
    assert manifest["embedding_model"] == "fake-hash-embedder" and manifest["dim"] == 64
    assert manifest["chunker"] == CHUNKER
    assert manifest["format_version"] == 2
    assert manifest["index_type"] == "IndexFlatIP"
    assert manifest["n_chunks"] == built_index.report.chunks


def test_swap_leaves_no_old_copy(built_index, fake_embedder):
    build_index(built_index.corpus_dir, built_index.index_dir, fake_embedder, rebuild=True)
    assert sorted(p.name for p in built_index.index_dir.parent.iterdir()) == ["store"]


def test_copy_of_an_index_loads_elsewhere(built_index, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(built_index.index_dir, copy)
    assert len(load_store(copy, expected()).chunks) == built_index.report.chunks
