"""The `qa eval` and `qa bench` subcommands (registered with qa/cli.py through the qa.commands entry point).
Both parse their own options: `qa eval --help`, `qa bench --help`.
"""

from __future__ import annotations

from qa.cli import Commands


def register(commands: Commands) -> None:
    commands.add_raw("eval", _eval, "run the gold question sets and gate on thresholds (`qa eval --help`)")
    commands.add_raw("bench", _bench, "measure latency, throughput and memory (`qa bench --help`)")


def _eval(argv: list[str]) -> int:
    import eval.run

    return eval.run.main(argv)


def _bench(argv: list[str]) -> int:
    import eval.bench

    return eval.bench.main(argv)
