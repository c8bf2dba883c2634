"""The bench's pure helpers (eval/bench.py, eval/bench_report.py): synthetic corpora, statistics, targets,
SVG and HTML output. No models and no timing assertions."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from eval.bench import _is_prose, replicate, synthesize_corpus
from eval.bench_report import (
    answer_stages,
    answer_summary,
    distribution,
    evaluate_targets,
    format_table,
    median_of,
    nice_max,
    render_html,
    render_svg,
)
from index.load import load_corpus
from qa.settings import ROOT

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def seeds() -> list[tuple[str, str]]:
    return [(d.source, d.text) for d in load_corpus(ROOT / "seeds")[0]]


# Synthetic corpora ----------------------------------------------------------------------------------------


def test_synthetic_corpus_is_deterministic(seeds):
    assert synthesize_corpus(seeds, 2) == synthesize_corpus(seeds, 2)
    assert synthesize_corpus(seeds, 2, seed=1) != synthesize_corpus(seeds, 2)


def test_synthetic_corpus_has_scale_copies_of_every_seed(seeds):
    corpus = synthesize_corpus(seeds, 3)
    assert len(corpus) == 3 * len(seeds)
    assert corpus[len(seeds)][0] == f"0001_{seeds[0][0]}"
    assert len({name for name, _ in corpus}) == len(corpus)


def test_synthetic_documents_differ_from_the_seeds_and_each_other(seeds):
    corpus = synthesize_corpus(seeds, 2)
    texts = [text for _, text in corpus]
    assert len(set(texts)) == len(texts)
    assert not {text for _, text in seeds} & set(texts)
    seed_prose = {line for _, text in seeds for line in text.split("\n") if _is_prose(line)}
    synthetic_prose = [line for text in texts for line in text.split("\n") if _is_prose(line)]
    changed = sum(line not in seed_prose for line in synthetic_prose) / len(synthetic_prose)
    assert changed > 0.8  # prose is new text to embed, not a copy


def test_synthetic_documents_keep_the_seeds_short_lines(seeds):
    """Menus, dates and headings stay, so the documents chunk like the seeds (and repeated menus are cleaned)."""
    (_, text), (_, copy) = seeds[0], synthesize_corpus(seeds[:1], 1)[0]
    short = [line for line in text.split("\n") if not _is_prose(line)]
    assert short == [line for line in copy.split("\n") if not _is_prose(line)]


def test_replicate_reaches_the_rows_with_unit_vectors():
    vectors = np.eye(3, dtype=np.float32)
    out = replicate(vectors, 10, noise=0.05)
    assert out.shape == (10, 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out[:3], vectors)
    assert not np.allclose(out[3], vectors[0])  # copies are moved by the noise
    assert np.argmax(out[3]) == 0 and np.argmax(out[4]) == 1


# Statistics -----------------------------------------------------------------------------------------------


def test_distribution_interpolates_percentiles():
    d = distribution([50, 10, 40, 20, 30])
    assert (d["n"], d["p50"], d["p95"], d["mean"], d["max"]) == (5, 30.0, 48.0, 30.0, 50.0)
    assert distribution([1, 2, 3, 4])["p50"] == 2.5
    assert distribution([7])["p95"] == 7.0
    assert distribution([])["p50"] is None


def test_median_of_runs_is_key_wise():
    runs = [{"a": 1, "b": 5, "name": "x"}, {"a": 3}, {"a": 2, "ok": True}]
    assert median_of(runs) == {"a": 2, "b": 5}


def test_answer_stages_add_up_to_the_total():
    sample = {
        "retrieve_ms": 10.0,
        "prompt_ms": 20.0,
        "ttft_ms": 1030.0,
        "generate_ms": 2000.0,
        "total_ms": 2950.0,
        "verify_ms": 900.0,
        "prompt_tokens": 300,
        "completion_tokens": 21,
    }
    stages = answer_stages(sample)
    assert stages == {
        "retrieve_ms": 10.0,
        "prompt_ms": 20.0,
        "prefill_ms": 1000.0,
        "decode_ms": 1000.0,
        "verify_ms": 900.0,
        "post_ms": 20.0,
    }
    assert sum(stages.values()) == sample["total_ms"]


def test_answer_summary_separates_refusals_before_generation():
    generated = {
        "retrieve_ms": 10.0,
        "prompt_ms": 20.0,
        "ttft_ms": 1030.0,
        "generate_ms": 2000.0,
        "total_ms": 2050.0,
        "prompt_tokens": 300,
        "completion_tokens": 21,
        "refused": False,
    }
    refused = {
        "retrieve_ms": 12.0,
        "ttft_ms": 0.0,
        "generate_ms": 0.0,
        "total_ms": 14.0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "refused": True,
    }
    summary = answer_summary([generated, refused])
    assert (summary["count"], summary["generated"], summary["refused_early"]) == (2, 1, 1)
    assert summary["total_ms.p50"] == 1032.0  # every ask: what users wait
    assert summary["ttft_ms.p50"] == 1030.0  # generated answers only
    assert summary["tokens_per_s.p50"] == 10.5  # 21 tokens in 2 s
    assert summary["decode_tokens_per_s.p50"] == 20.0  # 20 tokens after the first, in 1 s
    assert summary["prompt_tokens.mean"] == 300


def test_targets_pass_miss_or_not_measured():
    results = {
        t["key"]: t["status"]
        for t in evaluate_targets(
            {"answer.total_ms.p50": 4999.0, "answer.ttft_ms.p50": 3000.1, "index.chunks_per_s": 150.0}
        )
    }
    assert results["answer.total_ms.p50"] == "PASS"
    assert results["answer.ttft_ms.p50"] == "MISS"
    assert results["index.chunks_per_s"] == "PASS"
    assert results["cold_start.ready_s"] == "n/a"


def test_nice_max_rounds_up_to_1_2_5():
    assert [nice_max(v) for v in (0, 0.3, 1, 37, 150, 201)] == [1.0, 0.5, 1, 50, 200, 500]


# Output ---------------------------------------------------------------------------------------------------


def _run(samples: list[dict] | None = None) -> dict:
    metrics = {
        "answer.total_ms.p50": 4200.0,
        "answer.ttft_ms.p50": 3500.0,
        "index.x1.chunks": 41,
        "index.x1.chunks_per_s": 180.0,
        "retrieval.x1.p50_ms": 12.5,
        "retrieval.x1.p95_ms": 20.0,
        "ann.rows": 100001,
        "ann.exact.p50_ms": 9.0,
        "ann.hnsw.p50_ms": 0.4,
        "ann.hnsw.recall@10": 0.97,
    }
    run = {
        "run": "20261125-100000_a&b<model>",
        "model": "a&b<model>",
        "machine": {"cpus": 2, "platform": "Linux"},
        "load_average": {"start": [0.5, 0.4, 0.3], "end": [1.0, 0.6, 0.4]},
        "metrics": metrics,
        "skipped": {},
        "sections": {
            "answers": {
                "samples": samples or [],
                "seconds": 10,
                "load_average": {"before": [0.5, 0.4, 0.3], "after": [0.9, 0.5, 0.4]},
            }
        },
    }
    run["targets"] = evaluate_targets(metrics)
    return run


def test_svg_is_well_formed_with_and_without_data():
    sample = {
        "retrieve_ms": 10.0,
        "prompt_ms": 20.0,
        "ttft_ms": 1030.0,
        "generate_ms": 2000.0,
        "total_ms": 2050.0,
        "prompt_tokens": 300,
        "completion_tokens": 21,
    }
    for run in (_run([sample, {**sample, "total_ms": 2500.0}]), _run()):
        root = ET.fromstring(render_svg(run))
        assert root.tag == f"{SVG}svg"
        texts = [t.text for t in root.iter(f"{SVG}text")]
        assert "PASS" in texts and "MISS" in texts
        assert any("a&b<model>" in (t or "") for t in texts)  # escaped in the file, intact when parsed


def test_html_embeds_the_svg_and_the_targets():
    page = render_html(_run(), render_svg(_run()))
    assert page.startswith("<!doctype html>") and "<svg" in page and "<script" not in page
    assert "a&amp;b&lt;model&gt;" in page and "a&b<model>" not in page


def test_table_marks_targets():
    table = format_table(_run())
    line = next(line for line in table.splitlines() if "end-to-end p50 / p95 (every ask)" in line)
    assert "4,200" in line and "PASS" in line
    assert "MISS" in next(line for line in table.splitlines() if "time to first token" in line)
    assert table.splitlines()[-1].startswith("TARGETS ")
