"""qa/refuse.py: refusal from measured signals — retrieval similarity and citation support."""

from __future__ import annotations

import pytest

from qa.cite import CiteResult
from qa.records import Passage
from qa.refuse import answer_refusal, retrieval_refusal


def passage(similarity: float) -> Passage:
    return Passage("a.txt#0", "a.txt", "A", "Some text.", score=0.016, similarity=similarity)


def cited(claims: int, supported: int) -> CiteResult:
    return CiteResult("text", [], claims, supported)


def test_no_passages():
    assert retrieval_refusal([], min_similarity=0.3) == "no_passages"


def test_low_similarity_is_judged_by_the_best_passage():
    assert retrieval_refusal([passage(0.10), passage(0.29)], min_similarity=0.3) == "low_similarity"
    assert retrieval_refusal([passage(0.10), passage(0.31)], min_similarity=0.3) == ""
    assert retrieval_refusal([passage(0.30)], min_similarity=0.3) == ""


@pytest.mark.parametrize(
    "raw",
    [
        "The documents do not say.",
        "The passages do not mention the capital of Australia.",
        "This is not mentioned in the documents.",
        "There is no information about that.",
        "I don't know.",
        "The answer cannot be determined from the text.",
    ],
)
def test_model_declined(raw):
    assert answer_refusal("Who?", raw, cited(1, 1)) == "model_declined"


def test_unsupported_answer_is_refused():
    assert answer_refusal("Who said it?", "Canberra is the capital [1].", cited(1, 0)) == "unsupported"
    assert answer_refusal("Who said it?", "Valiant Richey [1].", cited(0, 0)) == "unsupported"


def test_partly_supported_answer_is_refused():
    assert answer_refusal("Who said it?", "A [1]. B [2]. C [3].", cited(3, 1)) == "partly_supported"


def test_supported_answer_is_not_refused():
    assert answer_refusal("Who said it?", "Only 34 of the 57 signatories do [1].", cited(1, 1)) == ""
    assert answer_refusal("Who said it?", "A [1]. B [2].", cited(2, 1)) == ""


def test_a_fact_about_knowledge_is_not_a_refusal():
    assert answer_refusal("Who said it?", "Richey said the crime is now known worldwide [1].", cited(1, 1)) == ""


def test_a_number_asked_about_must_be_in_a_cited_document():
    result = CiteResult("text", [], 1, 1, frozenset({"800"}), frozenset({"23"}))
    assert answer_refusal("How many attended the 23rd conference?", "800 attended [1].", result) == (
        "question_numbers_unmatched"
    )


def test_a_quantity_question_needs_a_backed_number():
    unbacked = CiteResult("text", [], 1, 1, frozenset(), frozenset())
    backed = CiteResult("text", [], 1, 1, frozenset({"17"}), frozenset())
    assert answer_refusal("How many police officers attended?", "Seminars were held [1].", unbacked) == "no_quantity"
    assert answer_refusal("How many States took part?", "17 States took part [1].", backed) == ""
    assert answer_refusal("Who spoke?", "Richey spoke [1].", unbacked) == ""


def test_question_focus_is_the_thing_asked_about():
    from qa.refuse import question_focus

    assert question_focus("What is the OSCE's annual budget?") == {"annual", "budget"}
    assert question_focus("How many police officers attended the seminars?") == {"polic", "offic", "attend"}
    assert question_focus("How many of the 57 signatories do?") == set()
    assert question_focus("Who spoke at the meeting?") == set()


def test_an_answer_about_something_else_than_an_unknown_focus_is_refused():
    from qa.records import Citation

    quote = "The OSCE is launching a major project to support States."
    result = CiteResult("text", [Citation(1, "a.txt", quote, 0, len(quote), 1.0)], 1, 1)
    vocabulary = {"osc", "launch", "major", "project", "support", "state"}
    question = "What is the budget of the OSCE project?"
    assert answer_refusal(question, quote, result, vocabulary) == "focus_not_in_documents"
    assert answer_refusal("What is the project of the OSCE?", quote, result, vocabulary) == ""
    assert answer_refusal(question, quote, result, None) == ""


def test_a_quoted_word_does_not_excuse_a_focus_word_that_no_document_uses():
    from qa.records import Citation

    quote = "- Annual OSCE Mediterranean conferences"
    result = CiteResult("text", [Citation(1, "a.txt", quote, 0, len(quote), 1.0)], 1, 1)
    vocabulary = {"annual", "osc", "mediterranean", "confer"}
    answer = "The OSCE's annual budget is covered by annual OSCE Mediterranean conferences [1]."
    assert answer_refusal("What is the OSCE's annual budget?", answer, result, vocabulary) == "focus_not_in_documents"
    assert answer_refusal("What is the OSCE's annual conference?", answer, result, vocabulary) == ""


def test_a_count_is_not_answered_by_the_days_or_year_of_a_date():
    from qa.refuse import date_numbers

    dated = CiteResult("text", [], 1, 1, frozenset({"15", "22"}), frozenset())
    answer = "Seminars on identifying victims were held from 15 to 22 February [1]."
    assert answer_refusal("How many victims were identified in 2022?", answer, dated) == "no_quantity"
    counted = CiteResult("text", [], 1, 1, frozenset({"15", "22", "40"}), frozenset())
    answer = "From 15 to 22 February, 40 officers were trained [1]."
    assert answer_refusal("How many officers were trained?", answer, counted) == ""
    assert answer_refusal("When were the seminars held?", "From 15 to 22 February [1].", dated) == ""
    assert date_numbers("from 15 to 22 February 2022, 40 came; on March 3 and 2 April") == {"15", "22", "2022", "3", "2"}
