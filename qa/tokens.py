"""Tokens: the word-level view of text shared by BM25, citation support and refusal.

    terms("Trafficked victims, advertised online: 75%") == ["traffick", "victim", "advertis", "onlin", "75"]
    numbers("only 34 of the 57 signatories") == {"34", "57"}
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

WORD = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+(?:['’-][^\W\d_]+)*")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that
    the their theirs them themselves then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours yourself yourselves
    according did does many much tell say said says give list name one there's what's who's please""".split()
)  # fmt: skip
NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "hundred": "100",
}  # fmt: skip


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


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
