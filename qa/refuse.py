"""Refuse: decide, from measured signals rather than the model's word, that the documents hold no answer.

    refusal_reason(passages, "Canberra is the capital.", cited, min_similarity=0.3) == "unsupported"

Signals, in order (the small local models never refuse by themselves, so none of this trusts them):
  no_passages     nothing was retrieved
  low_similarity  the best passage is far from the question (off-topic questions; skips generation)
  model_declined  the model said the passages do not answer
  unsupported     no claim of the answer is backed by a sentence of the passages (cite.py)
  partly_supported  most claims of the answer are not backed
  question_numbers_unmatched  a number or year the question asks about ("the 23rd conference", "in 2026")
                  appears in none of the cited documents
  no_quantity     the question asks for a quantity or date and the answer backs none (for "how many",
                  a day or year of a date is not a count)
  focus_not_in_documents  a word of the thing asked about ("the annual budget") is in no document:
                  the model answered a neighbouring question
"""

from __future__ import annotations

import re
from typing import Container

from qa.cite import CiteResult
from qa.records import Passage
from qa.tokens import MONTHS, numbers, terms

QUANTITY_QUESTION = re.compile(
    r"\b(how (many|much|long|old|often)|what (percentage|percent|share|proportion|number|fraction|date|year)"
    r"|which (date|year)|in what year|when (was|were|did|is|will))\b",
    re.IGNORECASE,
)
COUNT_QUESTION = re.compile(
    r"\bhow (many|much)\b|\bwhat (number|percentage|percent|share|proportion)\b", re.IGNORECASE
)
DATE_PARTS = re.compile(
    rf"\b\d{{1,2}}(?:\s*(?:-|–|to|and)\s*\d{{1,2}})?\s+(?:{MONTHS})\b|\b(?:{MONTHS})\s+\d{{1,2}}\b|\b(?:19|20)\d\d\b"
)
FOCUS = re.compile(r"\b(?:how (?:many|much)|what (?:is|was|are|were) the)\s+(.*)", re.IGNORECASE)
FOCUS_STOP = set("of for in on at to from did does do is are was were has have had can could will would by with about".split())
REFUSAL_TEXT = "The documents do not contain an answer to this question."
DECLINED = re.compile(
    r"documents do not (say|contain|mention|provide|specify)|(passages|documents|text|context) (do|does) not"
    r"|not (mentioned|provided|specified|stated|available|given)|no information|cannot (answer|be determined)"
    r"|(is|are) not (known|clear)|unable to (answer|determine)|i don't know|i do not know",
    re.IGNORECASE,
)


def retrieval_refusal(passages: list[Passage], min_similarity: float, rare_term_match: bool = False) -> str:
    """Reason to refuse before generating, or "". A rare word of the question found in a passage
    ("What does GRETA stand for?") outweighs a low embedding similarity."""
    if not passages:
        return "no_passages"
    if max(p.similarity for p in passages) < min_similarity and not rare_term_match:
        return "low_similarity"
    return ""


def answer_refusal(
    question: str, raw_answer: str, cited: CiteResult, vocabulary: Container[str] | None = None
) -> str:
    """Reason to refuse after generating, or "". `vocabulary` holds every term of the corpus."""
    if DECLINED.search(raw_answer):
        return "model_declined"
    if cited.supported == 0:
        return "unsupported"
    if cited.supported * 2 < cited.claims:
        return "partly_supported"
    if cited.unmatched_question_numbers:
        return "question_numbers_unmatched"
    if QUANTITY_QUESTION.search(question) and not cited.backed_numbers:
        return "no_quantity"
    if COUNT_QUESTION.search(question) and not cited.backed_numbers - date_numbers(raw_answer):
        return "no_quantity"  # "How many victims …?" answered with "from 15 to 22 February"
    if vocabulary is not None and _focus_unknown(question, vocabulary):
        return "focus_not_in_documents"
    return ""


def question_focus(question: str) -> set[str]:
    """The thing asked about: question_focus("What is the OSCE's annual budget?") == {"annual", "budget"}."""
    m = FOCUS.search(question)
    if not m:
        return set()
    kept = []
    for word in re.findall(r"[\w’'-]+", m.group(1)):
        if word.lower() in FOCUS_STOP:
            break
        if not word.endswith(("'s", "’s")):  # "the OSCE's budget": the owner is not the thing asked about
            kept.append(word)
        if len(kept) == 3:
            break
    return {t for t in terms(" ".join(kept)) if not t.isdigit()}


def date_numbers(text: str) -> set[str]:
    """Numbers that are days or years of dates: date_numbers("from 15 to 22 February 2022, 40 came") ==
    {"15", "22", "2022"}."""
    return {n for m in DATE_PARTS.finditer(text) for n in numbers(m.group(0), words=False)}


def _focus_unknown(question: str, vocabulary: Container[str]) -> bool:
    """Part of what was asked is a word the corpus never uses ("budget", "staff"), so no quote can be about
    it, even if another word of it is quoted ("annual"): the model answered a neighbouring question.
    On eval/gold.jsonl a focus word is in no document for 8 of the 14 unanswerable questions, and for 2
    answerable paraphrases whose wording the documents do not use ("signed up" for "registered")."""
    return any(t not in vocabulary for t in question_focus(question))
