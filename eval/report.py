"""Report: one eval run as JSON, a Markdown summary and a self-contained HTML page (inline CSS and SVG).

    paths = write_reports(run, Path("eval/results"))   # <run>.json .md .html, copied to latest.*
    python -m eval.report eval/results/latest.json      # render the .md and .html of a saved run again

The HTML makes no requests and runs no script: charts are SVG drawn here.
"""

from __future__ import annotations

import json
import shutil
import sys
from html import escape
from pathlib import Path
from typing import Any

from eval.dataset import TYPES

HEADLINE = (  # metrics shown first, in this order
    "answer.accuracy", "citation.file_accuracy", "citation.precision", "citation.recall", "citation.quote_validity",
    "refusal.accuracy", "refusal.false_rate", "faithfulness", "retrieval.recall@1", "retrieval.recall@5",
    "retrieval.mrr@10",
)  # fmt: skip
TYPE_COLUMNS = ("count.items", "answer.accuracy", "refusal.accuracy", "refusal.false_rate", "citation.file_accuracy",
                "faithfulness", "retrieval.recall@5", "retrieval.mrr@10")  # fmt: skip
PASS, FAIL, NEUTRAL = "#1a7f37", "#cf222e", "#8c959f"


def write_reports(run: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write <run>.json, .md and .html into out_dir and copy them to latest.*; returns the run's paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = {
        "json": json.dumps(run, ensure_ascii=False, indent=1),
        "md": render_markdown(run),
        "html": render_html(run),
    }
    return write_run_files(run["run"], contents, out_dir)


def write_run_files(run_name: str, contents: dict[str, str], out_dir: Path) -> list[Path]:
    """out_dir/<run_name>.<ext> for each (ext, text), each also copied to latest.<ext>; returns the run's paths."""
    paths = []
    for ext, text in contents.items():
        path = out_dir / f"{run_name}.{ext}"
        path.write_text(text, encoding="utf-8")
        shutil.copyfile(path, out_dir / f"latest.{ext}")
        paths.append(path)
    return paths


# Markdown ------------------------------------------------------------------------------------------------


