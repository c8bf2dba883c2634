"""The `qa index` and `qa setup` subcommands (registered with qa/cli.py through the qa.commands entry point).

qa index --corpus ~/notes        # build or update the index of a folder (~/notes/.qa-index)
qa setup                         # assemble and verify the chat model, then build the index if needed
"""

from __future__ import annotations

import argparse
import sys

from qa.cli import Commands, progress_bar, settings_from
from qa.errors import CorpusError


def register(commands: Commands) -> None:
    commands.add("setup", cmd_setup, "assemble and verify the chat model, build the index if missing or stale")
    p = commands.add("index", cmd_index, "build or update the index of the corpus folder")
    p.add_argument("--rebuild", action="store_true", help="ignore the existing index and embed everything again")


def cmd_setup(args: argparse.Namespace) -> int:
    from qa.assemble import model_path

    settings = settings_from(args)
    if settings.llm_url:  # the model server has the model: nothing to assemble here
        print(f"chat model: served at {settings.llm_url}")
    else:
        print(f"chat model: {model_path(settings, progress_bar('assembling chat model', unit='B'))}")
    return cmd_index(args, settings)


def cmd_index(args: argparse.Namespace, settings=None) -> int:
    from index.build import build_index
    from qa.embed import embedder_for

    s = settings or settings_from(args)
    embedder = embedder_for(s)
    try:
        report = build_index(
            s.corpus_dir,
            s.index_dir,
            embedder,
            s.chunker,
            getattr(args, "rebuild", False),
            progress_bar("embedding chunks"),
        )
    except CorpusError as e:
        _warn_skipped(e.skipped)  # with nothing readable, why each file was left out matters most
        raise
    _warn_skipped(report.skipped)
    print(f"{s.index_dir}: {report.summary()}")
    return 0


def _warn_skipped(skipped: list) -> None:
    for file in skipped:
        print(f"warning: skipped {file.source}: {file.reason}", file=sys.stderr)
