"""Session-scoped real models: the default chat model and all-MiniLM-L6-v2 over an index of seeds/."""

from __future__ import annotations

import pytest

from index.build import build_index
from qa.assistant import Assistant
from qa.embed import SentenceTransformerEmbedder
from qa.settings import ROOT, Settings


@pytest.fixture(scope="session")
def real_assistant(tmp_path_factory) -> Assistant:
    index_dir = tmp_path_factory.mktemp("index") / "store"
    settings = Settings(corpus_dir=ROOT / "seeds", index_dir=index_dir)
    embedder = SentenceTransformerEmbedder()
    build_index(settings.corpus_dir, settings.index_dir, embedder)
    assistant = Assistant(settings, embedder=embedder)
    assistant.load()
    return assistant
