"""Evidence selection: which sentences of the top passages the model sees, under which headers."""

from __future__ import annotations

from qa.evidence import passage_header, select_evidence
from qa.records import Metadata, Passage

from fakes import FakeEmbedder

TITLE = "Steady progress made in national anti-trafficking efforts, but challenges persist, OSCE report says"
DATE = Metadata(date="18 July 2022")


def passage(n: int, text: str, title: str = TITLE, metadata: Metadata | None = None) -> Passage:
    return Passage(
        f"a.txt#{n}",
        "a.txt",
        title,
        text,
        score=1.0 / n,
        start=100 * n,
        end=100 * n + len(text),
        metadata=DATE if metadata is None else metadata,
    )


def evidence_for(question: str, passages: list[Passage]):
    embedder = FakeEmbedder()
    return select_evidence(question, embedder.embed([question])[0], passages, embedder, n_passages=4, n_sentences=6)


def test_a_long_title_is_cut_to_seven_words_and_keeps_the_date() -> None:
    assert (
        passage_header(passage(1, "x")) == "Steady progress made in national anti-trafficking efforts, … (18 July 2022)"
    )
    assert passage_header(passage(1, "x", "Short title")) == "Short title (18 July 2022)"
    assert passage_header(passage(1, "x", "Short title", metadata=Metadata())) == "Short title"


def test_a_picked_title_line_moves_into_the_header_whole_and_is_not_shown_twice() -> None:
    text = f"{TITLE}\nThe OSCE report on trafficking progress says 34 states criminalise it."
    [shown] = evidence_for("What does the OSCE report on trafficking progress say?", [passage(1, text)])
    assert shown.header == f"{TITLE} (18 July 2022)"
    assert TITLE not in shown.text
    assert shown.text == "The OSCE report on trafficking progress says 34 states criminalise it."
    assert len(shown.spans) == 1


def test_a_title_line_that_is_the_only_pick_stays_as_the_passage_text() -> None:
    [shown] = evidence_for("steady progress trafficking report", [passage(1, TITLE)])
    assert shown.text == TITLE


def test_a_title_already_shown_above_is_only_recalled_in_short() -> None:
    first = passage(1, "The OSCE survey covered 57 states in 2021.")
    second = passage(2, "The OSCE survey found that 34 states criminalise it.")
    shown = evidence_for("What did the OSCE survey of states find?", [first, second])
    assert [e.n for e in shown] == [1, 2]
    assert shown[0].header.startswith("Steady progress made in national anti-trafficking efforts, …")
    assert shown[1].header == "Steady progress made … (18 July 2022)"


def test_sentences_keep_their_document_order_and_offsets() -> None:
    text = "Delegates from 41 countries attended. The weather was fine. The meeting was in Geneva."
    [shown] = evidence_for("How many countries attended the meeting in Geneva?", [passage(1, text, "Meeting")])
    assert [text[start - 100 : end - 100] for start, end in shown.spans] == [
        "Delegates from 41 countries attended.",
        "The meeting was in Geneva.",
    ]  # in document order, at their offsets (the passage starts at 100), the unrelated sentence left out
    assert shown.sentences == ("Delegates from 41 countries attended.", "The meeting was in Geneva.")


def test_titles_do_not_use_up_the_sentences():
    text = f"{TITLE}\nThe report on anti-trafficking progress covers 57 states.\nMinisters met in Vienna in July."
    embedder = FakeEmbedder()
    question = "steady progress in national anti-trafficking efforts report"
    [shown] = select_evidence(question, embedder.embed([question])[0], [passage(1, text)], embedder, 1, 1)
    assert shown.header == f"{TITLE} (18 July 2022)"  # the title, whole, in the header
    assert shown.text == "The report on anti-trafficking progress covers 57 states."  # and still one sentence


def test_a_sentence_inside_a_definition_entry_brings_the_term_it_describes():
    text = (
        "octopus: This resolves cases with more than two heads. It bundles topic branches. "
        "This is the default merge strategy when merging more than one branch.\n"
        "ours: This resolves any number of heads."
    )
    [shown] = evidence_for("default merge strategy when merging more than one branch", [passage(1, text, "MERGE")])
    assert shown.sentences[0] == "octopus: This resolves cases with more than two heads."
    assert "This is the default merge strategy when merging more than one branch." in shown.sentences


def test_a_sentence_that_two_passages_share_is_shown_once():
    shared = "The default merge strategy is ort when merging one branch."
    first = passage(1, f"{shared} Some strategies take options.", "MERGE")
    second = passage(2, f"{shared} The octopus strategy merges more than two heads.", "PULL")
    shown = evidence_for("default merge strategy", [first, second])
    assert sum(e.sentences.count(shared) for e in shown) == 1


def test_today_and_this_year_are_shown_with_the_date_of_their_document_and_quoted_as_written():
    text = "The main findings were presented in Vienna today. This year’s conference had 800 participants."
    [shown] = evidence_for("When were the main findings presented at this year's conference?", [passage(1, text)])
    assert shown.sentences == (
        "The main findings were presented in Vienna today (18 July 2022).",
        "This year’s (2022) conference had 800 participants.",
    )
    [start, end] = shown.spans[0]
    assert text[start - 100 : end - 100] == "The main findings were presented in Vienna today."  # the quote: the source
    [undated] = evidence_for("When were the main findings presented?", [passage(1, text, metadata=Metadata())])
    assert "today." in undated.text and "(" not in undated.text


def test_a_sentence_that_gives_its_date_already_is_shown_as_it_is():
    text = "VIENNA, 18 July 2022 – The report was presented today."
    [shown] = evidence_for("When was the report presented?", [passage(1, text)])
    assert shown.sentences == (text,)
