"""A local, private question-answering assistant over a folder of documents.

    from qa import ask
    answer = ask("What percentage of sex trafficking victims are advertised online?")
    print(answer.text, answer.citations[0].source, answer.citations[0].quote)

`import qa` is instant: models and the index load on the first question, once per process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from qa.errors import (
    BadQuestionError,
    IndexMismatchError,
    IndexNotBuiltError,
    ModelNotFoundError,
    ModelServerError,
    ModelTimeoutError,
    QAError,
)
from qa.records import Answer, Citation, ClaimCheck, Metadata, Passage, Timings, Turn, Usage

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever fetched from a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__all__ = [
    "ask",
    "ask_stream",
    "Assistant",
    "Settings",
    "Answer",
    "Citation",
    "ClaimCheck",
    "Passage",
    "Metadata",
    "Timings",
    "Turn",
    "Usage",
    "QAError",
    "BadQuestionError",
    "IndexNotBuiltError",
    "IndexMismatchError",
    "ModelNotFoundError",
    "ModelServerError",
    "ModelTimeoutError",
]

_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    global _default
    with _default_lock:
        if _default is None:
            from qa.assistant import Assistant
            from qa.settings import Settings

            _default = Assistant(Settings())
        return _default


def ask(question: str, history: list[dict[str, str]] | None = None) -> Answer:
    """Answer one question from the indexed documents, with verified citations."""
    return default_assistant().ask(question, history)


def ask_stream(question: str, history: list[dict[str, str]] | None = None) -> Iterator[str | Answer]:
    """Yield the answer's text deltas as they are generated, then the final Answer."""
    return default_assistant().ask_stream(question, history)


def __getattr__(name: str):
    if name == "Assistant":
        from qa.assistant import Assistant

        return Assistant
    if name == "Settings":
        from qa.settings import Settings

        return Settings
    raise AttributeError(name)
