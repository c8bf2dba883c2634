"""Routes: the JSON API (/api), the OpenAI-compatible endpoint (/v1) and the HTML pages.

    POST /api/ask {"question": "…", "history": [...]}  -> the Answer as JSON
    POST /api/ask/stream                               -> SSE: delta…, citations (the Answer), done | error
    POST /v1/chat/completions                          -> OpenAI chat.completion(.chunk)s, plus "sources"
    POST /api/documents (multipart "files", "overwrite") -> 202 the indexing job (?wait=true: 200 when done)
    GET  /api/jobs/{id}                      -> its progress, then what was indexed or skipped and why
    DELETE /api/documents/{file}                       -> 202 the job that removes it from the index
    GET  /sources/{file}?start=&end=                   -> the cleaned document with that span in <mark id="hl">

Routes check the question, queue it, and render records; the pipeline lives in `qa`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.sse import EventSourceResponse
from fastapi.templating import Jinja2Templates

from qa.assistant import Assistant
from qa.errors import BadQuestionError, QAError
from qa.questions import check_question
from qa.records import Answer, SourceDoc
from web.deps import (
    Generation,
    GenerationQueue,
    NotFoundError,
    get_indexer,
    get_queue,
    only_query,
    ready_assistant,
    require_api_key,
    require_api_key_or_cookie,
)
from web.documents import MAX_FILES, Indexer, IndexJob, Upload, UploadLimits
from web.schemas import (
    AskRequest,
    ChatCompletionRequest,
    DocumentList,
    EmbeddingRequest,
    ErrorBody,
    Health,
    SourceText,
    chat_completion,
    completion_chunk,
    completion_id,
    data_line,
    embeddings_reply,
    final_chunk,
    sse,
)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
ERRORS = {code: {"model": ErrorBody} for code in (401, 503)}
BAD_INPUT = {code: {"model": ErrorBody} for code in (400, 413, 422)}  # 400: a body that is not UTF-8
NOT_FOUND = {404: {"model": ErrorBody}}
SSE_EVENT = {  # one server-sent event, as a client's SSE parser yields it; "data" holds JSON (or "[DONE]")
    "type": "object",
    "required": ["data"],
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
}
STREAM = {"content": {"text/event-stream": {"schema": SSE_EVENT}}}

api = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_api_key)], responses=ERRORS)
openai = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(require_api_key)], responses=ERRORS)
pages = APIRouter(include_in_schema=False)


@api.get("/health", response_model=Health)
def health(queue: GenerationQueue = Depends(get_queue)) -> JSONResponse:
    """Readiness, chat model, and index size; 503 while loading or when loading failed."""
    if queue.status != "ready":
        body = Health(status=queue.status, ready=False, error=queue.error)
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})
    catalog = queue.assistant.catalog()
    body = Health(
        status="ready",
        ready=True,
        model=catalog.model,
        embedding_model=catalog.embedding_model,
        chunks=catalog.chunks,
        files=catalog.files,
        built_at=catalog.built_at,
    )
    return JSONResponse(body.model_dump())


@api.post("/ask", response_model=None, responses={200: {"model": Answer}, **BAD_INPUT})
async def ask(body: AskRequest, request: Request, queue: GenerationQueue = Depends(get_queue)) -> JSONResponse:
    """Answer one question; follow-ups pass the earlier messages as "history"."""
    generation = queue.submit(check_question(body.question), body.history_dicts())
    answer = await generation.answer(request.is_disconnected)
    return JSONResponse(answer.to_dict())


@api.post("/ask/stream", responses={200: STREAM, **BAD_INPUT})
async def ask_stream(body: AskRequest, queue: GenerationQueue = Depends(get_queue)) -> EventSourceResponse:
    """Server-sent events: "delta" {"text"} per generated piece, "citations" (the final Answer), then "done";
    "error" {"error"} if the pipeline fails midway. The final Answer's text replaces the streamed draft."""
    generation = queue.submit(check_question(body.question), body.history_dicts())
    return event_stream(_answer_events(generation))


