"""A bench's results as one typed summary: what the report's tables, its JSON and the
markdown are made from (the figures read the rows themselves).

`read_bench` is the only I/O (the store); `summarise` is pure but for checking which of a
run's files exist, so that the report links only to files that are there.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from pragma_kernels.bench.metrics import Metrics, grouped
from pragma_kernels.bench.store import STORE, AttemptRow, BenchStore, ProblemRow, RunRow
from pragma_kernels.errors import PragmaError


class ProblemLine(BaseModel):
    """One run (a problem in one mode), as the per-problem table shows it."""

    problem: str
    category: str
    mode: str
    status: str  # done | unsupported | error (store.RunRow)
    correct: bool
    attempts: int
    best_attempt: int | None = None
    speedup_eager: float | None = None
    speedup_compile: float | None = None
    first_correct: int | None = None
    reason: str = ""  # why the loop stopped, or the error
    recognition: str = ""  # offline: the family and parameters matched, or why none fits
    bottleneck: str = ""  # the best attempt's diagnosis: why the result runs at its speed
    # "best.py", "trace.md", "attempt" (the best attempt's JSON, with its profile) -> the
    # file's path relative to the report's folder; only files that exist
    files: dict[str, str] = {}

    @property
    def outcome(self) -> str:
        if self.correct:
            return "correct"
        return "failed" if self.status == "done" else f"failed ({self.status})"


class BenchReport(BaseModel):
    bench_dir: str
    settings: dict
    sessions: list[dict]
    modes: list[str]
    baselines: list[str]  # eager, and compile when the bench timed it
    metrics: dict[str, dict[str, Metrics]]  # metrics.grouped: "all", "mode", "category"
    problems: list[ProblemLine]


@dataclass
class BenchRows:
    """Everything in a bench's store."""

    settings: dict
    sessions: list[dict]
    problems: list[ProblemRow]
    runs: list[RunRow]
    attempts: list[AttemptRow]

    @property
    def categories(self) -> dict[str, str]:
        return {p.problem: p.category for p in self.problems}


def read_bench(bench_dir: Path) -> BenchRows:
    path = bench_dir / STORE
    if not path.is_file():  # BenchStore would create an empty one
        raise PragmaError(
            f"{bench_dir}: no {STORE} here. Fix: name a folder `pragma bench` wrote "
            "(its --out), or run the bench first"
        )
    store = BenchStore(path)
    try:
        return BenchRows(
            settings=store.settings() or {},
            sessions=store.sessions(),
            problems=store.problems(),
            runs=store.runs(),
            attempts=store.attempts(),
        )
    finally:
        store.close()


def summarise(rows: BenchRows, bench_dir: Path, out_dir: Path) -> BenchReport:
    """The summary; `out_dir`: where the report goes (its links are relative to it)."""
    categories = rows.categories
    bottlenecks = {(a.problem, a.mode, a.number): a.bottleneck for a in rows.attempts}
    return BenchReport(
        bench_dir=str(bench_dir),
        settings=rows.settings,
        sessions=rows.sessions,
        modes=sorted({r.mode for r in rows.runs}),
        baselines=baselines_of(rows),
        metrics=grouped(rows.runs, rows.attempts, categories),
        problems=[
            _line(
                run,
                categories.get(run.problem, "others"),
                bottlenecks.get((run.problem, run.mode, run.best_attempt), ""),
                bench_dir,
                out_dir,
            )
            for run in sorted(rows.runs, key=lambda r: (natural_key(r.problem), r.mode))
        ],
    )


def natural_key(name: str) -> list:
    """KernelBench's order: 2_x before 10_x."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def baselines_of(rows: BenchRows) -> list[str]:
    """eager always; compile when the settings name it or any attempt timed it (a bench
    run with `--baselines eager` has no compile figures to show, not zeros)."""
    named = rows.settings.get("baselines") or []
    timed = any(a.compile_ms for a in rows.attempts) or any(r.compile_ms for r in rows.runs)
    return ["eager", "compile"] if "compile" in named or timed else ["eager"]


def run_folder(run: RunRow, bench_dir: Path) -> Path | None:
    """The run's directory: under this bench's runs/ first (the bench may have moved since
    the path was stored), else the stored path; None when neither exists."""
    stored = Path(run.run_dir) if run.run_dir else None
    name = stored.name if stored else f"{run.problem}-{run.mode}"
    for folder in (bench_dir / "runs" / name, stored):
        if folder is not None and folder.is_dir():
            return folder
    return None


def _line(
    run: RunRow, category: str, bottleneck: str, bench_dir: Path, out_dir: Path
) -> ProblemLine:
    return ProblemLine(
        problem=run.problem,
        category=category,
        mode=run.mode,
        status=run.status,
        correct=run.correct,
        attempts=run.attempts,
        best_attempt=run.best_attempt,
        speedup_eager=run.speedup_eager,
        speedup_compile=run.speedup_compile,
        first_correct=run.first_correct,
        reason=run.error if run.status == "error" else run.stopped,
        recognition=run.recognition,
        bottleneck=bottleneck,
        files=_files(run, bench_dir, out_dir),
    )


def _files(run: RunRow, bench_dir: Path, out_dir: Path) -> dict[str, str]:
    folder = run_folder(run, bench_dir)
    if folder is None:
        return {}
    wanted = {"best.py": folder / "best.py", "trace.md": folder / "trace.md"}
    if run.best_attempt is not None:
        wanted["attempt"] = folder / "attempts" / f"{run.best_attempt:03d}.json"
    return {
        name: Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix()
        for name, path in wanted.items()
        if path.is_file()
    }
