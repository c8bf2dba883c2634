"""Deterministic stand-ins for the models, behind the same one-method protocols as the real ones.

embedder = FakeEmbedder()
embedder.embed(["34 of the 57 signatories"]).shape == (1, 64)     # unit rows, float32
"".join(FakeGenerator("Only 34 do [1].").generate(messages)) == "Only 34 do [1]."
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Generator as Deltas

import numpy as np

from qa.records import Generation, Usage
from qa.support import SupportModel
from qa.tokens import terms

BIAS = 0  # the dimension an all-zero row is put on, so every row has unit length


class FakeEmbedder:
    """A hashed bag of `qa.tokens.terms`: texts that share words have a positive cosine, others ~0."""

    name = "fake-hash-embedder"
    dim = 64

    def __init__(self) -> None:
        self.embedded = 0  # texts embedded so far, to check what incremental re-indexing re-embeds
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.embedded += len(texts)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in terms(text):
                vectors[row, _bucket(term, self.dim)] += 1.0
            if not vectors[row].any():
                vectors[row, BIAS] = 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _bucket(term: str, dim: int) -> int:
    """A stable bucket in 1..dim-1 (Python's own hash() changes between runs); 0 is the bias."""
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest()
    return 1 + int.from_bytes(digest, "little") % (dim - 1)


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
        pieces = _pieces(text)
        yield from pieces
        prompt_words = sum(len(m["content"].split()) for m in messages)
        return Generation(Usage(prompt_words, len(pieces)))

    def yes_probability(self, messages: list[dict[str, str]]) -> float:
        """A judge by word overlap: the share of the question's terms that the text holds (0.05..0.95)."""
        self.judged.append(messages)
        if self.judge is not None:
            return self.judge
        user = messages[-1]["content"]
        text = user.split("\nQuestion: ", 1)[0].removeprefix("Text: ")
        question = user.split("\nQuestion: ", 1)[-1].split("\n", 1)[0]
        asked = set(terms(question))
        share = len(asked & set(terms(text))) / len(asked) if asked else 0.0
        return 0.05 + 0.9 * share


def _pieces(text: str) -> list[str]:
    """ "Only 34 do [1]." -> ["Only", " 34", " do", " [1]."]: word-sized deltas that join back exactly."""
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.append(word if not pieces else " " + word)
    return [p for p in pieces if p]


# A hand-set support model for unit tests, so that they do not move when qa/support_model.json is refitted.
SUPPORT_MODEL = SupportModel(
    weights={"claim_terms": 3.0, "question_cover": 3.0, "missing_idf": -2.0, "judge": 2.0},
    means={"claim_terms": 0.5, "question_cover": 0.6, "missing_idf": 0.5, "judge": 0.5},
    scales={"claim_terms": 0.25, "question_cover": 0.2, "missing_idf": 0.25, "judge": 0.25},
    bias=0.0,
    threshold=0.5,
)
