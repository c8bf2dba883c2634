"""index/build.py: incremental re-indexing embeds only chunks whose text changed."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

from index.build import ChunkerSettings, build_index
from qa.errors import CorpusError, IndexMismatchError
from qa.store import FILES, load_store

from fakes import FakeEmbedder

SURVEY = "002_1544d809993e5293.txt"
NEWS = "004_c02d08bf38d297e0.txt"


@pytest.fixture(scope="module")
def n_chunks() -> int:
    """The chunks the seeds make, whatever the chunker's rules: what a first build must embed, each once."""
    from index.chunk import chunk_corpus
    from index.clean import clean_corpus
    from index.load import load_corpus
    from qa.settings import ROOT

    return len(chunk_corpus(clean_corpus(load_corpus(ROOT / "seeds")[0])))


def chunk_ids(store, source: str) -> list[str]:
    return [c.chunk_id for c in store.chunks if c.source == source]


def assert_vectors_are_fresh(store) -> None:
    """Reused vectors sit beside the right chunks: they equal a from-scratch embedding."""
    fresh = FakeEmbedder().embed([c.embed_text for c in store.chunks])
    assert np.allclose(store.vectors, fresh, atol=1e-6)


def files(index_dir) -> dict[str, bytes]:
    return {name: (index_dir / name).read_bytes() for name in FILES}


def test_first_build_embeds_every_chunk(built_index, n_chunks):
    report = built_index.report
    assert (report.files, report.embedded, report.reused) == (5, report.chunks, 0)
    assert report.added == sorted(p.name for p in built_index.corpus_dir.iterdir())
    assert report.chunks == built_index.embedder.embedded == n_chunks
    assert report.summary().startswith(
        f"5 files, {n_chunks} chunks ({n_chunks} embedded, 0 reused); +5 ~0 -0 files; 0 skipped"
    )


def test_second_build_is_a_no_op(built_index, n_chunks):
    before = files(built_index.index_dir)
    report = build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder)
    assert report.unchanged and report.embedded == 0 and report.reused == report.chunks == n_chunks
    assert built_index.embedder.embedded == n_chunks  # nothing embedded a second time
    assert files(built_index.index_dir) == before  # not even rewritten
    assert report.summary() == f"index is up to date: 5 files, {n_chunks} chunks; 0 skipped"


def test_rebuild_embeds_everything_again(built_index, n_chunks):
    report = build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder, rebuild=True)
    assert not report.unchanged and report.embedded == n_chunks and built_index.embedder.embedded == 2 * n_chunks


def test_changing_a_title_re_embeds_only_that_files_chunks(built_index, n_chunks):
    embedder, path = built_index.embedder, built_index.corpus_dir / SURVEY
    old = load_store(built_index.index_dir)
    path.write_text(path.read_text().replace("Survey Report of Efforts", "Survey Report on Efforts", 1))
    report = build_index(built_index.corpus_dir, built_index.index_dir, embedder)
    store = load_store(built_index.index_dir)
    n_survey = len(chunk_ids(store, SURVEY))
    assert report.changed == [SURVEY] and report.added == report.deleted == []
    assert embedder.embedded - n_chunks == report.embedded == n_survey  # the title is in every chunk's embed text
    assert report.reused == report.chunks - n_survey
    assert all(c.title.startswith("Survey Report on Efforts") for c in store.chunks if c.source == SURVEY)
    assert [c for c in store.chunks if c.source != SURVEY] == [c for c in old.chunks if c.source != SURVEY]
    assert_vectors_are_fresh(store)


def test_appending_a_sentence_re_embeds_only_the_chunks_that_changed(built_index, n_chunks):
    embedder, path = built_index.embedder, built_index.corpus_dir / SURVEY
    old_hashes = {c.hash for c in load_store(built_index.index_dir).chunks}
    path.write_text(path.read_text() + "\nThe report was discussed again in Vienna in 2023.\n")
    report = build_index(built_index.corpus_dir, built_index.index_dir, embedder)
    store = load_store(built_index.index_dir)
    new_chunks = [c for c in store.chunks if c.hash not in old_hashes]
    assert report.changed == [SURVEY]
    assert 1 <= len(new_chunks) < len(chunk_ids(store, SURVEY))
    assert {c.source for c in new_chunks} == {SURVEY}
    assert embedder.embedded - n_chunks == report.embedded == len(new_chunks)
    assert "discussed again in Vienna" in store.docs[SURVEY].text
    assert_vectors_are_fresh(store)


