"""Routes: the JSON API (/api), the OpenAI-compatible endpoint (/v1) and the HTML pages.

    POST /api/ask {"question": "…", "history": [...]}  -> the Answer as JSON
    POST /api/ask/stream                               -> SSE: delta…, citations (the Answer), done | error
    POST /v1/chat/completions                          -> OpenAI chat.completion(.chunk)s, plus "sources"
    GET  /api/collections, POST /api/collections {"name"} -> the collections; a new, empty one
    POST /api/documents (multipart "files", "overwrite") -> 202 the indexing job (?wait=true: 200 when done)
    GET  /api/jobs/{id}                      -> its progress, then what was indexed or skipped and why
    DELETE /api/documents/{file}                       -> 202 the job that removes it from the index
    GET  /sources/{file}?start=&end=                   -> the cleaned document with that span in <mark id="hl">

Routes check the question, queue it, and render records; the pipeline lives in `qa`. A request names its
collection with "collection" (JSON field, form field or query parameter; /v1 takes it from "model"); without
one, the default collection answers.
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
from qa.collection import DEFAULT
from qa.errors import BadQuestionError, QAError
from qa.questions import check_question
from qa.records import Answer, SourceDoc
from web.deps import (
    COLLECTION,
    Assistants,
    Generation,
    GenerationQueue,
    NotFoundError,
    get_assistants,
    get_indexer,
    get_queue,
    loaded_assistant,
    only_query,
    ready_assistant,
    require_api_key,
    require_api_key_or_cookie,
)
from web.documents import MAX_FILES, Indexer, IndexJob, Upload, UploadLimits
from web.schemas import (
    AskRequest,
    ChatCompletionRequest,
    CollectionInfo,
    CollectionRequest,
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
IN_COLLECTION = {code: {"model": ErrorBody} for code in (404, 409)}  # no such collection; it has no index yet
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


@api.get("/collections", response_model=list[CollectionInfo])
def collections(assistants: Assistants = Depends(get_assistants)) -> list[CollectionInfo]:
    """The collections (each a folder of documents with its own index), the default one first."""
    return [CollectionInfo.of(c) for c in assistants.collections.all()]


@api.post(
    "/collections", status_code=201, response_model=CollectionInfo, responses={409: {"model": ErrorBody}, **BAD_INPUT}
)
def create_collection(body: CollectionRequest, assistants: Assistants = Depends(get_assistants)) -> CollectionInfo:
    """A new, empty collection (a folder in data/collections); add documents to it with POST /api/documents."""
    return CollectionInfo.of(assistants.collections.create(body.name))


@api.post("/ask", response_model=None, responses={200: {"model": Answer}, **BAD_INPUT, **IN_COLLECTION})
async def ask(
    body: AskRequest,
    request: Request,
    queue: GenerationQueue = Depends(get_queue),
    assistants: Assistants = Depends(get_assistants),
) -> JSONResponse:
    """Answer one question; follow-ups pass the earlier messages as "history"."""
    question = check_question(body.question)
    generation = queue.submit(question, body.history_dicts(), assistants.ready(queue, body.collection))
    answer = await generation.answer(request.is_disconnected)
    return JSONResponse(answer.to_dict())


@api.post("/ask/stream", responses={200: STREAM, **BAD_INPUT, **IN_COLLECTION})
async def ask_stream(
    body: AskRequest, queue: GenerationQueue = Depends(get_queue), assistants: Assistants = Depends(get_assistants)
) -> EventSourceResponse:
    """Server-sent events: "delta" {"text"} per generated piece, "citations" (the final Answer), then "done";
    "error" {"error"} if the pipeline fails midway. The final Answer's text replaces the streamed draft."""
    question = check_question(body.question)
    generation = queue.submit(question, body.history_dicts(), assistants.ready(queue, body.collection))
    return event_stream(_answer_events(generation))


async def _answer_events(generation: Generation) -> AsyncIterator[bytes]:
    try:
        async for event in generation.events():
            yield sse("citations", event.to_dict()) if isinstance(event, Answer) else sse("delta", {"text": event})
        yield sse("done", {})
    except QAError as e:
        yield sse("error", {"error": str(e)})


@api.get(
    "/documents",
    response_model=DocumentList,
    responses=IN_COLLECTION,
    dependencies=[Depends(only_query("collection"))],
)
def documents(assistant: Assistant = Depends(ready_assistant)) -> DocumentList:
    """The indexed files with their titles and chunk counts, and when the index was built."""
    return DocumentList.from_catalog(assistant.catalog())


@api.post(
    "/documents",
    status_code=202,
    responses={200: {"description": "done (wait=true)"}, **BAD_INPUT, **NOT_FOUND},
    dependencies=[Depends(only_query("wait"))],
)
async def add_documents(
    files: list[UploadFile] = File(..., description=f"the documents, at most {MAX_FILES}"),
    overwrite: bool = Form(False, description="replace documents of the same name"),
    collection: str = Form("", description="the collection to add them to (empty: the default one)"),
    wait: bool = Query(False, description="answer when the indexing is done, not when it starts"),
    indexer: Indexer = Depends(get_indexer),
    assistants: Assistants = Depends(get_assistants),
) -> JSONResponse:
    """Add documents to the corpus folder and index them in the background (questions are answered meanwhile).
    Each file is checked first (name, type, size, that it reads); the reply lists those refused and why, and
    the job to poll: /api/jobs/{id}."""
    uploads = [Upload(f.filename or "", await f.read(UploadLimits.file_bytes + 1)) for f in files]
    target = assistants.get(collection, indexed=False)
    job = await run_in_threadpool(indexer.add, uploads, overwrite, target)
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
    dependencies=[Depends(only_query("wait", "collection"))],
    status_code=202,
    responses={200: {"description": "done (wait=true)"}, **NOT_FOUND},
)
async def delete_document(
    source: str,
    wait: bool = Query(False, description="answer when the index no longer has it"),
    collection: str = COLLECTION,
    indexer: Indexer = Depends(get_indexer),
    assistants: Assistants = Depends(get_assistants),
) -> JSONResponse:
    """Remove a document from the corpus folder and from the index (it stays answerable until the job is done;
    if the build fails, the file comes back)."""
    job = await run_in_threadpool(indexer.delete, source, assistants.get(collection, indexed=False))
    return await _job_reply(job, wait)


