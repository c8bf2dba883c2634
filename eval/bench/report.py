"""Report: a bench run's files — the JSON record, the SVG of its charts and a self-contained HTML page.

    paths = write_results(run, Path("bench/results"))        # <run>.json .svg .html, each copied to latest.*
    python -m eval.bench.report bench/results/latest.json    # print and render a saved run again

Pure functions of the run record: nothing here measures, so a saved run (old ones too) can be re-rendered.
The HTML embeds the SVG inline, makes no requests and runs no script.
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path
from typing import Any

from eval.bench.charts import render_svg
from eval.bench.table import format_table, format_values, load_text, table_rows
from eval.bench.targets import op_symbol, status_colour
from eval.report import write_run_files

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#24292f;max-width:1000px}
table{border-collapse:collapse;margin:1em 0}td,th{border-bottom:1px solid #d0d7de;padding:3px 10px;text-align:left}
td:nth-child(3){font-variant-numeric:tabular-nums}.meta{color:#57606a}svg{max-width:100%;height:auto}"""


def render_html(run: dict[str, Any], svg: str) -> str:
    """The page: targets, the charts (`svg`, inline), every figure, and the load average of each section."""
    targets = "".join(
        f"<tr><td>{escape(t['label'])}</td><td>{escape(format_values(t, ('value',), t['unit']))}</td>"
        f"<td>{escape(op_symbol(t['op']))} {t['limit']:g} {escape(t['unit'])}</td>"
        f'<td style="color:{status_colour(t["status"])};font-weight:bold">{t["status"]}</td></tr>'
        for t in run.get("targets", [])
    )
    figures = "".join(
        f"<tr><td>{escape(row.group)}</td><td>{escape(row.label)}</td>"
        f"<td>{escape(format_values(run['metrics'], row.keys, row.unit))}</td></tr>"
        for row in table_rows(run)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>qa bench {escape(run["run"])}</title>
<style>{STYLE}</style></head><body>
<h1>qa bench {escape(run["run"])}{"" if run.get("complete", True) else " (partial)"}</h1>
{_meta(run)}
<h2>Targets</h2><table><tr><th>target</th><th>measured</th><th>limit</th><th></th></tr>{targets}</table>
{svg}
<h2>Figures</h2><table><tr><th>section</th><th>figure</th><th>value</th></tr>{figures}</table>
<h2>Load average per section (1, 5, 15 min)</h2><ul>{_section_loads(run)}</ul>
</body></html>
"""


def _meta(run: dict[str, Any]) -> str:
    load, machine = run.get("load_average", {}), run["machine"]
    return (
        f'<p class="meta">model {escape(run["model"])} · {machine["cpus"]} CPUs · {escape(machine["platform"])} ·\n'
        f"{run.get('duration_s', '?')} s · load average {load_text(load.get('start'))} → "
        f"{load_text(load.get('end'))}</p>"
    )


def _section_loads(run: dict[str, Any]) -> str:
    loads = "".join(
        f"<li>{escape(name)}: {load_text(s['load_average']['before'])} → {load_text(s['load_average']['after'])} "
        f"({s['seconds']} s)</li>"
        for name, s in run.get("sections", {}).items()
    )
    return loads + "".join(f"<li>skipped {escape(k)}: {escape(v)}</li>" for k, v in run.get("skipped", {}).items())


def write_results(run: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write <run>.json, .svg and .html into out_dir and copy them to latest.*; returns the run's paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    svg = render_svg(run)
    contents = {"json": json.dumps(run, ensure_ascii=False, indent=1), "svg": svg, "html": render_html(run, svg)}
    return write_run_files(run["run"], contents, out_dir)


def main(argv: list[str] | None = None) -> int:
    """Re-render a saved run beside its JSON: main(["bench/results/latest.json"])."""
    path = Path((argv if argv is not None else sys.argv[1:])[0])
    saved = json.loads(path.read_text(encoding="utf-8"))
    for written in write_results(saved, path.parent):
        print(f"wrote {written}", file=sys.stderr)
    print(format_table(saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
