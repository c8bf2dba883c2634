"""Bad questions, at both edges: the CLI prints one line and exits non-zero, HTTP answers 4xx JSON; never a
traceback. Questions in other scripts, or with emoji, are answered (or refused) like any other.

The figures of docs/reliability.md come from these cases.
"""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

import qa.assemble
import qa.embed
import qa.generate
from qa.cli import main
from qa.refuse import REFUSAL_TEXT
from qa.settings import ROOT
from web.app import create_app

from fakes import FakeEmbedder, FakeGenerator

ANSWER = "Only 34 of the 57 signatories criminalise it [1]."
Q34 = "How many of the 57 OSCE signatories criminalise the use of victims of trafficking for sexual exploitation?"

BAD = {
    "empty": ("", "empty"),
    "whitespace": ("  \t\n  \u3000 ", "empty"),
    "20000 characters": ("x" * 20_000, "20000 characters long; the limit is 2000"),
    "20000 words": ("word " * 4_000, "characters long; the limit is 2000"),
    "control characters only": ("\x00\x01\x07\x08\x1b\x7f", "empty"),
    "punctuation only": ("?!? … ---", "no words"),
    "emoji only": ("🙂🚀🔥", "no words"),
    "zero-width and bidi marks only": ("\u200b\u200e\u202e", "no words"),
    "lone surrogate (argv bytes that are not UTF-8)": ("How many signatories \udcff?", "not valid UTF-8"),
}
GOOD = {
    "Arabic": "ما هي نسبة ضحايا الاتجار بالبشر الذين يتم الإعلان عنهم عبر الإنترنت؟",
    "Chinese": "在网上被广告的人口贩运受害者占多大比例？",
    "Cyrillic": "Сколько из 57 государств ОБСЕ криминализируют использование жертв торговли людьми?",
    "emoji with words": "🙂 How many of the 57 OSCE signatories criminalise the use of victims? 🚀",
    "control characters inside": "How many of the 57 OSCE\x00 signatories\x1b criminalise\x07 the use of victims?",
    "mixed scripts": "Сколько signatories 的 57 criminalise the use of victims?",
}


@pytest.fixture
def fake_models(monkeypatch):
    generator = FakeGenerator(ANSWER)
    monkeypatch.setattr(qa.embed, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.embed, "OpenVINOEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.assemble, "model_path", lambda settings, progress=None: ROOT / "fake.gguf")
    monkeypatch.setattr(qa.generate, "LlamaCppGenerator", lambda *args, **kwargs: generator)
    return generator


def ask_cli(seed_index, question: str) -> list[str]:
    return ["ask", question, "--corpus", str(seed_index.corpus_dir), "--index", str(seed_index.index_dir)]


@pytest.mark.parametrize("question, says", BAD.values(), ids=BAD.keys())
def test_cli_bad_question_is_one_line_and_a_non_zero_exit(fake_models, seed_index, capsys, question, says):
    assert main(ask_cli(seed_index, question)) == 1
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], err
    assert out == "" and "Traceback" not in err
    assert fake_models.calls == []


@pytest.mark.parametrize("question", GOOD.values(), ids=GOOD.keys())
def test_cli_other_scripts_and_emoji_are_answered_or_refused(fake_models, seed_index, capsys, question):
    assert main(ask_cli(seed_index, question)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    first = out.splitlines()[0]  # the answer (its marker may be moved to the passage that backs it) or a refusal
    assert re.fullmatch(r"Only 34 of the 57 signatories criminalise it \[\d\]\.", first) or first == REFUSAL_TEXT
    assert "Sources:" in out or "Closest passages" in out


def test_cli_json_keeps_other_scripts_intact(fake_models, seed_index, capsys):
    import json

    assert main([*ask_cli(seed_index, GOOD["Chinese"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["question"] == GOOD["Chinese"]


# HTTP -------------------------------------------------------------------------------------------------------


@pytest.fixture
def client(assistant, fake_generator):
    with TestClient(create_app(assistant), raise_server_exceptions=False) as c:
        for _ in range(200):
            if c.get("/api/health").status_code == 200:
                break
            time.sleep(0.01)
        fake_generator.calls.clear()  # the start-up warm-up of the fixed prompt prefix
        yield c


def bodies(question: object) -> dict[str, dict]:
    return {
        "/api/ask": {"question": question},
        "/api/ask/stream": {"question": question},
        "/v1/chat/completions": {"messages": [{"role": "user", "content": question}]},
    }


HTTP_BAD = {
    **{name: q for name, (q, _) in BAD.items() if "surrogate" not in name},
    "null": None,
    "a number": 42,
    "a list": ["What?"],
    "20000 Chinese characters (60 KB)": "问" * 20_000,
}


@pytest.mark.parametrize("question", HTTP_BAD.values(), ids=HTTP_BAD.keys())
def test_http_bad_question_is_422_json(client, fake_generator, question):
    for path, body in bodies(question).items():
        r = client.post(path, json=body)
        assert r.status_code == 422, (path, r.text)
        assert r.headers["content-type"] == "application/json" and set(r.json()) == {"error"}
        assert "Traceback" not in r.text
    assert fake_generator.calls == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"question": "How many signatories \\ud800?"}',
        b'{"messages": [{"role": "user", "content": "How many signatories \\ud800?"}]}',
        b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "Why \\udfff?"}]}]}',
    ],
    ids=["ask", "chat-completions", "chat-completions-parts"],
)
def test_http_lone_surrogates_are_422_not_a_500(client, fake_generator, raw):
    path = "/v1/chat/completions" if b"messages" in raw else "/api/ask"
    r = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]
    assert fake_generator.calls == []


@pytest.mark.parametrize(
    "raw, status",
    [(b"\xff\xfe\x00", 400), (b"{not json", 422), (b"[]", 422), (b"null", 422), (b'{"question": "ok", "x": 1}', 422)],
)
def test_http_malformed_bodies_are_json_errors(client, raw, status):
    r = client.post("/api/ask", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == status and set(r.json()) == {"error"}


@pytest.mark.parametrize("question", GOOD.values(), ids=GOOD.keys())
def test_http_other_scripts_and_emoji_are_answered_or_refused(client, question):
    r = client.post("/api/ask", json={"question": question})
    assert r.status_code == 200
    body = r.json()
    assert body["refused"] or body["citations"]
    stream = client.post("/api/ask/stream", json={"question": question})
    assert stream.status_code == 200 and stream.text.rstrip().endswith("data: {}")  # the "done" event
