"""Typed, frozen records that cross stage boundaries.

SourceDoc --chunk--> Chunk --retrieve--> Passage --verify--> ClaimCheck, Citation --refuse--> Answer
Metadata rides on documents, chunks and passages; Manifest describes a saved index; Generation (Usage and
token probabilities) is what the generator returns after its deltas; Timings and Usage travel with an Answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SECTION_SEPARATOR = " › "  # a section's title is its path of headings: "git-clean(1) Manual Page › OPTIONS"


def content_hash(text: str) -> str:
    """Short, stable hash of a text: `content_hash("a") == "ca978112ca1bbdca"`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ChunkerSettings:
    """How documents are cleaned and chunked; part of the index manifest (a change needs a rebuild)."""

    chunk_chars: int = 500
    chunk_max_chars: int = 900
    boilerplate_min_lines: int = 10


@dataclass(frozen=True)
class Metadata:
    """What a document or a news item says about itself; "" where it says nothing.

    Metadata.from_dict({"date": "18 July 2022", "place": "Vienna"}).date == "18 July 2022"
    """

    content_type: str = ""  # "Press release"
    date: str = ""  # "18 July 2022", as written
    place: str = ""
    publisher: str = ""
    office: str = ""
    topic: str = ""
    location: str = ""  # the page, slide or sheet a chunk is on: "page 3"

    @classmethod
    def from_dict(cls, values: Mapping[str, str]) -> Metadata:
        """From a saved or extracted mapping; keys it does not know are ignored (older or newer indexes)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: str(v) for k, v in values.items() if k in known})

    def to_dict(self) -> dict[str, str]:
        """Only the fields that are set: {"date": "18 July 2022"}."""
        return {k: v for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class SourceDoc:
    """One document of the corpus; `text` is raw after loading, cleaned after `clean()`."""

    source: str  # path relative to the corpus root, e.g. "002_1544d809993e5293.txt"
    text: str
    title: str = ""
    metadata: Metadata = Metadata()
    file_hash: str = ""  # hash of the file's bytes, for incremental re-indexing
    locations: tuple[tuple[int, str], ...] = ()  # (offset into the cleaned text, "page 3"), in text order


@dataclass(frozen=True)
class Chunk:
    """A unit of retrieval: whole sentences of one section, with offsets into the cleaned source.

    `source_text[start:end] == text` always holds.
    """

    chunk_id: str  # "002_1544d809993e5293.txt#3"
    source: str
    title: str  # document or news-item title, used for embedding and display
    text: str
    start: int
    end: int
    metadata: Metadata = Metadata()

    @property
    def embed_text(self) -> str:
        """What is embedded and searched: title and date give a chunk its context ("who spoke in 2024")."""
        date = self.metadata.date
        header = f"{self.title} ({date})" if self.title and date else self.title or date
        return f"{header}\n{self.text}" if header else self.text

    @property
    def hash(self) -> str:
        return content_hash(self.embed_text)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores, in rank order."""

    chunk_id: str
    source: str
    title: str
    text: str
    score: float  # fused rank score (reciprocal rank fusion of dense and BM25)
    similarity: float = 0.0  # cosine similarity of question and chunk embedding
    start: int = 0
    end: int = 0
    metadata: Metadata = Metadata()

    @property
    def location(self) -> str:
        """Where in its document it is: "page 3", "slide 2", "sheet Budget"; else the heading of its section
        ("OPTIONS") when its title is a path of headings; else ""."""
        if self.metadata.location:
            return self.metadata.location
        parts = self.title.split(SECTION_SEPARATOR)
        return parts[-1] if len(parts) > 1 else ""


@dataclass(frozen=True)
class Citation:
    """A verified citation: `quote == cleaned_source[start:end]` and the quote backs the answer."""

    n: int  # passage number as shown in the answer text, "[n]"
    source: str
    quote: str
    start: int
    end: int
    score: float  # how well the quote supports the cited answer sentence, 0..1
    chunk_id: str = ""
    location: str = ""  # "page 3", "slide 2", or the section heading (Passage.location)


@dataclass(frozen=True)
class ClaimCheck:
    """The verifier's record of one claim of the model's draft: its quotes, its features, its support score.

    A claim is supported when `support` (a probability, calibrated on the dev split) reaches the threshold;
    only supported claims keep their citations and stay in the answer's text.
    """

    text: str  # the claim, citation markers removed
    cited: list[int]  # passage numbers the model gave it
    quotes: list[Citation]  # the shown sentences chosen to back it (score: its support)
    features: dict[str, float]
    support: float
    supported: bool
    question: str = ""  # the (sub-)question it answers
    note: str = ""  # why it was not scored: "declined", "restates the question", "number not in the quotes"


@dataclass(frozen=True)
class Usage:
    """Tokens one generation (or one answer, summed) cost."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class Generation:
    """What `Generator.generate` returns once its deltas are exhausted: the tokens it cost and, per delta,
    the probability the model gave the token it chose (greedy: its most likely one); () when unknown."""

    usage: Usage = Usage()
    probabilities: tuple[float, ...] = ()


@dataclass(frozen=True)
class Timings:
    """Where an answer's time went, in milliseconds; ttft_ms is the time to its first streamed delta."""

    retrieve_ms: float = 0.0
    prompt_ms: float = 0.0
    generate_ms: float = 0.0
    verify_ms: float = 0.0
    ttft_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True)
class Turn:
    """The last question of a conversation and the answer it got."""

    question: str = ""
    answer: str = ""


@dataclass(frozen=True)
class Manifest:
    """What a saved index was built from and holds; checked on load against the running settings."""

    format_version: int
    embedding_model: str
    dim: int
    chunker: ChunkerSettings
    built_at: str = ""
    files: dict[str, str] = field(default_factory=dict)  # source -> hash of the file's bytes
    n_chunks: int = 0
    index_type: str = ""
    chunks_digest: str = ""  # of every chunk's id, span, title, metadata and text (build.chunks_digest)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Manifest:
        """From manifest.json; raises KeyError or TypeError when a required field is missing or malformed."""
        known = {f.name for f in fields(cls)}
        row = {k: v for k, v in values.items() if k in known}
        return cls(**{**row, "chunker": ChunkerSettings(**row["chunker"])})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: list[Citation]
    passages: list[Passage]
    refused: bool
    timings: Timings
    search_query: str = ""  # the standalone question that was searched for (sub-questions joined by " | ")
    refusal_reason: str = ""
    checks: list[ClaimCheck] = field(default_factory=list)  # every claim of the draft, supported or not
    draft: str = ""  # the model's own text, before verification
    usage: Usage = Usage()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; passages' metadata only with the fields that are set."""
        return {**asdict(self), "passages": [{**asdict(p), "metadata": p.metadata.to_dict()} for p in self.passages]}


@dataclass(frozen=True)
class DocumentSummary:
    """One indexed document, as a listing shows it."""

    source: str
    title: str
    chunks: int
    metadata: Metadata = Metadata()


@dataclass(frozen=True)
class Catalog:
    """What an assistant answers from: its models and the documents of its index."""

    model: str
    embedding_model: str
    built_at: str
    chunks: int
    documents: list[DocumentSummary]

    @property
    def files(self) -> int:
        return len(self.documents)
