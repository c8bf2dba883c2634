"""qa/tokens.py, qa/prompt.py and qa/settings.py by example."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.prompt import Evidence, build_extract_prompt, build_prompt, fixed_prefix, judge_messages, read_extract
from qa.settings import Settings
from qa.tokens import fold, numbers, terms, words


def test_terms_are_stemmed_content_words_and_numbers():
    assert terms("Trafficked victims, advertised online: 75%") == ["traffick", "victim", "advertis", "onlin", "75"]
    assert terms("the three of them") == ["3"]  # stop words go, number words become digits


def test_numbers_and_words_and_fold():
    assert numbers("1,200, seven and 75%") == {"1200", "7", "75"}
    assert numbers("seven", words=False) == set()
    assert numbers("in version 3.11") == {"3.11"}  # a version is one token, not 3 and 11
    assert words("Türkiye’s “GRETA”") == ["turkiye's", "greta"]
    assert fold("Ülkü") == "ulku"


def evidence() -> list[Evidence]:
    return [
        Evidence(
            1,
            "Survey report (July 2022)",
            "Only 34 of the 57 do. All 57 signed.",
            [(10, 31), (32, 46)],
            ("Only 34 of the 57 do.", "All 57 signed."),
        ),
        Evidence(2, "Press release", "Malta chaired it.", [(100, 117)], ("Malta chaired it.",)),
    ]


def test_the_prompt_numbers_passages_after_the_fixed_prefix():
    prompt = build_prompt("How many do?", evidence(), "Who signed?", "All 57 did.")
    assert prompt.messages[: len(fixed_prefix())] == list(fixed_prefix())  # cached by llama.cpp
    assert prompt.messages[-1]["content"] == (
        "[1] Survey report (July 2022)\nOnly 34 of the 57 do. All 57 signed.\n[2] Press release\nMalta chaired it.\n"
        "Earlier question: Who signed?\nEarlier answer: All 57 did.\nQuestion: How many do?"
    )


def test_the_extract_prompt_numbers_sentences_and_its_reply_maps_back_to_them():
    prompt = build_extract_prompt("How many do?", evidence())
    assert (
        "(1) Only 34 of the 57 do.\n(2) All 57 signed.\n[2] Press release\n(3) Malta chaired it."
        in (prompt.messages[-1]["content"])
    )
    assert read_extract(prompt, "Evidence: (1) (9) (1)\nAnswer: Only 34 do.") == ([(1, 10, 31)], "Only 34 do.")
    assert read_extract(prompt, "34 do.") == ([], "34 do.")  # not in the format: all answer, no picks


def test_the_judge_shares_the_answer_prompt_prefix():
    messages = judge_messages("Who chaired it?", "Press release: Malta chaired it.")
    assert messages[: len(fixed_prefix())] == list(fixed_prefix())
    assert messages[-1]["content"].startswith("Text: Press release: Malta chaired it.\nQuestion: Who chaired it?")


def test_settings_for_a_folder_keep_its_index_inside_it(tmp_path):
    s = Settings.for_corpus(tmp_path / "notes")
    assert s.corpus_dir == tmp_path / "notes" and s.index_dir == (tmp_path / "notes").resolve() / ".qa-index"
    assert Settings.for_corpus(index_dir=tmp_path / "i").index_dir == tmp_path / "i"


def test_settings_come_from_qa_variables_and_reject_unknown_ones(monkeypatch):
    monkeypatch.setenv("QA_TOP_K", "7")
    assert Settings().top_k == 7
    with pytest.raises(ValueError):
        Settings(unknown_setting=1)


def test_each_profile_has_its_own_support_model(monkeypatch):
    monkeypatch.delenv("QA_SUPPORT_MODEL_PATH", raising=False)
    assert Settings().support_model.name == "support_model.json"
    assert Settings(model_profile="fast").support_model.name == "support_model.fast.json"
    assert Settings(model_profile="fast", model_path=Path("x.gguf")).support_model.name == "support_model.json"
    assert Settings().support_model.is_file()
