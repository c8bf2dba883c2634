"""App: the FastAPI application — lifespan, security middleware, error translation — and `serve`.

    app = create_app(Assistant(settings, embedder=fake, store=store, generator=fake))   # tests
    serve(Settings(), port=8000)                                                        # `qa serve`

Models and the index load once, on the worker thread, when the app starts; until then /api/health says
"loading" and questions get 503. Every error leaves as JSON {"error": "..."} with its status code.
"""

from __future__ import annotations

import logging
import threading
import webbrowser
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.assistant import Assistant
from qa.embed import Embedder
from qa.errors import QAError
from qa.settings import Settings
from web.deps import Assistants, GenerationQueue
from web.documents import Indexer, UploadLimits
from web.routes import api, openai, pages

log = logging.getLogger("web")
MAX_BODY_BYTES = 64 * 1024
MAX_WAITING = 8  # questions waiting for the model; more get 503 + Retry-After
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def create_app(
    assistant: Assistant,
    *,
    api_key: str | None = None,
    max_waiting: int = MAX_WAITING,
    allowed_hosts: tuple[str, ...] | None = None,
    index_embedder: Embedder | None = None,
) -> FastAPI:
    """`allowed_hosts`: the Host header names served (None: any); `serve` on loopback allows only loopback names.
    `index_embedder`: what uploads are embedded with (tests pass a fake; by default the settings' model)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.queue.start_loading()
        yield
        app.state.queue.close()
        app.state.indexer.close()

    app = FastAPI(
        title="qa — questions over your documents",
        description="Answers from a local folder of documents, with verified citations. Runs offline.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; /docs is rendered by web/routes.py instead
        redoc_url=None,
    )
    app.state.queue = GenerationQueue(assistant, max_waiting)
    app.state.assistants = Assistants(assistant)
    app.state.indexer = Indexer(assistant.settings, assistant, index_embedder)
    app.state.api_key = api_key or None
    app.include_router(api)
    app.include_router(openai)
    app.include_router(pages)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_exception_handler(QAError, _qa_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(
        BodyLimitMiddleware, limit=MAX_BODY_BYTES, uploads=("/api/documents", UploadLimits.request_bytes)
    )
    if allowed_hosts:
        app.add_middleware(HostCheckMiddleware, allowed=allowed_hosts)
    app.add_middleware(SecurityHeadersMiddleware)  # added last: outermost, so it sees every response
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> None:
    import uvicorn

    if not log.handlers:  # once per process, however often serve() is called
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))  # uvicorn's look
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    if host not in LOOPBACK and not api_key:
        log.warning("serving on %s without QA_API_KEY: anyone who can reach this port can read the documents", host)
    # On loopback only loopback names are served, so a web page whose own name was re-pointed at 127.0.0.1
    # (DNS rebinding) cannot read the documents through the visitor's browser.
    app = create_app(Assistant(settings), api_key=api_key, allowed_hosts=LOOPBACK if host in LOOPBACK else None)
    if open_browser:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        threading.Timer(1.0, webbrowser.open, args=(f"http://{shown}:{port}/",)).start()
    uvicorn.run(app, host=host, port=port, server_header=False, timeout_graceful_shutdown=5)


# Errors: one JSON shape, no tracebacks -----------------------------------------------------------------------


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _qa_error(request: Request, exc: QAError) -> JSONResponse:
    return error_response(exc.http_status, str(exc), getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """ "question: String should have at least 1 character" rather than pydantic's list of dicts."""
    messages = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            messages.append("the request body is not valid JSON")
            continue
        where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "request"
        messages.append(f"{where}: {error.get('msg', 'invalid')}")
    return error_response(422, "; ".join(messages) or "invalid request")


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    message = f"not found: {request.url.path}" if exc.status_code == 404 else str(exc.detail)
    if exc.status_code == 400 and message == "There was an error parsing the body":  # FastAPI's words
        message = "the request body is not UTF-8 JSON"
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:  # Starlette names the methods of one route; a path may have several
        headers["Allow"] = ", ".join(_methods_of(request))
    return error_response(exc.status_code, message, headers or None)


def _methods_of(request: Request) -> list[str]:
    """The methods some route answers on this path (asked of the router, whose included routers nest)."""
    from starlette.routing import Match

    methods = []
    for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            methods.append(method)
    return methods


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Sent by Starlette's outermost middleware, outside SecurityHeadersMiddleware: add the headers here.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error — the server log has the details", SECURITY_HEADERS)


# Middleware ---------------------------------------------------------------------------------------------------


class SecurityHeadersMiddleware:
    """Adds the CSP and friends to every response (pages load scripts and styles only from /static)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HostCheckMiddleware:
    """Refuses requests whose Host header names none of `allowed` (the port is ignored) with 400 JSON."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = set(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host", "")
            name = (host if host.endswith("]") else host.rsplit(":", 1)[0]).strip("[]")  # "[::1]:8000" -> "::1"
            if name.lower() not in self.allowed:
                response = error_response(400, "this server answers only to its loopback address (Host header)")
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses request bodies over `limit` bytes with 413 JSON, declared or streamed, before the app reads them.

    The body is read here (it is small by then) and replayed to the app.
    """

    def __init__(self, app: ASGIApp, limit: int, uploads: tuple[str, int] = ("", 0)) -> None:
        """`uploads`: (path, limit) for the one route that takes files (POST only)."""
        self.app = app
        self.limit = limit
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, upload_limit = self.uploads
        limit = upload_limit if scope["method"] == "POST" and path and scope["path"] == path else self.limit
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return await self._too_large(scope, receive, send, limit)
        parts, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            more = message.get("more_body", False)
            if size > limit:
                return await self._too_large(scope, receive, send, limit)
        body = b"".join(parts)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(413, f"the request body is larger than {limit // 1024} KiB")
        await response(scope, receive, send)
