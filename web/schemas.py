"""Schemas: the HTTP shapes of the API (pydantic, at the edge only) and the records-to-wire translations.

AskRequest(question="What percentage …?", history=[Message(role="user", content="…")])
sse("delta", {"text": " 75%"}) == b'event: delta\\ndata: {"text": " 75%"}\\n\\n'
chat_completion(answer, "qwen2.5….gguf")["choices"][0]["message"]["content"] == answer.text
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict
from typing import Any, Literal

from fastapi.sse import format_sse_event
from pydantic import BaseModel, ConfigDict, Field, model_validator

from qa.collection import Collection
from qa.errors import BadQuestionError
from qa.questions import MAX_QUESTION_CHARS
from qa.records import Answer, Catalog

MAX_HISTORY = 40  # messages; the assistant only uses the last user question, the rest is context for clients
MAX_MESSAGE_CHARS = 8000
MAX_EMBEDDING_INPUTS = 256  # texts per /v1/embeddings request
MAX_EMBEDDING_CHARS = 8000
EXAMPLE_QUESTION = "What percentage of sex trafficking victims are advertised online?"


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, examples=[EXAMPLE_QUESTION])
    history: list[Message] = Field(default_factory=list, max_length=MAX_HISTORY)
    collection: str = Field("", max_length=64, description="GET /api/collections lists them; empty: the default")

    def history_dicts(self) -> list[dict[str, str]]:
        return [m.model_dump() for m in self.history]


class CollectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, examples=["reports"], description="lower-case letters, digits, - _")


class CollectionInfo(BaseModel):
    name: str
    folder: str
    linked: bool  # a folder elsewhere, linked in with `qa collection add NAME FOLDER`
    indexed: bool
    documents: int = 0
    chunks: int = 0
    built_at: str = ""

    @classmethod
    def of(cls, collection: Collection) -> CollectionInfo:
        m = collection.manifest()
        return cls(
            name=collection.name,
            folder=str(collection.corpus_dir),
            linked=collection.linked,
            indexed=m is not None,
            documents=len(m.files) if m else 0,
            chunks=m.n_chunks if m else 0,
            built_at=m.built_at if m else "",
        )


class ErrorBody(BaseModel):
    error: str = Field(examples=["the question is empty"])


class Health(BaseModel):
    status: Literal["loading", "ready", "failed"]
    ready: bool
    model: str = ""  # chat model file name, once loaded
    embedding_model: str = ""
    chunks: int = 0
    files: int = 0
    built_at: str = ""
    error: str = ""


class DocumentInfo(BaseModel):
    source: str
    title: str
    chunks: int
    metadata: dict[str, str]


class DocumentList(BaseModel):
    built_at: str
    embedding_model: str
    chunks: int
    files: int
    documents: list[DocumentInfo]

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> DocumentList:
        documents = [
            DocumentInfo(source=d.source, title=d.title, chunks=d.chunks, metadata=d.metadata.to_dict())
            for d in catalog.documents
        ]
        return cls(
            built_at=catalog.built_at,
            embedding_model=catalog.embedding_model,
            chunks=catalog.chunks,
            files=catalog.files,
            documents=documents,
        )


class SourceText(BaseModel):
    source: str
    title: str
    text: str  # the cleaned text: citation offsets index into it


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event whose data is a JSON object."""
    return format_sse_event(event=event, data_str=json.dumps(data, ensure_ascii=False))


# OpenAI-compatible chat completions ------------------------------------------------------------------------


class ContentPart(BaseModel):
    type: str
    text: str = ""


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    @model_validator(mode="after")
    def _encodable(self) -> ChatMessage:
        # A JSON "\ud800" escape parses into a lone surrogate here (AskRequest's plain str fields reject it);
        # the embedder and the model cannot read one, so it would fail deep in the pipeline as a 500.
        try:
            self.text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the message is not valid Unicode text (it has a lone surrogate)") from None
        return self

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, …: accepted and ignored (decoding is greedy)

    model: str = ""
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_HISTORY + 1)
    stream: bool = False

    def question_and_history(self) -> tuple[str, list[dict[str, str]]]:
        """The last message is the question; earlier user and assistant messages are the history."""
        *earlier, last = self.messages
        if last.role != "user":
            raise BadQuestionError("the last message must be the user's question")
        history = [{"role": m.role, "content": m.text} for m in earlier if m.role in ("user", "assistant")]
        return last.text, history


class EmbeddingRequest(BaseModel):
    """OpenAI's /v1/embeddings: replicas with QA_EMBEDDING_URL pointed at this server embed their questions here."""

    model_config = ConfigDict(extra="allow")  # encoding_format, user, …: accepted; vectors are floats

    model: str = ""
    input: str | list[str] = Field(min_length=1)

    @property
    def texts(self) -> list[str]:
        texts = [self.input] if isinstance(self.input, str) else self.input
        if len(texts) > MAX_EMBEDDING_INPUTS or any(len(t) > MAX_EMBEDDING_CHARS for t in texts):
            raise BadQuestionError(
                f"at most {MAX_EMBEDDING_INPUTS} texts of at most {MAX_EMBEDDING_CHARS} characters per request"
            )
        return texts


def embeddings_reply(vectors: Any, model: str, texts: list[str]) -> dict[str, Any]:
    words = sum(len(t.split()) for t in texts)
    return {
        "object": "list",
        "model": model,
        "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)],
        "usage": {"prompt_tokens": words, "total_tokens": words},  # words, not word pieces
    }


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage(answer: Answer) -> dict[str, int]:
    prompt, completion = answer.usage.prompt_tokens, answer.usage.completion_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_completion(answer: Answer, model: str) -> dict[str, Any]:
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}],
        "usage": usage(answer),
        "sources": [asdict(c) for c in answer.citations],
    }


def completion_chunk(id: str, model: str, delta: dict[str, str], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def final_chunk(id: str, model: str, answer: Answer) -> dict[str, Any]:
    """The last chunk: finish_reason, usage, the verified sources and the verified answer text."""
    chunk = completion_chunk(id, model, {}, "stop")
    return {
        **chunk,
        "usage": usage(answer),
        "sources": [asdict(c) for c in answer.citations],
        "answer": {"text": answer.text, "refused": answer.refused},
    }


def data_line(payload: dict[str, Any] | str) -> bytes:
    """An OpenAI-style stream line: `data: {...}` (or `data: [DONE]`) and a blank line."""
    return format_sse_event(data_str=payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False))
