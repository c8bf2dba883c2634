"""Web security beyond tests/test_web_api.py: hostile names and HTML shown as text, path traversal in every
encoding, body limits on every POST route, the security headers on every route and error, loopback by
default (with a Host check against DNS rebinding), and the API key on every /api and /v1 operation."""

from __future__ import annotations

import builtins
import io
import os
import re
import shutil
import time
import uuid
from urllib.parse import quote

import pytest
import uvicorn
from fastapi.testclient import TestClient

import qa.embed
import web.app
from index.build import build_index
from qa.assistant import Assistant
from qa.cli import main
from qa.settings import ROOT, Settings
from qa.store import load_store
from web.app import LOOPBACK, SECURITY_HEADERS, create_app

from fakes import SUPPORT_MODEL, FakeEmbedder, FakeGenerator

HOSTILE_NAME = '"><script>alert(1)<img src=x onerror=alert(2)>.md'  # no "/": it is a file name
HOSTILE_TEXT = (
    "# <img src=x onerror=alert(3)> Hostile <b>title</b>\n\n"
    'The widget plant in Oslo <script>alert(4)</script> paints 40 widgets a day & ships them "fast".\n'
    "<iframe src=https://example.invalid></iframe> <a href=javascript:alert(5)>click</a>\n"
)
RAW_HTML = re.compile(r"<script>alert|<img src=x|<iframe|<a href=javascript|onerror=alert\(\d\)>")
Q = "How many widgets does the plant in Oslo paint?"
KEY = "s3cret-key"


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(ROOT / "seeds", root / "corpus")
    (root / "corpus" / HOSTILE_NAME).write_text(HOSTILE_TEXT, encoding="utf-8")
    build_index(root / "corpus", root / "store", FakeEmbedder())
    return Settings(
        corpus_dir=root / "corpus", index_dir=root / "store", collections_dir=root / "collections"
    ), load_store(root / "store")


def make_client(hostile_index, reply: str = "The plant in Oslo paints 40 widgets a day [1].", **app_options):
    settings, store = hostile_index
    app = create_app(
        Assistant(
            settings, embedder=FakeEmbedder(), store=store, generator=FakeGenerator(reply), support_model=SUPPORT_MODEL
        ),
        index_embedder=FakeEmbedder(),
        **app_options,
    )
    return app, TestClient(app, raise_server_exceptions=False)


def wait_ready(client: TestClient, headers: dict | None = None) -> TestClient:
    for _ in range(300):
        if client.get("/api/health", headers=headers).status_code == 200:
            return client
        time.sleep(0.01)
    raise AssertionError("the app did not become ready")


@pytest.fixture
def client(hostile_index):
    app, c = make_client(hostile_index)

    async def boom():
        raise RuntimeError("a bug in a route")

    app.add_api_route("/boom", boom)  # to see the headers of the last-resort 500 handler
    with c:
        yield wait_ready(c)


# HTML is shown as text -----------------------------------------------------------------------------------------


def test_a_hostile_file_name_title_and_text_are_escaped_on_every_page(client, hostile_index):
    _, store = hostile_index
    assert "<img src=x" in store.docs[HOSTILE_NAME].title  # the title really is hostile
    documents = client.get("/documents")
    source = client.get(f"/sources/{quote(HOSTILE_NAME)}", params={"start": 0, "end": 40})
    for page in (documents, source):
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert not RAW_HTML.search(page.text), RAW_HTML.search(page.text)
        assert "&lt;script&gt;alert(" in page.text and "&lt;img src=x onerror=alert(" in page.text
        assert re.findall(r"<script\b[^>]*>", page.text) in ([], ['<script src="/static/source.js" defer>'])
    assert f'href="/sources/{quote(HOSTILE_NAME)}"' in documents.text  # the name is URL-encoded in the link
    assert '<mark id="hl" tabindex="-1"># &lt;img src=x' in source.text


