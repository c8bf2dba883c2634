"""Cite: the `[n]` citation markers of the model's text — read them, and write the verified answer with its own.

    clean, claims = split_claims("Only 34 of the 57 do [2]. B.")   # "Only 34 of the 57 do. B.", 2 claims
    text, citations = cited_text(clean, claims, checks)          # markers from the verified quotes only

The prompt numbers passages [1]..[k]; this module owns that pattern and nothing downstream re-parses model
text. Which passage backs a claim is decided by qa/verify.py: the model's own marker is only a hint, so a
marker on the wrong passage is moved to the one that states the claim, and an unsupported claim is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from qa.records import Citation, ClaimCheck
from qa.sentences import sentence_spans

MARKERS = re.compile(r"\s*((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)")
NUMBER_IN_MARKER = re.compile(r"\d+")
TRAILING = re.compile(r"[\s.,;:!?]*$")


@dataclass(frozen=True)
class Claim:
    start: int  # span in the answer with its markers removed
    end: int
    cited: list[int]  # passage numbers the model gave


def split_claims(answer: str) -> tuple[str, list[Claim]]:
    """The answer without markers, and its claims: stretches ending at a sentence end or a marker group.

    split_claims("A is 1 [2]. B.") == ("A is 1. B.", [Claim(0, 6, [2]), Claim(6, 7, []), Claim(7, 10, [])])
    """
    clean, marks = _strip_markers(answer)
    bounds = sorted({e for _, e in sentence_spans(clean)} | {pos for pos, _ in marks} | {len(clean)})
    claims, start = [], 0
    for bound in bounds:
        if bound <= start:
            continue
        cited = [n for pos, ns in marks if start < pos <= bound for n in ns]
        claims.append(Claim(start, bound, cited))
        start = bound
    return clean, claims


def cited_text(answer: str, checks: list[ClaimCheck], offset: int = 0) -> tuple[str, list[Citation]]:
    """The answer kept to its supported claims, each followed by the markers of its quotes, and the citations.

    A claim that adds nothing to the question (a restatement) stays, unmarked, beside a supported one; a claim
    with content and no support is left out. `offset` renumbers passages (a second sub-question's [1] is [6]).
    """
    clean, claims = split_claims(answer)
    by_text = {c.text: c for c in checks}
    parts: list[str] = []
    citations: dict[tuple[int, int], Citation] = {}
    kept = False
    for claim in claims:
        text = clean[claim.start : claim.end]
        if not any(c.isalnum() for c in text):  # punctuation after a marker ends the kept claim before it
            if parts and kept:
                parts.append(text)
            continue
        check = by_text.get(text.strip())
        kept = check is not None and (check.supported or check.note == "restates the question")
        if check is None or not check.supported:
            if check is not None and check.note == "restates the question":
                parts.append(text)
            continue
        numbers = []
        for quote in check.quotes:
            n = quote.n + offset
            numbers.append(n)
            citations.setdefault((n, quote.start), replace(quote, n=n))
        cut = TRAILING.search(text).start()
        markers = "".join(f"[{n}]" for n in dict.fromkeys(numbers))
        parts.append(f"{text[:cut]} {markers}{text[cut:]}")
    if not any(check.supported for check in checks):
        return "", []
    return "".join(parts).strip(), sorted(citations.values(), key=lambda c: (c.n, c.start))


def _strip_markers(answer: str) -> tuple[str, list[tuple[int, list[int]]]]:
    clean, marks, position = "", [], 0
    for m in MARKERS.finditer(answer):
        clean += answer[position : m.start()]
        marks.append((len(clean), [int(x) for x in NUMBER_IN_MARKER.findall(m.group(1))]))
        position = m.end()
        following = answer[position : position + 1]
        if following and following.isalnum() and not clean.endswith(" "):
            clean += " "
    return clean + answer[position:], marks
