"""Charts: matplotlib figures rendered to inline SVG for the self-contained HTML reports.

    svg = pass_rate_chart(run["suites"])          # "<svg …>…</svg>", no external references
    svg = latency_histogram(run["items"])

matplotlib runs headless (the Agg backend) and is imported only when a report is drawn.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from eval.aggregate import percentile

PASS, WARN, FAIL = "#1a7f37", "#bf8700", "#cf222e"
RATES = (  # what "pass" means for a type: answered correctly, or refused where the documents hold no answer
    ("answer.accuracy", "answer accuracy"),
    ("refusal.accuracy", "refused correctly"),
)


def figure(width: float, height: float, rows: int = 1, cols: int = 1):
    """(figure, axes) of width × height inches; axes is an array when rows × cols > 1. Text stays <text>."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "svg.fonttype": "none", "axes.spines.top": False, "axes.spines.right": False})
    return plt.subplots(rows, cols, figsize=(width, height))


def to_svg(fig) -> str:
    """The figure as an <svg> element (the XML prologue dropped), then closed."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def pass_rate_chart(suites: Sequence[dict[str, Any]], retrieval_only: bool = False) -> str:
    """Horizontal bars: pass rate per question type, one bar per suite (recall@5 in a retrieval-only run)."""
    rows = []  # (label, value, n)
    for suite in suites:
        m = suite["metrics"]
        for kind in sorted({k.split(".")[1] for k in m if k.startswith("by_type.")}):
            keys = (("retrieval.recall@5", "recall@5"),) if retrieval_only else RATES
            for key, _ in keys:
                value = m.get(f"by_type.{kind}.{key}")
                if value is not None:
                    rows.append((f"{suite['name']} · {kind}", value, int(m.get(f"by_type.{kind}.count.items", 0))))
                    break
    if not rows:
        return ""
    fig, ax = figure(6.2, 0.26 * len(rows) + 0.9)
    labels = [r[0] for r in rows][::-1]
    values = [r[1] for r in rows][::-1]
    colours = [PASS if v >= 0.9 else WARN if v >= 0.7 else FAIL for v in values]
    ax.barh(labels, values, color=colours, height=0.7)
    for y, (value, n) in enumerate(zip(values, [r[2] for r in rows][::-1])):
        ax.text(min(value, 1.0) + 0.01, y, f"{value:.2f}  n={n}", va="center", fontsize=8)
    ax.set_xlim(0, 1.18)
    ax.set_xlabel("recall@5" if retrieval_only else "pass rate (answer accuracy; refusal accuracy for refusal types)")
    ax.set_title("Pass rate by suite and question type", loc="left", fontsize=10, fontweight="bold")
    return to_svg(fig)


def latency_histogram(items: Sequence[dict[str, Any]]) -> str:
    """Histogram of each answer's total seconds, with the p50 and p95 marked; "" when nothing was generated."""
    values = sorted(i["timings"]["total_ms"] / 1000 for i in items if i.get("timings", {}).get("total_ms"))
    if not values:
        return ""
    fig, ax = figure(5.0, 2.8)
    ax.hist(values, bins=min(20, max(5, len(values) // 8)), color="#0969da")
    for q, label in ((0.5, "p50"), (0.95, "p95")):
        value = percentile(values, q * 100)
        ax.axvline(value, color=FAIL, linestyle="--", linewidth=1)
        ax.text(value, ax.get_ylim()[1] * 0.95, f" {label} {value:.1f} s", color=FAIL, fontsize=8)
    ax.set_xlabel("seconds per answer (total)")
    ax.set_ylabel("answers")
    ax.set_title(f"Answer latency, n={len(values)}", loc="left", fontsize=10, fontweight="bold")
    return to_svg(fig)