def test_deleting_a_file_drops_its_chunks(built_index, n_chunks):
    (built_index.corpus_dir / NEWS).unlink()
    report = build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder)
    store = load_store(built_index.index_dir)
    assert report.deleted == [NEWS] and report.embedded == 0 and built_index.embedder.embedded == n_chunks
    assert NEWS not in store.docs and NEWS not in store.manifest.files
    assert chunk_ids(store, NEWS) == [] and report.chunks == len(store.chunks) < n_chunks
    assert_vectors_are_fresh(store)


def test_adding_a_file_embeds_only_its_chunks(built_index, n_chunks):
    text = "\n".join(f"Paragraph {i} of a new report on labour exploitation in Europe." for i in range(20))
    (built_index.corpus_dir / "005_added.md").write_text(text)
    report = build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder)
    store = load_store(built_index.index_dir)
    n_added = len(chunk_ids(store, "005_added.md"))
    assert n_added >= 2
    assert report.added == ["005_added.md"] and report.changed == report.deleted == []
    assert report.embedded == n_added == built_index.embedder.embedded - n_chunks
    assert_vectors_are_fresh(store)


def test_touching_a_file_without_changing_it_is_a_no_op(built_index):
    path = built_index.corpus_dir / SURVEY
    path.write_bytes(path.read_bytes())
    assert build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder).unchanged


def test_other_chunker_settings_need_a_rebuild(built_index, n_chunks):
    other = ChunkerSettings(chunk_chars=300, chunk_max_chars=600)
    before = files(built_index.index_dir)
    with pytest.raises(IndexMismatchError, match="qa index --rebuild"):
        build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder, other)
    assert files(built_index.index_dir) == before
    report = build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder, other, rebuild=True)
    store = load_store(built_index.index_dir)
    assert store.manifest.chunker == other
    assert report.chunks == len(store.chunks) > n_chunks
    assert max(len(c.text) for c in store.chunks) <= 900


def test_another_embedder_needs_a_rebuild(built_index):
    class OtherEmbedder(FakeEmbedder):
        name = "another-model"

    with pytest.raises(IndexMismatchError, match="embedding_model"):
        build_index(built_index.corpus_dir, built_index.index_dir, OtherEmbedder())
    build_index(built_index.corpus_dir, built_index.index_dir, OtherEmbedder(), rebuild=True)
    assert load_store(built_index.index_dir).manifest.embedding_model == "another-model"


def test_empty_corpus_is_an_error_and_keeps_the_old_index(built_index, n_chunks):
    before = files(built_index.index_dir)
    for path in built_index.corpus_dir.iterdir():
        path.unlink()
    with pytest.raises(CorpusError, match="no readable documents"):
        build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder)
    assert files(built_index.index_dir) == before
    assert len(load_store(built_index.index_dir).chunks) == n_chunks


def test_corpus_of_unreadable_files_is_an_error(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "photo.png").write_bytes(b"\x89PNG\r\n")
    (corpus / "empty.txt").write_text("")
    with pytest.raises(CorpusError):
        build_index(corpus, tmp_path / "store", fake_embedder)
    assert not (tmp_path / "store").exists()


def test_missing_corpus_folder_is_an_error(tmp_path, fake_embedder):
    with pytest.raises(CorpusError, match="does not exist"):
        build_index(tmp_path / "nowhere", tmp_path / "store", fake_embedder)


