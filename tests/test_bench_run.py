"""The bench's sections as records (eval/bench/*.py), the run that strings them together, and `qa bench`'s
exit codes. Sections are replaced by stubs: no real model is loaded."""

from __future__ import annotations

import json

import pytest

import eval.bench.model_load
import eval.bench.run
from eval.bench.ann import AnnRun, SearchComparison
from eval.bench.answers import AnswerRun, fixed_prefix_tokens
from eval.bench.cli import main, parser
from eval.bench.cold_start import ColdStart, ColdStartRun
from eval.bench.indexing import BuildTiming, IndexRun, ScaleRun
from eval.bench.model_load import ModelLoad
from eval.bench.retrieval import RetrievalTiming
from qa.errors import ModelNotFoundError
from qa.prompt import fixed_prefix
from qa.settings import ROOT

from fakes import FakeEmbedder, FakeGenerator

SAVED = json.loads(
    (ROOT / "docs" / "measurements" / "20261125-131637_qwen2.5-coder-1.5b-instruct-q4_k_m.json").read_text()
)
EDGES = {"seconds", "load_average"}  # what the run adds to each section's record


def timing(p50: float = 13.0, store_load_s: float | None = 0.001) -> RetrievalTiming:
    return RetrievalTiming(
        store_load_s=store_load_s,
        p50_ms=p50,
        p95_ms=19.0,
        embed_ms=12.0,
        search_ms=0.9,
        search_p95_ms=1.4,
        dense_ms=0.1,
        bm25_ms=0.2,
        first_ms=17.0,
        queries=90,
        chunks=41,
    )


def index_run(*scales: int) -> IndexRun:
    runs = tuple(ScaleRun(s, BuildTiming(5.0, 41.0 * s, 0.6 * s, 0.6 * s, 60.0 + s, 1), timing()) for s in scales)
    return IndexRun(runs, f"/tmp/index-x{scales[-1]}")


ANN = AnnRun(
    "/tmp/index-x100",
    0.02,
    100_001,
    3429,
    SearchComparison(0.1, 9.0, "IndexHNSWFlat", 16.0, 18.0, 0.6, 0.8, 10, 0.956),
    timing(14.0, None),
)


def keys_of(record) -> object:
    """The shape of a JSON record: its keys, nested, without the values (lists by their first item)."""
    if isinstance(record, dict):
        return {k: keys_of(v) for k, v in record.items()}
    if isinstance(record, list) and record and isinstance(record[0], dict):
        return [keys_of(record[0])]
    return None


# Records: the same JSON and metric keys as the runs saved before ------------------------------------------


def test_model_load_figures_are_first_and_median_of_the_rest():
    load = ModelLoad((4.9, 0.09, 0.06, 0.07), (2.2, 1.4, 1.7, 1.0), "/m.gguf", 940)
    assert load.metrics == {
        "load.embedder_first_s": 4.9,
        "load.embedder_s": 0.07,
        "load.generator_first_s": 2.2,
        "load.generator_s": 1.4,
        "load.model_mb": 940,
    }
    assert keys_of(load.to_json()) == keys_of({k: v for k, v in SAVED["sections"]["load"].items() if k not in EDGES})
    assert load.to_json()["generator_runs_s"] == [2.2, 1.4, 1.7, 1.0]


def test_model_load_without_a_chat_model_says_why():
    load = ModelLoad((1.0, 0.1), generator_skipped="chat model not found — run `qa setup`")
    assert load.to_json() == {
        "embedder_runs_s": [1.0, 0.1],
        "generator_skipped": "chat model not found — run `qa setup`",
    }
    assert set(load.metrics) == {"load.embedder_first_s", "load.embedder_s"}


