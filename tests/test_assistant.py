"""qa/assistant.py with fake models: answers carry verified citations; refusals still show passages."""

from __future__ import annotations

import pytest

from qa.assistant import Assistant
from qa.errors import BadQuestionError, IndexMismatchError
from qa.questions import check_question, restated_question, standalone_query
from qa.records import Answer
from qa.refuse import REFUSAL_TEXT

from fakes import SUPPORT_MODEL

Q34 = "How many of the 57 OSCE signatories criminalise the use of victims of trafficking for sexual exploitation?"
Q75 = "What percentage of sex trafficking victims are advertised online?"


def test_ask_returns_an_answer_with_verified_citations(assistant, seed_store, fake_generator):
    answer = assistant.ask(Q34)
    assert isinstance(answer, Answer) and not answer.refused and answer.refusal_reason == ""
    assert answer.text == "Only 34 of the 57 signatories criminalise it [1]."
    assert answer.question == answer.search_query == Q34
    assert [c.source for c in answer.citations] == ["002_1544d809993e5293.txt"]
    for c in answer.citations:
        assert seed_store.docs[c.source].text[c.start : c.end] == c.quote
        assert answer.passages[c.n - 1].source == c.source
    assert "only 34 of the 57 signatories" in answer.citations[0].quote
    assert len(answer.passages) == 5
    assert len(fake_generator.calls) == 1


def test_the_prompt_numbers_the_evidence_and_asks_the_question(assistant, fake_generator):
    assistant.ask(Q34)
    messages = fake_generator.calls[0]
    system, user = messages[0], messages[-1]  # a fixed worked example may sit between them
    assert system["role"] == "system" and "[1]" in system["content"]
    assert user["role"] == "user"
    assert user["content"].startswith("[1] ") and user["content"].endswith(f"Question: {Q34}")
    assert "only 34 of the 57 signatories" in user["content"]


def test_a_wrong_citation_number_is_corrected(assistant, fake_generator):
    fake_generator.reply = "75% of sex trafficking victims are advertised online [3]."
    answer = assistant.ask(Q75)
    assert not answer.refused
    assert answer.passages[0].source == "004_c02d08bf38d297e0.txt"
    assert answer.text == "75% of sex trafficking victims are advertised online [1]."
    assert [c.n for c in answer.citations] == [1] and "75%" in answer.citations[0].quote


def test_the_reply_can_depend_on_the_prompt(assistant, fake_generator):
    fake_generator.reply = lambda messages: (
        "75% are advertised online [1]." if "75%" in messages[-1]["content"] else "?"
    )
    assert not assistant.ask(Q75).refused


def test_an_unsupported_answer_is_refused_with_the_closest_passages(assistant, fake_generator):
    fake_generator.reply = "Canberra is the capital [1]."
    answer = assistant.ask("Where are the OSCE headquarters?")
    assert answer.refused and answer.refusal_reason == "claim_not_quoted"  # "Canberra" is in no passage
    assert answer.text == REFUSAL_TEXT and answer.citations == []
    assert len(answer.passages) == 5


def test_a_model_that_declines_is_refused(assistant, fake_generator):
    fake_generator.reply = "The documents do not say."
    answer = assistant.ask("Where are the OSCE headquarters?")
    assert answer.refused and answer.refusal_reason == "model_declined" and answer.passages


def test_low_similarity_refuses_without_generating(settings, fake_embedder, seed_store, fake_generator):
    strict = settings.model_copy(update={"min_similarity": 0.99})
    assistant = Assistant(strict, embedder=fake_embedder, store=seed_store, generator=fake_generator)
    answer = assistant.ask("What does the OSCE say about trafficking?")  # only common words of the corpus
    assert answer.refused and answer.refusal_reason == "low_similarity"
    assert answer.passages and fake_generator.calls == []
    assert answer.usage.completion_tokens == 0


def test_a_rare_word_found_in_a_passage_outweighs_low_similarity(settings, fake_embedder, seed_store, fake_generator):
    strict = settings.model_copy(update={"min_similarity": 0.99})
    assistant = Assistant(strict, embedder=fake_embedder, store=seed_store, generator=fake_generator)
    answer = assistant.ask("What does GRETA stand for?")
    assert answer.refusal_reason != "low_similarity" and len(fake_generator.calls) == 1


@pytest.mark.parametrize("question", ["", "   \n\t ", "a" * 20_000, "\x00\x07\x1b", "?!? …", None, 42])
def test_bad_questions_are_rejected(assistant, fake_generator, question):
    with pytest.raises(BadQuestionError):
        assistant.ask(question)
    assert fake_generator.calls == []


