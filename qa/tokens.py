"""Tokens: the word-level view of text shared by BM25, citation support and refusal.

terms("Trafficked victims, advertised online: 75%") == ["traffick", "victim", "advertis", "onlin", "75"]
numbers("only 34 of the 57 signatories") == {"34", "57"}
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from qa.language import MONTHS, NUMBER_WORDS, STEMMER, STOPWORDS  # noqa: F401  (MONTHS: re-exported)

WORD = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+(?:['’-][^\W\d_]+)*")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer(STEMMER)


def fold(text: str) -> str:
    """Lower case without accents: fold("Türkiye") == "turkiye"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return [w.replace("’", "'") for w in WORD.findall(fold(text))]


def terms(text: str) -> list[str]:
    """Stemmed content words and numbers, stopwords removed; the unit of lexical matching."""
    kept = [NUMBER_WORDS.get(w, w) for w in words(text) if w not in STOPWORDS]
    return _stemmer().stemWords([w.rstrip("%") if w[0].isdigit() else w for w in kept])


def numbers(text: str, words: bool = True) -> set[str]:
    """Numbers in digits or words ("one" aside), separators removed: numbers("1,200, seven and 75%") ==
    {"1200", "7", "75"}; with words=False only those written in digits."""
    found = {n.replace(",", "") for n in NUMBER.findall(text)}
    if words:
        found.update(NUMBER_WORDS[w] for w in WORD.findall(text.lower()) if w in NUMBER_WORDS and w != "one")
    return found
