"""qa/sentences.py: sentence spans that map back to the text, across abbreviations, quotes and lines."""

from __future__ import annotations

import pytest

from qa.sentences import entry_at, entry_term, sentence_spans, split_sentences


def test_docstring_example():
    assert sentence_spans("Dr. Kari Johnstone spoke. 75% were online.") == [(0, 25), (26, 42)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Dr. Kari Johnstone spoke. She left.", ["Dr. Kari Johnstone spoke.", "She left."]),
        ("Mr. Smith met Prof. Jones. Then lunch.", ["Mr. Smith met Prof. Jones.", "Then lunch."]),
        ("Tools, e.g. Online ads, grew. Next.", ["Tools, e.g. Online ads, grew.", "Next."]),
        ("Abuse (e.g., online) grew. Next.", ["Abuse (e.g., online) grew.", "Next."]),
        ("That region, i.e. Europe, was hit. Next.", ["That region, i.e. Europe, was hit.", "Next."]),
        ("J. K. Rowling wrote it. Then she left.", ["J. K. Rowling wrote it.", "Then she left."]),
        ("Helga M. Schmid spoke. Richey agreed.", ["Helga M. Schmid spoke.", "Richey agreed."]),
        ("U.S. officials spoke. The U.N. replied.", ["U.S. officials spoke.", "The U.N. replied."]),
        ("See Fig. 3 for data. Then more.", ["See Fig. 3 for data.", "Then more."]),
    ],
)
def test_abbreviations_and_initials_do_not_end_a_sentence(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("“Trafficking is a crime.” She said so.", ["“Trafficking is a crime.”", "She said so."]),
        ('"Is it?" Yes. "It is!" No.', ['"Is it?"', "Yes.", '"It is!"', "No."]),
        (
            "He said: “It feeds off inequality. We act.” Richey agreed.",
            ["He said: “It feeds off inequality.", "We act.”", "Richey agreed."],
        ),
        ("The end (really.) Next one.", ["The end (really.)", "Next one."]),
        ("It grew. “Now we act,” he said.", ["It grew.", "“Now we act,” he said."]),
    ],
)
def test_quotes_and_brackets_stay_with_their_sentence(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Cost 3.5 million. And more.", ["Cost 3.5 million.", "And more."]),
        ("Rose 75%. 34 of 57 did. Wow!", ["Rose 75%.", "34 of 57 did.", "Wow!"]),
        ("Really?! Yes… Fine.", ["Really?!", "Yes…", "Fine."]),
        ("The end...  Next start.", ["The end...", "Next start."]),
        ("lower case. after a stop is not a boundary.", ["lower case. after a stop is not a boundary."]),
    ],
)
def test_numbers_and_punctuation(text, expected):
    assert split_sentences(text) == expected


def test_lines_are_always_boundaries():
    text = "Fields of work\n- Arms control\nA sentence. Another one\nlast line"
    assert split_sentences(text) == ["Fields of work", "- Arms control", "A sentence.", "Another one", "last line"]


def test_spans_map_back_and_exclude_whitespace():
    text = "  Leading space. Two  spaces.\n\n\tTabbed line.  \nEnd"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Leading space.", "Two  spaces.", "Tabbed line.", "End"]
    assert all(text[s:e] == text[s:e].strip() and e > s for s, e in spans)
    assert spans == sorted(spans)


def test_empty_and_blank_text_have_no_sentences():
    assert sentence_spans("") == []
    assert sentence_spans(" \n\n \t") == []


def test_a_definition_line_names_its_term():
    assert entry_term("gc.auto: When there are approximately more than this many loose objects …") == "gc.auto"
    assert entry_term("-u, --update: Update the index just where it already has an entry.") == "-u, --update"
    assert entry_term("os.path.join(path, *paths): Join one or more path segments.") == "os.path.join(path, *paths)"
    assert entry_term("He left early. Then: nothing.") is None  # a sentence ends before the colon
    assert entry_term("## OPTIONS: all") is None
    assert entry_term("https://example.org is the address.") is None


def test_a_sentence_inside_an_entry_finds_the_entry_line_and_its_term():
    text = "OPTIONS\ngc.auto: When there are many loose objects. The default value is 6700.\nOther text."
    later = text.index("The default")
    assert entry_at(text, later) == (8, "gc.auto")
    assert entry_at(text, 8) == (8, "gc.auto")  # the entry's own first sentence
    assert entry_at(text, text.index("Other")) is None
    assert entry_at(text, 0) is None
