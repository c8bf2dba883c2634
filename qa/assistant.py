"""Assistant: the online pipeline, wired from its collaborators.

assistant = Assistant(Settings())                      # real models, loaded on first use
answer = assistant.ask("What percentage of sex trafficking victims are advertised online?")
answer.citations[0].source == "004_c02d08bf38d297e0.txt"

question --split--> part[1..2] --embed/bm25--> Passage[k] --evidence--> Prompt --generate--> draft
         --verify--> ClaimCheck[] --refuse--> Answer   (a question that asks two things: each part, joined)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from qa.cite import cited_text
from qa.embed import CachingEmbedder, Embedder
from qa.evidence import select_evidence
from qa.generate import Generator, Stream
from qa.prompt import (
    Evidence,
    Prompt,
    build_extract_prompt,
    build_prompt,
    extract_grammar,
    fixed_prefix,
    judge_messages,
    read_extract,
)
from qa.questions import (
    check_question,
    previous_turn,
    restated_question,
    split_question,
    standalone_query,
)
from qa.records import Answer, Catalog, ClaimCheck, Passage, SourceDoc, Timings, Turn, Usage
from qa.refuse import REFUSAL_TEXT, answer_refusal, retrieval_refusal
from qa.settings import Settings
from qa.store import Store, load_store, settings_fingerprint
from qa.support import SupportModel
from qa.verify import Tools, verify

Event = str | Answer  # ask_stream yields text deltas, then the final Answer


@dataclass
class Part:
    """One (sub-)question on its way through the pipeline."""

    question: str  # as the user asked it
    query: str = ""  # what was searched for
    passages: list[Passage] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    draft: str = ""
    checks: list[ClaimCheck] = field(default_factory=list)
    refusal: str = ""
    picks: list[tuple[int, int, int]] | None = None  # extract mode: the sentences the model chose
    confidence: list[tuple[str, float]] = field(default_factory=list)  # the raw draft, piece by piece
    usage: Usage = Usage()


class Assistant:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        store: Store | None = None,
        generator: Generator | None = None,
        support_model: SupportModel | None = None,
        collection: str = "default",
    ) -> None:
        self.settings = settings or Settings()
        self.collection = collection  # its name among the collections served (qa/collection.py)
        self._embedder, self._store, self._generator = embedder, store, generator
        self._support_model = support_model
        self._retriever = None
        self._retired: Store | None = None  # the store before the last use_index(), closed at the next
        self._sentence_embedder: Embedder | None = None
        self._lock = threading.Lock()

    # Collaborators load on first use, once.
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                from qa.embed import embedder_for

                self._embedder = embedder_for(self.settings)
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
    def store(self) -> Store:
        embedder = self.embedder
        with self._lock:
            if self._store is None:
                self._store = self._open_store(embedder)
            return self._store

    @property
    def index_open(self) -> bool:
        """Whether its index has been opened (it answers from it until a rebuild swaps in another)."""
        return self._store is not None

    def _open_store(self, embedder: Embedder) -> Store:
        s = self.settings
        expected = settings_fingerprint(embedder.name, embedder.dim, s.chunker)
        if s.database_url is not None:
            from qa.pgstore import PostgresStore

            return PostgresStore.connect(
                s.database_url.get_secret_value(), expected, s.pg_ef_search, s.pg_ivfflat_probes
            )
        return load_store(s.index_dir, expected)

    def use_index(self) -> None:
        """Open the index again (after a rebuild) and answer from it; a question already under way finishes on
        the old one, and if the new one cannot be opened, the old one stays."""
        from qa.retrieve import HybridRetriever

        embedder = self.embedder
        store = self._open_store(embedder)
        self._swap(store, HybridRetriever(store, embedder, self.settings.rrf_k))

    def close_index(self) -> None:
        """Forget the index (it was removed): the next question opens it again, and finds none."""
        self._swap(None, None)

    def _swap(self, store: Store | None, retriever) -> None:
        with self._lock:
            retired, self._retired = self._retired, self._store
            self._store, self._retriever = store, retriever
        if retired is not None and hasattr(retired, "close"):  # retired one swap ago: nothing uses it now
            retired.close()

    def sibling(self, settings: Settings, collection: str) -> Assistant:
        """An assistant over another collection (`settings` name its folder and index) that shares this one's
        models: one chat model and one embedder in memory, however many collections are served."""
        return Assistant(
            settings,
            embedder=self.embedder,
            generator=self.generator,
            support_model=self.support_model,
            collection=collection,
        )

    @property
    def generator(self) -> Generator:
        with self._lock:
            if self._generator is None:
                s = self.settings
                if s.llm_url:  # an OpenAI-compatible server: no local model file is needed
                    from qa.remote import OpenAIGenerator

                    key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
                    self._generator = OpenAIGenerator(s.llm_url, s.llm_model, key, s.llm_timeout, s.llm_retries)
                else:
                    from qa.assemble import model_path
                    from qa.generate import LlamaCppGenerator

                    self._generator = LlamaCppGenerator(model_path(s), s.n_ctx, s.n_threads)
            return self._generator

    @property
    def support_model(self) -> SupportModel:
        with self._lock:
            if self._support_model is None:
                self._support_model = SupportModel.load(self.settings.support_model)
            return self._support_model

    @property
    def retriever(self):
        if self._retriever is None:
            from qa.retrieve import HybridRetriever

            self._retriever = HybridRetriever(self.store, self.embedder, self.settings.rrf_k)
        return self._retriever

    def catalog(self) -> Catalog:
        """The models and the indexed documents (for listings and health checks)."""
        store = self.store
        return Catalog(
            self.generator.name, self.embedder.name, store.manifest.built_at, store.n_chunks, store.summaries()
        )

    def document(self, source: str) -> SourceDoc | None:
        """The cleaned text of one indexed document (citation offsets index into it), by its name in the index."""
        return self.store.docs.get(source)

    def load(self) -> None:
        """Load every model and the index now (the web app does this at start-up)."""
        _ = self.retriever, self.generator, self.support_model

    def warm_up(self) -> None:
        """Evaluate the fixed prompt prefix (system message and worked examples) once, at start-up, so
        llama.cpp's prefix cache spares the first question those ~250 tokens (~3 s on 2 cores)."""
        messages = [*fixed_prefix(self.settings.answer_mode), {"role": "user", "content": "Question: ready?"}]
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
        self.load()  # first call only: keeps model loading out of the timings
        started = time.perf_counter()
        turn = previous_turn(history or [])
        spent = dict.fromkeys(("retrieve_ms", "prompt_ms", "generate_ms", "verify_ms"), 0.0)  # summed over parts
        parts, previous = [], turn
        for i, text in enumerate(split_question(question)):
            part = Part(text)
            for delta in self._answer_part(part, previous, spent, started):
                yield ("\n" + delta) if i and len(part.draft) == len(delta) else delta  # parts a line apart
            parts.append(part)
            previous = Turn(text, "")  # a second part leans on the first ("…, and who holds it in 2025?")
        yield join_parts(question, parts, Timings(**spent, total_ms=_ms(started)))

    def _answer_part(self, part: Part, turn: Turn, timings: dict[str, float], started: float) -> Iterator[str]:
        """Retrieve, generate and verify one (sub-)question, streaming the draft; fills in `part`."""
        s = self.settings
        t0 = time.perf_counter()
        part.query = standalone_query(part.question, turn.question)
        question_vector = self.embedder.embed([part.query])[0]
        part.passages = self.retriever.retrieve(part.query, s.top_k, question_vector)
        timings["retrieve_ms"] += _ms(t0)
        rare = self.retriever.rare_term_match(part.query, part.passages)
        part.refusal = retrieval_refusal(part.passages, s.min_similarity, rare)
        if part.refusal:
            return
        t0 = time.perf_counter()
        part.evidence = select_evidence(
            part.query, question_vector, part.passages, self.sentence_embedder, s.prompt_passages, s.evidence_sentences
        )
        prompt = self._prompt(part, turn)
        timings["prompt_ms"] += _ms(t0)
        yield from self._generate(part, prompt, timings, started)
        t0 = time.perf_counter()
        tools, model = self._tools(), self.support_model
        part.checks = verify(
            part.query, part.draft, part.evidence, part.passages, tools, model, part.picks, part.confidence
        )
        part.refusal = answer_refusal(part.checks)
        timings["verify_ms"] += _ms(t0)

    def _prompt(self, part: Part, turn: Turn) -> Prompt:
        """A follow-up that asks the earlier question about another year is asked as that question; any other
        follow-up is shown beside the earlier question and its answer."""
        follows = part.query != part.question
        asked = restated_question(part.question, turn.question) if follows else part.question
        shown_turn = turn if follows and asked == part.question else Turn()
        build = build_extract_prompt if self.settings.answer_mode == "extract" else build_prompt
        return build(asked, part.evidence, shown_turn.question, shown_turn.answer)

    def _generate(self, part: Part, prompt: Prompt, timings: dict[str, float], started: float) -> Iterator[str]:
        """Stream the draft (in the extract mode, only its answer, not the picks) and keep its confidence."""
        extract = self.settings.answer_mode == "extract"
        t0 = time.perf_counter()
        raw, pieces = "", []
        grammar = extract_grammar() if extract else None
        stream = Stream(self.generator.generate(prompt.messages, self.settings.max_tokens, grammar))
        for delta in stream:
            raw += delta
            pieces.append(delta)
            timings.setdefault("ttft_ms", _ms(started))
            shown = (read_extract(prompt, raw)[1] if "Answer:" in raw else "") if extract else raw
            if len(shown) > len(part.draft):
                new, part.draft = shown[len(part.draft) :], shown
                yield new
        if extract:
            part.picks, part.draft = read_extract(prompt, raw)
        part.confidence = list(zip(pieces, stream.generation.probabilities))
        part.usage = stream.generation.usage
        timings["generate_ms"] += _ms(t0)

    def _tools(self) -> Tools:
        def judge(question: str, text: str) -> float | None:  # None: the model cannot judge (no log-probabilities)
            return self.generator.yes_probability(judge_messages(question, text, self.settings.answer_mode))

        mode = self.settings.judge
        return Tools(
            self.sentence_embedder.embed,
            self.retriever.vocabulary,
            self.store.n_chunks,
            None if mode == "off" else judge,
            judge_always=mode == "always",
        )


def join_parts(question: str, parts: list[Part], timings: Timings) -> Answer:
    """One Answer from the parts: each supported part's verified text with its citations (passages numbered
    across parts), a refused part said so; refused as a whole when no part is supported."""
    passages: list[Passage] = []
    texts, citations, checks = [], [], []
    for part in parts:
        text, cited = cited_text(part.draft, part.checks, offset=len(passages)) if not part.refusal else ("", [])
        passages += part.passages
        checks += part.checks
        texts.append(text or f"The documents do not say: {part.question}")
        citations += cited
    query = " | ".join(p.query for p in parts)
    draft = "\n".join(p.draft for p in parts)
    usage = sum((p.usage for p in parts), Usage())
    if all(p.refusal for p in parts):
        return Answer(
            question, REFUSAL_TEXT, [], passages, True, timings, query, parts[0].refusal, checks, draft, usage
        )
    return Answer(question, " ".join(texts), citations, passages, False, timings, query, "", checks, draft, usage)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)
