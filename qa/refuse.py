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
  no_quantity     the question asks for a quantity or date and the answer backs none
"""

from __future__ import annotations

import re

from qa.cite import CiteResult
from qa.records import Passage

QUANTITY_QUESTION = re.compile(
    r"\b(how (many|much|long|old|often)|what (percentage|percent|share|proportion|number|fraction|date|year)"
    r"|which (date|year)|in what year|when (was|were|did|is|will))\b",
    re.IGNORECASE,
)
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


def answer_refusal(question: str, raw_answer: str, cited: CiteResult) -> str:
    """Reason to refuse after generating, or ""."""
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
    return ""