def render_markdown(run: dict[str, Any]) -> str:
    m = run["metrics"]
    lines = [
        f"# Eval {run['run']}",
        "",
        f"{run['mode']} run · model `{run.get('model') or '—'}` · {run['gold']['items']} items · "
        f"{run['duration_s']} s{_load_note(run)} · gate **{run['gate']['status']}**",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| `{k}` | {_fmt(m[k])} |" for k in _metric_keys(m)]
    columns = _type_columns(m)
    lines += ["", "## By question type", "", "| type | " + " | ".join(columns) + " |"]
    lines.append("|---" * (len(columns) + 1) + "|")
    for kind in _types(m):
        lines.append(f"| {kind} | " + " | ".join(_fmt(m.get(f"by_type.{kind}.{c}")) for c in columns) + " |")
    if run["gate"]["failures"]:
        lines += ["", "## Gate failures", ""] + [f"- {f}" for f in run["gate"]["failures"]]
    if run.get("compare"):
        changes = run["compare"]["changes"]
        lines += ["", f"## Changed versus `{run['compare']['previous']}` ({len(changes)})", ""]
        lines += [f"- {c}" for c in changes] or ["- none"]
    failed = [i for i in run["items"] if i["passed"] is False]
    lines += ["", f"## Failures ({len(failed)})", "", "| id | type | question | answer | why |"]
    lines.append("|---|---|---|---|---|")
    for i in failed:
        answer = i["answer"] if i["answer"] is not None else "(retrieval only)"
        lines.append(f"| {i['id']} | {i['type']} | {_cell(i['question'])} | {_cell(answer)} | "
                     f"{_cell('; '.join(i['diagnosis']))} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


# HTML ----------------------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1f2328;max-width:1500px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#59636e;margin-bottom:16px}.gate-passed{color:#1a7f37}.gate-failed{color:#cf222e}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #d1d9e0;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f6f8fa}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.metrics{width:auto}.charts{display:flex;flex-wrap:wrap;gap:32px}
tr.pass td.status{background:#dafbe1;color:#1a7f37;font-weight:600}
tr.fail td.status{background:#ffebe9;color:#cf222e;font-weight:600}
tr.fail{background:#fff8f7}
.quote{color:#424a53;font-size:12px;border-left:3px solid #d1d9e0;padding-left:6px;margin:2px 0}
.small{font-size:12px;color:#59636e}.bad{color:#cf222e}code{font-size:12px}
"""


def render_html(run: dict[str, Any]) -> str:
    m = run["metrics"]
    gate = run["gate"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Eval {escape(run['run'])}</title><style>{CSS}</style></head><body>",
        f"<h1>Eval {escape(run['run'])}</h1>",
        f"<div class='meta'>{escape(run['mode'])} run · model <code>{escape(str(run.get('model') or '—'))}</code>"
        " · "
        f"{run['gold']['items']} items · {run['duration_s']} s{_load_note(run)} · created {escape(run['created_at'])}"
        " · gate "
        f"<b class='gate-{escape(gate['status'].split()[0])}'>{escape(gate['status'])}</b></div>",
    ]
    if gate["failures"]:
        parts.append("<ul>" + "".join(f"<li class='bad'>{escape(f)}</li>" for f in gate["failures"]) + "</ul>")
    parts.append("<div class='charts'><div><h2>Metrics</h2><table class='metrics'><tr><th>metric</th><th>value</th></tr>")
    parts += [f"<tr><td><code>{escape(k)}</code></td><td class='num'>{_fmt(m[k])}</td></tr>" for k in _metric_keys(m)]
    parts.append("</table></div><div><h2>Charts</h2>" + accuracy_chart(run) + "<br>" + latency_histogram(run))
    parts.append("</div></div>")
    parts.append(_type_table(m))
    if run.get("compare"):
        changes = run["compare"]["changes"]
        parts.append(f"<h2>Changed versus <code>{escape(run['compare']['previous'])}</code> ({len(changes)})</h2>")
        parts.append("<ul>" + "".join(f"<li>{escape(c)}</li>" for c in changes) + "</ul>" if changes else "<p>none</p>")
    parts.append(_items_table(run["items"]))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _type_table(m: dict[str, float]) -> str:
    columns = _type_columns(m)
    rows = ["<h2>By question type</h2><table class='metrics'><tr><th>type</th>"]
    rows[0] += "".join(f"<th>{escape(c)}</th>" for c in columns) + "</tr>"
    for kind in _types(m):
        cells = "".join(f"<td class='num'>{_fmt(m.get(f'by_type.{kind}.{c}'))}</td>" for c in columns)
        rows.append(f"<tr><td>{escape(kind)}</td>{cells}</tr>")
    return "".join(rows) + "</table>"


def _items_table(items: list[dict[str, Any]]) -> str:
    head = ("id", "type", "question", "answer", "cited files", "quotes", "retrieved (top 5)", "total s", "result")
    rows = ["<h2>Questions</h2><table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for i in items:
        status = "n/a" if i["passed"] is None else "pass" if i["passed"] else "fail"
        question = "<br>".join(
            f"<span class='small'>turn 1:</span> {escape(t)}" if n == 0 and len(i["turns"]) > 1 else escape(t)
            for n, t in enumerate(i["turns"])
        )  # fmt: skip
        if len(i["turns"]) > 1 and i.get("first_answer"):
            question += f"<div class='small'>answer 1: {escape(i['first_answer'])}</div>"
        answer = "<i>(retrieval only)</i>" if i["answer"] is None else escape(i["answer"])
        if i.get("refused"):
            answer += f"<div class='small'>refused: {escape(i.get('refusal_reason', ''))}</div>"
        if i.get("draft") and (i.get("refused") or i.get("passed") is False):
            answer += f"<div class='small'>model draft: {escape(i['draft'])}</div>"
        gold = set(i["gold_sources"])
        cited = ", ".join(f"<span class='{'' if f in gold else 'bad'}'>{escape(f)}</span>" for f in i["cited_files"])
        quotes = "".join(
            f"<div class='quote{'' if c['valid'] else ' bad'}'>[{c['n']}] {escape(c['quote'])}</div>"
            for c in i["citations"]
        )  # fmt: skip
        retrieved = "<br>".join(
            f"<span class='{'' if s in gold else 'small'}'>{rank}. {escape(s)}</span>"
            for rank, s in enumerate(i["retrieved"][:5], start=1)
        )  # fmt: skip
        total = i["timings"].get("total_ms")
        why = "".join(f"<div class='small'>{escape(d)}</div>" for d in i["diagnosis"])
        rows.append(
            f"<tr class='{status}' id='{escape(i['id'])}'><td>{escape(i['id'])}</td><td>{escape(i['type'])}</td>"
            f"<td>{question}</td><td>{answer}</td><td>{cited}</td><td>{quotes}</td><td class='small'>{retrieved}</td>"
            f"<td class='num'>{'' if total is None else f'{total / 1000:.1f}'}</td>"
            f"<td class='status'>{status}{why}</td></tr>"
        )
    return "".join(rows) + "</table>"


def accuracy_chart(run: dict[str, Any]) -> str:
    """Horizontal bars of per-type pass rate: answer accuracy, refusal accuracy for refusal types."""
    m = run["metrics"]
    rows = []
    for kind in _types(m):
        for key, label in (("answer.accuracy", "answer accuracy"), ("refusal.accuracy", "refused correctly"),
                           ("retrieval.recall@5", "recall@5")):  # fmt: skip
            value = m.get(f"by_type.{kind}.{key}")
            if value is not None and (key != "retrieval.recall@5" or run["mode"] == "retrieval-only"):
                rows.append((kind, value, label, int(m.get(f"by_type.{kind}.count.items", 0))))
                break
    width, left, bar_h, gap = 480, 110, 20, 8
    height = 44 + len(rows) * (bar_h + gap)
    span = width - left - 80
    title, note = (("Recall@5 by question type", "answerable types only") if run["mode"] == "retrieval-only"
                   else ("Pass rate by question type", "answer accuracy; refusal accuracy for unanswerable, off_topic"))
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
           f"aria-label='{title}'><text x='0' y='14' font-size='13' font-weight='600'>{title}</text>"
           f"<text x='0' y='29' font-size='11' fill='#59636e'>{note}</text>"]  # fmt: skip
    for n, (kind, value, label, count) in enumerate(rows):
        y = 40 + n * (bar_h + gap)
        color = PASS if value >= 0.9 else "#bf8700" if value >= 0.7 else FAIL
        out.append(
            f"<text x='{left - 6}' y='{y + 14}' font-size='12' text-anchor='end'>{escape(kind)}</text>"
            f"<rect x='{left}' y='{y}' width='{span}' height='{bar_h}' fill='#eef1f4'/>"
            f"<rect x='{left}' y='{y}' width='{span * value:.1f}' height='{bar_h}' fill='{color}'>"
            f"<title>{escape(kind)}: {label} {value:.2f} (n={count})</title></rect>"
            f"<text x='{left + span + 6}' y='{y + 14}' font-size='12'>{value:.2f} n={count}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def latency_histogram(run: dict[str, Any]) -> str:
    """Histogram of total_ms (seconds), with p50 and p95 as dashed lines; empty in a retrieval-only run."""
    values = [i["timings"]["total_ms"] / 1000 for i in run["items"] if "total_ms" in i.get("timings", {})]
    if not values:
        return ""
    bins = histogram(values, 12)
    width, height, left, bottom, top = 460, 260, 12, 36, 58
    plot_w, plot_h = width - 2 * left, height - top - bottom
    peak = max(count for _, _, count in bins) or 1
    lo, hi = bins[0][0], bins[-1][1]
    bar_w = plot_w / len(bins)
    marks = [(label, run["metrics"].get(key)) for key, label in (("latency.total_ms.p50", "p50"),
                                                                   ("latency.total_ms.p95", "p95"))]  # fmt: skip
    legend = " · ".join(f"{label} {value / 1000:.1f} s" for label, value in marks if value is not None)
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
           f"aria-label='latency histogram'><text x='0' y='14' font-size='13' font-weight='600'>"
           f"Total latency per question (s), n={len(values)}</text>"
           f"<text x='0' y='29' font-size='11' fill='{FAIL}'>dashed: {legend}</text>"]  # fmt: skip
    for n, (start, end, count) in enumerate(bins):
        h = 0.9 * plot_h * count / peak  # headroom for the count above the tallest bar
        x = left + n * bar_w
        out.append(f"<rect x='{x + 1:.1f}' y='{top + plot_h - h:.1f}' width='{bar_w - 2:.1f}' height='{h:.1f}' "
                   f"fill='#0969da'><title>{start:.1f}–{end:.1f} s: {count}</title></rect>")  # fmt: skip
        if count:
            out.append(f"<text x='{x + bar_w / 2:.1f}' y='{top + plot_h - h - 3:.1f}' font-size='10' "
                       f"text-anchor='middle'>{count}</text>")  # fmt: skip
    for n in range(0, len(bins) + 1, 2):
        anchor = "start" if n == 0 else "end" if n == len(bins) else "middle"
        out.append(f"<text x='{left + n * bar_w:.1f}' y='{top + plot_h + 14}' font-size='10' "
                   f"text-anchor='{anchor}'>{lo + n * (hi - lo) / len(bins):.1f}</text>")  # fmt: skip
    out.append(f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' stroke='#59636e'/>")
    for label, value in marks:
        if value is not None and hi > lo:
            x = left + (value / 1000 - lo) * plot_w / (hi - lo)
            out.append(f"<line x1='{x:.1f}' y1='{top - 6}' x2='{x:.1f}' y2='{top + plot_h}' stroke='{FAIL}' "
                       f"stroke-dasharray='4 3'><title>{label} {value / 1000:.1f} s</title></line>"
                       f"<text x='{x:.1f}' y='{top - 9}' font-size='10' fill='{FAIL}' text-anchor='middle'>"
                       f"{label}</text>")  # fmt: skip
    out.append(f"<text x='{width / 2}' y='{height - 6}' font-size='11' text-anchor='middle'>seconds</text>")
    out.append("</svg>")
    return "".join(out)


def histogram(values: list[float], bins: int) -> list[tuple[float, float, int]]:
    """(start, end, count) of equal-width bins from min to max: histogram([0, 1, 2], 2) == [(0, 1, 1), (1, 2, 2)]."""
    lo, hi = min(values), max(values)
    if hi == lo:
        return [(lo, hi, len(values))]
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    return [(lo + n * width, lo + (n + 1) * width, c) for n, c in enumerate(counts)]


# Shared --------------------------------------------------------------------------------------------------


def _metric_keys(m: dict[str, float]) -> list[str]:
    overall = [k for k in m if not k.startswith("by_type.")]
    return [k for k in HEADLINE if k in m] + sorted(k for k in overall if k not in HEADLINE)


def _load_note(run: dict[str, Any]) -> str:
    machine = run.get("machine") or {}
    loads = [x for x in (machine.get("load_average_before"), machine.get("load_average_after")) if x]
    return f" on {machine.get('cpus')} CPUs, load {max(x[0] for x in loads):.1f}" if loads else ""


def _type_columns(m: dict[str, float]) -> list[str]:
    return [c for c in TYPE_COLUMNS if any(k.startswith("by_type.") and k.endswith(f".{c}") for k in m)]


def _types(m: dict[str, float]) -> list[str]:
    present = {k.split(".")[1] for k in m if k.startswith("by_type.")}
    return [t for t in TYPES if t in present] + sorted(present - set(TYPES))


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    if abs(value) > 1:  # a count, milliseconds or tokens; rates are within 0..1
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"
    return f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    """Render the Markdown and HTML of a saved results file next to it."""
    for name in argv if argv is not None else sys.argv[1:]:
        path = Path(name)
        run = json.loads(path.read_text(encoding="utf-8"))
        path.with_suffix(".md").write_text(render_markdown(run), encoding="utf-8")
        path.with_suffix(".html").write_text(render_html(run), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