def test_skipped_files_are_reported_and_the_rest_indexed(seed_corpus, tmp_path, fake_embedder, n_chunks):
    (seed_corpus / "broken.pdf").write_bytes(b"not a pdf at all")
    shutil.copy(seed_corpus / SURVEY, seed_corpus / "copy.txt")
    report = build_index(seed_corpus, tmp_path / "store", fake_embedder)
    assert [s.source for s in report.skipped] == ["broken.pdf", "copy.txt"]
    assert report.files == 5 and report.chunks == n_chunks


def test_progress_is_reported_per_batch(seed_corpus, tmp_path, fake_embedder, n_chunks):
    calls = []
    build_index(seed_corpus, tmp_path / "store", fake_embedder, progress=lambda *done_total: calls.append(done_total))
    assert calls[-1] == (n_chunks, n_chunks)


@pytest.mark.parametrize(
    "name, data",
    [
        pytest.param("faiss.index", b"junk", id="faiss-junk"),
        pytest.param("chunks.jsonl", b'{"chunk_id": ', id="chunks-cut"),
        pytest.param("vectors.npy", b"", id="vectors-empty"),
    ],
)
def test_a_damaged_old_index_is_rebuilt(built_index, name, data, n_chunks):
    (built_index.index_dir / name).write_bytes(data)
    report = build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder)
    assert report.embedded == report.chunks == n_chunks
    assert_vectors_are_fresh(load_store(built_index.index_dir))


def test_an_unreadable_manifest_is_rebuilt(built_index, n_chunks):
    (built_index.index_dir / "manifest.json").write_text('{"format')
    report = build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder)
    assert report.embedded == report.chunks == n_chunks
    assert load_store(built_index.index_dir).manifest.n_chunks == n_chunks


def test_a_corpus_that_cleans_to_nothing_builds_an_empty_index(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "dashes.txt").write_text("-\n–\n-\n")
    report = build_index(corpus, tmp_path / "store", fake_embedder)
    assert (report.files, report.chunks) == (1, 0)
    store = load_store(tmp_path / "store")
    assert store.chunks == [] and store.vectors.shape == (0, 64)


def test_a_change_in_what_is_embedded_re_embeds_even_if_files_are_unchanged(built_index, monkeypatch, n_chunks):
    """Vectors are keyed by the hash stored when they were made, not one recomputed by today's code."""
    from qa.records import Chunk

    monkeypatch.setattr(Chunk, "embed_text", property(lambda c: f"{c.title} | {c.text}"))
    report = build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder)
    assert not report.unchanged and report.embedded == report.chunks == n_chunks


def test_a_change_in_how_chunks_are_described_rewrites_the_index_without_embedding(built_index, monkeypatch):
    """Same files, same texts, new chunk metadata (a version that names pages): the index is rewritten with the
    new metadata, and every vector is reused."""
    import index.chunk
    from qa.records import Metadata

    real = index.chunk.chunk_document

    def with_location(doc, *args):
        return [replace(c, metadata=replace(c.metadata, location="page 1")) for c in real(doc, *args)]

    monkeypatch.setattr(index.chunk, "chunk_document", with_location)
    before = built_index.embedder.embedded
    report = build_index(built_index.corpus_dir, built_index.index_dir, built_index.embedder)
    assert not report.unchanged and report.embedded == 0 and built_index.embedder.embedded == before
    assert {c.metadata.location for c in load_store(built_index.index_dir).chunks} == {"page 1"}
    assert Metadata(location="page 1").to_dict() == {"location": "page 1"}


def test_chunks_are_embedded_shortest_first_and_their_vectors_stay_beside_them(seed_corpus, tmp_path, n_chunks):
    class RecordingEmbedder(FakeEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.lengths: list[int] = []

        def embed(self, texts: list[str]) -> np.ndarray:
            self.lengths += [len(t) for t in texts]
            return super().embed(texts)

    embedder = RecordingEmbedder()
    build_index(seed_corpus, tmp_path / "store", embedder)
    assert embedder.lengths == sorted(embedder.lengths) and len(embedder.lengths) == n_chunks  # less padding per batch
    assert_vectors_are_fresh(load_store(tmp_path / "store"))