def test_hostile_answer_text_is_json_never_html(hostile_index):
    _, c = make_client(hostile_index, reply='<script>alert("answer")</script> The plant paints 40 widgets [1].')
    with c:
        wait_ready(c)
        r = c.post("/api/ask", json={"question": Q})
        assert r.headers["content-type"] == "application/json" and r.headers["x-content-type-options"] == "nosniff"
        stream = c.post("/api/ask/stream", json={"question": Q})
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["x-content-type-options"] == "nosniff"
        for path in ("/", "/documents", f"/sources/{quote(HOSTILE_NAME)}"):
            assert 'alert("answer")' not in c.get(path).text  # answers reach pages only through app.js textContent


# Path traversal ------------------------------------------------------------------------------------------------

TRAVERSALS = [
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "..%252f..%252fpyproject.toml",
    "%25252e%25252e%25252fetc",
    "..%5c..%5c..%5cetc%5cpasswd",
    "..\\..\\pyproject.toml",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "//etc/passwd",
    "C:%5cWindows%5cwin.ini",
    "file:%2f%2f%2fetc%2fpasswd",
    "..%00.txt",
    "%00",
    "004_c02d08bf38d297e0.txt%00.html",
    "%c0%ae%c0%ae%2fetc%2fpasswd",
    "%ef%bc%8e%ef%bc%8e%ef%bc%8fpyproject.toml",
    "....//....//etc/passwd",
    "..;/..;/pyproject.toml",
    "%2e%2e",
    "%2e",
    "~root/.bashrc",  # a bare ".." is resolved by the client itself
]


@pytest.fixture
def no_file_opened(monkeypatch):
    opened: list[str] = []

    def watch(real):
        def wrapper(file, *args, **kwargs):
            opened.append(str(file))
            return real(file, *args, **kwargs)

        return wrapper

    for module, name in ((builtins, "open"), (io, "open"), (os, "open")):
        monkeypatch.setattr(module, name, watch(getattr(module, name)))
    yield opened
    assert not [f for f in opened if re.search(r"passwd|pyproject|win\.ini|bashrc", f)], opened


@pytest.mark.parametrize("attack", TRAVERSALS)
def test_sources_refuse_traversal_in_every_encoding(client, no_file_opened, attack):
    for prefix in ("/sources/", "/api/sources/"):
        r = client.get(prefix + attack)
        assert r.status_code in (404, 405), (prefix + attack, r.status_code)  # "/api/sources/" alone: no route
        assert r.headers["content-type"] == "application/json" and "root:" not in r.text and "[project]" not in r.text


@pytest.mark.parametrize(
    "attack",
    [
        "../pyproject.toml",
        "%2e%2e/pyproject.toml",
        "..%2fpyproject.toml",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "..%5cpyproject.toml",
        "app.js%00",
    ],
)
def test_static_files_refuse_traversal(client, attack):
    r = client.get("/static/" + attack)
    assert r.status_code == 404 and "[project]" not in r.text and "root:" not in r.text


