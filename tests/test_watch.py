"""index/watch.py: a watched corpus is re-indexed when a document is added, changed or removed; hidden files,
other types and the index folder inside the corpus start nothing; a failed rebuild is reported."""

from __future__ import annotations

import threading
import time

from index.build import build_index
from index.watch import watch_corpus
from qa.store import load_store

from fakes import FakeEmbedder


def test_added_changed_and_removed_files_are_reindexed(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "corpus" / ".qa-index"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Alpha is a document about Vienna.")
    embedder = FakeEmbedder()
    build_index(corpus, index_dir, embedder)
    lines: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_corpus,
        args=(corpus, lambda: build_index(corpus, index_dir, embedder), lines.append, stop, index_dir, 100),
        daemon=True,
    )
    watcher.start()

    def sources_become(expected: set[str]) -> None:
        for _ in range(100):
            if {d for d in load_store(index_dir).docs} == expected:
                return
            time.sleep(0.1)
        raise AssertionError(f"index holds {set(load_store(index_dir).docs)}, not {expected}; log: {lines}")

    try:
        time.sleep(0.5)  # the watcher is set up
        (corpus / "b.md").write_text("Beta is a note about Bergen.")
        sources_become({"a.txt", "b.md"})
        (corpus / "b.md").write_text("Beta now talks about Oslo.")
        for _ in range(100):
            if "Oslo" in load_store(index_dir).docs["b.md"].text:
                break
            time.sleep(0.1)
        assert "Oslo" in load_store(index_dir).docs["b.md"].text
        (corpus / "a.txt").unlink()
        sources_become({"b.md"})
        rebuilds = len(lines)
        (corpus / ".hidden.txt").write_text("not indexed")
        (corpus / "photo.png").write_bytes(b"\x89PNG")
        time.sleep(1.0)
        assert len(lines) == rebuilds, lines  # nothing the loader reads, and the index's own writes, start nothing
        (corpus / "b.md").unlink()  # nothing readable left: reported, the old index stays
        for _ in range(100):
            if "not indexed" in lines[-1]:
                break
            time.sleep(0.1)
        assert "not indexed" in lines[-1] and "the old index stays" in lines[-1]
        assert set(load_store(index_dir).docs) == {"b.md"}
    finally:
        stop.set()
        watcher.join(5)
    assert lines[0].startswith("watching") and not watcher.is_alive()
