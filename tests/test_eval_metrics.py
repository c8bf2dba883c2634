"""Known-answer tests of the eval's metric functions (eval/metrics.py): hand-worked examples, no models."""

from __future__ import annotations

import json

import pytest

from eval.aggregate import aggregate, percentile
from eval.dataset import CORPORA, GoldError, Suite, load_gold, load_suite, parse_item, suites
from eval.gate import check_thresholds, outcome_changes, summary_line
from eval.metrics import (
    CitationCheck,
    ItemResult,
    answer_correct,
    claim_words,
    diagnose,
    faithfulness_counts,
    file_accurate,
    file_precision,
    file_recall,
    hit_rank,
    missing_groups,
    normalize,
    quote_valid,
    recall_at_k,
    reciprocal_rank,
    sentence_faithful,
)

A, B, C = "a.txt", "b.txt", "c.txt"


# answer.accuracy -------------------------------------------------------------------------------------------


def test_normalize_folds_case_accents_and_spaces():
    assert normalize("  Türkiye\n ÉCOLE  ") == "turkiye ecole"


def test_missing_groups_needs_one_alternative_of_every_group():
    groups = [["18 July 2022", "July 18, 2022"], ["Vienna"]]
    assert missing_groups("Presented on july 18, 2022 in VIENNA [1].", groups) == ()
    assert missing_groups("Presented on 18 July 2022.", groups) == (("Vienna",),)
    assert missing_groups("Anything", []) == ()


def test_missing_groups_is_accent_insensitive_both_ways():
    assert missing_groups("Turkiye", [["Türkiye"]]) == ()
    assert missing_groups("Türkiye", [["turkiye"]]) == ()


def test_a_refused_answer_is_never_correct():
    assert answer_correct("Malta", False, [["Malta"]])
    assert not answer_correct("Malta", True, [["Malta"]])


# retrieval -------------------------------------------------------------------------------------------------


def test_hit_rank_recall_and_reciprocal_rank():
    retrieved = [C, B, A, A]
    assert hit_rank(retrieved, {A}) == 3
    assert hit_rank(retrieved, {A, B}) == 2
    assert hit_rank(retrieved, {"z.txt"}) is None
    assert recall_at_k(retrieved, {A}, 1) == 0.0
    assert recall_at_k(retrieved, {A}, 3) == 1.0
    assert reciprocal_rank(retrieved, {A}) == pytest.approx(1 / 3)
    assert reciprocal_rank(retrieved, {A}, k=2) == 0.0
    assert reciprocal_rank([], {A}) == 0.0


# citations -------------------------------------------------------------------------------------------------


def test_file_precision_recall_and_accuracy():
    assert file_precision({A, C}, {A, B}) == 0.5
    assert file_recall({A, C}, {A, B}) == 0.5
    assert file_precision(set(), {A}) == 0.0 and file_recall(set(), {A}) == 0.0
    assert file_accurate({A}, {A, B})
    assert not file_accurate({A, C}, {A, B})
    assert not file_accurate(set(), {A})


def test_quote_valid_checks_text_at_offsets():
    source = "Intro. Only 34 of the 57 signatories do. End."
    assert quote_valid("Only 34 of the 57 signatories do.", source, 7, 40)
    assert not quote_valid("Only 34 of the 57 signatories do.", source, 6, 39)
    assert not quote_valid("", source, 0, 0)
    assert not quote_valid("End.", source, 42, 99)


# faithfulness ----------------------------------------------------------------------------------------------


def test_claim_words_skips_the_first_word_and_strips_possessives():
    assert claim_words("In 2024 Malta chaired the OSCE's Council.") == ({"2024"}, {"malta", "osce", "council"})
    assert claim_words("75% of victims are advertised online.") == ({"75"}, set())
    assert claim_words("Only 1,200 came from Türkiye.") == ({"1200"}, {"turkiye"})
    assert claim_words("Only three States met.") == (set(), {"states"})  # numbers are the ones in digits


def test_sentence_faithful_needs_every_number_and_name_in_the_quotes():
    quotes = ["The 24th Alliance conference was opened by Ian Borg of Malta in 2024."]
    assert sentence_faithful("It was opened by Ian Borg in 2024.", quotes)
    assert not sentence_faithful("It was opened by Ian Borg in 2025.", quotes)
    assert not sentence_faithful("It was opened by Helga Schmid.", quotes)
    assert sentence_faithful("The conference was opened.", [])  # nothing checkable: vacuously faithful


def test_faithfulness_counts_strips_markers_before_splitting():
    quotes = ["Valiant Richey spoke in Vienna."]
    assert faithfulness_counts("Valiant Richey spoke [1]. He was in Vienna [1].", quotes) == (2, 2)
    assert faithfulness_counts("Valiant Richey spoke [1]. He was in Prague [2].", quotes) == (1, 2)


# aggregation -----------------------------------------------------------------------------------------------


def test_percentile_interpolates_linearly():
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert percentile([7], 95) == 7
    assert percentile([], 50) is None