def test_check_question_tidies_whitespace_and_control_characters():
    assert check_question("  How   many\x00 signatories?\n") == "How many signatories?"
    assert check_question("x" * 2000) == "x" * 2000
    with pytest.raises(BadQuestionError, match="2000"):
        check_question("x" * 2001)


def test_a_follow_up_is_searched_with_the_previous_question(assistant, fake_generator):
    history = [
        {"role": "user", "content": "Who chaired the OSCE in 2024?"},
        {"role": "assistant", "content": "Malta chaired the OSCE in 2024 [1]."},
    ]
    answer = assistant.ask("And in 2025?", history)
    assert answer.question == "And in 2025?"
    assert answer.search_query == "Who chaired the OSCE in 2025? And in 2025?"
    prompt = fake_generator.calls[0][-1]["content"]
    assert "Question: Who chaired the OSCE in 2025?" in prompt and "Earlier question" not in prompt


def test_a_follow_up_about_something_else_shows_the_earlier_question(assistant, fake_generator):
    history = [{"role": "user", "content": "Who chaired the OSCE in 2024?"}]
    assistant.ask("When did they start?", history)
    prompt = fake_generator.calls[0][-1]["content"]
    assert "Earlier question: Who chaired the OSCE in 2024?\nQuestion: When did they start?" in prompt


@pytest.mark.parametrize(
    "question, previous, expected",
    [
        ("And in 2025?", "Who chaired the OSCE in 2024?", "Who chaired the OSCE in 2025?"),
        (
            "And which country has it in 2025?",
            "Which country held the OSCE Chairpersonship in 2024?",
            "Which country held the OSCE Chairpersonship in 2025?",
        ),
        ("And how many attended in 2023?", "When was the conference held in 2022?", "And how many attended in 2023?"),
        (
            "And in 2023 or 2024?",
            "Who chaired the OSCE in 2022?",
            "And in 2023 or 2024?",
        ),  # two years: not one question
        ("Who chaired it in 2025?", "Who chaired the OSCE in 2024?", "Who chaired it in 2025?"),  # no "and": as asked
        ("And in 2025?", "Who chairs the OSCE?", "And in 2025?"),  # no year to replace
        ("And in 2025?", "", "And in 2025?"),
    ],
)
def test_restated_question(question, previous, expected):
    assert restated_question(question, previous) == expected


def test_a_new_question_with_history_is_searched_alone(assistant):
    history = [{"role": "user", "content": "Who chaired the OSCE in 2024?"}]
    assert assistant.ask(Q34, history).search_query == Q34


@pytest.mark.parametrize(
    "question, expected",
    [
        ("And in 2025?", "Who chaired the OSCE in 2025? And in 2025?"),  # the year asked about replaces the earlier one
        ("What about Finland?", "Who chaired the OSCE in 2024? What about Finland?"),
        ("When did they start?", "Who chaired the OSCE in 2024? When did they start?"),
        ("How many signatories criminalise victims' use?", "How many signatories criminalise victims' use?"),
    ],
)
def test_standalone_query(question, expected):
    assert standalone_query(question, "Who chaired the OSCE in 2024?") == expected
    assert standalone_query(question, "") == question


def test_ask_stream_yields_text_deltas_then_one_answer(assistant, fake_generator):
    events = list(assistant.ask_stream(Q34))
    deltas, final = events[:-1], events[-1]
    assert len(deltas) > 2 and all(isinstance(e, str) for e in deltas)
    assert "".join(deltas) == fake_generator.reply
    assert isinstance(final, Answer) and not final.refused and final.citations
    assert sum(isinstance(e, Answer) for e in events) == 1
    assert final.usage.completion_tokens == len(deltas)


def test_a_refusal_after_streaming_still_ends_with_one_answer(assistant, fake_generator):
    fake_generator.reply = "Canberra is the capital [1]."
    events = list(assistant.ask_stream("Where are the OSCE headquarters?"))
    assert all(isinstance(e, str) for e in events[:-1]) and events[-1].refused


def test_answers_serialise(assistant):
    data = assistant.ask(Q34).to_dict()
    assert data["citations"][0]["source"] == "002_1544d809993e5293.txt"
    assert set(data) >= {"question", "text", "citations", "passages", "refused", "timings", "search_query"}


def test_the_assistant_loads_and_checks_the_store_itself(settings, fake_embedder, fake_generator):
    assistant = Assistant(settings, embedder=fake_embedder, generator=fake_generator)
    assert not assistant.ask(Q34).refused
    assert assistant.store.manifest.embedding_model == "fake-hash-embedder"


