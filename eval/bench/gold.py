"""Gold: the questions the bench asks, the seeds' dev split (the 90 items it has always used).

bench_gold()[0].turns[0]     # the first gold question, asked as is by the answers section
gold_queries()[0]            # what the assistant searches for on it, timed by index and ann
"""

from __future__ import annotations

from eval.dataset import GoldItem, Suite, load_suite


def bench_gold() -> list[GoldItem]:
    return load_suite(Suite("seeds", "dev"))


def gold_queries() -> list[str]:
    """What the assistant searches for on each gold item (a follow-up joined to its first turn)."""
    from qa.questions import standalone_query

    return [standalone_query(item.question, item.previous) for item in bench_gold()]
