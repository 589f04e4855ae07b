"""report.html: one self-contained file (inline CSS, figures as base64 PNG, no script, no
network), every string from the store escaped on its way in."""

from __future__ import annotations

import base64
import re
from html import escape
from urllib.parse import quote

from pragma_kernels.bench.figures import Figures
from pragma_kernels.bench.summary import BenchReport
from pragma_kernels.bench.tables import (
    Cell,
    Link,
    Table,
    category_table,
    overall_table,
    problems_table,
    sessions_table,
    settings_table,
)

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fff5f5; }
p.note { color: #555; font-size: 12px; max-width: 60em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 12px; }
code { font-size: 12px; }
"""


def _cell(cell: Cell) -> str:
    if isinstance(cell, Link):
        href = quote(cell.href, safe="/.-_~")
        return f'<a href="{escape(href, quote=True)}">{escape(cell.text)}</a>'
    if isinstance(cell, tuple):
        return " · ".join(_cell(c) for c in cell)
    return escape(cell)


_NUMBER = re.compile(r"^(\$?[\d,.]+(%|x)?|—)$")


def _numeric(cell: Cell) -> bool:
    return isinstance(cell, str) and _NUMBER.match(cell) is not None


def table_html(table: Table, row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = []
    for i, row in enumerate(table.rows):
        css = (
            f' class="{escape(row_classes[i], quote=True)}"'
            if row_classes and row_classes[i]
            else ""
        )
        cells = "".join(
            f'<td class="num">{_cell(c)}</td>' if _numeric(c) else f"<td>{_cell(c)}</td>"
            for c in row
        )
        body.append(f"<tr{css}>{cells}</tr>")
    parts = [f'<h2 id="{escape(table.key, quote=True)}">{escape(table.title)}</h2>']
    if table.rows:
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    else:
        parts.append("<p>(none)</p>")
    if table.note:
        parts.append(f'<p class="note">{escape(table.note)}</p>')
    return "\n".join(parts)


def figure_html(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{escape(caption, quote=True)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def render_html(report: BenchReport, figures: Figures) -> str:
    problems = problems_table(report, links=True)
    status = [("" if line.correct else "failed") for line in report.problems]
    sections = [
        table_html(settings_table(report)),
        table_html(sessions_table(report)),
        table_html(overall_table(report)),
    ]
    if figures.success is not None:
        sections.append(
            figure_html(
                figures.success,
                "Success and fast_p by mode: shares of all runs (unsupported and errored runs "
                "count as failures; an incorrect run is never fast).",
            )
        )
    sections.append(table_html(category_table(report)))
    sections.append('<h2 id="fig3">Fig. 3: speedup by category</h2>')
    if not figures.by_category:
        sections.append("<p>No correct run has a timed speedup.</p>")
    for baseline, png in figures.by_category.items():
        sections.append(
            figure_html(
                png,
                f"Fig. 3 ({baseline}): each correct run's best speedup vs {baseline}, by "
                "category and mode; boxes span the quartiles, the dashed line is 1.0x.",
            )
        )
    sections.append('<h2 id="fig4">Fig. 4: progress over attempts</h2>')
    for label, png in figures.progress:
        sections.append(
            figure_html(
                png,
                f"Fig. 4 ({label}): best-so-far speedup vs eager after each attempt (the "
                "correct attempt with the lowest time so far), each mode a colour; faint dots: "
                "every correct attempt's own speedup.",
            )
        )
    sections.append(table_html(problems, status))
    title = f"pragma bench report: {report.bench_dir}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head>\n<body>\n<h1>{escape(title)}</h1>\n"
        f"<p>Modes: {escape(', '.join(report.modes) or '(none)')}; baselines: "
        f"{escape(', '.join(report.baselines))}; {len(report.problems)} runs. The same "
        "tables are in report.md, every metric group and run in report.json.</p>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
