"""index/metadata.py: title, date, place and content type read from a document's lines."""

from __future__ import annotations

from index.metadata import extract_metadata, is_date_key, key_of
from qa.records import Metadata


def test_a_press_release_gives_its_title_type_place_and_date():
    lines = [
        "Press release",
        "Steady progress made in national efforts",
        "- Date:",
        "- Place:",
        "- VIENNA",
        "VIENNA, 18 July 2022 – While ...",
    ]
    assert extract_metadata(lines) == (
        "Steady progress made in national efforts",
        Metadata(content_type="Press release", place="Vienna", date="18 July 2022"),
    )


def test_key_lines():
    assert key_of("Publishing date: 15 March 2022") == ("date", "15 March 2022")
    assert key_of("The date: is not a key") is None
    assert is_date_key("- Date:") and not is_date_key("- Place:")


def test_a_top_heading_names_the_document():
    assert extract_metadata(["# git-clean(1) Manual Page", "## NAME", "git-clean - Remove files"])[0] == (
        "git-clean(1) Manual Page"
    )


def test_a_date_anywhere_dates_the_document_when_no_key_does():
    assert extract_metadata(["Some headline of a story here", "It happened on March 3, 2021 in Oslo."])[1] == Metadata(
        date="March 3, 2021"
    )


def test_key_lines_give_date_type_and_topic():
    lines = [
        "Tashkent to host a high-level conference",
        "Publishing date: 28 February 2022",
        "Content type: Press release",
        "What we do: Countering terrorism",
    ]
    title, fields = extract_metadata(lines)
    assert title == "Tashkent to host a high-level conference"
    assert fields.to_dict() == {
        "date": "28 February 2022",
        "content_type": "Press release",
        "topic": "Countering terrorism",
    }
