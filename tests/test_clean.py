"""index/clean.py: boilerplate kept once, nothing else lost, unicode and whitespace normalised."""

from __future__ import annotations

import pytest

from index.clean import clean_corpus, normalise_lines, remove_boilerplate
from index.load import load_corpus
from qa.records import SourceDoc
from qa.settings import ROOT

SEEDS = ROOT / "seeds"
FINLAND = "- Finland – OSCE Chairpersonship 2025"
MENU_SOURCES = ("000_d2af82de5b2a880a.txt", "001_e5d3f000ac43fdea.txt", "003_e1ca93a35730ced3.txt")


@pytest.fixture(scope="module")
def raw_seeds() -> list[SourceDoc]:
    docs, skipped = load_corpus(SEEDS)
    assert skipped == []
    return docs


@pytest.fixture(scope="module")
def clean_seeds(raw_seeds) -> dict[str, SourceDoc]:
    return {d.source: d for d in clean_corpus(raw_seeds)}


# --- the seeds -------------------------------------------------------------------------------------------


def test_seed_menu_is_kept_once_in_the_first_document(raw_seeds, clean_seeds):
    assert all(FINLAND in d.text for d in raw_seeds if d.source in MENU_SOURCES)
    holders = [source for source, d in clean_seeds.items() if FINLAND in d.text.split("\n")]
    assert holders == ["000_d2af82de5b2a880a.txt"]


def test_seed_menu_is_dropped_from_later_documents(clean_seeds):
    for source in MENU_SOURCES[1:]:
        lines = clean_seeds[source].text.split("\n")
        assert "- Arms control" not in lines
        assert "- About us" not in lines
        assert len(lines) < 25  # ~150 menu lines gone, the article stays


def test_seed_articles_are_untouched(raw_seeds, clean_seeds):
    for source in MENU_SOURCES:
        assert "Trafficking" in clean_seeds[source].text
    assert "only 34 of the 57 signatories" in clean_seeds["002_1544d809993e5293.txt"].text


def test_no_seed_line_is_lost(raw_seeds, clean_seeds):
    """Every normalised line of a document is in its cleaned text, or kept by an earlier document."""
    earlier: set[str] = set()
    for raw in raw_seeds:
        kept = set(clean_seeds[raw.source].text.split("\n"))
        lost = [line for line in normalise_lines(raw.text) if line not in kept and line not in earlier]
        assert lost == [], raw.source
        earlier |= kept


def test_differing_lines_inside_the_seed_menu_are_kept(clean_seeds):
    """001 says "Gender Equality Review Conferences" and 003 "Czech Republic" where 000 differs."""
    assert "- Gender Equality Review Conferences" in clean_seeds["001_e5d3f000ac43fdea.txt"].text.split("\n")
    assert "- Czech Republic" in clean_seeds["003_e1ca93a35730ced3.txt"].text.split("\n")


def test_cleaned_seeds_have_no_lone_dashes_or_blank_lines(clean_seeds):
    for doc in clean_seeds.values():
        for line in doc.text.split("\n"):
            assert line.strip() == line and line not in {"", "-"}


def test_seed_metadata(clean_seeds):
    doc = clean_seeds["000_d2af82de5b2a880a.txt"]
    assert doc.metadata.date == "18 July 2022"
    assert doc.metadata.place == "Vienna"
    assert doc.metadata.content_type == "Press release"
    assert doc.title.startswith("Steady progress made in national anti-trafficking efforts, but challenges persist")
    assert clean_seeds["003_e1ca93a35730ced3.txt"].metadata.date == "16 April 2024"
    assert clean_seeds["001_e5d3f000ac43fdea.txt"].metadata.date == "15 June 2022"


def test_a_document_without_a_headline_is_titled_by_its_file_name():
    doc = clean_corpus([SourceDoc("a.txt", "Hi.\nOk.")])[0]
    assert doc.title == "a.txt"


# --- a hand-made corpus ----------------------------------------------------------------------------------

MENU = [f"- Menu item {i}" for i in range(12)]


def _doc(source: str, lines: list[str]) -> SourceDoc:
    return SourceDoc(source, "\n".join(lines))


