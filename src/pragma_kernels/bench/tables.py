"""The report's tables, built once from the summary and rendered twice: as markdown here,
as HTML in report_html.py (so report.md and report.html show the same numbers)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pragma_kernels.bench.metrics import FAST_P, Metrics, Speedups
from pragma_kernels.bench.summary import BenchReport, ProblemLine

NONE = "—"
FAILURES_NOTE = "unsupported and errored runs count as failures"


@dataclass(frozen=True)
class Link:
    text: str
    href: str  # a relative POSIX path


Cell = str | Link | tuple[Link, ...]


@dataclass(frozen=True)
class Table:
    key: str  # an anchor name
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    note: str = ""


# -- number formats (the tests compare these strings with hand-computed values) --------------
def pct(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f}%"


def times(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}x"


def number(value: float | None, digits: int = 2) -> str:
    return NONE if value is None else f"{value:,.{digits}f}"


def _optional(value: int | None) -> str:
    return NONE if value is None else str(value)


# -- the tables ---------------------------------------------------------------------------
def settings_table(report: BenchReport) -> Table:
    rows = [
        (key, value if isinstance(value, str) else json.dumps(value))
        for key, value in report.settings.items()
    ]
    return Table("settings", "Settings", ("setting", "value"), rows)


def sessions_table(report: BenchReport) -> Table:
    rows = [
        (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s["started"]))
            if isinstance(s.get("started"), int | float)
            else NONE,
            str(s.get("pairs_run", NONE)),
            str(s.get("pairs_skipped", NONE)),
            number(s.get("wall_s"), 1),
            str(s.get("devices", 1)),
            number(s.get("device_s"), 1),
            pct(s.get("device_share")),
        )
        for s in report.sessions
    ]
    columns = (
        "started (UTC)",
        "runs done",
        "runs skipped",
        "wall s",
        "devices",
        "device s",
        "device share",
    )
    note = (
        "one line per invocation (a resumed bench has several); device s: seconds evaluating, "
        "summed over the devices; device share: device s / (devices x wall s)"
    )
    return Table("sessions", "Sessions", columns, rows, note)


def _speedup_rows(baseline: str, get: Callable[[Metrics], Speedups]) -> list[tuple]:
    return [
        (f"correct runs timed vs {baseline}", lambda m: str(get(m).n)),
        (f"speedup vs {baseline}, mean", lambda m: times(get(m).mean)),
        (f"speedup vs {baseline}, geomean", lambda m: times(get(m).geomean)),
        (f"speedup vs {baseline}, median", lambda m: times(get(m).median)),
    ]


def _fast_rows(baseline: str) -> list[tuple]:
    field = "fast_eager" if baseline == "eager" else "fast_compile"
    return [
        (f"fast_{p:g} vs {baseline}", lambda m, k=f"fast_{p:g}": pct(getattr(m, field)[k]))
        for p in FAST_P
    ]


def overall_table(report: BenchReport) -> Table:
    """Metrics down, modes across (many metrics, few modes)."""
    specs: list[tuple] = [
        ("runs", lambda m: str(m.runs)),
        ("correct", lambda m: str(m.correct)),
        (f"correctness ({FAILURES_NOTE})", lambda m: pct(m.correctness)),
        ("compile rate", lambda m: pct(m.compile_rate)),
    ]
    specs += _speedup_rows("eager", lambda m: m.vs_eager)
    if "compile" in report.baselines:
        specs += _speedup_rows("compile", lambda m: m.vs_compile)
    for baseline in report.baselines:
        specs += _fast_rows(baseline)
    specs += [
        (
            "faster kernel found (best beats eager beyond the noise)",
            lambda m: f"{m.faster_kernel_found} of {m.runs}",
        ),
        ("attempts to first correct", lambda m: number(m.attempts_to_first_correct)),
        ("tokens per problem", lambda m: number(m.tokens_per_problem, 0)),
        ("$ per problem", lambda m: f"${m.usd_per_problem:.4f}"),
        ("harness s per attempt", lambda m: number(m.harness_s_per_attempt)),
    ]
    by_mode = report.metrics.get("mode", {})
    rows = [(label, *(get(by_mode[mode]) for mode in report.modes)) for label, get in specs]
    note = (
        f"Correctness and fast_p are shares of all runs: {FAILURES_NOTE}, and an incorrect "
        "run is never fast (KernelBench's definition; fast_0 = correctness). Speedups are "
        "over the correct runs, each the best kernel's own timing beside its baselines."
    )
    return Table("overall", "By mode", ("metric", *report.modes), rows, note)


def category_table(report: BenchReport) -> Table:
    compile_ = "compile" in report.baselines
    columns = ["mode", "category", "runs", "correctness", "compile rate"]
    columns += ["geomean vs eager", "median vs eager", "fast_1 vs eager"]
    if compile_:
        columns += ["geomean vs compile", "median vs compile", "fast_1 vs compile"]
    rows = []
    for key, m in report.metrics.get("category", {}).items():
        mode, category = key.split(" / ", 1)
        row = [mode, category, str(m.runs), pct(m.correctness), pct(m.compile_rate)]
        row += [times(m.vs_eager.geomean), times(m.vs_eager.median), pct(m.fast_eager["fast_1"])]
        if compile_:
            row += [
                times(m.vs_compile.geomean),
                times(m.vs_compile.median),
                pct(m.fast_compile["fast_1"]),
            ]
        rows.append(tuple(row))
    return Table("categories", "By category", tuple(columns), rows, f"correctness: {FAILURES_NOTE}")


def problems_table(report: BenchReport, links: bool, reason_chars: int = 300) -> Table:
    """One row per run; `links`: a column of relative links to the run's files."""
    compile_ = "compile" in report.baselines
    columns = ["problem", "category", "mode", "status", "attempts", "best vs eager"]
    columns += ["best vs compile"] if compile_ else []
    columns += ["first correct", "stopped / reason"]
    diagnosed = any(line.bottleneck for line in report.problems)
    columns += ["bottleneck (best)"] if diagnosed else []
    # offline runs: what the problem was recognised as (family, parameters) or why not
    recognised = any(line.recognition for line in report.problems)
    columns += ["recognised as"] if recognised else []
    columns += ["files"] if links else []
    rows = []
    for line in report.problems:
        row: list[Cell] = [line.problem, line.category, line.mode, line.outcome]
        row += [str(line.attempts), times(line.speedup_eager)]
        row += [times(line.speedup_compile)] if compile_ else []
        row += [_optional(line.first_correct), _shorten(line.reason, reason_chars)]
        row += [line.bottleneck or "-"] if diagnosed else []
        row += [_shorten(line.recognition, reason_chars)] if recognised else []
        row += [_file_links(line)] if links else []
        rows.append(tuple(row))
    note = "failed (unsupported) / failed (error): counted as failures, with the reason"
    return Table("problems", "Per problem", tuple(columns), rows, note)


