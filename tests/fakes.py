"""Deterministic stand-ins for the models, behind the same one-method protocols as the real ones.

embedder = FakeEmbedder()
embedder.embed(["34 of the 57 signatories"]).shape == (1, 64)     # unit rows, float32
"".join(FakeGenerator("Only 34 do [1].").generate(messages)) == "Only 34 do [1]."
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Generator as Deltas

import numpy as np

from eval.bench.load_server import HashEmbedder, overlap_judge, word_pieces
from qa.records import Generation, Usage
from qa.support import SupportModel


class FakeEmbedder(HashEmbedder):
    """The load server's hashed bag of `qa.tokens.terms`, counting what it embeds: texts that share words have
    a positive cosine, others ~0."""

    name = "fake-hash-embedder"

    def __init__(self) -> None:
        self.embedded = 0  # texts embedded so far, to check what incremental re-indexing re-embeds
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.embedded += len(texts)
        return super().embed(texts)


class FailingEmbedder(FakeEmbedder):
    """Raises on its `fail_on`-th call to embed, like a model that runs out of memory mid-build."""

    def __init__(self, fail_on: int = 2) -> None:
        super().__init__()
        self.fail_on = fail_on

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.calls + 1 == self.fail_on:
            self.calls += 1
            raise RuntimeError("embedder failed on purpose")
        return super().embed(texts)


Reply = str | Callable[[list[dict[str, str]]], str]


class FakeGenerator:
    """Streams a scripted reply in several pieces; `reply` is the text or a function of the messages."""

    name = "fake-generator"

    def __init__(self, reply: Reply = "The documents do not say.") -> None:
        self.reply = reply
        self.calls: list[list[dict[str, str]]] = []  # the messages of each call
        self.judged: list[list[dict[str, str]]] = []  # the messages of each yes/no question
        self.judge: float | None = None  # a fixed P(yes), or None for the word-overlap judge

    def generate(
        self, messages: list[dict[str, str]], max_tokens: int = 96, grammar: str | None = None
    ) -> Deltas[str, None, Generation]:
        """The reply in word-sized pieces, then its usage (prompt words as tokens) and no probabilities."""
        self.calls.append(messages)
        text = self.reply(messages) if callable(self.reply) else self.reply
        pieces = word_pieces(text)
        yield from pieces
        prompt_words = sum(len(m["content"].split()) for m in messages)
        return Generation(Usage(prompt_words, len(pieces)))

    def yes_probability(self, messages: list[dict[str, str]]) -> float:
        """`judge` when set, else the load server's word-overlap judge."""
        self.judged.append(messages)
        return self.judge if self.judge is not None else overlap_judge(messages)


# A hand-set support model for unit tests, so that they do not move when qa/support_model.json is refitted.
SUPPORT_MODEL = SupportModel(
    weights={"claim_terms": 3.0, "question_cover": 3.0, "missing_idf": -2.0, "judge": 2.0},
    means={"claim_terms": 0.5, "question_cover": 0.6, "missing_idf": 0.5, "judge": 0.5},
    scales={"claim_terms": 0.25, "question_cover": 0.2, "missing_idf": 0.25, "judge": 0.25},
    bias=0.0,
    threshold=0.5,
)
