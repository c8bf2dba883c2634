"""qa/questions.py: questions split in two, and the turn a follow-up leans on."""

from __future__ import annotations

import pytest

from qa.questions import is_follow_up, previous_turn, split_question
from qa.records import Turn


@pytest.mark.parametrize(
    "question, parts",
    [
        (
            "Which country held the OSCE Chairpersonship in 2024, and which country holds it in 2025?",
            ["Which country held the OSCE Chairpersonship in 2024?", "Which country holds it in 2025?"],
        ),
        (
            "What share of victims are advertised online? How many States hold tech companies liable?",
            ["What share of victims are advertised online?", "How many States hold tech companies liable?"],
        ),
        (
            "Which option removes directories; and which option only shows what would be removed?",
            ["Which option removes directories?", "Which option only shows what would be removed?"],
        ),
    ],
)
def test_a_question_that_asks_two_things_is_split(question, parts):
    assert split_question(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "Which happened first in 2022: the June meeting or the July report?",  # one question about two things
        "What is the report, which the Mission launched in March, called?",  # a relative clause
        "What did Schmid say the report gives us, in terms of where to invest?",  # "where" asks nothing alone
        "Who chaired the OSCE in 2024? And who in 2025?",  # the second part names nothing to ask about
        "Which types of trafficking and which countries were discussed?",  # one list question
    ],
)
def test_a_single_question_is_not_split(question):
    assert split_question(question) == [question]


def test_the_previous_turn_is_the_last_question_and_its_answer_without_markers():
    history = [
        {"role": "user", "content": "First?"},
        {"role": "assistant", "content": "One [1]."},
        {"role": "user", "content": "Second?"},
        {"role": "assistant", "content": "Two [2][3], and more [4]."},
    ]
    assert previous_turn(history) == Turn("Second?", "Two, and more.")
    assert previous_turn(history[:3]) == Turn("Second?", "")
    assert previous_turn([]) == Turn()
    assert previous_turn([{"role": "system", "content": "x"}, "junk"]) == Turn()  # type: ignore[list-item]


@pytest.mark.parametrize(
    "question, follows",
    [
        ("And in 2025?", True),
        ("Who spoke there?", True),
        ("Where was it launched?", True),
        ("Which country chaired the OSCE in 2024?", False),
    ],
)
def test_is_follow_up(question, follows):
    assert is_follow_up(question) is follows
