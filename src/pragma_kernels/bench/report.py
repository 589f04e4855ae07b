"""`pragma report`: a bench's store turned into three files beside each other.

    report.html   self-contained (inline CSS, figures as base64 PNG): settings and sessions,
                  the metrics by mode and by category, success and fast_p bars, Fig. 3
                  (speedup by category), Fig. 4 (progress over attempts), the per-problem
                  table with links to each run's best.py, trace.md and best attempt's JSON
    report.md     the same tables without figures or links (to commit under
                  benchmarks/results/)
    report.json   the summary: every metric group (metrics.grouped) and one row per run

The parts: summary.py reads the store into a typed summary, tables.py builds the tables
(and their markdown), figures.py draws, report_html.py assembles the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pragma_kernels.bench.figures import draw_all, require_matplotlib
from pragma_kernels.bench.report_html import render_html
from pragma_kernels.bench.summary import BenchReport, read_bench, summarise
from pragma_kernels.bench.tables import render_markdown

HTML = "report.html"


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    markdown: Path
    json: Path
    report: BenchReport


def build_report(bench_dir: Path, out_dir: Path | None = None) -> BenchReport:
    """The summary alone (no matplotlib needed): metrics and per-run rows, with file links
    relative to `out_dir` (default: the bench folder)."""
    return summarise(read_bench(bench_dir), bench_dir, out_dir or bench_dir)


def write_report(bench_dir: Path, out: Path | None = None) -> ReportFiles:
    """Write report.html (or `out`), and report.md and report.json beside it.

    Raises PragmaError when bench_dir holds no bench.sqlite, or when matplotlib is missing
    (before anything is written; the message names `pip install 'pragma-kernels[report]'`).
    """
    bench_dir = Path(bench_dir)
    html_path = Path(out) if out is not None else bench_dir / HTML
    require_matplotlib()
    rows = read_bench(bench_dir)
    report = summarise(rows, bench_dir, html_path.parent)
    figures = draw_all(
        report.metrics.get("mode", {}), rows.runs, rows.attempts, rows.categories, report.baselines
    )
    html_path.parent.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        html_path, html_path.with_suffix(".md"), html_path.with_suffix(".json"), report
    )
    _write(files.html, render_html(report, figures))
    _write(files.markdown, render_markdown(report))
    _write(files.json, report.model_dump_json(indent=1) + "\n")
    return files


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
