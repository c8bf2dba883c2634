"""The bench's pure parts (eval/bench/): synthetic corpora, statistics, targets, the table, the matplotlib SVG
and the HTML, on fresh and on saved runs. No models and no timing assertions."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from eval.bench.charts import render_svg
from eval.bench.report import main as rerender
from eval.bench.report import render_html, write_results
from eval.bench.summary import answer_stages, answer_summary, distribution, median_of
from eval.bench.synthetic import is_prose, replicate, synthesize_corpus, synthetic_store
from eval.bench.table import format_table, format_values, number, table_rows
from eval.bench.targets import evaluate_targets
from index.load import load_corpus
from qa.settings import ROOT

SAVED_RUN = ROOT / "docs" / "measurements" / "20261125-131637_qwen2.5-coder-1.5b-instruct-q4_k_m.json"
PANEL_TITLES = (
    "Where each generated answer's time goes (s; dashed: 5 s)",
    "Prompt tokens vs time to first token (s; dashed: 3 s)",
    "Hybrid retrieval latency (ms) by chunks in the index",
    "Index build throughput (chunks/s; dashed: 150 target)",
    "Targets",
)
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
    seed_prose = {line for _, text in seeds for line in text.split("\n") if is_prose(line)}
    synthetic_prose = [line for text in texts for line in text.split("\n") if is_prose(line)]
    changed = sum(line not in seed_prose for line in synthetic_prose) / len(synthetic_prose)
    assert changed > 0.8  # prose is new text to embed, not a copy


def test_synthetic_documents_keep_the_seeds_short_lines(seeds):
    """Menus, dates and headings stay, so the documents chunk like the seeds (and repeated menus are cleaned)."""
    (_, text), (_, copy) = seeds[0], synthesize_corpus(seeds[:1], 1)[0]
    short = [line for line in text.split("\n") if not is_prose(line)]
    assert short == [line for line in copy.split("\n") if not is_prose(line)]


def test_replicate_reaches_the_rows_with_unit_vectors():
    vectors = np.eye(3, dtype=np.float32)
    out = replicate(vectors, 10, noise=0.05)
    assert out.shape == (10, 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out[:3], vectors)
    assert not np.allclose(out[3], vectors[0])  # copies are moved by the noise
    assert np.argmax(out[3]) == 0 and np.argmax(out[4]) == 1


def test_a_synthetic_store_repeats_the_chunks_over_the_rows(seed_store):
    vectors = replicate(seed_store.vectors, 3 * len(seed_store.chunks) + 1, noise=0.02)
    store = synthetic_store(seed_store, vectors)
    assert len(store.chunks) == len(vectors) == store.faiss_index.ntotal == store.manifest.n_chunks
    assert store.chunks[len(seed_store.chunks)] == seed_store.chunks[0]
    _, ids = store.search(seed_store.vectors[[5]], 1)
    assert store.chunks[ids[0][0]] == seed_store.chunks[5]


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


def test_numbers_are_shown_by_unit():
    assert [number(1234.5, "ms"), number(12.345, "ms"), number(0.98765, "ratio"), number(41, "")] == [
        "1,234",
        "12.3",
        "0.988",
        "41",
    ]
    assert format_values({"a": 4200.0, "b": 6181.4}, ("a", "b"), "ms") == "4,200 / 6,181 ms"
    assert format_values({"a": 1.0}, ("a", "missing"), "s") == "1.00 / n/a s"
    assert format_values({}, ("a",), "s") == "n/a"


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


SAMPLE = {
    "retrieve_ms": 10.0,
    "prompt_ms": 20.0,
    "ttft_ms": 1030.0,
    "generate_ms": 2000.0,
    "total_ms": 2050.0,
    "prompt_tokens": 300,
    "completion_tokens": 21,
}


def svg_texts(svg: str) -> list[str]:
    """The text of every <text> element, parsed as XML (svg.fonttype "none" keeps text as text)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_svg_draws_every_panel_with_data():
    texts = svg_texts(render_svg(_run([SAMPLE, {**SAMPLE, "total_ms": 2500.0}])))
    for title in PANEL_TITLES:
        assert title in texts
    assert "FAISS search at 100,001 rows (ms) · HNSW recall@10 0.970" in texts
    assert "2 answers, fastest to slowest" in texts and "prefill" in texts  # the stage legend
    assert texts.count("PASS") == 2 and texts.count("MISS") == 1  # end-to-end and retrieval pass, TTFT misses
    assert "12.5" in texts and "0.40" in texts  # bars carry their values
    assert "not measured in this run" not in texts
    assert "qa bench 20261125-100000_a&b<model>" in texts  # escaped in the file, intact when parsed


def test_svg_without_answers_says_so_and_keeps_the_rest():
    texts = svg_texts(render_svg(_run()))
    assert texts.count("not measured in this run") == 2  # the two answer panels
    assert "Hybrid retrieval latency (ms) by chunks in the index" in texts and "41" in texts


