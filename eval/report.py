"""Report: one eval run as JSON, a Markdown summary and a self-contained HTML page (inline CSS, SVG charts).

    paths = write_reports(run, Path("eval/results"))   # <run>.json .md .html, copied to latest.*
    python -m eval.report eval/results/latest.json      # render the .md and .html of a saved run again

A run holds several suites (corpus × split): the headline table has a column per suite. The HTML makes no
requests and runs no script; its charts are drawn by matplotlib and embedded as SVG (eval/charts.py).
"""

from __future__ import annotations

import json
import shutil
import sys
from html import escape
from pathlib import Path
from typing import Any

from eval.charts import latency_histogram, pass_rate_chart
from eval.dataset import TYPES

HEADLINE = (  # metrics shown first, in this order
    "answer.accuracy",
    "answer.correct_cited",
    "citation.file_accuracy",
    "citation.quote_validity",
    "citation.quote_states_answer",
    "refusal.accuracy",
    "refusal.false_rate",
    "verification.false_support",
    "faithfulness",
    "retrieval.recall@1",
    "retrieval.recall@5",
    "retrieval.mrr@10",
    "latency.ttft_ms.p50",
    "latency.total_ms.p50",
    "latency.total_ms.p95",
    "tokens.prompt_tokens.mean",
    "count.items",
)
GROUP_COLUMNS = (
    "count.items",
    "answer.accuracy",
    "answer.correct_cited",
    "refusal.accuracy",
    "refusal.false_rate",
    "verification.false_support",
    "citation.file_accuracy",
    "retrieval.recall@5",
)


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
    suites = run["suites"]
    names = [s["name"] for s in suites]
    lines = [
        f"# Eval {run['run']}",
        "",
        f"{run['mode']} run · model `{run.get('model') or '—'}` · {run['gold']['items']} items · "
        f"{run['duration_s']} s{_load_note(run)} · gate **{run['gate']['status']}**",
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for key in headline_keys(suites):
        lines.append(f"| `{key}` | " + " | ".join(_fmt(s["metrics"].get(key)) for s in suites) + " |")
    for suite in suites:
        m = suite["metrics"]
        for prefix, title in (("by_type", "question type"), ("by_kind", "kind")):
            groups = group_names(m, prefix)
            if not groups:
                continue
            columns = group_columns(m, prefix)
            lines += ["", f"## {suite['name']}: by {title}", "", f"| {title} | " + " | ".join(columns) + " |"]
            lines.append("|---" * (len(columns) + 1) + "|")
            for group in groups:
                lines.append(f"| {group} | " + " | ".join(_fmt(m.get(f"{prefix}.{group}.{c}")) for c in columns) + " |")
    if run["gate"]["failures"]:
        lines += ["", "## Gate failures", ""] + [f"- {f}" for f in run["gate"]["failures"]]
    if run.get("compare"):
        changes = run["compare"]["changes"]
        lines += ["", f"## Changed versus `{run['compare']['previous']}` ({len(changes)})", ""]
        lines += [f"- {c}" for c in changes] or ["- none"]
    failed = [i for i in run["items"] if i["passed"] is False]
    lines += ["", f"## Failures ({len(failed)})", "", "| suite | id | type | question | answer | why |"]
    lines.append("|---|---|---|---|---|---|")
    for i in failed:
        answer = i["answer"] if i["answer"] is not None else "(retrieval only)"
        lines.append(
            f"| {i.get('suite', '')} | {i['id']} | {i['type']} | {_cell(i['question'])} | {_cell(answer)} | "
            f"{_cell('; '.join(i['diagnosis']))} |"
        )
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
    gate = run["gate"]
    suites = run["suites"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Eval {escape(run['run'])}</title><style>{CSS}</style></head><body>",
        f"<h1>Eval {escape(run['run'])}</h1>",
        f"<div class='meta'>{escape(run['mode'])} run · model <code>{escape(str(run.get('model') or '—'))}</code>"
        f" · {run['gold']['items']} items · {run['duration_s']} s{_load_note(run)} · created "
        f"{escape(run['created_at'])} · gate <b class='gate-{escape(gate['status'].split()[0])}'>"
        f"{escape(gate['status'])}</b></div>",
    ]
    if gate["failures"]:
        parts.append("<ul>" + "".join(f"<li class='bad'>{escape(f)}</li>" for f in gate["failures"]) + "</ul>")
    parts.append("<h2>Metrics by suite</h2><table class='metrics'><tr><th>metric</th>")
    parts.append("".join(f"<th>{escape(s['name'])}</th>" for s in suites) + "</tr>")
    for key in headline_keys(suites):
        cells = "".join(f"<td class='num'>{_fmt(s['metrics'].get(key))}</td>" for s in suites)
        parts.append(f"<tr><td><code>{escape(key)}</code></td>{cells}</tr>")
    parts.append("</table>")
    parts.append("<div class='charts'>" + pass_rate_chart(suites, run["mode"] == "retrieval-only"))
    parts.append(latency_histogram(run["items"]) + "</div>")
    for suite in suites:
        parts.append(_group_table(suite, "by_type", "question type") + _group_table(suite, "by_kind", "kind"))
    if run.get("compare"):
        changes = run["compare"]["changes"]
        parts.append(f"<h2>Changed versus <code>{escape(run['compare']['previous'])}</code> ({len(changes)})</h2>")
        parts.append("<ul>" + "".join(f"<li>{escape(c)}</li>" for c in changes) + "</ul>" if changes else "<p>none</p>")
    parts.append(_items_table(run["items"]))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _group_table(suite: dict[str, Any], prefix: str, title: str) -> str:
    m = suite["metrics"]
    groups = group_names(m, prefix)
    if not groups:
        return ""
    columns = group_columns(m, prefix)
    rows = [f"<h2>{escape(suite['name'])}: by {title}</h2><table class='metrics'><tr><th>{title}</th>"]
    rows[0] += "".join(f"<th>{escape(c)}</th>" for c in columns) + "</tr>"
    for group in groups:
        cells = "".join(f"<td class='num'>{_fmt(m.get(f'{prefix}.{group}.{c}'))}</td>" for c in columns)
        rows.append(f"<tr><td>{escape(group)}</td>{cells}</tr>")
    return "".join(rows) + "</table>"


def _items_table(items: list[dict[str, Any]]) -> str:
    head = (
        "suite",
        "id",
        "type",
        "question",
        "answer",
        "cited files",
        "quotes",
        "retrieved (top 5)",
        "total s",
        "result",
    )
    rows = ["<h2>Questions</h2><table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for i in items:
        status = "n/a" if i["passed"] is None else "pass" if i["passed"] else "fail"
        question = "<br>".join(
            f"<span class='small'>turn 1:</span> {escape(t)}" if n == 0 and len(i["turns"]) > 1 else escape(t)
            for n, t in enumerate(i["turns"])
        )
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
        )
        retrieved = "<br>".join(
            f"<span class='{'' if s in gold else 'small'}'>{rank}. {escape(s)}</span>"
            for rank, s in enumerate(i["retrieved"][:5], start=1)
        )
        total = i["timings"].get("total_ms")
        why = "".join(f"<div class='small'>{escape(d)}</div>" for d in i["diagnosis"])
        kind = f"<div class='small'>{escape(i['kind'])}</div>" if i.get("kind") else ""
        rows.append(
            f"<tr class='{status}' id='{escape(i.get('suite', ''))}:{escape(i['id'])}'>"
            f"<td class='small'>{escape(i.get('suite', ''))}</td><td>{escape(i['id'])}</td>"
            f"<td>{escape(i['type'])}{kind}</td><td>{question}</td><td>{answer}</td><td>{cited}</td><td>{quotes}</td>"
            f"<td class='small'>{retrieved}</td><td class='num'>{'' if total is None else f'{total / 1000:.1f}'}</td>"
            f"<td class='status'>{status}{why}</td></tr>"
        )
    return "".join(rows) + "</table>"


# Shared --------------------------------------------------------------------------------------------------


def headline_keys(suites: list[dict[str, Any]]) -> list[str]:
    """The headline metrics measured in any suite, then the other overall ones, sorted."""
    present = {k for s in suites for k in s["metrics"] if not k.startswith(("by_type.", "by_kind."))}
    return [k for k in HEADLINE if k in present] + sorted(present - set(HEADLINE))


def group_names(m: dict[str, float], prefix: str) -> list[str]:
    """The types (in TYPES order) or kinds present in a suite's metrics."""
    present = {k.split(".")[1] for k in m if k.startswith(prefix + ".")}
    ordered = [t for t in TYPES if t in present] if prefix == "by_type" else []
    return ordered + sorted(present - set(ordered))


def group_columns(m: dict[str, float], prefix: str) -> list[str]:
    return [c for c in GROUP_COLUMNS if any(k.startswith(prefix + ".") and k.endswith(f".{c}") for k in m)]


def _load_note(run: dict[str, Any]) -> str:
    machine = run.get("machine") or {}
    loads = [x for x in (machine.get("load_average_before"), machine.get("load_average_after")) if x]
    return f" on {machine.get('cpus')} CPUs, load {max(x[0] for x in loads):.1f}" if loads else ""


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
