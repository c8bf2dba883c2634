"""qa/collection.py and the collections through the CLI and the API: each collection is a folder with its own
index and manifest; questions, uploads, deletes and /v1 name one; the default collection stays the default."""

from __future__ import annotations

import shutil

import pytest
from documents import docx_bytes
from fastapi.testclient import TestClient
from test_web_documents import wait_job, wait_ready

from eval.bench.load_server import first_sentence_of_passage_1
from index.build import build_index
from qa.assistant import Assistant
from qa.cli import main
from qa.collection import CollectionExistsError, CollectionNotFoundError, Collections
from qa.errors import BadQuestionError
from qa.settings import ROOT, Settings
from web.app import create_app

from fakes import SUPPORT_MODEL, FakeEmbedder, FakeGenerator

SHELTERS = docx_bytes("Shelters", [("Zanzibar", ["The Zanzibar shelter housed 47 survivors in 2025."])])


@pytest.fixture
def shelf(tmp_path):
    """The seeds as the default collection (indexed), and an empty collections folder."""
    shutil.copytree(ROOT / "seeds", tmp_path / "corpus")
    build_index(tmp_path / "corpus", tmp_path / "store", FakeEmbedder())
    settings = Settings(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "store", collections_dir=tmp_path / "collections"
    )
    return Collections(settings)


def test_the_default_collection_is_the_settings_corpus(shelf):
    default = shelf.get("")
    assert shelf.names() == ["default"]
    assert (default.corpus_dir, default.index_dir) == (shelf.settings.corpus_dir, shelf.settings.index_dir)
    assert shelf.get("default") == default and shelf.settings_for(None) is shelf.settings
    assert default.manifest().n_chunks > 0


def test_a_new_collection_is_a_folder_with_its_own_index(shelf, tmp_path):
    made = shelf.create("reports")
    assert made.corpus_dir == (tmp_path / "collections" / "reports").resolve() and made.corpus_dir.is_dir()
    assert made.manifest() is None and not made.linked
    s = shelf.settings_for("reports")
    assert (s.corpus_dir, s.index_dir) == (made.corpus_dir, made.corpus_dir / ".qa-index")
    assert s.chunker == shelf.settings.chunker  # everything else is the settings'
    assert shelf.names() == ["default", "reports"]