def _file_links(line: ProblemLine) -> tuple[Link, ...]:
    names = {"best.py": "best.py", "trace.md": "trace.md", "attempt": "best attempt (JSON)"}
    return tuple(Link(text, line.files[key]) for key, text in names.items() if key in line.files)


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def headline_tables(report: BenchReport, links: bool) -> list[Table]:
    return [
        settings_table(report),
        sessions_table(report),
        overall_table(report),
        category_table(report),
        problems_table(report, links),
    ]


# -- markdown -----------------------------------------------------------------------------
def markdown_table(table: Table) -> str:
    lines = [f"## {table.title}", ""]
    if table.rows:
        lines.append("| " + " | ".join(_md(c) for c in table.columns) + " |")
        lines.append("|" + "---|" * len(table.columns))
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in table.rows]
    else:
        lines.append("(none)")
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines) + "\n"


def _md(cell: Cell) -> str:
    if isinstance(cell, Link):
        return f"[{_md(cell.text)}]({cell.href.replace(' ', '%20').replace(')', '%29')})"
    if isinstance(cell, tuple):
        return ", ".join(_md(c) for c in cell)
    # `<` and `>` as entities: markdown renderers pass raw HTML through
    text = cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(report: BenchReport) -> str:
    """report.md: the headline tables, no figures and no links (it is meant to be committed
    away from the run directories, under benchmarks/results/)."""
    parts = [f"# pragma bench: {Path(report.bench_dir).name}\n"]
    parts += [markdown_table(t) for t in headline_tables(report, links=False)]
    return "\n".join(parts)