def _result(id, type, answer="", refused=False, gold=(A,), retrieved=(A,), cited=(), valid=True, **kw):
    answerable = type not in ("unanswerable", "off_topic")
    citations = tuple(CitationCheck(1, s, "q", 0, 1, valid) for s in cited)
    return ItemResult(
        id,
        type,
        ("Q?",),
        answerable,
        gold if answerable else (),
        "Q?",
        retrieved,
        answer,
        refused,
        citations=citations,
        **kw,
    )


def _fixture_results():
    # sf-1 correct, cites a gold file; sf-2 wrong, cites a wrong file, retrieval rank 2; sf-3 falsely refused;
    # un-1 refused; un-2 not refused.
    return [
        _result(
            "sf-1",
            "single_fact",
            "Malta [1].",
            cited=(A,),
            sentences=1,
            faithful_sentences=1,
            timings={
                "retrieve_ms": 10,
                "ttft_ms": 1000,
                "generate_ms": 2000,
                "total_ms": 2000,
                "prompt_tokens": 300,
                "completion_tokens": 10,
            },
        ),
        _result(
            "sf-2",
            "single_fact",
            "Gozo [1].",
            retrieved=(B, A),
            cited=(B,),
            missing=(("Malta",),),
            sentences=1,
            faithful_sentences=0,
            timings={
                "retrieve_ms": 30,
                "ttft_ms": 3000,
                "generate_ms": 4000,
                "total_ms": 4000,
                "prompt_tokens": 500,
                "completion_tokens": 30,
            },
        ),
        _result(
            "sf-3",
            "single_fact",
            "refused",
            refused=True,
            retrieved=(C, C),
            missing=(("Malta",),),
            timings={"retrieve_ms": 20, "total_ms": 20},
        ),
        _result("un-1", "unanswerable", "refused", refused=True, timings={"retrieve_ms": 20, "total_ms": 30}),
        _result(
            "un-2",
            "unanswerable",
            "Yes [1].",
            cited=(C,),
            valid=False,
            sentences=2,
            faithful_sentences=1,
            timings={
                "retrieve_ms": 20,
                "ttft_ms": 2000,
                "generate_ms": 3000,
                "total_ms": 3000,
                "prompt_tokens": 400,
                "completion_tokens": 20,
            },
        ),
    ]