def test_an_existing_folder_is_linked_in_and_indexed_where_it_is(shelf, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Notes\n\nThe Lisbon hotline received 3200 calls in 2024.\n")
    linked = shelf.create("notes", notes)
    assert linked.linked and linked.corpus_dir == notes.resolve()
    assert shelf.settings_for("notes").index_dir == notes.resolve() / ".qa-index"
    assert list(notes.iterdir()) == [notes / "a.md"]  # nothing copied, nothing written yet


@pytest.mark.parametrize("name", ["Reports", "default", "a b", "../x", "-x", "x" * 65, ""])
def test_bad_names_are_refused(shelf, name):
    with pytest.raises(BadQuestionError):
        shelf.create(name)
    assert not (shelf.root / name).exists() or name in ("", "..")


def test_unknown_and_duplicate_collections_are_errors_that_name_the_known_ones(shelf, tmp_path):
    shelf.create("reports")
    with pytest.raises(CollectionExistsError):
        shelf.create("reports")
    with pytest.raises(CollectionNotFoundError, match="collections: default, reports"):
        shelf.get("report")
    with pytest.raises(CollectionNotFoundError, match="not a folder"):
        shelf.create("gone", tmp_path / "missing")
    (shelf.root / "stray.txt").write_text("not a collection")
    assert shelf.names() == ["default", "reports"]


# --- the CLI --------------------------------------------------------------------------------------------------


def test_cli_adds_lists_and_indexes_a_collection(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QA_COLLECTIONS_DIR", str(tmp_path / "collections"))
    monkeypatch.setattr("qa.embed.embedder_for", lambda settings: FakeEmbedder())
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Hotline\n\nThe Lisbon hotline received 3200 calls in 2024.\n")
    assert main(["collection", "add", "notes", str(notes)]) == 0
    assert main(["index", "--collection", "notes"]) == 0
    assert (notes / ".qa-index" / "manifest.json").is_file()
    capsys.readouterr()
    assert main(["collection", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["notes", "1", "documents,"], lines
    assert main(["ask", "--collection", "nope", "What?"]) == 1
    assert "no collection named 'nope'" in capsys.readouterr().err
    assert main(["ask", "--collection", "notes", "--corpus", str(notes), "What?"]) == 1
    assert "either --collection or --corpus" in capsys.readouterr().err


# --- the API ------------------------------------------------------------------------------------------------


def client_for(shelf) -> TestClient:
    assistant = Assistant(
        shelf.settings,
        embedder=FakeEmbedder(),
        generator=FakeGenerator(first_sentence_of_passage_1),
        support_model=SUPPORT_MODEL,
    )
    return TestClient(create_app(assistant, index_embedder=FakeEmbedder()))


def test_a_collection_made_on_the_page_is_filled_by_upload_and_answers_alone(shelf):
    with client_for(shelf) as client:
        wait_ready(client)
        made = client.post("/api/collections", json={"name": "shelters"})
        assert made.status_code == 201 and made.json()["indexed"] is False
        assert client.post("/api/collections", json={"name": "shelters"}).status_code == 409
        assert client.post("/api/collections", json={"name": "No Good"}).status_code == 422
        empty = client.post("/api/ask", json={"question": "How many survivors?", "collection": "shelters"})
        assert empty.status_code == 409 and "no indexed documents yet" in empty.json()["error"]

        files = [("files", ("shelters.docx", SHELTERS, "application/octet-stream"))]
        job = client.post("/api/documents", files=files, data={"collection": "shelters"}).json()
        assert job["collection"] == "shelters"
        assert wait_job(client, job["id"])["state"] == "done"
        assert (shelf.root / "shelters" / "shelters.docx").read_bytes() == SHELTERS
        assert not (shelf.settings.corpus_dir / "shelters.docx").exists()

        listed = {c["name"]: c for c in client.get("/api/collections").json()}
        assert listed["shelters"]["documents"] == 1 and listed["default"]["documents"] == 5
        docs = client.get("/api/documents", params={"collection": "shelters"}).json()["documents"]
        assert [d["source"] for d in docs] == ["shelters.docx"]

        question = "How many survivors did the Zanzibar shelter house?"
        answer = client.post("/api/ask", json={"question": question, "collection": "shelters"}).json()
        assert {p["source"] for p in answer["passages"]} == {"shelters.docx"}
        default = client.post("/api/ask", json={"question": question}).json()
        assert "shelters.docx" not in {p["source"] for p in default["passages"]}
        assert client.get("/api/sources/shelters.docx", params={"collection": "shelters"}).status_code == 200
        assert client.get("/api/sources/shelters.docx").status_code == 404
        page = client.get("/sources/shelters.docx", params={"collection": "shelters"})
        assert page.status_code == 200 and "47 survivors" in page.text
        listing = client.get("/documents", params={"collection": "shelters"}).text
        assert "in shelters" in listing and 'href="/sources/shelters.docx?collection=shelters"' in listing

        # Its last document removed, a collection is empty again (the default corpus may not become empty).
        gone = client.delete("/api/documents/shelters.docx", params={"collection": "shelters", "wait": "true"})
        assert gone.json()["state"] == "done", gone.json()
        assert not (shelf.root / "shelters" / "shelters.docx").exists()
        assert not (shelf.root / "shelters" / ".qa-index").exists()
        again = client.post("/api/ask", json={"question": question, "collection": "shelters"})
        assert again.status_code == 409 and "no indexed documents yet" in again.json()["error"]
        listed = {c["name"]: c for c in client.get("/api/collections").json()}
        assert listed["shelters"]["indexed"] is False and listed["default"]["documents"] == 5

        job = client.post("/api/documents", files=files, data={"collection": "shelters"}).json()  # and refilled
        assert wait_job(client, job["id"])["state"] == "done"
        answer = client.post("/api/ask", json={"question": question, "collection": "shelters"}).json()
        assert {p["source"] for p in answer["passages"]} == {"shelters.docx"}


def test_unknown_collections_are_404_everywhere(shelf):
    with client_for(shelf) as client:
        wait_ready(client)
        for reply in (
            client.post("/api/ask", json={"question": "Who?", "collection": "nope"}),
            client.post("/api/ask/stream", json={"question": "Who?", "collection": "nope"}),
            client.get("/api/documents", params={"collection": "nope"}),
            client.get("/api/sources/x.txt", params={"collection": "nope"}),
            client.delete("/api/documents/x.txt", params={"collection": "nope"}),
            client.post("/api/documents", files=[("files", ("a.docx", SHELTERS, "x"))], data={"collection": "nope"}),
        ):
            assert reply.status_code == 404, reply.text
            assert "no collection named 'nope'" in reply.json()["error"]


def test_v1_model_names_a_collection_and_models_lists_them(shelf, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Hotline\n\nThe Lisbon hotline received 3200 calls in 2024.\n")
    shelf.create("notes", notes)
    build_index(notes, notes / ".qa-index", FakeEmbedder())
    with client_for(shelf) as client:
        wait_ready(client)
        ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert ids[1:] == ["default", "notes"] and ids[0]  # the chat model first, for clients that take the first
        messages = [{"role": "user", "content": "How many calls did the Lisbon hotline receive?"}]
        reply = client.post("/v1/chat/completions", json={"model": "notes", "messages": messages}).json()
        assert reply["model"] == "notes" and {s["source"] for s in reply["sources"]} <= {"a.md"}
        assert reply["sources"], reply
        other = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": messages}).json()
        assert other["model"] == ids[0]  # any other model name: the default collection, as before
        assert "a.md" not in {s["source"] for s in other["sources"]}