def test_svg_of_a_run_with_no_figures_is_well_formed():
    run = {**_run(), "metrics": {}, "targets": evaluate_targets({})}
    texts = svg_texts(render_svg(run))
    assert texts.count("not measured in this run") == 5
    assert texts.count("n/a") == 9 and "cold start to ready: not measured (target ≤ 15 s)" in texts


def test_html_embeds_the_svg_and_the_targets():
    page = render_html(_run(), render_svg(_run()))
    assert page.startswith("<!doctype html>") and "<svg" in page and "<script" not in page
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page  # the SVG is inline, not a document
    assert "a&amp;b&lt;model&gt;" in page and "a&b<model>" not in page


def test_table_marks_targets():
    table = format_table(_run())
    line = next(line for line in table.splitlines() if "end-to-end p50 / p95 (every ask)" in line)
    assert "4,200" in line and "PASS" in line
    assert "MISS" in next(line for line in table.splitlines() if "time to first token" in line)
    assert table.splitlines()[-1].startswith("TARGETS ")


def test_table_shows_an_earlier_run_beside_this_one():
    run = {**_run(), "compare": {"metrics": {"answer.total_ms.p50": 5100.0}}}
    line = next(line for line in format_table(run).splitlines() if "end-to-end p50 / p95 (every ask)" in line)
    assert line.endswith("5,100 / n/a ms")
    assert "previous" in format_table(run).splitlines()[1]


def test_a_saved_run_renders_again(tmp_path):
    """A run saved before eval/bench/ was a package: the same table rows, and files written beside it."""
    saved = tmp_path / SAVED_RUN.name
    saved.write_text(SAVED_RUN.read_text(encoding="utf-8"), encoding="utf-8")
    assert rerender([str(saved)]) == 0
    run = json.loads(SAVED_RUN.read_text(encoding="utf-8"))
    assert {row.group for row in table_rows(run)} >= {"model load", "cold start", "answers", "index x1000", "search"}
    texts = svg_texts((tmp_path / "latest.svg").read_text(encoding="utf-8"))
    assert "94 answers, fastest to slowest" in texts and "not measured in this run" not in texts
    assert (tmp_path / saved.name.replace(".json", ".html")).read_text(encoding="utf-8").count("<svg") == 1


def test_write_results_writes_the_run_and_latest(tmp_path):
    paths = write_results(_run(), tmp_path)
    assert [p.suffix for p in paths] == [".json", ".svg", ".html"]
    assert json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))["metrics"]["ann.rows"] == 100001
    assert (tmp_path / "latest.svg").read_text(encoding="utf-8") == paths[1].read_text(encoding="utf-8")


def test_interpolated_rows_are_distinct_unit_vectors_between_real_neighbours():
    import numpy as np

    from eval.bench.synthetic import interpolate

    rng = np.random.default_rng(3)
    base = rng.normal(size=(50, 8)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    rows = interpolate(base, 1_000, neighbours=4)
    assert rows.shape == (1_000, 8) and np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-5)
    assert np.allclose(rows[:50], base, atol=1e-6)
    assert len(np.unique(rows.round(5), axis=0)) == 1_000
    # each new row is closer to some real vector than the real vectors are, on average, to each other
    nearest_real = (rows[50:] @ base.T).max(axis=1)
    assert nearest_real.mean() > (base @ base.T)[~np.eye(50, dtype=bool)].mean()


def test_site_section_indexes_a_copy_reindexes_one_edit_and_serves_it(tmp_path, monkeypatch):
    import shutil

    import eval.bench.site as site
    from qa.settings import ROOT, Settings

    from fakes import FakeEmbedder

    pages = tmp_path / "pages"
    pages.mkdir()
    for page in sorted((ROOT / "eval" / "corpora" / "git" / "docs").glob("*.html"))[:5]:
        shutil.copy(page, pages / page.name)
    before = {p.name: p.read_bytes() for p in pages.iterdir()}
    asked = []
    monkeypatch.setattr(
        site, "serve_and_ask", lambda s, corpus, index, q: asked.append((corpus, q)) or (9.5, 4.2, True, 900.0)
    )
    run = site.measure_site(Settings(), pages, tmp_path / "work", FakeEmbedder())
    assert run.files == 5 and run.chunks > 20 and run.chunks_per_s > 0 and 0 <= run.embed_s <= run.index_s
    assert 1 <= run.reindexed_chunks < run.chunks  # one page's new chunks, not the site's
    assert {p.name: p.read_bytes() for p in pages.iterdir()} == before  # the edit went to the copy
    assert asked[0][0] == tmp_path / "work" / "site" and asked[0][1].startswith("What is ")
    assert run.metrics["site.first_answer_s"] == 4.2 and run.metrics["site.answered"] == 1
