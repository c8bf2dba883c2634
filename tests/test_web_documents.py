"""web/documents.py through the API: upload, index in the background, answer from the new documents, delete;
every refusal says why and changes nothing. Fakes for the models, a real index in a temporary folder."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from documents import docx_bytes, pdf_bytes, pptx_bytes
from fastapi.testclient import TestClient

from eval.bench.load_server import first_sentence_of_passage_1
from index.build import build_index
from qa.assistant import Assistant
from qa.settings import ROOT, Settings
from web.app import create_app
from web.documents import safe_name

from fakes import SUPPORT_MODEL, FailingEmbedder, FakeEmbedder, FakeGenerator

REPORT = docx_bytes("Shelter report", [("Findings", ["The Zanzibar shelter housed 47 survivors in 2025."])])


@pytest.fixture
def corpus(tmp_path):
    shutil.copytree(ROOT / "seeds", tmp_path / "corpus")
    build_index(tmp_path / "corpus", tmp_path / "store", FakeEmbedder())
    return tmp_path


def client_for(tmp_path, api_key=None, index_embedder=None) -> TestClient:
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "store")
    assistant = Assistant(
        settings,
        embedder=FakeEmbedder(),
        generator=FakeGenerator(first_sentence_of_passage_1),
        support_model=SUPPORT_MODEL,
    )
    app = create_app(assistant, api_key=api_key, index_embedder=index_embedder or FakeEmbedder())
    return TestClient(app)


def wait_ready(client, headers=None):
    for _ in range(200):
        if client.get("/api/health", headers=headers).status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError("the app did not load")


def wait_job(client, job_id, headers=None) -> dict:
    for _ in range(400):
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def sources(client) -> set[str]:
    return {d["source"] for d in client.get("/api/documents").json()["documents"]}


def test_uploaded_files_are_indexed_in_the_background_and_answerable_without_a_restart(corpus):
    with client_for(corpus) as client:
        wait_ready(client)
        files = [
            ("files", ("report.docx", REPORT, "application/octet-stream")),
            ("files", ("deck.pptx", pptx_bytes([("Plan", ["Open two shelters in Zanzibar in 2026."])]), "x")),
            ("files", ("scan.pdf", pdf_bytes(["Cover page.", "The Zanzibar office has 12 staff."]), "x")),
        ]
        reply = client.post("/api/documents", files=files)
        assert reply.status_code in (200, 202), reply.text
        body = reply.json()
        assert body["files"] == ["deck.pptx", "report.docx", "scan.pdf"] and body["refused"] == []
        job = wait_job(client, body["id"])
        assert job["state"] == "done", job
        assert set(job["indexed"]) == {"deck.pptx", "report.docx", "scan.pdf"} and min(job["indexed"].values()) >= 1
        assert job["to_embed"] >= 3 and job["embedded"] == job["to_embed"]
        assert {"report.docx", "deck.pptx", "scan.pdf"} <= sources(client)
        assert (corpus / "corpus" / "report.docx").read_bytes() == REPORT
        answer = client.post("/api/ask", json={"question": "How many staff does the Zanzibar office have?"}).json()
        assert any(p["source"] == "scan.pdf" for p in answer["passages"])
        on_page = [p for p in answer["passages"] if p["source"] == "scan.pdf"]
        assert on_page[0]["metadata"]["location"] == "page 2"


def test_wait_true_answers_when_indexed(corpus):
    with client_for(corpus) as client:
        wait_ready(client)
        reply = client.post("/api/documents?wait=true", files=[("files", ("report.docx", REPORT, "x"))])
        assert reply.status_code == 200 and reply.json()["state"] == "done"
        assert "report.docx" in sources(client)


def test_refused_uploads_say_why_and_write_nothing(corpus):
    with client_for(corpus) as client:
        wait_ready(client)
        before = sorted(p.name for p in (corpus / "corpus").iterdir())
        files = [
            ("files", ("../../evil.txt", b"escape attempt", "text/plain")),
            ("files", (".hidden.txt", b"hidden", "text/plain")),
            ("files", ("photo.png", b"\x89PNG", "image/png")),
            ("files", ("broken.docx", b"not a docx", "x")),
            ("files", ("empty.txt", b"   \n", "text/plain")),
            ("files", (before[0], b"A different text under an existing name.", "text/plain")),
        ]
        body = client.post("/api/documents?wait=true", files=files).json()
        reasons = {r["name"]: r["reason"] for r in body["refused"]}
        assert reasons["../../evil.txt"].startswith("file names with '..'")
        assert reasons[".hidden.txt"].startswith("hidden file names")
        assert reasons["photo.png"].startswith("unsupported type .png")
        assert reasons["broken.docx"].startswith("broken DOCX")
        assert reasons["empty.txt"] == "no text"
        assert "already indexed; send overwrite=true" in reasons[before[0]]
        assert body["files"] == [] and body["state"] == "done"
        assert sorted(p.name for p in (corpus / "corpus").iterdir()) == before
        assert not (corpus.parent / "evil.txt").exists()


def test_overwrite_replaces_a_document(corpus):
    with client_for(corpus) as client:
        wait_ready(client)
        client.post("/api/documents?wait=true", files=[("files", ("notes.txt", b"First version about Oslo.", "x"))])
        body = client.post(
            "/api/documents?wait=true",
            files=[("files", ("notes.txt", b"Second version about Bergen.", "x"))],
            data={"overwrite": "true"},
        ).json()
        assert body["state"] == "done" and body["files"] == ["notes.txt"]
        assert "Bergen" in client.get("/api/sources/notes.txt").json()["text"]


def test_delete_removes_the_document_from_the_folder_and_the_index(corpus):
    with client_for(corpus) as client:
        wait_ready(client)
        victim = sorted(sources(client))[0]
        reply = client.delete(f"/api/documents/{victim}?wait=true")
        assert reply.status_code == 200 and reply.json()["state"] == "done", reply.text
        assert victim not in sources(client)
        assert not (corpus / "corpus" / victim).exists()
        assert client.get(f"/api/sources/{victim}").status_code == 404
        assert client.delete(f"/api/documents/{victim}").status_code == 404
        assert client.delete("/api/documents/../store/manifest.json").status_code == 404


def test_a_failed_build_keeps_the_old_index_and_the_folder(corpus):
    with client_for(corpus, index_embedder=FailingEmbedder(fail_on=1)) as client:
        wait_ready(client)
        before_docs = sources(client)
        before_files = sorted(p.name for p in (corpus / "corpus").iterdir())
        body = client.post("/api/documents?wait=true", files=[("files", ("report.docx", REPORT, "x"))]).json()
        assert body["state"] == "failed" and "the index was not changed" in body["error"]
        assert sources(client) == before_docs
        assert sorted(p.name for p in (corpus / "corpus").iterdir()) == before_files
        assert client.post("/api/ask", json={"question": "What is trafficking?"}).status_code == 200


def test_deleting_the_last_document_fails_and_brings_it_back(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "only.txt").write_text("The only document, about Vienna.")
    build_index(tmp_path / "corpus", tmp_path / "store", FakeEmbedder())
    with client_for(tmp_path) as client:
        wait_ready(client)
        body = client.delete("/api/documents/only.txt?wait=true").json()
        assert body["state"] == "failed" and "no readable documents" in body["error"]
        assert (tmp_path / "corpus" / "only.txt").exists() and sources(client) == {"only.txt"}


def test_uploads_and_deletes_need_the_api_key(corpus):
    key = {"Authorization": "Bearer s3cret"}
    with client_for(corpus, api_key="s3cret") as client:
        wait_ready(client, key)
        files = [("files", ("report.docx", REPORT, "x"))]
        assert client.post("/api/documents", files=files).status_code == 401
        assert client.delete("/api/documents/report.docx").status_code == 401
        assert client.post("/api/documents?wait=true", files=files, headers=key).json()["state"] == "done"


def test_an_upload_over_the_request_limit_is_413(corpus, monkeypatch):
    from web.documents import UploadLimits

    monkeypatch.setattr(UploadLimits, "request_bytes", 100_000)
    with client_for(corpus) as client:
        wait_ready(client)
        reply = client.post("/api/documents", files=[("files", ("big.txt", b"word " * 50_000, "text/plain"))])
        assert reply.status_code == 413 and "larger than" in reply.json()["error"]


@pytest.mark.parametrize(
    "name, stored",
    [("report.docx", "report.docx"), ("C:\\Users\\ann\\report.docx", "report.docx"), ("a/b/notes.md", "notes.md")],
)
def test_safe_names_keep_only_the_file_name(name, stored):
    assert safe_name(name) == stored


def test_unknown_query_parameters_and_wrong_methods_are_refused(corpus):
    with client_for(corpus) as client:
        wait_ready(client)
        reply = client.post("/api/documents?wiat=true", files=[("files", ("notes.txt", b"Some text.", "x"))])
        assert reply.status_code == 422 and "unknown query parameter" in reply.json()["error"]
        assert not (corpus / "corpus" / "notes.txt").exists()
        reply = client.request("OPTIONS", "/api/documents")
        assert reply.status_code == 405 and reply.headers["allow"] == "GET, POST"


def test_the_source_view_shows_pages_and_marks_the_quote_on_its_page(corpus):
    with client_for(corpus) as client:
        wait_ready(client)
        pdf = pdf_bytes(["Cover page.", "The Zanzibar office has 12 staff."])
        job = client.post("/api/documents?wait=true", files=[("files", ("scan.pdf", pdf, "x"))]).json()
        assert job["state"] == "done", job
        text = client.get("/api/sources/scan.pdf").json()["text"]
        start = text.index("12 staff")
        page = client.get("/sources/scan.pdf", params={"start": start, "end": start + 8}).text
        labels = re.findall(r'<h2 class="location-label">([^<]+)</h2>', page)
        assert labels == ["page 1", "page 2"]
        assert page.index("Cover page.") < page.index(">page 2<") < page.index('<mark id="hl" tabindex="-1">12 staff')


def test_source_sections_cut_at_locations_and_split_a_span_across_them():
    from qa.records import SourceDoc
    from web.routes import source_sections

    doc = SourceDoc("a.pdf", "AAAA\nBBBB", locations=((0, "page 1"), (5, "page 2")))
    assert source_sections(doc, None) == [
        {"label": "page 1", "pieces": [("AAAA\n", False)]},
        {"label": "page 2", "pieces": [("BBBB", False)]},
    ]
    assert source_sections(doc, (2, 7)) == [
        {"label": "page 1", "pieces": [("AA", False), ("AA\n", True)]},
        {"label": "page 2", "pieces": [("BB", True), ("BB", False)]},
    ]
    plain = SourceDoc("a.txt", "Just text.")
    assert source_sections(plain, (5, 9)) == [{"label": "", "pieces": [("Just ", False), ("text", True), (".", False)]}]
