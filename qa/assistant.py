"""Assistant: the online pipeline, wired from its collaborators.

    assistant = Assistant(Settings())                      # real models, loaded on first use
    answer = assistant.ask("What percentage of sex trafficking victims are advertised online?")
    answer.citations[0].source == "004_c02d08bf38d297e0.txt"

    question --embed/bm25--> Passage[k] --evidence--> Prompt --generate--> text --cite/refuse--> Answer
"""

from __future__ import annotations

import re
import threading
import time
from typing import Iterator

from qa.cite import cite
from qa.embed import CachingEmbedder, Embedder
from qa.errors import BadQuestionError
from qa.evidence import select_evidence
from qa.generate import Generator
from qa.prompt import build_prompt, fixed_prefix
from qa.records import Answer, Passage
from qa.refuse import REFUSAL_TEXT, answer_refusal, retrieval_refusal
from qa.settings import Settings
from qa.store import IndexStore, load_store, settings_fingerprint
from qa.tokens import terms, words

MAX_QUESTION_CHARS = 2000
FOLLOW_UP_WORDS = {"it", "its", "they", "them", "their", "he", "she", "his", "her", "that", "this", "those",
                   "these", "there", "then", "same", "post", "role"}  # fmt: skip
YEAR = re.compile(r"\b(?:19|20)\d\d\b")
WH = re.compile(r"\b(how many|how much|who|whom|whose|which|what|when|where|why|how)\b", re.IGNORECASE)
FOLLOW_UP_START = ("and ", "and,", "what about", "how about", "also", "what else")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

Event = str | Answer  # ask_stream yields text deltas, then the final Answer


class Assistant:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        store: IndexStore | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._embedder, self._store, self._generator = embedder, store, generator
        self._retriever = None
        self._sentence_embedder: Embedder | None = None
        self._lock = threading.Lock()

    # Collaborators load on first use, once.
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                from qa.embed import SentenceTransformerEmbedder

                self._embedder = SentenceTransformerEmbedder(
                    self.settings.embedding_model_path, precision=self.settings.embedding_precision
                )
            return self._embedder

    @property
    def sentence_embedder(self) -> Embedder:
        """The embedder for evidence sentences: it remembers them, since passages recur across questions."""
        embedder = self.embedder
        with self._lock:
            if self._sentence_embedder is None:
                self._sentence_embedder = CachingEmbedder(embedder)
            return self._sentence_embedder

    @property
    def store(self) -> IndexStore:
        embedder = self.embedder
        with self._lock:
            if self._store is None:
                s = self.settings
                chunker = {"chunk_chars": s.chunk_chars, "chunk_max_chars": s.chunk_max_chars,
                           "boilerplate_min_lines": s.boilerplate_min_lines}  # fmt: skip
                self._store = load_store(s.index_dir, settings_fingerprint(embedder.name, embedder.dim, chunker))
            return self._store

    @property
    def generator(self) -> Generator:
        with self._lock:
            if self._generator is None:
                from qa.generate import LlamaCppGenerator
                from qa.assemble import model_path

                s = self.settings
                self._generator = LlamaCppGenerator(model_path(s), s.n_ctx, s.n_threads)
            return self._generator

    @property
    def retriever(self):
        if self._retriever is None:
            from qa.retrieve import HybridRetriever

            self._retriever = HybridRetriever(self.store, self.embedder, self.settings.rrf_k)
        return self._retriever

    def load(self) -> None:
        """Load every model and the index now (the web app does this at start-up)."""
        _ = self.retriever, self.generator

    def warm_up(self) -> None:
        """Evaluate the fixed prompt prefix (system message and worked examples) once, at start-up, so
        llama.cpp's prefix cache spares the first question those ~250 tokens (~3 s on 2 cores)."""
        messages = [*fixed_prefix(), {"role": "user", "content": "Question: ready?"}]
        for _ in self.generator.generate(messages, max_tokens=1):
            break

    def ask(self, question: str, history: list[dict[str, str]] | None = None) -> Answer:
        answer = None
        for event in self.ask_stream(question, history):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def ask_stream(self, question: str, history: list[dict[str, str]] | None = None) -> Iterator[Event]:
        question = check_question(question)
        s = self.settings
        self.load()  # first call only: keeps model loading out of the timings
        started = time.perf_counter()
        previous = previous_question(history or [])
        query = standalone_query(question, previous)

        question_vector = self.embedder.embed([query])[0]
        passages = self.retriever.retrieve(query, s.top_k, question_vector)
        timings = {"retrieve_ms": _ms(started)}
        reason = retrieval_refusal(passages, s.min_similarity, self.retriever.rare_term_match(query, passages))
        if reason:
            yield _refusal(question, query, passages, timings, started, reason)
            return

        evidence = select_evidence(query, question_vector, passages, self.sentence_embedder, s.prompt_passages,
                                   s.evidence_sentences)  # fmt: skip
        asked = restated_question(question, previous) if query != question else question
        prompt = build_prompt(asked, evidence, previous if query != question and asked == question else "")
        timings["prompt_ms"] = _ms(started) - timings["retrieve_ms"]
        generation_started = time.perf_counter()
        raw = ""
        for delta in self.generator.generate(prompt.messages, s.max_tokens):
            if not raw:
                timings["ttft_ms"] = _ms(started)
            raw += delta
            yield delta
        timings["generate_ms"] = _ms(generation_started)
        timings.update(self.generator.last_usage)

        sources = {p.source: self.store.docs[p.source].text for p in passages}
        cited = cite(query, raw, passages, sources, s.min_support)
        reason = answer_refusal(query, raw, cited, self.retriever.vocabulary)
        if reason:
            yield _refusal(question, query, passages, timings, started, reason)
            return
        timings["total_ms"] = _ms(started)
        yield Answer(question, cited.text, cited.citations, passages, False, timings, query)


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise BadQuestionError("the question must be text")
    if any("\ud800" <= c <= "\udfff" for c in question):
        raise BadQuestionError("the question is not valid text (lone surrogate characters)")
    question = " ".join(CONTROL.sub(" ", question).split())
    if not question:
        raise BadQuestionError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadQuestionError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    if not words(question):
        raise BadQuestionError("the question has no words")
    return question


