"""Deps: the one model instance behind one worker thread, and the dependencies the routes declare.

    queue = GenerationQueue(assistant, max_waiting=8)
    queue.start_loading()                                   # models and index, on the worker thread
    generation = queue.submit("What percentage …?", [])    # ServerBusyError when 8 already wait
    async for event in generation.events(): ...             # str deltas, then the final Answer

The generator is not thread-safe, so every call into the assistant (loading too) runs on a single worker
thread, in submission order. A consumer that goes away sets `stop`; the worker then closes `ask_stream` at
its next delta, which closes the model's own stream and frees the model for the next question.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qa.assistant import Assistant
from qa.collection import DEFAULT, Collections
from qa.errors import ModelServerError, QAError
from qa.records import Answer

log = logging.getLogger("web")
RELOAD_SECONDS = 5.0  # between attempts to load while the database or the model server is unreachable
POLL_SECONDS = 0.5  # how often a non-streaming request checks that its client is still there
KEY_COOKIE = "qa_api_key"  # set by the page, so that links to /sources and /documents carry the key


class NotReadyError(QAError):
    http_status = 503
    headers = {"Retry-After": "5"}


class ServerBusyError(QAError):
    http_status = 503
    headers = {"Retry-After": "10"}


class UnauthorizedError(QAError):
    http_status = 401
    headers = {"WWW-Authenticate": "Bearer"}


class NotFoundError(QAError):
    http_status = 404


class CollectionEmptyError(QAError):
    http_status = 409


class ClientGoneError(QAError):
    http_status = 499  # nobody reads this response; the status is for the access log


_END = object()


class Generation:
    """One question's events, passed from the worker thread to the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._events: asyncio.Queue = asyncio.Queue()
        self.stop = threading.Event()

    def put(self, item: object) -> None:
        """Called on the worker thread."""
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, item)
        except RuntimeError:  # the event loop is closed: the server is shutting down
            self.stop.set()

    async def events(self, disconnected: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[str | Answer]:
        """Text deltas, then the final Answer; a QAError from the pipeline is raised here."""
        try:
            while (item := await self._next(disconnected)) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stop.set()  # runs on cancellation (client disconnect) and on early exit alike

    async def answer(self, disconnected: Callable[[], Awaitable[bool]] | None = None) -> Answer:
        async for event in self.events(disconnected):
            if isinstance(event, Answer):
                return event
        raise ClientGoneError("the client disconnected")

    async def _next(self, disconnected: Callable[[], Awaitable[bool]] | None) -> object:
        if disconnected is None:
            return await self._events.get()
        while True:
            try:
                return await asyncio.wait_for(self._events.get(), POLL_SECONDS)
            except TimeoutError:
                if await disconnected():
                    return _END


class GenerationQueue:
    """Serialises all use of the assistant on one worker thread; refuses work when too many wait."""

    def __init__(self, assistant: Assistant, max_waiting: int = 8) -> None:
        self.assistant = assistant
        self.max_waiting = max_waiting
        self.status = "loading"  # -> "ready" | "failed"
        self.error = ""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-model")
        self._waiting = 0
        self._count_lock = threading.Lock()
        self._closed = False

    @property
    def waiting(self) -> int:
        """Questions submitted and not yet started."""
        return self._waiting

    def start_loading(self) -> None:
        self._executor.submit(self._load)

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    def check_ready(self) -> None:
        if self.status == "loading":
            waiting_for = f" (waiting for: {self.error})" if self.error else ""
            raise NotReadyError(
                f"the assistant is still loading the model and the index{waiting_for} — try again in a few seconds"
            )
        if self.status == "failed":
            raise NotReadyError(self.error)

    def submit(self, question: str, history: list[dict[str, str]], assistant: Assistant | None = None) -> Generation:
        """Queue a question for `assistant` (another collection's; by default the one this queue loaded)."""
        self.check_ready()
        with self._count_lock:
            if self._waiting >= self.max_waiting:
                raise ServerBusyError(
                    f"{self._waiting} questions are already waiting for the model — try again shortly"
                )
            self._waiting += 1
        generation = Generation(asyncio.get_running_loop())
        self._executor.submit(self._run, generation, question, history, assistant or self.assistant)
        return generation

    def _load(self) -> None:
        try:
            self.assistant.load()
            try:
                self.assistant.warm_up()  # the first question in the page then skips the fixed prompt prefix
                catalog = self.assistant.catalog()
                ready = f"ready: {catalog.model}, {catalog.chunks} chunks"
            except ModelServerError as e:  # a model server may come up later; until then questions get 502/504
                log.warning("the model server does not answer yet: %s", e)
                ready = "ready; questions get 502/504 until the model server answers"
            self.status = "ready"
            log.info(ready)
        except QAError as e:
            if e.transient:  # the database or the model server is not there yet: keep trying, stay "loading"
                self.error = str(e)
                log.warning("cannot load the assistant yet (again in %g s): %s", RELOAD_SECONDS, e)
                self._reload_later()
                return
            self.status, self.error = "failed", str(e)
            log.error("cannot load the assistant: %s", e)
        except Exception as e:  # noqa: BLE001 - reported on /api/health, the traceback goes to the log
            self.status, self.error = "failed", f"cannot load the assistant: unexpected {type(e).__name__}: {e}"
            log.exception("cannot load the assistant")

    def _reload_later(self) -> None:
        def submit() -> None:
            if not self._closed:
                self._executor.submit(self._load)

        timer = threading.Timer(RELOAD_SECONDS, submit)
        timer.daemon = True
        timer.start()

    def _run(self, generation: Generation, question: str, history: list[dict[str, str]], assistant: Assistant) -> None:
        with self._count_lock:
            self._waiting -= 1
        if generation.stop.is_set():  # its client left while it waited
            generation.put(_END)
            return
        events = assistant.ask_stream(question, history)
        try:
            for event in events:
                generation.put(event)
                if generation.stop.is_set():
                    break
        except QAError as e:
            generation.put(e)
        except Exception:  # noqa: BLE001 - no tracebacks to users; the log has it
            log.exception("question failed: %r", question[:200])
            generation.put(QAError("the assistant failed on this question — the server log has the details"))
        finally:
            events.close()  # closes the model's stream when stopped early
            generation.put(_END)


class Assistants:
    """One assistant per collection, made on first use, all sharing the default one's models (so one chat
    model is in memory and one worker thread runs them all)."""

    def __init__(self, default: Assistant) -> None:
        self.default = default
        self.collections = Collections(default.settings)
        self._by_name: dict[str, Assistant] = {DEFAULT: default}
        self._lock = threading.Lock()

    def get(self, name: str | None, *, indexed: bool = True) -> Assistant:
        """The assistant of collection `name` ("" or None: the default); with `indexed`, CollectionEmptyError
        while it has no index yet (uploads into a new collection ask with indexed=False)."""
        collection = self.collections.get(name)  # CollectionNotFoundError: 404
        with self._lock:
            known = self._by_name.get(collection.name)
        opened = known is not None and known.index_open  # then its manifest need not be read again
        if indexed and collection.name != DEFAULT and not opened and collection.manifest() is None:
            raise CollectionEmptyError(
                f"collection {collection.name!r} has no indexed documents yet — add some on the page, with "
                f"POST /api/documents (collection={collection.name}) or `qa index --collection {collection.name}`"
            )
        with self._lock:
            if collection.name not in self._by_name:
                settings = self.collections.settings_for(collection.name)
                self._by_name[collection.name] = self.default.sibling(settings, collection.name)
            return self._by_name[collection.name]

    def ready(self, queue: GenerationQueue, name: str | None) -> Assistant:
        """The assistant a question goes to; 503 while loading comes first (siblings share the loaded models)."""
        queue.check_ready()
        return self.get(name)


# Dependencies ----------------------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="Only when the server was started with QA_API_KEY set.")


class UnknownParameterError(QAError):
    http_status = 422


def only_query(*names: str):
    """A dependency refusing query parameters other than `names` (a typo like `?wiat=true` must not be ignored)."""

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(names))
        if unknown:
            allowed = ", ".join(names) or "none"
            raise UnknownParameterError(
                f"unknown query parameter(s) {', '.join(map(repr, unknown))} (allowed: {allowed})"
            )

    return check


