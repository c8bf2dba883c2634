"""qa/cli.py: commands run with the fake models injected; errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import json
import shutil

import pytest

import qa.assemble
import qa.embed
import qa.generate
from qa.cli import main
from qa.errors import CorpusError
from qa.settings import ROOT

from fakes import FakeEmbedder, FakeGenerator

Q34 = "How many of the 57 OSCE signatories criminalise the use of victims of trafficking for sexual exploitation?"


@pytest.fixture
def fake_models(monkeypatch):
    """The CLI builds its own models; these make it build fakes (no model file is ever read)."""
    generator = FakeGenerator("Only 34 of the 57 signatories criminalise it [1].")
    monkeypatch.setattr(qa.embed, "SentenceTransformerEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.embed, "OpenVINOEmbedder", lambda *args, **kwargs: FakeEmbedder())
    monkeypatch.setattr(qa.assemble, "model_path", lambda settings, progress=None: ROOT / "fake.gguf")
    monkeypatch.setattr(qa.generate, "LlamaCppGenerator", lambda *args, **kwargs: generator)
    return generator


@pytest.fixture
def corpus(tmp_path):
    shutil.copytree(ROOT / "seeds", tmp_path / "corpus")
    return tmp_path / "corpus"


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_index_builds_then_is_up_to_date(fake_models, corpus, tmp_path, capsys):
    index_dir = tmp_path / "store"
    assert main(["index", "--corpus", str(corpus), "--index", str(index_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{index_dir}: 5 files, 41 chunks (41 embedded, 0 reused)")
    assert (index_dir / "manifest.json").is_file()
    assert main(["index", "--corpus", str(corpus), "--index", str(index_dir)]) == 0
    assert "index is up to date" in capsys.readouterr().out


def test_index_defaults_to_a_folder_inside_the_corpus(fake_models, corpus, capsys):
    assert main(["index", "--corpus", str(corpus)]) == 0
    assert (corpus / ".qa-index" / "manifest.json").is_file()


def test_index_warns_about_skipped_files(fake_models, corpus, tmp_path, capsys):
    (corpus / "photo.png").write_bytes(b"\x89PNG")
    assert main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "store")]) == 0
    assert "warning: skipped photo.png: unsupported type .png" in capsys.readouterr().err


def test_index_of_a_missing_corpus_is_one_error_line(fake_models, tmp_path, capsys):
    code = main(["index", "--corpus", str(tmp_path / "nowhere"), "--index", str(tmp_path / "store")])
    assert code != 0
    assert "does not exist" in one_error_line(capsys.readouterr().err)


def test_ask_without_an_index_says_to_run_qa_index(fake_models, corpus, tmp_path, capsys):
    code = main(["ask", Q34, "--corpus", str(corpus), "--index", str(tmp_path / "missing")])
    assert code != 0
    assert "qa index" in one_error_line(capsys.readouterr().err)
    assert fake_models.calls == []


def test_ask_prints_the_answer_and_its_sources(fake_models, corpus, tmp_path, capsys):
    index_dir = tmp_path / "store"
    assert main(["index", "--corpus", str(corpus), "--index", str(index_dir)]) == 0
    capsys.readouterr()
    assert main(["ask", Q34, "--corpus", str(corpus), "--index", str(index_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Only 34 of the 57 signatories criminalise it [1].")
    assert "[1] 002_1544d809993e5293.txt (chars" in out


def test_ask_json(fake_models, corpus, tmp_path, capsys):
    index_dir = tmp_path / "store"
    main(["index", "--corpus", str(corpus), "--index", str(index_dir)])
    capsys.readouterr()
    assert main(["ask", Q34, "--json", "--corpus", str(corpus), "--index", str(index_dir)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["refused"] is False and answer["citations"][0]["source"] == "002_1544d809993e5293.txt"


def test_ask_a_bad_question_is_one_error_line(fake_models, corpus, tmp_path, capsys):
    index_dir = tmp_path / "store"
    main(["index", "--corpus", str(corpus), "--index", str(index_dir)])
    capsys.readouterr()
    assert main(["ask", "   ", "--corpus", str(corpus), "--index", str(index_dir)]) != 0
    assert "empty" in one_error_line(capsys.readouterr().err)


def test_unexpected_errors_are_one_line_too(monkeypatch, corpus, tmp_path, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(qa.embed, "embedder_for", broken)
    assert main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "store")]) == 2
    assert "RuntimeError: model exploded" in one_error_line(capsys.readouterr().err)


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: qa" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["eval", "--retrieval-only", "--limit", "3"], ["eval", "--", "--retrieval-only", "--limit", "3"]]
)
def test_eval_and_bench_take_their_own_options_with_or_without_a_separator(monkeypatch, argv) -> None:
    import eval.run

    seen = []
    monkeypatch.setattr(eval.run, "main", lambda rest: seen.append(rest) or 0)
    assert main(argv) == 0
    assert seen == [["--retrieval-only", "--limit", "3"]]


def test_a_failing_delegated_command_is_one_line(monkeypatch, capsys) -> None:
    import eval.bench

    def boom(rest):
        raise CorpusError("index is missing — run `qa index`")

    monkeypatch.setattr(eval.bench, "main", boom)
    assert main(["bench", "--only", "load"]) == 1
    assert capsys.readouterr().err == "error: index is missing — run `qa index`\n"


def test_setup_embeds_again_an_index_of_another_embedding_model_where_index_stops(
    fake_models, monkeypatch, corpus, tmp_path, capsys
):
    """An upgrade that changes the embedder (bfloat16 vectors to int8, say): `qa index` says to rebuild and
    changes nothing; `qa setup`, whose job is a working install, embeds everything again."""
    index_dir = tmp_path / "store"
    assert main(["index", "--corpus", str(corpus), "--index", str(index_dir)]) == 0

    class Other(FakeEmbedder):
        name = "another-embedder"

    monkeypatch.setattr(qa.embed, "OpenVINOEmbedder", lambda *args, **kwargs: Other())
    monkeypatch.setenv("QA_LLM_URL", "http://127.0.0.1:9/v1")  # nothing to assemble
    capsys.readouterr()
    assert main(["index", "--corpus", str(corpus), "--index", str(index_dir)]) == 1
    assert "run `qa index --rebuild`" in one_error_line(capsys.readouterr().err)
    assert json.loads((index_dir / "manifest.json").read_text())["embedding_model"] == FakeEmbedder.name
    assert main(["setup", "--corpus", str(corpus), "--index", str(index_dir)]) == 0
    assert "embedding everything again" in capsys.readouterr().err
    assert json.loads((index_dir / "manifest.json").read_text())["embedding_model"] == "another-embedder"
