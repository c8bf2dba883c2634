"""Questions: what was asked, made ready to answer — checked, joined to the conversation, split in two.

check_question("  What is GRETA? ") == "What is GRETA?"              # BadQuestionError for bad input
standalone_query("And in 2024?", "Who chaired the OSCE in 2023?") == "Who chaired the OSCE in 2024? And in 2024?"
split_question("Who chaired it in 2024, and who chairs it in 2025?")
    == ["Who chaired it in 2024?", "Who chairs it in 2025?"]
"""

from __future__ import annotations

import re

from qa.cite import split_claims
from qa.errors import BadQuestionError
from qa.language import FOLLOW_UP_START, FOLLOW_UP_WORDS, TWO_QUESTIONS, WH, YEAR
from qa.records import Turn
from qa.tokens import terms, words

MAX_QUESTION_CHARS = 2000
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MIN_PART_TERMS = 2  # each half of a split question must ask about something


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise BadQuestionError("the question must be text")
    if any("\ud800" <= c <= "\udfff" for c in question):
        raise BadQuestionError("the question is not valid text (lone surrogate characters)")
    question = " ".join(CONTROL.sub(" ", question).split())
    if not question:
        raise BadQuestionError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadQuestionError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    if not words(question):
        raise BadQuestionError("the question has no words")
    return question


def previous_turn(history: list[dict[str, str]]) -> Turn:
    """The last user message of the history and the assistant's reply to it (its old [n] markers removed:
    they numbered passages of another question), if any."""
    messages = [m for m in history if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            reply = messages[i + 1].get("content", "") if i + 1 < len(messages) else ""
            return Turn(str(messages[i].get("content", "")).strip(), split_claims(str(reply))[0].strip())
    return Turn()


def previous_question(history: list[dict[str, str]]) -> str:
    return previous_turn(history).question


def is_follow_up(question: str) -> bool:
    """Leans on the turn before: "And in 2024?", "Who spoke there?", or two content words or fewer."""
    return (
        question.lower().startswith(FOLLOW_UP_START)
        or bool(FOLLOW_UP_WORDS & set(words(question)))
        or len(terms(question)) <= 2
    )


def standalone_query(question: str, previous: str) -> str:
    """The question to search for: a follow-up ("And in 2024?") is joined to the question before it."""
    if not previous or not is_follow_up(question):
        return question
    years_now = YEAR.findall(question)
    if years_now:  # "And in 2024?" asks the earlier question about another year
        previous = YEAR.sub(years_now[0], previous)
    return f"{previous} {question}"


def restated_question(question: str, previous: str) -> str:
    """What the model is asked: a follow-up that asks the earlier question about another year is that question.

    restated_question("And who held the post in 2025?", "Who was the Representative in 2024?")
        == "Who was the Representative in 2025?"
    Anything else is asked as it is (the prompt then shows the earlier question beside it).
    """
    years_now, years_before = YEAR.findall(question), YEAR.findall(previous)
    if not previous or len(set(years_now)) != 1 or not years_before or not question.lower().startswith(FOLLOW_UP_START):
        return question
    asks, asked = _wh(question), _wh(previous)
    if asks and asks != asked:  # "And how many came in 2025?" after "When was it in 2024?" is a new question
        return question
    return YEAR.sub(years_now[0], previous)


def split_question(question: str) -> list[str]:
    """A question that asks two things, as two questions; any other question as itself.

    A split happens where a question word follows ", and", "?" or ";", when the part before it is itself a
    question (it has a question word) and each part asks about something. The second part may lean on the
    first ("…, and which country holds it in 2025?"): it is answered as a follow-up of the first.
    """
    for m in TWO_QUESTIONS.finditer(question):
        first, second = question[: m.start()].strip(" ,;"), question[m.end() :].strip()
        if not WH.search(first) or len(terms(first)) < MIN_PART_TERMS or len(terms(second)) < MIN_PART_TERMS:
            continue
        first = first if first.endswith("?") else first + "?"
        return [first, *split_question(second[:1].upper() + second[1:])]
    return [question]


def _wh(text: str) -> str:
    match = WH.search(text)
    return match.group(1).lower() if match else ""
