"""Fixtures: fake models by default (tests/fakes.py), a real index of a copy of seeds/ built with them.

The real models are only used under tests/integration (marker `integration`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from index.build import BuildReport, ChunkerSettings, build_index
from qa.assistant import Assistant
from qa.settings import ROOT, Settings
from qa.store import IndexStore, load_store, settings_fingerprint

from fakes import SUPPORT_MODEL, FakeEmbedder, FakeGenerator  # tests/ is on sys.path (pytest rootdir conftest)

SEEDS = ROOT / "seeds"
FIXTURES = Path(__file__).parent / "fixtures"
ANSWER_34 = "Only 34 of the 57 signatories criminalise it [1]."


@dataclass
class BuiltIndex:
    corpus_dir: Path
    index_dir: Path
    embedder: FakeEmbedder
    report: BuildReport


@pytest.fixture(scope="session")
def _test_support_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("support") / "support_model.json"
    path.write_text(
        json.dumps(
            {
                "weights": SUPPORT_MODEL.weights,
                "means": SUPPORT_MODEL.means,
                "scales": SUPPORT_MODEL.scales,
                "bias": SUPPORT_MODEL.bias,
                "threshold": SUPPORT_MODEL.threshold,
            }
        )
    )
    return path


@pytest.fixture(autouse=True)
def _no_qa_environment(monkeypatch, request, _test_support_model, tmp_path_factory):
    """Settings read QA_* variables; the developer's own must not change what the tests see. Unit tests use
    a hand-set support model, so that refitting qa/support_model.json does not move them. Collections a
    test makes go to a temporary folder, never to the checkout's data/collections."""
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QA_COLLECTIONS_DIR", str(tmp_path_factory.mktemp("collections")))
    if request.node.get_closest_marker("integration") is None:
        monkeypatch.setenv("QA_SUPPORT_MODEL_PATH", str(_test_support_model))


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
    expected = settings_fingerprint(FakeEmbedder.name, FakeEmbedder.dim, ChunkerSettings())
    return load_store(seed_index.index_dir, expected)


@pytest.fixture
def settings(seed_index) -> Settings:
    return Settings(index_dir=seed_index.index_dir, corpus_dir=seed_index.corpus_dir)


@pytest.fixture
def assistant(settings, fake_embedder, seed_store, fake_generator) -> Assistant:
    return Assistant(
        settings, embedder=fake_embedder, store=seed_store, generator=fake_generator, support_model=SUPPORT_MODEL
    )
