"""qa/refuse.py: one refusal decision, from retrieval similarity and the verifier's support of each claim."""

from __future__ import annotations

import pytest

from qa.language import DECLINED
from qa.records import ClaimCheck, Passage
from qa.refuse import answer_refusal, retrieval_refusal


def passage(similarity: float) -> Passage:
    return Passage("a.txt#0", "a.txt", "A", "Some text.", score=0.016, similarity=similarity)


def check(supported: bool, note: str = "", support: float = 0.0) -> ClaimCheck:
    return ClaimCheck("A claim", [1], [], {"judge": 0.5} if not note else {}, support, supported, "Q?", note)


def test_no_passages():
    assert retrieval_refusal([], min_similarity=0.3) == "no_passages"


def test_low_similarity_is_judged_by_the_best_passage():
    assert retrieval_refusal([passage(0.10), passage(0.29)], min_similarity=0.3) == "low_similarity"
    assert retrieval_refusal([passage(0.10), passage(0.31)], min_similarity=0.3) == ""
    assert retrieval_refusal([passage(0.30)], min_similarity=0.3) == ""


def test_a_rare_question_word_in_a_passage_outweighs_low_similarity():
    assert retrieval_refusal([passage(0.1)], min_similarity=0.3, rare_term_match=True) == ""


def test_one_supported_claim_is_an_answer():
    assert answer_refusal([check(False, support=0.2), check(True, support=0.9)]) == ""


@pytest.mark.parametrize(
    "checks, reason",
    [
        ([], "model_declined"),
        ([check(False, "declined")], "model_declined"),
        ([check(False, support=0.3)], "low_support"),
        ([check(False, "declined"), check(False, support=0.1)], "low_support"),
        ([check(False, "number not in the quotes")], "number_not_quoted"),
        ([check(False, "restates the question")], "restates_question"),
        ([check(False, "restates the question"), check(False, "number not in the quotes")], "number_not_quoted"),
        ([check(False, "claim not in the quotes")], "claim_not_quoted"),
    ],
)
def test_the_reason_names_what_failed(checks, reason):
    assert answer_refusal(checks) == reason


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
def test_the_ways_a_model_declines(raw):
    assert DECLINED.search(raw)


def test_a_fact_about_knowledge_is_not_a_decline():
    assert not DECLINED.search("The OSCE said victims often do not know their rights.")
