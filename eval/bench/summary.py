"""Summary: the statistics of the bench's samples, pure functions of numbers and saved timings.

distribution([10, 20, 30, 40, 50])["p95"] == 48.0
median_of([{"a": 1, "b": 5}, {"a": 3}, {"a": 2}]) == {"a": 2, "b": 5}
answer_summary(samples)["ttft_ms.p50"]          # one pass over the gold set, as flat figures
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from eval.aggregate import percentile

STAGES = (  # (sample key, legend, table label, colour): where the time of one generated answer goes
    ("retrieve_ms", "retrieval", "retrieval (query embedding + search)", "#8250df"),
    ("prompt_ms", "evidence", "evidence sentences + prompt", "#bf8700"),
    ("prefill_ms", "prefill", "prompt prefill to the first token", "#cf222e"),
    ("decode_ms", "decoding", "decoding the rest", "#0969da"),
    ("verify_ms", "verifying", "verification (support scores, the model's yes/no judge)", "#1a7f37"),
    ("post_ms", "other", "refusal decision and the rest", "#8c959f"),
)


def distribution(values: Iterable[float]) -> dict[str, float | None]:
    """n, mean, p50, p95 and max, rounded: distribution([1, 2, 3, 4])["p50"] == 2.5; all None when empty."""
    values = [float(v) for v in values]
    if not values:
        return {"n": 0, "mean": None, "p50": None, "p95": None, "max": None}
    return {
        "n": len(values),
        "mean": round_figure(statistics.fmean(values)),
        "p50": round_figure(percentile(values, 50)),
        "p95": round_figure(percentile(values, 95)),
        "max": round_figure(max(values)),
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Key-wise median of several runs' flat figures (numbers only; keys missing in a run are skipped).

    median_of([{"a": 1, "name": "x"}, {"a": 3, "ok": True}]) == {"a": 2}
    """
    keys = list(dict.fromkeys(k for run in runs for k in run))
    out = {}
    for key in keys:
        values = [run[key] for run in runs if _is_number(run.get(key))]
        if values:
            out[key] = round_figure(statistics.median(values))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def round_figure(value: float | None) -> float | None:
    """Two decimals below 100, one above: round_figure(3.14159) == 3.14; round_figure(1234.56) == 1234.6."""
    return None if value is None else round(float(value), 2 if abs(value) < 100 else 1)


def answer_stages(sample: dict[str, Any]) -> dict[str, float]:
    """Split one generated answer's timings into consecutive stages (ms) that add up to total_ms.

    The assistant measures ttft_ms and total_ms from the start, generate_ms from the start of generation:
    {"retrieve_ms": 10, "prompt_ms": 20, "ttft_ms": 1030, "generate_ms": 2000, "total_ms": 2950, "verify_ms": 900}
    splits into retrieve 10, prompt 20, prefill 1000, decode 1000, verify 900 and post 20.
    """
    retrieve, prompt = sample.get("retrieve_ms", 0.0), sample.get("prompt_ms", 0.0)
    prefill = max(0.0, sample.get("ttft_ms", 0.0) - retrieve - prompt)
    generate, verify = sample.get("generate_ms", 0.0), sample.get("verify_ms", 0.0)
    post = max(0.0, sample.get("total_ms", 0.0) - retrieve - prompt - generate - verify)
    return {
        "retrieve_ms": retrieve,
        "prompt_ms": prompt,
        "prefill_ms": prefill,
        "decode_ms": max(0.0, generate - prefill),
        "verify_ms": verify,
        "post_ms": post,
    }


def is_generated(sample: dict[str, Any]) -> bool:
    """Whether the model ran and produced text (refusals before generation have no TTFT)."""
    return sample.get("generate_ms", 0) > 0 and sample.get("completion_tokens", 0) > 0


def answer_summary(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Flat figures of one pass over the gold set: end-to-end over every ask (what a user waits, refusals
    included, as eval/metrics.py does), TTFT, tokens and stages over the answers the model generated."""
    generated = [s for s in samples if is_generated(s)]
    refused_early = sum(1 for s in samples if s.get("refused") and not s.get("generate_ms"))
    out: dict[str, float] = {"count": len(samples), "generated": len(generated), "refused_early": refused_early}
    for name, values in _answer_series(samples, generated).items():
        d = distribution(values)
        for stat in ("p50", "p95", "mean"):
            if d[stat] is not None:
                out[f"{name}.{stat}"] = d[stat]
    return out


def _answer_series(samples: list[dict[str, Any]], generated: list[dict[str, Any]]) -> dict[str, list[float]]:
    stages = [answer_stages(s) for s in generated]
    return {
        "total_ms": [s["total_ms"] for s in samples if "total_ms" in s],
        "generated_total_ms": [s["total_ms"] for s in generated],
        "ttft_ms": [s["ttft_ms"] for s in generated],
        "tokens_per_s": [s["completion_tokens"] / (s["generate_ms"] / 1000) for s in generated],
        "decode_tokens_per_s": [
            (s["completion_tokens"] - 1) / (st["decode_ms"] / 1000)  # after the first token
            for s, st in zip(generated, stages)
            if st["decode_ms"] > 0 and s["completion_tokens"] > 1
        ],
        "prompt_tokens": [s["prompt_tokens"] for s in generated],
        "completion_tokens": [s["completion_tokens"] for s in generated],
        **{key: [st[key] for st in stages] for key, *_ in STAGES},
    }