def test_the_assistant_refuses_an_index_built_with_other_settings(settings, fake_embedder, fake_generator):
    other = settings.model_copy(update={"chunk_chars": 300})
    assistant = Assistant(other, embedder=fake_embedder, generator=fake_generator)
    with pytest.raises(IndexMismatchError, match="qa index --rebuild"):
        assistant.ask(Q34)


def test_warm_up_runs_the_fixed_prefix_once(assistant, fake_generator):
    from qa.prompt import fixed_prefix

    assistant.warm_up()
    assert len(fake_generator.calls) == 1
    assert fake_generator.calls[0][: len(fixed_prefix())] == list(fixed_prefix())


def test_a_question_that_asks_two_things_is_answered_in_two_parts(assistant, fake_generator):
    replies = {"chair": "Malta held the Chairpersonship in 2024 [1].", "2025": "Finland holds it in 2025 [1]."}
    fake_generator.reply = lambda messages: replies[
        "2025" if "2025" in messages[-1]["content"].split("Question:")[-1] else "chair"
    ]
    answer = assistant.ask("Which country held the OSCE Chairpersonship in 2024, and which country holds it in 2025?")
    assert len(fake_generator.calls) == 2  # one generation per part
    assert answer.search_query.count(" | ") == 1
    assert len(answer.passages) == 2 * assistant.settings.top_k  # each part's passages, numbered on
    assert all(1 <= c.n <= len(answer.passages) for c in answer.citations)
    assert {c.question for c in answer.checks} == {
        "Which country held the OSCE Chairpersonship in 2024?",
        answer.search_query.split(" | ")[1],
    }


def test_a_follow_up_is_shown_the_earlier_answer(assistant, fake_generator):
    history = [
        {"role": "user", "content": "Tell me about the June 2022 meeting of anti-trafficking co-ordinators."},
        {"role": "assistant", "content": "It was held in Vienna on 13 and 14 June 2022 [1]."},
    ]
    assistant.ask("Who spoke there for the Council of Europe?", history)
    prompt = fake_generator.calls[-1][-1]["content"]
    assert "Earlier question: Tell me about the June 2022 meeting" in prompt
    assert "Earlier answer: It was held in Vienna on 13 and 14 June 2022." in prompt  # its old marker gone


def test_every_claim_of_the_draft_is_in_the_answer_with_its_support(assistant, fake_generator):
    fake_generator.reply = "Only 34 of the 57 signatories criminalise it [1]. Its budget was set by Parliament [2]."
    answer = assistant.ask("How many of the 57 OSCE signatories criminalise the use of victims?")
    assert answer.draft == fake_generator.reply
    assert [c.text for c in answer.checks][:2] == [
        "Only 34 of the 57 signatories criminalise it",
        "Its budget was set by Parliament",
    ]
    assert "budget" not in answer.text  # an unsupported claim is not shown as part of the answer
    assert answer.timings.verify_ms >= 0


def test_the_second_part_of_a_split_question_streams_on_a_new_line(assistant, fake_generator):
    fake_generator.reply = "Malta held it [1]."
    deltas = [
        e
        for e in assistant.ask_stream("Who chaired the OSCE in 2024, and who chairs the OSCE in 2025?")
        if isinstance(e, str)
    ]
    assert "".join(deltas) == "Malta held it [1].\nMalta held it [1]."


def test_in_the_extract_mode_the_picked_sentences_are_the_citations(
    settings, fake_embedder, seed_store, fake_generator
):
    extract = settings.model_copy(update={"answer_mode": "extract"})
    assistant = Assistant(
        extract, embedder=fake_embedder, store=seed_store, generator=fake_generator, support_model=SUPPORT_MODEL
    )

    def reply(messages):
        user = messages[-1]["content"]
        number = next(line.split(")")[0].lstrip("(") for line in user.split("\n") if "only 34 of the 57" in line)
        return f"Evidence: ({number})\nAnswer: Only 34 of the 57 signatories criminalise it."

    fake_generator.reply = reply
    streamed = []
    for event in assistant.ask_stream(Q34):
        if isinstance(event, str):
            streamed.append(event)
        else:
            answer = event
    assert "".join(streamed) == "Only 34 of the 57 signatories criminalise it."  # the picks never stream
    assert not answer.refused and "34 of the 57" in answer.citations[0].quote
    assert answer.text == "Only 34 of the 57 signatories criminalise it [1]."
