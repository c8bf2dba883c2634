"""Session-scoped real models: the default chat model and the default embedder (as `qa` picks it: OpenVINO int8
where it runs) over an index of seeds/."""

from __future__ import annotations

import pytest

from index.build import build_index
from qa.assistant import Assistant
from qa.embed import embedder_for
from qa.settings import ROOT, Settings


@pytest.fixture(scope="session")
def real_assistant(tmp_path_factory) -> Assistant:
    index_dir = tmp_path_factory.mktemp("index") / "store"
    settings = Settings(corpus_dir=ROOT / "seeds", index_dir=index_dir)
    embedder = embedder_for(settings)
    build_index(settings.corpus_dir, settings.index_dir, embedder)
    assistant = Assistant(settings, embedder=embedder)
    assistant.load()
    return assistant