async def _answer_events(generation: Generation) -> AsyncIterator[bytes]:
    try:
        async for event in generation.events():
            yield sse("citations", event.to_dict()) if isinstance(event, Answer) else sse("delta", {"text": event})
        yield sse("done", {})
    except QAError as e:
        yield sse("error", {"error": str(e)})


@api.get("/documents", response_model=DocumentList)
def documents(assistant: Assistant = Depends(ready_assistant)) -> DocumentList:
    """The indexed files with their titles and chunk counts, and when the index was built."""
    return DocumentList.from_catalog(assistant.catalog())


@api.post(
    "/documents",
    status_code=202,
    responses={200: {"description": "done (wait=true)"}, **BAD_INPUT},
    dependencies=[Depends(only_query("wait"))],
)
async def add_documents(
    files: list[UploadFile] = File(..., description=f"the documents, at most {MAX_FILES}"),
    overwrite: bool = Form(False, description="replace documents of the same name"),
    wait: bool = Query(False, description="answer when the indexing is done, not when it starts"),
    indexer: Indexer = Depends(get_indexer),
) -> JSONResponse:
    """Add documents to the corpus folder and index them in the background (questions are answered meanwhile).
    Each file is checked first (name, type, size, that it reads); the reply lists those refused and why, and
    the job to poll: /api/jobs/{id}."""
    uploads = [Upload(f.filename or "", await f.read(UploadLimits.file_bytes + 1)) for f in files]
    job = await run_in_threadpool(indexer.add, uploads, overwrite)
    return await _job_reply(job, wait)


@api.get("/jobs/{job_id}", responses=NOT_FOUND)
def document_job(job_id: str, indexer: Indexer = Depends(get_indexer)) -> dict:
    """An indexing job: state (queued, indexing, done, failed), phase, passages embedded of to_embed; when
    done, each file's passages ("indexed") and the files the build left out ("skipped") with the reason."""
    job = indexer.job(job_id)
    if job is None:
        raise NotFoundError(f"no indexing job {job_id!r} (jobs are kept while the server runs)")
    return job.to_dict()


@api.delete(
    "/documents/{source:path}",
    dependencies=[Depends(only_query("wait"))],
    status_code=202,
    responses={200: {"description": "done (wait=true)"}, **NOT_FOUND},
)
async def delete_document(
    source: str,
    wait: bool = Query(False, description="answer when the index no longer has it"),
    indexer: Indexer = Depends(get_indexer),
) -> JSONResponse:
    """Remove a document from the corpus folder and from the index (it stays answerable until the job is done;
    if the build fails, the file comes back)."""
    job = await run_in_threadpool(indexer.delete, source)
    return await _job_reply(job, wait)


async def _job_reply(job: IndexJob, wait: bool) -> JSONResponse:
    while wait and job.state in ("queued", "indexing"):
        await asyncio.sleep(0.2)
    finished = job.state in ("done", "failed")
    headers = {} if finished else {"Location": f"/api/jobs/{job.id}"}
    return JSONResponse(job.to_dict(), status_code=200 if finished else 202, headers=headers)


@api.get("/sources/{source:path}", response_model=SourceText, responses=NOT_FOUND)
def source_text(source: str, assistant: Assistant = Depends(ready_assistant)) -> SourceText:
    """The cleaned text of one indexed document; citation offsets index into it."""
    doc = indexed_doc(assistant, source)
    return SourceText(source=doc.source, title=doc.title, text=doc.text)


@openai.get("/models")
def models(assistant: Assistant = Depends(ready_assistant)) -> dict:
    """The one model this server answers with (for OpenAI clients that list models first)."""
    return {"object": "list", "data": [{"id": assistant.catalog().model, "object": "model", "owned_by": "local"}]}


@openai.post("/embeddings", responses=BAD_INPUT)
def embeddings(body: EmbeddingRequest, assistant: Assistant = Depends(ready_assistant)) -> dict:
    """OpenAI-compatible embeddings with this server's embedding model, so that replicas (QA_EMBEDDING_URL) and
    big ingestion runs elsewhere need no model of their own. `model` must be empty or this model's name."""
    name = assistant.embedder.name
    if body.model and body.model != name:
        raise BadQuestionError(f"this server embeds with {name!r}, not {body.model!r}")
    texts = body.texts
    return embeddings_reply(assistant.embedder.embed(texts), name, texts)