def get_indexer(request: Request):
    return request.app.state.indexer


def get_queue(request: Request) -> GenerationQueue:
    return request.app.state.queue


def get_assistants(request: Request) -> Assistants:
    return request.app.state.assistants


def loaded_assistant(queue: GenerationQueue = Depends(get_queue)) -> Assistant:
    """The default collection's assistant, once the models are loaded (for what is the same in every one)."""
    queue.check_ready()
    return queue.assistant


COLLECTION = Query("", description="the collection (GET /api/collections lists them); empty: the default one")


def ready_assistant(
    collection: str = COLLECTION,
    queue: GenerationQueue = Depends(get_queue),
    assistants: Assistants = Depends(get_assistants),
) -> Assistant:
    """The assistant of the collection the request names, once the models are loaded."""
    return assistants.ready(queue, collection)


def require_api_key(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    """When the app has an API key, /api and /v1 need `Authorization: Bearer <key>`."""
    _check_key(request.app.state.api_key, credentials.credentials if credentials else None)


def require_api_key_or_cookie(request: Request) -> None:
    """The HTML views of documents also accept the key from the cookie the page sets, since links carry no header."""
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or request.cookies.get(KEY_COOKIE)
    _check_key(request.app.state.api_key, given)


def _check_key(expected: str | None, given: str | None) -> None:
    if expected and not (given and secrets.compare_digest(given.encode(), expected.encode())):
        raise UnauthorizedError("missing or wrong API key — send the header `Authorization: Bearer <key>`")
