"""index/chunk.py: sections, then whole sentences packed into chunks with exact offsets."""

from __future__ import annotations

import pytest

from index.chunk import chunk_corpus, chunk_document, find_sections
from index.clean import clean_corpus
from index.load import load_corpus
from qa.records import Metadata, SourceDoc
from qa.sentences import is_anaphoric, sentence_spans
from qa.settings import ROOT

NEWS = "004_c02d08bf38d297e0.txt"


@pytest.fixture(scope="module")
def clean_seeds() -> dict[str, SourceDoc]:
    return {d.source: d for d in clean_corpus(load_corpus(ROOT / "seeds")[0])}


@pytest.fixture(scope="module")
def seed_chunks(clean_seeds):
    return chunk_corpus(list(clean_seeds.values()))


def news_headlines(doc: SourceDoc) -> list[str]:
    lines = doc.text.split("\n")
    return [line for line, after in zip(lines, lines[1:]) if after.startswith("Publishing date:")]


# --- a known answer, worked by hand ----------------------------------------------------------------------

KNOWN = (
    "# Alpha report\n"  # 0..14
    "The first sentence is here. The second one follows it.\n"  # 15..42, 43..69
    "A third line stands alone.\n"  # 70..96
    "# Beta notes\n"  # 97..109
    "Beta starts now. It ends soon."  # 110..126, 127..140
)


def test_known_answer():
    """target 40, max 80: a chunk closes once it reaches 40 characters; each heading starts a section."""
    chunks = chunk_document(SourceDoc("notes.md", KNOWN, title="Notes"), target_chars=40, max_chars=80)
    assert [(c.chunk_id, c.title, c.start, c.end, c.text) for c in chunks] == [
        ("notes.md#0", "Alpha report", 0, 42, "# Alpha report\nThe first sentence is here."),
        ("notes.md#1", "Alpha report", 43, 96, "The second one follows it.\nA third line stands alone."),
        ("notes.md#2", "Beta notes", 97, 140, "# Beta notes\nBeta starts now. It ends soon."),
    ]
    assert all(c.source == "notes.md" for c in chunks)


def test_max_chars_closes_a_chunk_early():
    """Adding "Bbbb…" would make 45 > 30 characters; a tail is only folded back while it fits in 30."""
    text = "Aaaa aaaa aaaa. Bbbb bbbb bbbb bbbb bbbb bbbb. Cc."
    chunks = chunk_document(SourceDoc("x.txt", text), target_chars=100, max_chars=30)
    assert [c.text for c in chunks] == ["Aaaa aaaa aaaa.", "Bbbb bbbb bbbb bbbb bbbb bbbb.", "Cc."]


def test_a_short_tail_is_folded_into_the_chunk_before():
    text = "One two three four five six. Seven eight nine ten eleven. End."
    chunks = chunk_document(SourceDoc("x.txt", text), target_chars=25, max_chars=200)
    assert [c.text for c in chunks] == ["One two three four five six.", "Seven eight nine ten eleven. End."]


def test_a_sentence_longer_than_max_chars_is_a_chunk_of_its_own():
    long = "Word " + "word " * 60 + "end."
    text = f"Short one. {long} Short two."
    chunks = chunk_document(SourceDoc("x.txt", text), target_chars=20, max_chars=50)
    assert long in [c.text for c in chunks]
    assert all(c.text == text[c.start : c.end] for c in chunks)


def test_headline_with_date_line_starts_a_section():
    text = (
        "Newsroom\n"
        "First item headline about the report\nPublishing date: 15 March 2022\nFirst body.\n"
        "Second item headline about the meeting\nPublishing date: 4 March 2022\nSecond body."
    )
    doc = SourceDoc("news.txt", text, title="Newsroom page", metadata=Metadata(date="1 January 2022"))
    sections = find_sections(doc)
    assert [(s.title, s.metadata.date) for s in sections] == [
        ("Newsroom page", ""),  # the preamble keeps the document's title, but no item's date
        ("First item headline about the report", "15 March 2022"),
        ("Second item headline about the meeting", "4 March 2022"),
    ]
    assert [text[s.start : s.end] for s in sections][2].endswith("Second body.")


def test_a_document_without_sections_keeps_its_metadata():
    doc = SourceDoc(
        "note.txt", "A plain note.\nWith two lines.", title="Note", metadata=Metadata(date="1 January 2022")
    )
    assert [(s.title, s.metadata) for s in find_sections(doc)] == [("Note", Metadata(date="1 January 2022"))]


def test_empty_document_has_no_chunks():
    assert chunk_document(SourceDoc("empty.txt", "")) == []


# --- the seeds -------------------------------------------------------------------------------------------


def test_seed_chunk_offsets_map_back_exactly(clean_seeds, seed_chunks):
    assert seed_chunks
    for c in seed_chunks:
        assert clean_seeds[c.source].text[c.start : c.end] == c.text


def test_seed_chunk_ids_are_source_and_position(clean_seeds, seed_chunks):
    for source in clean_seeds:
        ids = [c.chunk_id for c in seed_chunks if c.source == source]
        assert ids == [f"{source}#{i}" for i in range(len(ids))]
    assert len({c.chunk_id for c in seed_chunks}) == len(seed_chunks)