# Body limits ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream", "/v1/chat/completions"])
def test_every_post_route_refuses_a_large_body_with_413(client, path):
    big = b'{"question": "' + b"x" * 70_000 + b'"}'
    for content in (big, iter([big[:40_000], big[40_000:]])):  # declared length, then chunked (no length)
        r = client.post(path, content=content, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "64 KiB" in r.json()["error"]
        assert r.headers["x-content-type-options"] == "nosniff"


def test_a_body_just_under_the_limit_is_read(client):
    history = [{"role": "user", "content": "y" * 7_000}] * 9  # ~63 KiB of JSON
    r = client.post("/api/ask", json={"question": Q, "history": history})
    assert r.status_code == 200


# Security headers ----------------------------------------------------------------------------------------------


def test_the_csp_allows_no_inline_script_no_eval_and_no_framing():
    csp = dict(part.strip().split(" ", 1) for part in SECURITY_HEADERS["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in str(csp) and "unsafe-eval" not in str(csp)
    assert SECURITY_HEADERS["X-Frame-Options"] == "DENY" and SECURITY_HEADERS["X-Content-Type-Options"] == "nosniff"


def every_request(client: TestClient) -> list[tuple[str, str, dict]]:
    """Every GET route of the app with real parameters, plus each kind of error response."""
    from web.routes import api, openai, pages

    routes = [route for router in (api, openai, pages) for route in router.routes] + client.app.routes
    requests = [
        ("GET", route.path.replace("{source:path}", "004_c02d08bf38d297e0.txt"), {})
        for route in routes
        if "GET" in (getattr(route, "methods", None) or ())
    ]
    assert len(requests) >= 9, requests  # every page and GET operation, /openapi.json included
    return requests + [
        ("GET", "/static/app.js", {}),
        ("GET", "/static/style.css", {}),
        ("HEAD", "/static/app.js", {}),
        ("GET", "/static/missing.js", {}),
        ("GET", "/nowhere", {}),
        ("PUT", "/api/ask", {}),
        ("OPTIONS", "/api/ask", {}),
        ("POST", "/api/ask", {"json": {"question": ""}}),
        ("POST", "/api/ask", {"content": b"x" * 70_000}),
        ("GET", "/sources/missing.txt", {}),
        ("GET", "/boom", {}),
        ("POST", "/api/ask", {"json": {"question": Q}}),
        ("POST", "/api/ask/stream", {"json": {"question": Q}}),
        ("POST", "/v1/chat/completions", {"json": {"messages": [{"role": "user", "content": Q}]}}),
    ]


def test_every_route_and_every_error_carries_the_security_headers(client):
    statuses = set()
    for method, path, options in every_request(client):
        r = client.request(method, path, **options)
        statuses.add(r.status_code)
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (method, path, r.status_code, name)
    assert {200, 404, 405, 413, 422, 500} <= statuses


def test_401_and_503_carry_the_security_headers(hostile_index):
    settings, store = hostile_index
    with TestClient(
        create_app(
            Assistant(
                settings, embedder=FakeEmbedder(), store=store, generator=FakeGenerator(), support_model=SUPPORT_MODEL
            ),
            api_key=KEY,
        )
    ) as c:
        r = c.get("/api/health")
        assert r.status_code == 401 and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    broken = Settings(corpus_dir=settings.corpus_dir, index_dir=settings.index_dir / "missing")
    with TestClient(
        create_app(Assistant(broken, embedder=FakeEmbedder(), generator=FakeGenerator(), support_model=SUPPORT_MODEL))
    ) as c:
        r = c.post("/api/ask", json={"question": Q})
        assert r.status_code == 503 and r.headers["x-frame-options"] == "DENY"


# Loopback by default -------------------------------------------------------------------------------------------


def test_qa_serve_binds_to_loopback_by_default(monkeypatch):
    seen = {}
    monkeypatch.setattr(qa.embed, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.embed, "OpenVINOEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs, app=app))
    assert main(["serve"]) == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8000
    assert seen["app"].state.api_key is None


def test_serving_beyond_loopback_without_a_key_warns(monkeypatch):
    seen, warnings = {}, []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs, app=app))
    monkeypatch.setattr(web.app.log, "warning", lambda message, *args: warnings.append(message % args))
    assert main(["serve", "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert seen["host"] == "0.0.0.0" and "0.0.0.0 without QA_API_KEY" in warnings[0]
    monkeypatch.setenv("QA_API_KEY", KEY)
    assert main(["serve", "--host", "0.0.0.0"]) == 0
    assert seen["app"].state.api_key == KEY


@pytest.mark.parametrize(
    "host, status",
    [
        ("127.0.0.1:8000", 200),
        ("localhost:8000", 200),
        ("[::1]:8000", 200),
        ("LOCALHOST", 200),
        ("attacker.example:8000", 400),
        ("127.0.0.1.attacker.example", 400),
        ("localhost.attacker.example", 400),
        ("", 400),
    ],
)
def test_on_loopback_only_loopback_host_names_are_served(hostile_index, host, status):
    """DNS rebinding: a page at attacker.example re-pointed to 127.0.0.1 sends `Host: attacker.example`."""
    _, c = make_client(hostile_index, allowed_hosts=LOOPBACK)
    with c:
        wait_ready(c, {"host": "127.0.0.1"})
        for path in ("/api/documents", "/", "/static/app.js"):
            r = c.get(path, headers={"host": host})
            assert r.status_code == status, (host, path)
            if status == 400:
                assert "loopback" in r.json()["error"] and r.headers["x-frame-options"] == "DENY"


def test_qa_serve_on_loopback_turns_the_host_check_on(monkeypatch):
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs, app=app))
    main(["serve"])
    c = TestClient(seen["app"], base_url="http://attacker.example")  # no `with`: the real models never load
    assert c.get("/").status_code == 400
    assert TestClient(seen["app"], base_url="http://127.0.0.1:8000").get("/").status_code == 200


# The API key ---------------------------------------------------------------------------------------------------


def operations(client: TestClient, job_id: str = "0") -> list[tuple[str, str, dict]]:
    """Every operation of the OpenAPI schema, with a valid body; the upload sends (or replaces) one small file,
    which the delete then removes."""
    bodies = {
        "/api/ask": {"question": Q},
        "/api/ask/stream": {"question": Q},
        "/v1/chat/completions": {"messages": [{"role": "user", "content": Q}]},
        "/v1/embeddings": {"input": Q},
    }
    out = []
    for path, methods in client.get("/openapi.json").json()["paths"].items():
        for method in methods:
            concrete = path.replace("{source}", "004_c02d08bf38d297e0.txt").replace("{job_id}", job_id)
            options = {"json": bodies[path]} if path in bodies else {}
            if (method, path) == ("post", "/api/collections"):  # a new name each time: each request makes one
                options = {"json": lambda: {"name": f"guarded-{uuid.uuid4().hex[:8]}"}}
            if (method, path) == ("post", "/api/documents"):
                concrete, options = "/api/documents?wait=true", {"files": upload, "data": {"overwrite": "true"}}
            if (method, path) == ("delete", "/api/documents/{source}"):
                concrete = "/api/documents/guard-last.txt?wait=true"
            out.append((method.upper(), concrete, options))
    return out


def upload() -> list:
    return [("files", ("guard-last.txt", b"A guard file about the key.", "text/plain"))]


def fresh(options: dict) -> dict:
    """Request options, with an upload's files made anew for each request."""
    return {k: v() if callable(v) else v for k, v in options.items()}


def test_the_api_key_guards_every_api_and_v1_operation(hostile_index):
    _, c = make_client(hostile_index, api_key=KEY)
    good = {"Authorization": f"Bearer {KEY}"}
    with c:
        wait_ready(c, good)
        ops = operations(c)
        assert {p for _, p, _ in ops} >= {"/api/ask", "/api/health", "/v1/chat/completions", "/v1/models"}
        assert all(p.startswith(("/api/", "/v1/")) for _, p, _ in ops)
        job = c.post("/api/documents?wait=true", files=upload(), headers=good).json()["id"]
        for method, path, options in operations(c, job):
            wrong = ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}, {"Authorization": "Basic " + KEY})
            for headers in wrong:
                r = c.request(method, path, headers=headers, **fresh(options))
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (method, path, headers)
            want = 201 if (method, path) == ("POST", "/api/collections") else 200  # 201: a collection made
            assert c.request(method, path, headers=good, **fresh(options)).status_code == want, (method, path)
        c.cookies.set("qa_api_key", KEY)  # the cookie opens the HTML views of documents, not the API
        assert c.get("/api/documents").status_code == 401 and c.get("/documents").status_code == 200
