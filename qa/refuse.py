"""Refuse: one decision, from the retrieval evidence and the verifier's support scores, never from the model's word.

    retrieval_refusal(passages, min_similarity=0.3) == "low_similarity"     # before generating: off-topic
    answer_refusal(checks) == "low_support"                                 # after: no claim is supported

The small local models never refuse by themselves, so a refusal is decided here:
  no_passages      nothing was retrieved
  low_similarity   the best passage is far from the question, and no rare word of the question is in one
                   (skips generation: ~3 s saved on off-topic questions)
  model_declined   the draft only says that the passages do not answer
  restates_question  the draft only repeats the question
  number_not_quoted  every claim adds a number that no shown sentence holds
  claim_not_quoted   the shown sentences hold little of what any claim says
  low_support      no claim reaches the calibrated support threshold (qa/verify.py)
An unsupported answer is worse than none: the closest passages are returned instead.
"""

from __future__ import annotations

from qa.records import ClaimCheck, Passage

REFUSAL_TEXT = "The documents do not contain an answer to this question."
NOTE_REASONS = {
    "declined": "model_declined",
    "restates the question": "restates_question",
    "number not in the quotes": "number_not_quoted",
    "claim not in the quotes": "claim_not_quoted",
}


def retrieval_refusal(passages: list[Passage], min_similarity: float, rare_term_match: bool = False) -> str:
    """Reason to refuse before generating, or "". A rare word of the question found in a passage
    ("What does GRETA stand for?") outweighs a low embedding similarity."""
    if not passages:
        return "no_passages"
    if max(p.similarity for p in passages) < min_similarity and not rare_term_match:
        return "low_similarity"
    return ""


def answer_refusal(checks: list[ClaimCheck]) -> str:
    """Reason to refuse after verifying, or "" when at least one claim is supported."""
    if any(c.supported for c in checks):
        return ""
    notes = {c.note for c in checks}
    if not checks or notes == {"declined"}:
        return "model_declined"
    scored = [c for c in checks if not c.note]
    if scored:
        return "low_support"
    for note in ("number not in the quotes", "claim not in the quotes", "restates the question", "declined"):
        if note in notes:
            return NOTE_REASONS[note]
    return "low_support"