def test_seed_chunks_never_split_a_sentence(clean_seeds, seed_chunks):
    for source, doc in clean_seeds.items():
        chunks = [c for c in seed_chunks if c.source == source]
        for s, e in sentence_spans(doc.text):
            holders = [c for c in chunks if c.start <= s and e <= c.end]
            partial = [c for c in chunks if c.start < e and s < c.end and not (c.start <= s and e <= c.end)]
            assert holders and not partial, (source, doc.text[s:e])


def test_seed_chunks_are_in_order_and_overlap_only_by_a_leaning_sentence(clean_seeds, seed_chunks):
    by_source: dict[str, list] = {}
    for c in seed_chunks:
        by_source.setdefault(c.source, []).append(c)
    overlaps = 0
    for source, chunks in by_source.items():
        for before, after in zip(chunks, chunks[1:]):
            assert before.start < after.start and before.end < after.end
            if after.start < before.end:  # one shared sentence, followed by one that leans on it
                overlaps += 1
                spans = sentence_spans(clean_seeds[source].text)
                shared = [(s, e) for s, e in spans if after.start <= s and e <= before.end]
                assert len(shared) == 1
                following = next(clean_seeds[source].text[s:e] for s, e in spans if s > shared[0][1])
                assert is_anaphoric(following)
    assert overlaps >= 1  # "These include trafficking for …" brings "Richey highlighted the emerging trends"


def test_seed_chunks_respect_max_chars(seed_chunks):
    for c in seed_chunks:
        longest_sentence = max(e - s for s, e in sentence_spans(c.text))
        assert len(c.text) <= 900 or len(c.text) == longest_sentence


def test_each_news_item_is_its_own_unit(clean_seeds, seed_chunks):
    doc = clean_seeds[NEWS]
    headlines = news_headlines(doc)
    assert len(headlines) == 7
    chunks = [c for c in seed_chunks if c.source == NEWS]
    for c in chunks:
        inside = [h for h in headlines if h in c.text.split("\n")]
        assert len(inside) <= 1, c.chunk_id
        if inside:
            assert c.title == inside[0]
    for headline in headlines:
        first = next(c for c in chunks if c.text.startswith(headline + "\n"))
        assert first.title == headline


def test_news_items_carry_their_own_dates(clean_seeds):
    sections = {s.title: s for s in find_sections(clean_seeds[NEWS])}
    policies = sections["New policies needed to combat trafficking in the internet era, according to OSCE study"]
    assert policies.metadata.date == "15 February 2022"
    assert policies.metadata.content_type == "Press release"
    assert sections[
        "OSCE launches report on Ensuring Justice for Victims of Trafficking in Human Beings"
    ].metadata.to_dict() == {
        "date": "15 March 2022",
        "content_type": "News",
        "office": "OSCE Mission to Bosnia and Herzegovina",
        "topic": "Combating trafficking in human beings",
    }
    tashkent = next(s for title, s in sections.items() if title.startswith("Tashkent"))
    assert tashkent.metadata.date == "28 February 2022"


def test_the_75_percent_sentence_is_in_a_chunk_titled_by_its_item(seed_chunks):
    holder = next(c for c in seed_chunks if "75% of sex trafficking victims" in c.text)
    assert holder.source == NEWS
    assert holder.title.startswith("New policies needed to combat trafficking")
    assert holder.metadata.date == "15 February 2022"


def test_chunk_hash_changes_with_title_and_text():
    a = chunk_document(SourceDoc("x.txt", "Same text here.", title="One title"))[0]
    b = chunk_document(SourceDoc("x.txt", "Same text here.", title="Another title"))[0]
    assert a.text == b.text and a.hash != b.hash
    assert a.embed_text == "One title\nSame text here."


# --- markdown headings -----------------------------------------------------------------------------------


def test_markdown_heading_is_the_section_title_whatever_the_body():
    body = "This single paragraph is a very long one " * 8 + "end."
    doc = SourceDoc("x.md", f"# Short\nYes.\n# Intro\n{body}", title="Doc title")
    assert [s.title for s in find_sections(doc)] == ["Short", "Intro"]


def test_markdown_heading_is_not_a_content_type():
    sections = find_sections(SourceDoc("notes.md", KNOWN, title="Notes"))
    assert [s.metadata.content_type for s in sections] == ["", ""]


def test_a_chunk_that_starts_inside_a_definition_entry_is_titled_by_its_term_too():
    entry = "gc.auto: When there are more than this many loose objects, git gc --auto packs them. " * 6
    text = f"# git-gc(1)\n## CONFIGURATION\n{entry}The default value is 6700.\ngc.autoDetach: Run in background."
    doc = SourceDoc("gc.html", text, "git-gc(1)")
    chunks = chunk_document(doc, target_chars=200, max_chars=300)
    assert chunks[0].title == "git-gc(1) › CONFIGURATION"
    later = [c for c in chunks if "6700" in c.text]
    assert later and later[0].title == "git-gc(1) › CONFIGURATION › gc.auto"