async def _job_reply(job: IndexJob, wait: bool) -> JSONResponse:
    while wait and job.state in ("queued", "indexing"):
        await asyncio.sleep(0.2)
    finished = job.state in ("done", "failed")
    headers = {} if finished else {"Location": f"/api/jobs/{job.id}"}
    return JSONResponse(job.to_dict(), status_code=200 if finished else 202, headers=headers)


@api.get(
    "/sources/{source:path}",
    response_model=SourceText,
    responses=IN_COLLECTION,
    dependencies=[Depends(only_query("collection"))],
)
def source_text(source: str, assistant: Assistant = Depends(ready_assistant)) -> SourceText:
    """The cleaned text of one indexed document; citation offsets index into it."""
    doc = indexed_doc(assistant, source)
    return SourceText(source=doc.source, title=doc.title, text=doc.text)


@openai.get("/models")
def models(assistant: Assistant = Depends(loaded_assistant), assistants: Assistants = Depends(get_assistants)) -> dict:
    """The chat model (it answers from the default collection), then each collection by name: a client that
    picks a "model" picks the documents it is answered from (as Open WebUI lists its pipelines)."""
    ids = [assistant.catalog().model, *assistants.collections.names()]
    return {"object": "list", "data": [{"id": id, "object": "model", "owned_by": "local"} for id in ids]}


@openai.post("/embeddings", responses=BAD_INPUT)
def embeddings(body: EmbeddingRequest, assistant: Assistant = Depends(loaded_assistant)) -> dict:
    """OpenAI-compatible embeddings with this server's embedding model, so that replicas (QA_EMBEDDING_URL) and
    big ingestion runs elsewhere need no model of their own. `model` must be empty or this model's name."""
    name = assistant.embedder.name
    if body.model and body.model != name:
        raise BadQuestionError(f"this server embeds with {name!r}, not {body.model!r}")
    texts = body.texts
    return embeddings_reply(assistant.embedder.embed(texts), name, texts)


@openai.post("/chat/completions", response_model=None, responses={200: STREAM, **BAD_INPUT, **IN_COLLECTION})
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    queue: GenerationQueue = Depends(get_queue),
    assistants: Assistants = Depends(get_assistants),
) -> JSONResponse | EventSourceResponse:
    """OpenAI-compatible: the last user message is the question, earlier messages the history; a "model" that
    names a collection (GET /v1/models) answers from it, any other from the default collection.
    Responses carry the verified citations as "sources"; when streaming, the final chunk carries them,
    and "answer" with the verified text and "refused"."""
    question, history = body.question_and_history()
    named = body.model if body.model in assistants.collections.names() else ""  # any other model: the default
    generation = queue.submit(check_question(question), history, assistants.ready(queue, named))
    model = body.model if named else queue.assistant.catalog().model
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
    collection = "" if assistant.collection == DEFAULT else assistant.collection
    context = {"corpus": DocumentList.from_catalog(assistant.catalog()), "collection": collection}
    return templates.TemplateResponse(request, "documents.html", context)


@pages.get("/sources/{source:path}", response_class=HTMLResponse, dependencies=[Depends(require_api_key_or_cookie)])
def source_page(
    request: Request,
    source: str,
    start: int | None = Query(None, ge=0),
    end: int | None = Query(None, ge=0),
    assistant: Assistant = Depends(ready_assistant),
) -> HTMLResponse:
    doc = indexed_doc(assistant, source)
    span = (start, end) if start is not None and end is not None and start < end <= len(doc.text) else None
    context = {"doc": doc, "sections": source_sections(doc, span), "highlight": span is not None}
    return templates.TemplateResponse(request, "source.html", context)


def source_sections(doc: SourceDoc, span: tuple[int, int] | None) -> list[dict]:
    """The document cut at its locations ("page 2", "slide 3"), each section as (text, highlighted) pieces.

    A PDF of two pages with the quote on the second: [{"label": "page 1", "pieces": [("…", False)]},
    {"label": "page 2", "pieces": [("The ", False), ("47 survivors", True), (" …", False)]}]
    """
    text = doc.text
    cuts = [(0, "")] + [(int(offset), str(label)) for offset, label in doc.locations if 0 < int(offset) < len(text)]
    if doc.locations and int(doc.locations[0][0]) == 0:
        cuts[0] = (0, str(doc.locations[0][1]))
    sections = []
    for (a, label), (b, _) in zip(cuts, cuts[1:] + [(len(text), "")], strict=True):
        lo, hi = (max(a, span[0]), min(b, span[1])) if span else (b, b)
        pieces = [(text[a:lo], False), (text[lo:hi], True), (text[hi:b], False)] if lo < hi else [(text[a:b], False)]
        sections.append({"label": label, "pieces": [(t, hl) for t, hl in pieces if t]})
    return sections


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