def test_repeated_block_with_a_differing_line_is_kept_once():
    variant = MENU[:5] + ["- Menu item five, renamed"] + MENU[6:]  # a differing line inside the block
    docs = [
        _doc("a.txt", ["First page of the site.", *MENU, "Fact only in A: the river is 12 km long."]),
        _doc("b.txt", [*variant, "Fact only in B: the bridge opened in 1990."]),
        _doc("c.txt", ["Third page.", *MENU, "Fact only in C: the tower is 80 m tall."]),
    ]
    a, b, c = (d.text.split("\n") for d in clean_corpus(docs))
    assert a == ["First page of the site.", *MENU, "Fact only in A: the river is 12 km long."]
    assert b == ["- Menu item five, renamed", "Fact only in B: the bridge opened in 1990."]
    assert c == ["Third page.", "Fact only in C: the tower is 80 m tall."]


def test_short_repeats_are_not_boilerplate():
    signature = ["Best regards,", "The Team", "Example Street 1"]  # 3 lines < min_block_lines
    docs = [_doc("a.txt", ["Letter A.", *signature]), _doc("b.txt", ["Letter B.", *signature])]
    assert [d.text for d in clean_corpus(docs)] == [d.text for d in docs]


def test_min_block_lines_decides_what_a_block_is():
    block = [f"- Link {i}" for i in range(4)]
    line_lists = [["A.", *block], ["B.", *block]]
    assert remove_boilerplate(line_lists, min_block_lines=10) == line_lists
    assert remove_boilerplate(line_lists, min_block_lines=4) == [["A.", *block], ["B."]]


def test_a_long_line_inside_a_block_ends_it():
    """A headline (more than six words) between shared lines splits the run into two short ones."""
    half1, half2 = MENU[:6], MENU[6:]
    headline = "A headline that is much longer than six words"
    other = "Another long headline of more than six words"
    docs = [["Doc A.", *half1, headline, *half2], ["Doc B.", *half1, other, *half2]]
    assert remove_boilerplate(docs, min_block_lines=10) == docs


# --- normalisation ---------------------------------------------------------------------------------------


def test_lone_dash_and_blank_lines_are_removed():
    assert normalise_lines("Menu\n-\n\n  \n–\n•\nBody.") == ["Menu", "Body."]


def test_dash_list_items_are_kept():
    assert normalise_lines("Fields:\n- Arms control\n- Border management") == [
        "Fields:",
        "- Arms control",
        "- Border management",
    ]


def test_whitespace_is_normalised():
    assert normalise_lines("  Hello\u00a0world\t\tand   tabs \u202f here  ") == ["Hello world and tabs here"]


def test_zero_width_and_soft_hyphen_characters_are_removed():
    lines = normalise_lines("traf\u00adficking\u200d \ufeffvictims\u200c.\nZero\u200bwidth")
    assert lines[0] == "trafficking victims."
    assert all(c not in "".join(lines) for c in "\u200b\u200c\u200d\ufeff\u00ad")


def test_unicode_is_nfkc_and_line_endings_unified():
    assert normalise_lines("ﬁnal ｆｕｌｌ width\r\nWindows\rOld mac\n") == ["final full width", "Windows", "Old mac"]


def test_control_characters_are_removed():
    assert normalise_lines("bell\x07 and\x00 null") == ["bell and null"]


def test_hard_wrapped_lowercase_continuations_are_joined():
    text = "The report was\npublished in July\n2022 by the OSCE.\nA new sentence.\nIt ends here.\nlower after a stop"
    assert normalise_lines(text) == [
        "The report was published in July",
        "2022 by the OSCE.",
        "A new sentence.",
        "It ends here.",
        "lower after a stop",
    ]


def test_a_blank_line_stops_joining():
    assert normalise_lines("first paragraph without a stop\n\nsecond paragraph") == [
        "first paragraph without a stop",
        "second paragraph",
    ]


def test_list_items_are_not_joined():
    assert normalise_lines("Countries\n- albania\n- andorra") == ["Countries", "- albania", "- andorra"]


def test_normalise_lines_is_idempotent_on_the_seeds(raw_seeds):
    for doc in raw_seeds:
        lines = normalise_lines(doc.text)
        assert normalise_lines("\n".join(lines)) == lines