def previous_question(history: list[dict[str, str]]) -> str:
    users = [m.get("content", "") for m in history if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1].strip() if users else ""


def standalone_query(question: str, previous: str) -> str:
    """The question to search for: a follow-up ("And in 2024?") is joined to the question before it."""
    if not previous:
        return question
    lowered = words(question)
    follows = (
        question.lower().startswith(FOLLOW_UP_START)
        or bool(FOLLOW_UP_WORDS & set(lowered))
        or len(terms(question)) <= 2
    )
    if not follows:
        return question
    years_now = YEAR.findall(question)
    if years_now:  # "And in 2024?" asks the earlier question about another year
        previous = YEAR.sub(years_now[0], previous)
    return f"{previous} {question}"


def restated_question(question: str, previous: str) -> str:
    """What the model is asked: a follow-up that asks the earlier question about another year is that question.

    restated_question("And who held the post in 2025?", "Who was the Representative in 2024?")
        == "Who was the Representative in 2025?"
    Anything else is asked as it is (the prompt then shows the earlier question beside it).
    """
    years_now, years_before = YEAR.findall(question), YEAR.findall(previous)
    if not previous or len(set(years_now)) != 1 or not years_before or not question.lower().startswith(FOLLOW_UP_START):
        return question
    asks, asked = _wh(question), _wh(previous)
    if asks and asks != asked:  # "And how many came in 2025?" after "When was it in 2024?" is a new question
        return question
    return YEAR.sub(years_now[0], previous)


def _wh(text: str) -> str:
    match = WH.search(text)
    return match.group(1).lower() if match else ""


def _refusal(question: str, query: str, passages: list[Passage], timings: dict, started: float, reason: str) -> Answer:
    timings = {"ttft_ms": 0.0, "generate_ms": 0.0, "prompt_tokens": 0, "completion_tokens": 0, **timings}
    timings["total_ms"] = _ms(started)
    return Answer(question, REFUSAL_TEXT, [], passages, True, timings, query, reason)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)
