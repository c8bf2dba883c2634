"""Remote_http: the HTTP side of an OpenAI-compatible server — requests with timeouts and bounded retries, SSE
events, and every way it can fail turned into one ModelServerError (502) or ModelTimeoutError (504) line.

    server = ModelServer("http://127.0.0.1:8081/v1", api_key=None, timeout=60, retries=2, setting="QA_LLM_URL")
    with server.open("POST", "/chat/completions", body) as response:
        for event in server.events(response): ...
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import httpx

from qa.errors import ModelServerError, ModelTimeoutError

RETRY_STATUSES = {502, 503}  # a proxy or server that is (re)starting
BACKOFF = 0.5  # seconds before the first retry, doubled for each next one


class _Refused(ModelServerError):
    """HTTP 400/422: the server read the request and refused it; `said` is its reason."""

    def __init__(self, message: str, said: str) -> None:
        super().__init__(message)
        self.said = said


class ModelServer:
    """One server's base URL, key, timeouts and bounded retries; every failure becomes a one-line ModelServerError."""

    def __init__(
        self, url: str, api_key: str | None, timeout: float, retries: int, setting: str = "QA_LLM_URL"
    ) -> None:
        self.url, self.timeout, self.retries, self.setting = url.rstrip("/"), timeout, max(0, retries), setting
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=httpx.Timeout(timeout))
        self.refused: set[str] = set()  # optional fields this server said it does not take

    @contextlib.contextmanager
    def open(
        self, method: str, path: str, body: dict | None = None, optional: dict | None = None
    ) -> Iterator[httpx.Response]:
        """The response once it has a 2xx status, its body unread. Refused connections and 502/503 are retried;
        a timeout never is (it would multiply the wait), nor anything after the status line. `optional` fields
        go with `body` unless the server refuses them by name (HTTP 400/422, as OpenAI's API refuses arguments
        it does not know): then the request is sent again without them, and they are left out from then on."""
        extra = {k: v for k, v in (optional or {}).items() if k not in self.refused}
        while True:  # ends: each refusal takes a field away
            try:
                response = self._connect(method, path, {**body, **extra} if body is not None else None)
                break
            except _Refused as e:
                names = {k for k in extra if k in e.said}
                if not names:
                    raise
                self.refused |= names
                extra = {k: v for k, v in extra.items() if k not in names}
        try:
            yield response
        except httpx.TimeoutException as e:
            raise self.timed_out() from e
        except httpx.TransportError as e:
            raise ModelServerError(
                f"the model server at {self.url} broke off its reply ({one_line(e) or type(e).__name__}) — "
                "check its log"
            ) from e
        finally:
            response.close()

    def _connect(self, method: str, path: str, body: dict | None) -> httpx.Response:
        """One request, retried as `open` says: a 2xx response, or a ModelServerError."""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                response = self._http.send(self._http.build_request(method, path, json=body), stream=True)
                if response.is_success:
                    return response
                failure = self.bad_status(response)
                if response.status_code not in RETRY_STATUSES:
                    raise failure
            except httpx.TimeoutException as e:
                raise self.timed_out() from e
            except httpx.TransportError as e:  # refused, reset, name not found: nothing was answered
                failure = ModelServerError(
                    f"cannot reach the model server at {self.url} ({one_line(e) or type(e).__name__}; "
                    f"{attempt + 1} tries) — is `python -m llama_cpp.server` running? set {self.setting}"
                )
        raise failure

    def json(self, method: str, path: str, body: dict | None = None, optional: dict | None = None) -> dict:
        with self.open(method, path, body, optional) as response:
            response.read()
        try:
            reply = response.json()
        except ValueError:
            raise self.garbage(f"a body that is not JSON ({_content_type(response)})") from None
        if not isinstance(reply, dict):
            raise self.garbage("JSON that is not an object")
        return reply

    def model_id(self) -> str:
        """The first model the server lists (GET /models)."""
        try:
            return str(self.json("GET", "/models")["data"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise self.garbage("a model list without models") from None

    def timed_out(self) -> ModelTimeoutError:
        return ModelTimeoutError(
            f"the model server at {self.url} sent nothing for {self.timeout:g} s — is it overloaded or stuck? "
            "check it, or raise QA_LLM_TIMEOUT"
        )

    def bad_status(self, response: httpx.Response) -> ModelServerError:
        try:
            response.read()
        finally:
            response.close()
        try:
            detail = response.json()["error"]
            detail = detail.get("message", detail) if isinstance(detail, dict) else detail
        except (ValueError, KeyError, TypeError, AttributeError):
            detail = response.text
        said = one_line(str(detail))[:120]
        message = (
            f"the model server at {self.url} answered HTTP {response.status_code}{f' ({said})' if said else ''} — "
            f"check its log, and that {self.setting} is its /v1 address"
        )
        return _Refused(message, said) if response.status_code in (400, 422) else ModelServerError(message)

    def garbage(self, what: str) -> ModelServerError:
        return ModelServerError(
            f"the model server at {self.url} sent {what}, not an OpenAI-compatible reply — "
            f"check that {self.setting} is its /v1 address"
        )

    def events(self, response: httpx.Response) -> Iterator[dict]:
        """The JSON objects of a server-sent event stream, until `data: [DONE]` (or its end, after a finish_reason)."""
        if not _content_type(response).startswith("text/event-stream"):
            raise self.garbage(f"{_content_type(response)} instead of an event stream")
        finished = False
        for line in response.iter_lines():
            if not line.startswith("data:"):  # blank lines, comments (": ping"), event names
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                raise self.garbage("an event that is not JSON") from None
            if not isinstance(event, dict):
                raise self.garbage("an event that is not a JSON object")
            if "error" in event:
                error = event["error"]
                said = one_line(str(error.get("message", error) if isinstance(error, dict) else error))[:120]
                raise ModelServerError(f"the model server at {self.url} failed mid-reply ({said}) — check its log")
            finished = finished or any(isinstance(c, dict) and c.get("finish_reason") for c in choices(event))
            yield event
        if not finished:
            raise ModelServerError(f"the model server at {self.url} ended its reply early — check its log")


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip() or "no content type"


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def choices(event: dict) -> list:
    choices = event.get("choices")
    return choices if isinstance(choices, list) else []
