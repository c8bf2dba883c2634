"""Remote: the chat model and the embedder behind an OpenAI-compatible HTTP server (llama.cpp's own server,
vLLM, a hosted one), behind the same protocols as the in-process models.

    generator = OpenAIGenerator("http://127.0.0.1:8081/v1")   # QA_LLM_URL; the model is the server's first
    stream = Stream(generator.generate(messages)); "".join(stream)   # streamed from /chat/completions
    stream.generation.probabilities      # per delta, from the server's log-probabilities (() without them)
    generator.yes_probability(judge_messages)   # 0.40: P("yes") against "no", from one token's top log-probabilities
    OpenAIEmbedder("http://gpu-box:8082/v1", "all-MiniLM-L6-v2").embed(["a question"]).shape == (1, 384)

Faults: a failure before the first byte (connection refused, HTTP 502/503) is retried `retries` times with
backoff; once a reply has started it never is. No byte for `timeout` seconds is a ModelTimeoutError (504);
anything else that goes wrong, a ModelServerError (502), each one line naming the URL and what to do.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Generator as Deltas
from typing import Any

import numpy as np

from qa.language import NO_WORDS, YES_WORDS
from qa.records import Generation, Usage
from qa.remote_http import ModelServer, choices

log = logging.getLogger(__name__)
# Sent as optional fields: a server that refuses one by name (OpenAI's API refuses arguments it does not know;
# some models refuse log-probabilities) is asked again without it (ModelServer.open). repeat_penalty is llama.cpp's:
# its Python server penalises repeats unless told not to (1.1), which changes greedy replies.
LLAMA_CPP_GREEDY = {"repeat_penalty": 1.0}
TOP_LOGPROBS = 20  # the most OpenAI allows; the yes and no tokens are among them when either is likely
YES, NO = {w.strip().lower() for w in YES_WORDS}, {w.strip().lower() for w in NO_WORDS}
EMBED_BATCH = 64  # texts per /embeddings request


class OpenAIGenerator:
    """The Generator protocol over /chat/completions: greedy (temperature 0), streamed, with log-probabilities.

    Without log-probabilities (some hosted servers) it warns once, returns no probabilities, and
    yes_probability returns None: the verifier then has no judge, as with QA_JUDGE=off.
    """

    def __init__(
        self, url: str, model: str = "", api_key: str | None = None, timeout: float = 60.0, retries: int = 2
    ) -> None:
        self._server = ModelServer(url, api_key, timeout, retries)
        self._name = model
        self.logprobs: bool | None = None  # whether the server sends log-probabilities; None until it has answered

    @property
    def name(self) -> str:
        """The model as the server knows it (the first it lists, when none was given)."""
        if not self._name:
            self._name = self._server.model_id()
        return self._name

    def generate(
        self, messages: list[dict[str, str]], max_tokens: int = 96, grammar: str | None = None
    ) -> Deltas[str, None, Generation]:
        """Per delta, the probability of the token it chose (the lowest, when a delta spans several; the last
        token's when it spans none), as LlamaCppGenerator reports them."""
        body = {**self._request(messages, max_tokens), "stream": True}
        if grammar:
            body["grammar"] = grammar  # llama.cpp's extension (GBNF); not optional: the reply depends on it
        optional = {
            **LLAMA_CPP_GREEDY,
            "stream_options": {"include_usage": True},
            "logprobs": True,
            "top_logprobs": 1,  # llama-cpp-python's server sends log-probabilities only when this is set
        }
        chosen: list[float] = []  # the probability of each token so far
        probabilities, seen, deltas, usage, complete = [], 0, 0, None, True
        with self._server.open("POST", "/chat/completions", body, optional) as response:
            for event in self._server.events(response):
                usage = event.get("usage") or usage
                for choice in choices(event)[:1]:
                    chosen += self._chosen(choice)
                    text = _delta_text(choice, self._server)
                    if not text:
                        continue
                    if chosen:
                        probabilities.append(min(chosen[seen:], default=chosen[-1]))
                    else:
                        complete = False
                    seen, deltas = len(chosen), deltas + 1
                    yield text
        if deltas:
            self._learned(complete and bool(chosen))
        return Generation(
            _usage(usage, len(chosen) or deltas, self._server),
            tuple(probabilities) if complete and chosen else (),
        )

    def yes_probability(self, messages: list[dict[str, str]]) -> float | None:
        """P(yes)/(P(yes)+P(no)) over the first token's top log-probabilities; 0.5 when neither is among them,
        None when the server gives no log-probabilities."""
        if self.logprobs is False:
            return None
        optional = {**LLAMA_CPP_GREEDY, "logprobs": True, "top_logprobs": TOP_LOGPROBS}
        reply = self._server.json("POST", "/chat/completions", self._request(messages, 1), optional)
        try:
            content = (reply["choices"][0].get("logprobs") or {}).get("content") or []
            top = (content[0].get("top_logprobs") or []) if content else []
            scored = [(str(t["token"]).strip().lower(), math.exp(float(t["logprob"]))) for t in top]
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            raise self._server.garbage("a chat completion of an unexpected shape") from None
        self._learned(bool(scored))
        if not scored:
            return None
        yes = sum(p for token, p in scored if token in YES)
        no = sum(p for token, p in scored if token in NO)
        return yes / (yes + no) if yes + no > 0 else 0.5

    def _request(self, messages: list[dict[str, str]], max_tokens: int) -> dict[str, Any]:
        return {"model": self.name, "messages": messages, "max_tokens": max_tokens, "temperature": 0.0}

    def _chosen(self, choice: dict) -> list[float]:
        """The probabilities of the tokens a streamed choice carries (exp of each chosen token's logprob)."""
        try:
            content = (choice.get("logprobs") or {}).get("content") or []
            return [math.exp(float(t["logprob"])) for t in content]
        except (KeyError, TypeError, AttributeError, ValueError):
            raise self._server.garbage("log-probabilities of an unexpected shape") from None

    def _learned(self, has_logprobs: bool) -> None:
        """Once a reply without log-probabilities came, the server is taken to send none (one warning)."""
        if has_logprobs:
            self.logprobs = True if self.logprobs is None else self.logprobs
            return
        if self.logprobs is not False:
            log.warning(
                "the model server at %s sends no log-probabilities: answers are verified without the model's "
                "token confidence and without its yes/no judgement (as with QA_JUDGE=off)",
                self._server.url,
            )
        self.logprobs = False


class OpenAIEmbedder:
    """The Embedder protocol over /embeddings: unit-normalised float32 rows. Its `name` is the remote model's,
    which the index manifest records, so vectors from another model are an IndexMismatchError."""

    def __init__(
        self, url: str, model: str = "", api_key: str | None = None, timeout: float = 60.0, retries: int = 2
    ) -> None:
        self._server = ModelServer(url, api_key, timeout, retries, setting="QA_EMBEDDING_URL")
        self._name, self._dim = model, 0

    @property
    def name(self) -> str:
        if not self._name:
            self._name = self._server.model_id()
        return self._name

    @property
    def dim(self) -> int:
        """Asked of the server once, by embedding one word."""
        if not self._dim:
            self._dim = self.embed(["dimension"]).shape[1]
        return self._dim

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = [row for at in range(0, len(texts), EMBED_BATCH) for row in self._batch(texts[at : at + EMBED_BATCH])]
        vectors = np.asarray(rows, dtype=np.float32)
        if vectors.ndim != 2 or (self._dim and vectors.shape[1] != self._dim):
            raise self._server.garbage(f"vectors of shape {vectors.shape}")
        self._dim = vectors.shape[1]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def _batch(self, texts: list[str]) -> list[list[float]]:
        reply = self._server.json(
            "POST", "/embeddings", {"model": self.name, "input": texts, "encoding_format": "float"}
        )
        try:
            rows = sorted(reply["data"], key=lambda row: row.get("index", 0))
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except (KeyError, TypeError, AttributeError, ValueError):
            raise self._server.garbage("embeddings of an unexpected shape") from None
        if len(vectors) != len(texts):
            raise self._server.garbage(f"{len(vectors)} embeddings for {len(texts)} texts")
        return vectors


def _delta_text(choice: dict, server: ModelServer) -> str:
    delta = choice.get("delta") if isinstance(choice, dict) else None
    text = delta.get("content") if isinstance(delta, dict) else None
    if text is not None and not isinstance(text, str):
        raise server.garbage("a delta that is not text")
    return text or ""


def _usage(reported: object, completion: int, server: ModelServer) -> Usage:
    """The server's count when it gives one (stream_options.include_usage); else the tokens seen, no prompt count."""
    if not isinstance(reported, dict):
        return Usage(0, completion)
    try:
        return Usage(int(reported.get("prompt_tokens", 0)), int(reported.get("completion_tokens", completion)))
    except (TypeError, ValueError):
        raise server.garbage("a usage of an unexpected shape") from None
