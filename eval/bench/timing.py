"""Timing: the clock and memory readings the sections share.

vector, seconds = timed(lambda: embedder.embed(["How many signatories?"])[0])   # seconds to 0.1 ms
seconds_of(lambda: store.search(vector[None, :], 30)) * 1000                    # milliseconds
peak_rss_mb() == 2450.3                                                         # this process so far
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """(what call returned, seconds it took, rounded to 0.1 ms)."""
    started = time.perf_counter()
    value = call()
    return value, round(time.perf_counter() - started, 4)


def seconds_of(call: Callable[[], Any]) -> float:
    return timed(call)[1]


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


def children_peak_rss_mb() -> float:
    """The largest peak of the child processes waited for (the cold starts)."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