def test_aggregate_known_answers():
    m = aggregate(_fixture_results())
    assert m["count.items"] == 5
    assert m["retrieval.recall@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["retrieval.recall@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["retrieval.mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert m["answer.accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["citation.precision"] == 0.5  # over sf-1 and sf-2: the non-refused answerable items
    assert m["citation.recall"] == 0.5
    assert m["citation.file_accuracy"] == 0.5
    assert m["citation.quote_validity"] == pytest.approx(2 / 3, abs=1e-4)  # 3 citations of non-refused answers
    assert m["refusal.accuracy"] == 0.5
    assert m["refusal.false_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["faithfulness"] == 0.5  # 2 of 4 sentences of the 3 non-refused answers
    assert m["latency.total_ms.p50"] == 2000  # all five items
    assert m["latency.ttft_ms.p50"] == 2000  # only the three that generated
    assert m["latency.ttft_ms.p95"] == pytest.approx(2900)
    assert m["tokens.prompt_tokens.mean"] == 400
    assert m["by_type.single_fact.answer.accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["by_type.unanswerable.refusal.accuracy"] == 0.5
    assert "by_type.unanswerable.answer.accuracy" not in m  # nothing to measure it on
    assert "refusal.accuracy" not in aggregate(_fixture_results()[:3])


def test_retrieval_only_results_give_only_retrieval_metrics():
    results = [_result("sf-1", "single_fact", None, retrieved=(B, A)), _result("un-1", "unanswerable", None)]
    m = aggregate(results)
    assert {k for k in m if not k.startswith("by_type.")} == {
        "count.items",
        "retrieval.recall@1",
        "retrieval.recall@5",
        "retrieval.mrr@10",
    }
    assert m["retrieval.mrr@10"] == 0.5
    assert results[0].passed is True and results[1].passed is None


def test_passed_and_diagnosis():
    sf1, sf2, sf3, un1, un2 = _fixture_results()
    assert (sf1.passed, sf2.passed, sf3.passed, un1.passed, un2.passed) == (True, False, False, True, False)
    assert diagnose(sf1) == []
    assert diagnose(sf2) == [
        "wrong answer (missing Malta)",
        "citation: non-gold file b.txt",
        "unfaithful: 1/1 sentences",
    ]
    assert diagnose(sf3) == ["wrong retrieval (no gold file in top 5)", "false refusal ()"]
    rescued = _result("sf-4", "single_fact", "refused", refused=True, refusal_reason="unsupported", draft_correct=True)
    assert diagnose(rescued) == ["false refusal (unsupported; the draft had the answer)"]
    assert diagnose(un2)[0] == "missed refusal" and "citation: invalid quote" in diagnose(un2)


def test_to_dict_is_json_ready():
    record = json.loads(json.dumps(_fixture_results()[1].to_dict()))
    assert record["passed"] is False and record["hit_rank"] == 2 and record["cited_files"] == [B]


# gate, comparison, summary ---------------------------------------------------------------------------------


def test_check_thresholds_floors_ceilings_and_prefixes():
    metrics = {"answer.accuracy": 0.8, "latency.total_ms.p95": 7000.0, "retrieval.recall@5": 0.99}
    floors = {"answer.accuracy": 0.85, "retrieval.recall@5": 0.95}
    ceilings = {"latency.total_ms.p95": 6000.0, "refusal.false_rate": 0.1}
    assert check_thresholds(metrics, floors, ceilings) == [
        "answer.accuracy = 0.8000 is below the floor 0.85",
        "latency.total_ms.p95 = 7000.0000 is above the ceiling 6000.0",
        "refusal.false_rate was not measured (threshold 0.1)",
    ]
    assert check_thresholds(metrics, floors, ceilings, ("retrieval.",)) == []
    assert check_thresholds({"answer.accuracy": 0.85}, {"answer.accuracy": 0.85}, {}) == []


def test_outcome_changes_lists_changed_pass_or_refusal():
    previous = [
        {"id": "a", "passed": True, "refused": False},
        {"id": "b", "passed": True, "refused": False},
        {"id": "gone", "passed": True},
    ]
    current = [
        {"id": "a", "passed": False, "refused": True, "question": "Q?"},
        {"id": "b", "passed": True, "refused": False},
        {"id": "new", "passed": False},
    ]
    assert outcome_changes(previous, current) == ["a: pass -> FAIL, answered -> refused  Q?"]


def test_summary_line():
    metrics = {
        "answer.accuracy": 0.912,
        "citation.file_accuracy": 0.95,
        "citation.quote_validity": 1.0,
        "refusal.accuracy": 0.8333,
        "refusal.false_rate": 0.04,
        "retrieval.recall@5": 0.99,
        "faithfulness": 0.93,
        "latency.total_ms.p50": 4110.0,
        "latency.total_ms.p95": 6020.0,
    }
    assert summary_line(metrics, suite="seeds/test") == (
        "SUMMARY seeds/test answer_acc=0.91 correct_cited=n/a cite_file=0.95 quote_valid=1.00 refusal=0.83 "
        "false_refusal=0.04 false_support=n/a recall@5=0.99 faithfulness=0.93 p50_s=4.1 p95_s=6.0"
    )
    assert summary_line({"retrieval.recall@5": 1.0}, retrieval_only=True) == (
        "SUMMARY recall@1=n/a recall@5=1.00 mrr@10=n/a"
    )


# dataset ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", suites(), ids=lambda s: s.name)
def test_every_gold_suite_loads_with_unique_ids_and_real_sources(suite):
    items = load_suite(suite)
    assert items and all(item.suite == suite.name for item in items)
    files = {p.relative_to(suite.folder).as_posix() for p in suite.folder.rglob("*") if p.is_file()}
    assert {s for item in items for s in item.sources} <= files
    assert any(not item.answerable for item in items) and any(item.answerable for item in items)


def test_dev_and_test_splits_share_no_question():
    for corpus in CORPORA:
        dev, test = (load_suite(Suite(corpus, split)) for split in ("dev", "test"))
        assert not {i.question.lower() for i in dev} & {i.question.lower() for i in test}
        assert not {i.id for i in dev} & {i.id for i in test}


def test_a_conversation_is_graded_on_its_second_turn():
    conversation = next(i for i in load_suite(Suite("seeds", "dev")) if i.type == "conversation")
    assert len(conversation.turns) == 2 and conversation.previous == conversation.turns[0]


def test_unknown_corpus_or_split_is_refused():
    with pytest.raises(GoldError, match="unknown corpus or split"):
        suites(["nope"], ["test"])


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"id": "x", "type": "trivia", "question": "Q", "answer": "", "must_contain": [], "sources": []}, "type"),
        (
            {"id": "x", "type": "single_fact", "question": "Q", "answer": "", "must_contain": [], "sources": ["a"]},
            "needs must_contain",
        ),
        (
            {"id": "x", "type": "single_fact", "question": "Q", "must_contain": ["Malta"], "sources": ["a"]},
            "must_contain",
        ),
        (
            {"id": "x", "type": "conversation", "turns": ["only one"], "must_contain": [["a"]], "sources": ["a"]},
            "turns",
        ),
        ({"id": "x", "type": "off_topic", "question": "Q", "sorces": []}, "unknown key"),
    ],
)
def test_parse_item_rejects_bad_items(raw, message):
    with pytest.raises(GoldError, match=message):
        parse_item(raw)


def test_load_gold_names_the_bad_line(tmp_path):
    path = tmp_path / "gold.jsonl"
    good = {"id": "a", "type": "off_topic", "question": "Why?", "answer": "", "must_contain": [], "sources": []}
    path.write_text(json.dumps(good) + "\n\n{not json\n")
    with pytest.raises(GoldError, match=r"gold.jsonl:3: "):
        load_gold(path)
