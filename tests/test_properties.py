"""Properties over generated corpora: offsets map back, sentences stay whole, cleaning loses nothing,
re-indexing the same corpus is a no-op."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.build import build_index
from index.chunk import chunk_document
from index.clean import clean_corpus, normalise_lines
from qa.records import SourceDoc
from qa.sentences import is_anaphoric, sentence_spans

from fakes import FakeEmbedder

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORDS = [
    "the",
    "OSCE",
    "report",
    "Dr.",
    "e.g.",
    "34",
    "57",
    "victims",
    "Vienna",
    "online",
    "75%",
    "J.",
    "said",
    "“quoted",
    "text”",
    "(note)",
    "trafficking",
    "Malta",
    "and",
    "in",
    "U.S.",
    "de",
    "Ülkü",
    "…",
    "These",  # a sentence that leans on the one before: the chunker repeats that one (index/chunk.py)
    "It",
    "They",
]
word = st.sampled_from(WORDS)
sentence = st.builds(
    lambda case, first, rest, end: " ".join([case(first), *rest]) + end,
    st.sampled_from([str.capitalize, str.capitalize, str.lower]),  # lower case lines join the line before
    word,
    st.lists(word, max_size=12),
    st.sampled_from([".", "!", "?", ".”", "", ":", "..."]),
)
line = st.one_of(
    st.lists(sentence, min_size=1, max_size=5).map(" ".join),
    st.builds(lambda s: "- " + s, sentence),  # list items
    st.builds(lambda s: "# " + s, sentence),  # headings
    st.builds(lambda s: " \t" + s + "  ", sentence),  # stray whitespace
    st.just("Publishing date: 15 March 2022"),  # starts a news item with the line before it
    st.just(""),
)
text = st.lists(line, min_size=0, max_size=25).map("\n".join)


def assert_every_sentence_in_one_chunk_or_two(text: str, chunks) -> None:
    """No sentence is lost; one is in two chunks only where the second starts with it because the sentence
    after it leans on it ("These include …"): then the chunks overlap by exactly that sentence."""
    spans = sentence_spans(text)
    for k, (s, e) in enumerate(spans):
        holders = [c for c in chunks if c.start <= s and e <= c.end]
        assert holders, text[s:e]
        if len(holders) > 1:
            following = text[spans[k + 1][0] : spans[k + 1][1]] if k + 1 < len(spans) else ""
            assert len(holders) == 2 and holders[1].start == s and is_anaphoric(following), text[s:e]
    for before, after in zip(chunks, chunks[1:]):
        assert before.start < after.start


@SETTINGS
@given(text=text, target=st.integers(20, 300), spare=st.integers(0, 400))
def test_chunks_map_back_and_never_split_a_sentence(text, target, spare):
    doc = SourceDoc("doc.txt", text, title="Title")
    chunks = chunk_document(doc, target_chars=target, max_chars=target + spare)
    for c in chunks:
        assert text[c.start : c.end] == c.text and c.text
    assert_every_sentence_in_one_chunk_or_two(text, chunks)
    assert [c.chunk_id for c in chunks] == [f"doc.txt#{i}" for i in range(len(chunks))]


@SETTINGS
@given(text=text)
def test_chunks_of_cleaned_text_map_back(text):
    doc = clean_corpus([SourceDoc("doc.txt", text)])[0]
    for c in chunk_document(doc, 100, 200):
        assert doc.text[c.start : c.end] == c.text


menu = st.lists(st.builds(lambda s: "- " + s, sentence), min_size=10, max_size=16, unique=True)
body = st.lists(st.lists(sentence, min_size=1, max_size=3).map(" ".join), min_size=0, max_size=6)


@st.composite
def corpora(draw) -> list[str]:
    """A few documents, some starting with a shared menu (a line of it may differ), each with its own body."""
    shared = draw(menu)
    docs = []
    for _ in range(draw(st.integers(1, 5))):
        lines = list(shared) if draw(st.booleans()) else []
        if lines and draw(st.booleans()):
            lines[draw(st.integers(0, len(lines) - 1))] = "- " + draw(sentence)  # a differing line
        docs.append("\n".join(lines + draw(body)))
    return docs


@SETTINGS
@given(texts=corpora())
def test_clean_never_loses_a_non_boilerplate_line(texts):
    docs = [SourceDoc(f"{i:03d}.txt", t) for i, t in enumerate(texts)]
    earlier: set[str] = set()
    for raw, cleaned in zip(docs, clean_corpus(docs)):
        kept = set(cleaned.text.split("\n"))
        assert all(line in kept or line in earlier for line in normalise_lines(raw.text))
        earlier |= kept


@SETTINGS
@given(texts=corpora())
def test_the_first_document_keeps_every_line(texts):
    docs = [SourceDoc(f"{i:03d}.txt", t) for i, t in enumerate(texts)]
    assert clean_corpus(docs)[0].text == "\n".join(normalise_lines(docs[0].text))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=corpora())
def test_reindexing_the_same_corpus_is_a_no_op(texts):
    with tempfile.TemporaryDirectory() as tmp:
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "store"
        corpus.mkdir()
        for i, t in enumerate(texts):
            (corpus / f"{i:03d}.txt").write_text(t + f"\nDocument number {i}.\n", encoding="utf-8")
        embedder = FakeEmbedder()
        first = build_index(corpus, index_dir, embedder)
        embedded = embedder.embedded
        assert embedded == first.chunks
        second = build_index(corpus, index_dir, embedder)
        assert second.unchanged and second.embedded == 0 and embedder.embedded == embedded


# Any text at all: arbitrary unicode (controls, line and paragraph separators, combining marks, characters
# that NFKC rewrites, full-width punctuation), not just sentences made of words.
odd = st.sampled_from(list("ﬁ①Ａ．。！？\u2028\u2029\u0085\r\n\t \u00a0\u200b\u0301\ufeff\x00\x1b.!?…”“\"'()[]0-9•"))
any_text = st.lists(st.one_of(st.characters(codec="utf-8"), odd, word.map(lambda w: w + " ")), max_size=120).map(
    "".join
)


@SETTINGS
@given(texts=st.one_of(corpora(), st.lists(any_text, min_size=1, max_size=4)))
def test_every_sentence_of_the_cleaned_text_is_in_exactly_one_chunk(texts):
    """No sentence of the cleaned text is lost or duplicated by chunking, whatever the input."""
    for doc in clean_corpus([SourceDoc(f"{i:03d}.txt", t) for i, t in enumerate(texts)]):
        chunks = chunk_document(doc, 80, 160)
        for c in chunks:
            assert c.text and doc.text[c.start : c.end] == c.text
        assert_every_sentence_in_one_chunk_or_two(doc.text, chunks)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(any_text, min_size=1, max_size=4))
def test_reindexing_any_text_is_a_no_op_that_leaves_the_files_alone(texts):
    """The saved chunks map back into the saved documents (load_store checks it), and a second build of
    the same files neither embeds nor writes anything."""
    from qa.store import FILES, load_store

    with tempfile.TemporaryDirectory() as tmp:
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "store"
        corpus.mkdir()
        for i, t in enumerate(texts):
            text = t.replace("\x00", "")  # a NUL makes the loader skip the file as binary
            (corpus / f"{i:03d}.txt").write_text(f"Document number {i}.\n{text}", encoding="utf-8")
        embedder = FakeEmbedder()
        build_index(corpus, index_dir, embedder)
        store = load_store(index_dir)
        assert all(store.docs[c.source].text[c.start : c.end] == c.text for c in store.chunks)
        before = {name: (index_dir / name).read_bytes() for name in FILES}
        embedded = embedder.embedded
        second = build_index(corpus, index_dir, embedder)
        assert second.unchanged and embedder.embedded == embedded
        assert {name: (index_dir / name).read_bytes() for name in FILES} == before
