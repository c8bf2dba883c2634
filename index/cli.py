"""The `qa index` and `qa setup` subcommands (registered with qa/cli.py through the qa.commands entry point).

qa index --corpus ~/notes        # build or update the index of a folder (~/notes/.qa-index)
qa index --watch                 # ... then re-index whenever a document is added, changed or removed
qa setup                         # assemble and verify the chat model, then build the index if needed
qa db start                      # a local PostgreSQL + pgvector; prints the QA_DATABASE_URL to export
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qa.cli import Commands, progress_bar, settings_from
from qa.errors import CorpusError, IndexMismatchError
from qa.pgstore import describe


def register(commands: Commands) -> None:
    commands.add("setup", cmd_setup, "assemble and verify the chat model, build the index if missing or stale")
    p = commands.add("index", cmd_index, "build or update the index of the corpus folder")
    p.add_argument("--rebuild", action="store_true", help="ignore the existing index and embed everything again")
    p.add_argument("--watch", action="store_true", help="then keep watching the folder and re-index what changes")
    p = commands.add("db", cmd_db, "run a local PostgreSQL + pgvector for the index (start prints its URL)")
    p.add_argument("action", choices=["start", "stop", "url"])
    p.add_argument("--data", type=Path, help="its data folder (default: data/postgres)")


def cmd_setup(args: argparse.Namespace) -> int:
    from qa.assemble import model_path

    settings = settings_from(args)
    if settings.llm_url:  # the model server has the model: nothing to assemble here
        print(f"chat model: served at {settings.llm_url}")
    else:
        print(f"chat model: {model_path(settings, progress_bar('assembling chat model', unit='B'))}")
    return cmd_index(args, settings, stale_rebuilds=True)


def cmd_index(args: argparse.Namespace, settings=None, stale_rebuilds: bool = False) -> int:
    """`stale_rebuilds` (qa setup): an index built with other settings is embedded again, not an error."""
    from index.build import build_index
    from qa.embed import embedder_for

    s = settings or settings_from(args)
    embedder = embedder_for(s)
    target = index_target(s, embedder.dim)
    rebuild = getattr(args, "rebuild", False)
    try:
        try:
            report = build_index(s.corpus_dir, target, embedder, s.chunker, rebuild, progress_bar("embedding chunks"))
        except IndexMismatchError as e:
            if not stale_rebuilds:
                raise
            print(f"{str(e).split(' — ')[0]}: embedding everything again", file=sys.stderr)
            report = build_index(s.corpus_dir, target, embedder, s.chunker, True, progress_bar("embedding chunks"))
    except CorpusError as e:
        _warn_skipped(e.skipped)  # with nothing readable, why each file was left out matters most
        raise
    _warn_skipped(report.skipped)
    where = describe(s.database_url.get_secret_value()) if s.database_url else s.index_dir
    print(f"{where}: {report.summary()}")
    if getattr(args, "watch", False):
        from index.watch import watch_corpus

        def rebuild():
            report = build_index(s.corpus_dir, target, embedder, s.chunker, progress=progress_bar("embedding chunks"))
            _warn_skipped(report.skipped)
            return report

        try:
            watch_corpus(s.corpus_dir, rebuild, index_dir=None if s.database_url else s.index_dir)
        except KeyboardInterrupt:
            print("stopped watching")
    return 0


def index_target(s, dim: int):
    """The index folder, or the database when QA_DATABASE_URL is set."""
    from index.build import PostgresTarget

    if s.database_url is None:
        return s.index_dir
    url = s.database_url.get_secret_value()
    options = {"hnsw_m": s.pg_hnsw_m, "ef_construction": s.pg_hnsw_ef_construction, "build_memory": s.pg_build_memory}
    return PostgresTarget(url, dim, s.pg_ann, exact_below=s.pg_exact_below, stage=_say, **options)


def _say(message: str) -> None:
    print(f"{message}…", file=sys.stderr, flush=True)


def cmd_db(args: argparse.Namespace) -> int:
    """qa db start: the bundled server on a local folder, and the line to export so that qa uses it."""
    from index.db import start_local, stop_local

    data = args.data or settings_from(args).data_dir / "postgres"
    if args.action == "stop":
        print(f"stopped the database in {data}" if stop_local(data) else f"no database in {data}")
        return 0
    url = start_local(data)
    if args.action == "url":
        print(url)
        return 0
    print(f"PostgreSQL + pgvector is running on {data} (it keeps running; `qa db stop` stops it). Use it with:")
    print(f"  export QA_DATABASE_URL='{url}'")
    print("  qa index && qa serve")
    return 0


def _warn_skipped(skipped: list) -> None:
    for file in skipped:
        print(f"warning: skipped {file.source}: {file.reason}", file=sys.stderr)