def test_model_load_keeps_one_model_of_a_role_in_memory_at_a_time():
    """Each construction starts with the previous model freed: two 1 GB chat models at once once doubled
    the bench's peak RSS (3.99 GB instead of 2.26 GB)."""
    import gc
    import weakref

    alive: list[weakref.ref] = []

    class Model:
        pass

    def build():
        gc.collect()
        assert sum(r() is not None for r in alive) == 0  # nothing of this role left while the next one loads
        model = Model()
        alive.append(weakref.ref(model))
        return model

    models = eval.bench.model_load.Models()
    runs = eval.bench.model_load._construct(build, 3, models, "generator")
    assert len(runs) == 4 and models.generator is alive[-1]()


def test_cold_start_figures_are_medians_and_the_peak_is_the_largest():
    runs = (ColdStartRun(10.9, 9.6, 0.3, 9.3, 2230.8), ColdStartRun(9.2, 7.9, 0.2, 7.6, 2231.1))
    cold = ColdStart(runs + (ColdStartRun(9.0, 7.8, 0.3, 7.5, 2231.0),))
    assert cold.metrics == {
        "cold_start.ready_s": 7.9,
        "cold_start.wall_s": 9.2,
        "cold_start.import_s": 0.3,
        "cold_start.load_s": 7.6,
        "cold_start.peak_rss_mb": 2231.1,
    }
    assert keys_of(cold.to_json()) == keys_of({"runs": SAVED["sections"]["cold"]["runs"]})


def test_index_figures_per_scale_and_throughput_of_the_largest():
    run = index_run(1, 100)
    assert run.metrics["index.x100.chunks"] == 4100.0 and run.metrics["retrieval.x1.store_load_s"] == 0.001
    assert run.metrics["index.chunks_per_s"] == run.metrics["index.x100.chunks_per_s"] == 160.0
    assert "index.x1.runs" not in run.metrics
    saved = {k: v for k, v in SAVED["sections"]["index"].items() if k not in EDGES}
    assert keys_of(run.to_json()) == keys_of(saved)
    saved_keys = {k for k in SAVED["metrics"] if k.startswith(("index.x1.", "retrieval.x1.", "index.chunks"))}
    assert {k for k in run.metrics if k.startswith(("index.x1.", "retrieval.x1.", "index.chunks"))} == saved_keys


def test_ann_figures_keep_their_metric_keys():
    assert {k for k in ANN.metrics if k.startswith(("ann.", "retrieval.large."))} == {
        k for k in SAVED["metrics"] if k.startswith(("ann.", "retrieval.large."))
    }
    assert ANN.metrics["ann.hnsw.recall@10"] == 0.956 and ANN.metrics["ann.hnsw.type"] == "IndexHNSWFlat"
    assert ANN.to_json() == {"source_index": "/tmp/index-x100", "noise": 0.02}


def test_answer_run_figures_are_medians_of_the_passes():
    runs = ({"ttft_ms.p50": 2900.0, "count": 96}, {"ttft_ms.p50": 3100.0, "count": 96})
    answers = AnswerRun(90, {"total_ms": 6124.8}, runs, ({"id": "sf-01", "total_ms": 10.0},), False, 222)
    assert answers.metrics == {
        "answer.ttft_ms.p50": 3000.0,
        "answer.count": 96,
        "answer.warmup_total_ms": 6124.8,
        "answer.fixed_prefix_tokens": 222,
    }
    saved = {k: v for k, v in SAVED["sections"]["answers"].items() if k not in EDGES}
    assert set(answers.to_json()) == set(saved)
    assert answers.to_json()["samples"] == [{"id": "sf-01", "total_ms": 10.0}]


def test_fixed_prefix_tokens_asks_a_generator_that_can_count():
    class WordCounting(FakeGenerator):
        def count_tokens(self, text: str) -> int:
            return len(text.split())

    words = sum(len(m["content"].split()) for m in fixed_prefix())
    assert fixed_prefix_tokens(WordCounting()) == words + 5 * len(fixed_prefix())
    assert fixed_prefix_tokens(FakeGenerator()) is None


# The run ----------------------------------------------------------------------------------------------------


