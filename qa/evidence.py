"""Evidence: pick the few sentences of the top passages that bear on the question, to keep the prompt short.

    evidence = select_evidence(question, question_vector, passages, embedder, n_passages=4, n_sentences=6)
    evidence[0].n == 1 and "34 of the 57" in evidence[0].text

Prompt tokens are the main cost of an answer here (~80 tokens/s), so the model sees sentences, not chunks.
A sentence's score is its cosine with the question plus a bonus for shared terms; each passage shown keeps
its sentences in document order under a short header (title and date). The header is the only copy of the
title: a picked sentence that is the title line itself moves into the header, whole, instead of being shown
twice (each prompt token costs ~11 ms of time to first token on 2 cores), and titles do not count against
the sentences shown. A sentence shown once is not shown again from an overlapping passage, and a sentence
from inside a definition-list entry comes with the entry's first sentence, which names its term.
"""

from __future__ import annotations

import numpy as np

from qa.embed import Embedder
from qa.language import THIS_YEAR, TODAY, YEAR
from qa.prompt import Evidence
from qa.records import SECTION_SEPARATOR, Passage
from qa.sentences import entry_at, heading, is_anaphoric, sentence_spans
from qa.tokens import terms

LEXICAL_WEIGHT = 0.3
HEADER_WORDS = 7
REPEATED_HEADER_WORDS = 3  # a title already shown above is only recalled
RELATIVE_CUTOFF = 0.3  # sentences scoring this far below the best one are left out of the prompt


def select_evidence(
    question: str,
    question_vector: np.ndarray,
    passages: list[Passage],
    embedder: Embedder,
    n_passages: int = 4,
    n_sentences: int = 6,
) -> list[Evidence]:
    candidates = [
        (n, passage.start + s, passage.start + e, passage.text[s:e])
        for n, passage in enumerate(passages[:n_passages], start=1)
        for s, e in sentence_spans(passage.text)
    ]
    if not candidates:
        return []
    scores = score_sentences(question, question_vector, [c[3] for c in candidates], embedder)
    is_title = [_is_title(c[3], passages[c[0] - 1].title) for c in candidates]
    ranked = np.argsort(-scores, kind="stable")
    # titles go to the headers, so they do not use up the sentences: a title among the top n shows whole
    titles = {int(i) for i in ranked[:n_sentences] if is_title[i]}
    chosen = _distinct([int(i) for i in ranked if not is_title[i]], candidates)[:n_sentences]
    chosen = {i for i in chosen if scores[i] >= scores[chosen[0]] - RELATIVE_CUTOFF} | titles if chosen else titles
    chosen = sorted(chosen | _neighbours(chosen, candidates) | _entry_heads(chosen, passages, candidates))
    evidence, shown_titles = [], set()
    for n, passage in enumerate(passages[:n_passages], start=1):
        picked = [candidates[i] for i in chosen if candidates[i][0] == n]
        titles = [c for c in picked if _is_title(c[3], passage.title)]
        if titles:
            header = passage_header(passage, limit=len(passage.title.split()))  # the whole title, once
        else:
            header = passage_header(passage, REPEATED_HEADER_WORDS if passage.title in shown_titles else HEADER_WORDS)
        picked = [c for c in picked if c not in titles] or picked
        if picked:
            shown = [dated(c[3], passage.metadata.date) for c in picked]
            text = "".join(
                ("\n" if i and _new_line(passage, picked[i - 1], c) else " " if i else "") + shown[i]
                for i, c in enumerate(picked)
            )
            evidence.append(Evidence(n, header, text, [(c[1], c[2]) for c in picked], tuple(shown)))
            shown_titles.add(passage.title)
    return evidence


def dated(sentence: str, date: str) -> str:
    """The sentence with the date its "today" and "this year" mean, when its document has one.

    dated("The findings were presented today.", "18 July 2022")
        == "The findings were presented today (18 July 2022)."
    """
    if not date or date in sentence:
        return sentence
    sentence = TODAY.sub(lambda m: f"{m.group(0)} ({date})", sentence)
    year = YEAR.search(date)
    return THIS_YEAR.sub(lambda m: f"{m.group(0)} ({year.group(0)})", sentence) if year else sentence


def _is_title(sentence: str, title: str) -> bool:
    """The title line itself, or a heading (the header names the heading path already)."""
    return heading(sentence) is not None or (bool(title) and sentence.strip().lstrip("# ").strip() == title.strip())


def _neighbours(chosen: set[int], candidates: list[tuple]) -> set[int]:
    """Sentences that a chosen one depends on or that continue it: "These include …", "He said …"."""
    extra = set()
    for i in chosen:
        if i + 1 < len(candidates) and candidates[i + 1][0] == candidates[i][0]:
            if is_anaphoric(candidates[i + 1][3]) or candidates[i][3].endswith(":"):
                extra.add(i + 1)
        if i > 0 and candidates[i - 1][0] == candidates[i][0] and is_anaphoric(candidates[i][3]):
            extra.add(i - 1)
    return extra


def _distinct(order: list[int], candidates: list[tuple]) -> list[int]:
    """`order` without the repeats of a sentence already in it: overlapping chunks, and pages that include
    the same text (one option described on several manual pages), would show it twice."""
    seen, kept = set(), []
    for i in order:
        key = " ".join(candidates[i][3].split()).casefold()
        if key not in seen:
            seen.add(key)
            kept.append(i)
    return kept


def _entry_heads(chosen: set[int], passages: list[Passage], candidates: list[tuple]) -> set[int]:
    """For a sentence inside a definition-list entry ("octopus: This resolves … This is the default …"), the
    entry's first sentence, which names its term."""
    heads = set()
    for i in chosen:
        n, start = candidates[i][0], candidates[i][1]
        passage = passages[n - 1]
        entry = entry_at(passage.text, start - passage.start)
        if entry is None:
            continue
        line_start = passage.start + entry[0]
        head = next((j for j, c in enumerate(candidates) if c[0] == n and line_start <= c[1]), i)
        if head != i:
            heads.add(head)
    return heads


def _new_line(passage: Passage, before: tuple, after: tuple) -> bool:
    """Whether two picked sentences sit on different lines of the source (list items stay one a line)."""
    return "\n" in passage.text[before[2] - passage.start : after[1] - passage.start]


def score_sentences(question: str, question_vector: np.ndarray, sentences: list[str], embedder: Embedder) -> np.ndarray:
    similarity = embedder.embed(sentences) @ question_vector
    question_terms = set(terms(question))
    overlap = np.array([len(question_terms & set(terms(s))) / max(1, len(question_terms)) for s in sentences])
    return similarity + LEXICAL_WEIGHT * overlap


def passage_header(passage: Passage, limit: int = HEADER_WORDS) -> str:
    """ "New policies needed to combat trafficking in the … (15 February 2022)"; a heading path keeps its
    first and last headings: "Git User Manual › How to get a Git repository"."""
    parts = passage.title.split(SECTION_SEPARATOR)
    title = f"{parts[0]}{SECTION_SEPARATOR}{parts[-1]}" if len(parts) > 2 else passage.title
    words = title.split()
    title = " ".join(words[:limit]) + (" …" if len(words) > limit else "")
    date = passage.metadata.date
    return f"{title} ({date})" if date else title
