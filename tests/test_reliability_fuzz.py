"""Fuzzing the HTTP API from its own OpenAPI schema (schemathesis), against the real app with fake models
served by uvicorn on loopback: valid and invalid requests, up to 50 per operation, and never a 500."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from eval.bench.load_server import build_app
from eval.bench.loadtest import free_port

MAX_EXAMPLES = 50
KEY = "fuzz-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
STATUSES: Counter = Counter()  # (operation, status) -> requests, printed at the end for docs/reliability.md


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    app = build_app(tmp_path_factory.mktemp("fuzz"), token_seconds=0, api_key=KEY)  # the schema's bearer auth
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(500):
        try:
            if httpx.get(f"{base}/api/health", headers=AUTH).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    yield base
    server.should_exit = True
    thread.join(10)
    print("\nschemathesis requests by operation and status:", dict(sorted(STATUSES.items())))


def _schema() -> dict:
    """The app's own OpenAPI document; building the app loads nothing (models load in its lifespan)."""
    from qa.assistant import Assistant
    from web.app import create_app

    return create_app(Assistant()).openapi()


# 413 (the 64 KiB body limit) rejects a request as surely as 422 does; and a schema-valid request may still
# be refused with 422 for what a JSON schema cannot say ("   " has no words, the last message must be the user's),
# or with 409 for the state it finds (a collection of that name exists already; a new collection is still empty).
CHECKS = {
    "negative_data_rejection": {"expected-statuses": ["400", "401", "404", "405", "409", "413", "415", "422"]},
    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "404", "409", "413", "422"]},
}
# The fixture sends the bearer key, so a case that leaves it out or mangles it is no negative case here; nor is an
# undeclared query parameter (FastAPI ignores it, as most servers do) or an undeclared header, which can be one
# that frames the HTTP message ("content-length: { B,…", answered 400 by uvicorn before the app sees it).
GENERATION = {"with-security-parameters": False, "allow-extra-parameters": False}
# A multipart part is bytes whatever type the schema gives it ("files" items as integers, "overwrite" an array):
# the upload then refuses each file on its own, in a 200 whose body says why (the other files of an upload
# still go in), so 200 is an answer to a negative case of this one operation.
UPLOAD = {
    "include-path": "/api/documents",
    "include-method": "POST",
    "checks": {
        "negative_data_rejection": {
            "expected-statuses": [*CHECKS["negative_data_rejection"]["expected-statuses"], "200"]
        }
    },
}
# Loaded at collection time: schemathesis' fixture-based loader (`from_fixture`) fails under pytest 9.
schema = schemathesis.openapi.from_dict(
    _schema(),
    config=schemathesis.Config.from_dict({"checks": CHECKS, "generation": GENERATION, "operations": [UPLOAD]}),
)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_answers_500_and_keeps_to_its_schema(case, live_app):
    response = case.call_and_validate(base_url=live_app, headers=AUTH)
    STATUSES[f"{case.operation.label} {response.status_code}"] += 1