@pytest.fixture
def stub_sections(monkeypatch):
    """Every section replaced: load fails (no model), the others return fixed records; ann's source recorded."""
    seen = {}

    def no_model(*args):
        raise ModelNotFoundError("chat model not found — run `qa setup`")

    def ann(settings, source, rows, noise, repeat, embedder):
        seen.update(source=source, rows=rows, embedder=embedder)
        return ANN

    cold = ColdStart((ColdStartRun(9.0, 7.8, 0.3, 7.5, 2231.0),))
    monkeypatch.setattr(eval.bench.run, "measure_load", no_model)
    monkeypatch.setattr(eval.bench.run, "measure_cold_start", lambda settings, repeat: cold)
    monkeypatch.setattr(eval.bench.run, "measure_index", lambda *args: index_run(1, 100))
    monkeypatch.setattr(eval.bench.run, "measure_ann", ann)
    monkeypatch.setattr(eval.bench.model_load, "new_embedder", lambda settings: FakeEmbedder())
    return seen


def test_a_run_records_each_section_skips_a_failing_one_and_passes_results_on(stub_sections, tmp_path):
    args = parser().parse_args(["--only", "load,cold,index,ann", "--ann-rows", "60000", "--out", str(tmp_path)])
    run = eval.bench.run.bench(args, ["--only", "load,cold,index,ann"])
    assert run["complete"] and list(run["sections"]) == ["cold", "index", "ann"]
    assert run["skipped"] == {"load": "ModelNotFoundError: chat model not found — run `qa setup`"}
    assert run["sections"]["cold"]["runs"][0]["ready_s"] == 7.8 and run["sections"]["cold"]["seconds"] >= 0
    assert stub_sections["source"].name == "index-x100" and stub_sections["rows"] == 60000
    assert isinstance(stub_sections["embedder"], FakeEmbedder)  # built once for the sections that embed
    assert run["metrics"]["rss.assistant_peak_mb"] == 2231.0  # the cold start's peak: no answers section ran
    status = {t["key"]: t["status"] for t in run["targets"]}
    assert status["cold_start.ready_s"] == "PASS" and status["answer.total_ms.p50"] == "n/a"
    saved = json.loads((tmp_path / "latest.json").read_text())  # rewritten after each section
    assert list(saved["sections"]) == ["cold", "index", "ann"] and saved["options"]["ann_rows"] == 60000


def test_bench_prints_the_table_and_writes_the_files(stub_sections, tmp_path, capsys):
    assert main(["--only", "cold", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "fresh process to ready (median)" in out and out.rstrip().splitlines()[-1].startswith("TARGETS ")
    assert sorted(p.suffix for p in tmp_path.glob("latest.*")) == [".html", ".json", ".svg"]


def test_an_interrupted_pass_saves_what_was_measured_and_stops(monkeypatch, tmp_path, capsys):
    answers = AnswerRun(2, {}, ({"total_ms.p50": 10.0},), ({"id": "sf-01", "total_ms": 10.0},), True)
    monkeypatch.setattr(eval.bench.run, "measure_answers", lambda *args: answers)
    assert main(["--only", "answers,index", "--out", str(tmp_path)]) == 130
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert not saved["complete"] and list(saved["sections"]) == ["answers"]
    assert saved["metrics"]["answer.total_ms.p50"] == 10.0
    assert "interrupted" in capsys.readouterr().err


def test_bad_options_are_one_line_errors(tmp_path, capsys):
    assert main(["--only", "load,nope", "--out", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err == "error: unknown section(s) nope; choose from load, cold, answers, index, site, ann\n"
    )
    assert main(["--only", "cold", "--compare", str(tmp_path / "missing.json"), "--out", str(tmp_path)]) == 2
    assert "cannot read earlier bench results" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["--scales", "0,100"])
    assert exit_.value.code == 2
    assert parser().parse_args(["--scales", "100,1"]).scales == [1, 100]
