"""Generate: chat messages -> streamed text deltas from a local GGUF model (llama-cpp-python).

generator = LlamaCppGenerator(Path("data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"))
"".join(generator.generate(prompt.messages))  # "Only 34 of the 57 signatories … [1]"
stream = Stream(generator.generate(prompt.messages)); text = "".join(stream)
stream.generation.usage == Usage(prompt_tokens=231, completion_tokens=19)  # what the generate() call returned
generator.yes_probability(judge_messages)  # 0.93: P("yes") of the reply's first token, against "no"
generator.count_tokens("Say hello.")  # 3 (SmolLM2's tokenizer): what a part of a prompt costs in context

qa/remote.py has the same protocol over an OpenAI-compatible server (OpenAIGenerator, for QA_LLM_URL).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from collections.abc import Generator as Deltas
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.errors import ModelNotFoundError
from qa.language import NO_WORDS, YES_WORDS
from qa.records import Generation, Usage


class Generator(Protocol):
    name: str

    def generate(
        self, messages: list[dict[str, str]], max_tokens: int = 96, grammar: str | None = None
    ) -> Deltas[str, None, Generation]:
        """Yield text deltas, then return the Generation (usage, per-delta probabilities); greedy
        (temperature 0), so the same prompt gives the same answer. `grammar` (GBNF) constrains the reply."""
        ...

    def yes_probability(self, messages: list[dict[str, str]]) -> float | None:
        """P(the reply starts with "yes"), against "no": a yes/no question scored, not sampled. None when the
        model cannot score one (a server that sends no log-probabilities): the verifier then has no judge."""
        ...


class Stream:
    """Iterates a generation's deltas and keeps what the generate() call returned once they run out.

    stream = Stream(generator.generate(messages))
    text = "".join(stream); stream.generation.usage.completion_tokens
    """

    def __init__(self, deltas: Deltas[str, None, Generation] | Iterator[str]) -> None:
        self._deltas = deltas
        self.generation = Generation()  # until the deltas are exhausted (or when the generator returns none)

    def __iter__(self) -> Iterator[str]:
        returned = yield from self._deltas
        if isinstance(returned, Generation):
            self.generation = returned


class LlamaCppGenerator:
    def __init__(self, model_path: Path, n_ctx: int = 2048, n_threads: int = 2) -> None:
        if not Path(model_path).is_file():
            raise ModelNotFoundError(f"chat model {model_path} not found — run `qa setup` or set QA_MODEL_PATH")
        from llama_cpp import Llama

        self.name = Path(model_path).name
        self.n_ctx = n_ctx
        self._lock = threading.Lock()  # one generation at a time per model instance
        with _quiet_stderr():
            try:
                self._llm = Llama(
                    model_path=str(model_path),
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    n_threads_batch=n_threads,
                    n_batch=512,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as e:
                raise ModelNotFoundError(f"cannot load chat model {model_path} ({e}) — is it a GGUF file?") from e
        self._yes_ids, self._no_ids = self._first_tokens(YES_WORDS), self._first_tokens(NO_WORDS)

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for `text` alone, without BOS or chat markup ("" is 0, "hello hello" 2 with SmolLM2)."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    def _first_tokens(self, words: tuple[str, ...]) -> list[int]:
        """The token ids that spell one of the words by themselves ("yes", " Yes", …)."""
        ids = {tuple(self._llm.tokenize(w.encode("utf-8"), add_bos=False, special=False)) for w in words}
        return sorted({t[0] for t in ids if len(t) == 1})

    def generate(
        self, messages: list[dict[str, str]], max_tokens: int = 96, grammar: str | None = None
    ) -> Deltas[str, None, Generation]:
        """Returns, with the usage, for each delta the probability the model gave the token it chose (greedy:
        its most likely one): how sure the model was of what it wrote."""
        from llama_cpp import LogitsProcessorList

        chosen: list[float] = []

        def confidence(input_ids, logits):
            values = np.asarray(logits, dtype=np.float32)
            chosen.append(1.0 / float(np.sum(np.exp(values - values.max()))))
            return logits

        with self._lock:
            completion, seen, probabilities = 0, 0, []
            stream = self._llm.create_chat_completion(
                messages=messages,
                temperature=0.0,
                top_k=1,
                max_tokens=max_tokens,
                stream=True,
                grammar=_grammar(grammar) if grammar else None,
                logits_processor=LogitsProcessorList([confidence]),
            )
            try:
                for chunk in stream:
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        completion += 1
                        probabilities.append(min(chosen[seen:], default=chosen[-1] if chosen else 1.0))
                        seen = len(chosen)
                        yield delta
            finally:
                stream.close()
            usage = Usage(max(0, self._llm.n_tokens - completion), completion)
        return Generation(usage, tuple(probabilities))

    def yes_probability(self, messages: list[dict[str, str]]) -> float:
        """One decoding step: the next-token logits are read through a logits processor (the public way in
        llama-cpp-python when logits_all is off), and the yes and no tokens' probabilities compared."""
        from llama_cpp import LogitsProcessorList

        seen: list[np.ndarray] = []

        def capture(input_ids, logits):
            seen.append(np.asarray(logits, dtype=np.float64)[self._yes_ids + self._no_ids])
            return logits

        with self._lock:
            self._llm.create_chat_completion(
                messages=messages,
                temperature=0.0,
                top_k=1,
                max_tokens=1,
                logits_processor=LogitsProcessorList([capture]),
            )
        if not seen or not self._yes_ids or not self._no_ids:
            return 0.5
        yes, no = seen[0][: len(self._yes_ids)], seen[0][len(self._yes_ids) :]
        return 1.0 / (1.0 + math.exp(_logsumexp(no) - _logsumexp(yes)))


@functools.lru_cache(maxsize=4)
def _grammar(text: str):
    from llama_cpp import LlamaGrammar

    with _quiet_stderr():
        return LlamaGrammar.from_string(text, verbose=False)


def _logsumexp(values: np.ndarray) -> float:
    top = float(np.max(values))
    return top + math.log(float(np.sum(np.exp(values - top))))


@contextlib.contextmanager
def _quiet_stderr():
    """llama.cpp prints its load log to fd 2 even with verbose=False on some builds."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
