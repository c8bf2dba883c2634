"""Fixtures: fake models by default (tests/fakes.py), a real index of a copy of seeds/ built with them.

The real models are only used under tests/integration (marker `integration`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from index.build import BuildReport, ChunkerSettings, build_index
from qa.assistant import Assistant
from qa.settings import ROOT, Settings
from qa.store import IndexStore, load_store, settings_fingerprint

from fakes import FakeEmbedder, FakeGenerator  # tests/ is on sys.path (pytest rootdir conftest)

SEEDS = ROOT / "seeds"
FIXTURES = Path(__file__).parent / "fixtures"
ANSWER_34 = "Only 34 of the 57 signatories criminalise it [1]."


@dataclass
class BuiltIndex:
    corpus_dir: Path
    index_dir: Path
    embedder: FakeEmbedder
    report: BuildReport


@pytest.fixture(autouse=True)
def _no_qa_environment(monkeypatch):
    """Settings read QA_* variables; the developer's own must not change what the tests see."""
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_generator() -> FakeGenerator:
    """Replies with the 34-of-57 answer; set `.reply` to script another one."""
    return FakeGenerator(ANSWER_34)


@pytest.fixture
def seed_corpus(tmp_path) -> Path:
    """A private copy of seeds/, free to edit."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    return corpus


@pytest.fixture
def built_index(seed_corpus, tmp_path, fake_embedder) -> BuiltIndex:
    """The seeds indexed with the fake embedder into tmp_path/index/store."""
    index_dir = tmp_path / "index" / "store"
    report = build_index(seed_corpus, index_dir, fake_embedder, ChunkerSettings())
    return BuiltIndex(seed_corpus, index_dir, fake_embedder, report)


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory) -> BuiltIndex:
    """One read-only index of the seeds for the whole session (retrieval and assistant tests)."""
    root = tmp_path_factory.mktemp("seed-index")
    corpus = root / "corpus"
    shutil.copytree(SEEDS, corpus)
    embedder = FakeEmbedder()
    report = build_index(corpus, root / "store", embedder, ChunkerSettings())
    return BuiltIndex(corpus, root / "store", embedder, report)


@pytest.fixture(scope="session")
def seed_store(seed_index) -> IndexStore:
    expected = settings_fingerprint(FakeEmbedder.name, FakeEmbedder.dim, asdict(ChunkerSettings()))
    return load_store(seed_index.index_dir, expected)


@pytest.fixture
def settings(seed_index) -> Settings:
    return Settings(index_dir=seed_index.index_dir, corpus_dir=seed_index.corpus_dir)


@pytest.fixture
def assistant(settings, fake_embedder, seed_store, fake_generator) -> Assistant:
    return Assistant(settings, embedder=fake_embedder, store=seed_store, generator=fake_generator)
