"""CLI: `qa bench`'s options, and the exit code and files of one run.

qa bench --only index,ann --scales 1,100 --repeat 3      # see `qa bench --help`
main(["--only", "nope"]) == 2                           # "error: unknown section(s) nope; choose from …"
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from eval.bench.report import write_results
from eval.bench.run import RESULTS_DIR, SECTIONS, BenchError, bench
from eval.bench.table import format_table
from qa.errors import QAError


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    on_term = signal.signal(signal.SIGTERM, _interrupt)  # a terminated run still writes the sections it finished
    try:
        run = bench(args, argv if argv is not None else sys.argv[1:])
    except (QAError, BenchError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: the finished sections are in {args.out}/latest.json", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, on_term)
    for path in write_results(run, args.out):
        print(f"wrote {path}", file=sys.stderr)
    print(format_table(run))
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def parser() -> argparse.ArgumentParser:
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
    p.add_argument(
        "--backend",
        choices=("files", "postgres"),
        default="files",
        help="postgres: the PostgreSQL store at --pg-sizes chunks (a temporary bundled server, or a database "
        "qa_bench made beside QA_DATABASE_URL's), alone or with --only's sections",
    )
    p.add_argument(
        "--pg-sizes", type=_sizes, default=[100_000], help="chunks for --backend postgres (default: 100000; 1M opt-in)"
    )
    p.add_argument(
        "--pg-queries", type=_positive, default=20, help="questions for BM25 and hybrid in postgres (default: 20)"
    )
    p.add_argument(
        "--pg-query-source",
        choices=("gold", "titles"),
        default="gold",
        help="postgres queries: the gold questions, or section titles of the --index base (default: gold)",
    )
    p.add_argument(
        "--site",
        type=Path,
        help="site: a documentation folder to index and serve (default: eval/corpora/git/docs; e.g. "
        "/usr/share/doc/python3.11/html from Debian's python3.11-doc)",
    )
    p.add_argument("--compare", type=Path, metavar="PREV.json", help="show an earlier run's figures beside these")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (default: bench/results)")
    p.add_argument("--workdir", type=Path, help="where temporary corpora and indexes go (default: the system temp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary corpora and indexes")
    return p


def _scales(text: str) -> list[int]:
    """_scales("100,1") == [1, 100]."""
    try:
        scales = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--scales takes whole numbers like 1,100,1000, not {text!r}") from None
    if not scales or scales[0] < 1:
        raise argparse.ArgumentTypeError("--scales must be positive")
    return scales


def _sizes(text: str) -> list[int]:
    """_sizes("1000000,100000") == [100000, 1000000]."""
    try:
        sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--pg-sizes takes chunk counts like 100000,1000000, not {text!r}") from None
    if not sizes or sizes[0] < 100:
        raise argparse.ArgumentTypeError("--pg-sizes must be at least 100 chunks")
    return sizes


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
