"""Language: everything English about the pipeline, in one place, so that a second language is one file.

STOPWORDS, MONTHS, NUMBER_WORDS      words that carry no content; month names; numbers written as words
ABBREVIATIONS, ANAPHORS, SENTENCE_END  where sentences end, and sentences that lean on the one before
DECLINED                              a reply saying the passages do not answer
INSTRUCTION                           text that talks to a model (prompt injection), never evidence
FOLLOW_UP_*, WH                        follow-up questions and question words
TWO_QUESTIONS                         where a question that asks two things divides
YEAR, TODAY, THIS_YEAR                a year; words that mean the day (the year) a dated document was published
"""

from __future__ import annotations

import re

STEMMER = "english"  # PyStemmer's algorithm
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that
    the their theirs them themselves then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours yourself yourselves
    according did does many much tell say said says give list name one there's what's who's please""".split()
)
NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "hundred": "100",
}

# Dates a document gives relative to its own ("Vienna, 18 July 2022 – … presented today"); not "yesterday" or
# "last week", which a date would have to be computed for
YEAR = re.compile(r"\b(?:19|20)\d\d\b")
TODAY = re.compile(r"\btoday\b", re.IGNORECASE)
THIS_YEAR = re.compile(r"\bthis year(?:['’]s)?", re.IGNORECASE)

# Sentences ------------------------------------------------------------------------------------------------

ABBREVIATIONS = {
    "dr",
    "mr",
    "mrs",
    "ms",
    "prof",
    "st",
    "no",
    "nos",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "jr",
    "sr",
    "fig",
    "art",
    "para",
    "approx",
    "inc",
    "ltd",
    "co",
    "u.s",
    "u.k",
    "u.n",
    "gen",
    "col",
    "sen",
    "rep",
    "gov",
}
ANAPHORS = {"these", "this", "they", "it", "he", "she", "his", "her", "their", "its", "such", "those", "there"}
# a sentence may end at . ! ? … (and closing quotes or brackets) before a space; it does when the next word
# starts with a capital letter (any script: "Ü", "Ł") or a digit (qa/sentences.py checks that)
SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?\w)")

# What the model says, and what documents say to it -----------------------------------------------------------

DECLINED = re.compile(
    r"documents do not (say|contain|mention|provide|specify)|(passages|documents|text|context) (do|does) not"
    r"|not (mentioned|provided|specified|stated|available|given)|no information|cannot (answer|be determined)"
    r"|(is|are) not (known|clear)|unable to (answer|determine)|i don't know|i do not know",
    re.IGNORECASE,
)
INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget)\b[^.]{0,40}\b(instructions|rules|prompts?|passages|context|above)\b"
    r"|\b(ai|assistant|chatbot|language model|llm)s? reading this\b"
    r"|\b(tell|inform) the (user|reader)\b|\byou (must|should) (answer|say|reply|respond|tell)"
    r"|^\s*(system|assistant|user)\s*:|<\|im_(start|end)\|>|\bas an ai\b|\b(new|updated) instructions?\b",
    re.IGNORECASE,
)
YES_WORDS = ("yes", "Yes", "YES", " yes", " Yes")
NO_WORDS = ("no", "No", "NO", " no", " No")

# Questions ----------------------------------------------------------------------------------------------------

FOLLOW_UP_WORDS = {
    "it",
    "its",
    "they",
    "them",
    "their",
    "he",
    "she",
    "his",
    "her",
    "that",
    "this",
    "those",
    "these",
    "there",
    "then",
    "same",
    "post",
    "role",
}
FOLLOW_UP_START = ("and ", "and,", "what about", "how about", "also", "what else")
WH = re.compile(r"\b(how many|how much|who|whom|whose|which|what|when|where|why|how)\b", re.IGNORECASE)
# "…, and which country holds it in 2025?" / "…? And how many …?": a second question joined to the first
# (", which" alone is a relative clause, not a second question)
TWO_QUESTIONS = re.compile(
    r"(?:,\s*(?:and|also)\s+|\?\s+(?:and\s+)?|;\s*(?:and\s+)?)"
    r"(?=(?:how many|how much|who|whom|whose|which|what|when|where|why|how)\b)",
    re.IGNORECASE,
)