@openai.post("/chat/completions", response_model=None, responses={200: STREAM, **BAD_INPUT})
async def chat_completions(
    body: ChatCompletionRequest, request: Request, queue: GenerationQueue = Depends(get_queue)
) -> JSONResponse | EventSourceResponse:
    """OpenAI-compatible: the last user message is the question, earlier messages the history.
    Responses carry the verified citations as "sources"; when streaming, the final chunk carries them,
    and "answer" with the verified text and "refused"."""
    question, history = body.question_and_history()
    generation = queue.submit(check_question(question), history)
    model = queue.assistant.catalog().model
    if not body.stream:
        return JSONResponse(chat_completion(await generation.answer(request.is_disconnected), model))
    return event_stream(_completion_chunks(generation, model))


def event_stream(events: AsyncIterator[bytes]) -> EventSourceResponse:
    """No caching, and no buffering by a proxy in front, so each piece reaches the page as it is made."""
    return EventSourceResponse(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _completion_chunks(generation: Generation, model: str) -> AsyncIterator[bytes]:
    id, streamed = completion_id(), False
    yield data_line(completion_chunk(id, model, {"role": "assistant", "content": ""}))
    try:
        async for event in generation.events():
            if isinstance(event, str):
                streamed = True
                yield data_line(completion_chunk(id, model, {"content": event}))
                continue
            # Plain clients only join deltas: make sure they see a refusal, not just the rejected draft.
            if not streamed or event.refused:
                text = f"\n\n{event.text}" if streamed else event.text
                yield data_line(completion_chunk(id, model, {"content": text}))
            yield data_line(final_chunk(id, model, event))
    except QAError as e:
        yield data_line({"error": str(e)})
    yield data_line("[DONE]")


# Pages -----------------------------------------------------------------------------------------------------


@pages.get("/", response_class=HTMLResponse)
def index_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {"limits": UploadLimits})


@pages.get("/documents", response_class=HTMLResponse, dependencies=[Depends(require_api_key_or_cookie)])
def documents_page(request: Request, assistant: Assistant = Depends(ready_assistant)) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "documents.html", {"corpus": DocumentList.from_catalog(assistant.catalog())}
    )


@pages.get("/sources/{source:path}", response_class=HTMLResponse, dependencies=[Depends(require_api_key_or_cookie)])
def source_page(
    request: Request,
    source: str,
    start: int | None = Query(None, ge=0),
    end: int | None = Query(None, ge=0),
    assistant: Assistant = Depends(ready_assistant),
) -> HTMLResponse:
    doc = indexed_doc(assistant, source)
    text = doc.text
    if start is not None and end is not None and start < end <= len(text):
        parts = {"before": text[:start], "highlight": text[start:end], "after": text[end:]}
    else:
        parts = {"before": text, "highlight": "", "after": ""}
    return templates.TemplateResponse(request, "source.html", {"doc": doc, **parts})


@pages.get("/docs", response_class=HTMLResponse)
def api_docs_page(request: Request) -> HTMLResponse:
    """The API reference, rendered from the OpenAPI schema without Swagger UI (no CDN, no inline scripts)."""
    return templates.TemplateResponse(request, "api_docs.html", {"operations": operations(request.app.openapi())})


def indexed_doc(assistant: Assistant, source: str) -> SourceDoc:
    """Only names that are keys of the index are served: no path is ever joined or opened."""
    doc = assistant.document(source)
    if doc is None:
        raise NotFoundError(f"no indexed document named {source!r} — /api/documents lists them")
    return doc


def operations(openapi: dict) -> list[dict]:
    """The OpenAPI operations, flattened for the docs template."""
    out = []
    for path, methods in openapi.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "body": body.get("$ref", "").rsplit("/", 1)[-1],
                    "parameters": [p["name"] for p in op.get("parameters", [])],
                    "responses": sorted(op.get("responses", {})),
                }
            )
    return out
