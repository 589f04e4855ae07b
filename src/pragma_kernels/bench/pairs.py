"""One unit of bench work: the loop on one problem in one mode, in its own run directory
(resumed from there after a kill), turned into store rows."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels.bench.rows import attempt_row, run_row
from pragma_kernels.bench.store import AttemptRow, ProblemRow, RunRow
from pragma_kernels.evaluation.evaluator import AttemptRunner
from pragma_kernels.llm import LLMSettings


@dataclass(frozen=True)
class BenchOptions:
    """What every run of a bench shares (stored as its settings)."""

    target: str | None = None
    attempts: int = 15
    baselines: tuple[str, ...] = ("eager", "compile")
    dtype: str | None = None
    size: str | None = None
    use_ncu: bool = True
    llm: LLMSettings | None = None  # the LLM modes (None: the configured one)
    conductor: LLMSettings | None = None
    max_usd: float | None = None  # per run


@dataclass(frozen=True)
class Pair:
    problem: ProblemRow
    mode: str

    @property
    def key(self) -> tuple[str, str]:
        return self.problem.problem, self.mode


@dataclass
class PairResult:
    run: RunRow
    attempts: list[AttemptRow] = field(default_factory=list)


def run_dir_for(bench_dir: Path, pair: Pair) -> Path:
    return bench_dir / "runs" / f"{pair.problem.problem}-{pair.mode}"


def run_pair(
    pair: Pair,
    bench_dir: Path,
    options: BenchOptions,
    lease: Callable[[], AbstractContextManager] = nullcontext,
    lease_seconds: Callable[[], float] = lambda: 0.0,
    attempt_runner: AttemptRunner | None = None,
) -> PairResult:
    """Run (or resume) the loop for one pair; a failure of the loop itself is a row with
    status "error", never an exception (the bench goes on). `attempt_runner`: where each
    attempt is evaluated (None: here; the Ray executor's evaluation actor)."""
    from pragma_kernels.api import optimize

    start = time.monotonic()
    folder = run_dir_for(bench_dir, pair)
    problem, mode = pair.problem.problem, pair.mode
    try:
        result = optimize(
            pair.problem.path,
            target=options.target,
            mode=mode,
            llm=options.llm if mode != "offline" else None,
            conductor=options.conductor if mode != "offline" else None,
            attempts=options.attempts,
            run_dir=folder,
            dtype=options.dtype,
            size=options.size,
            use_ncu=options.use_ncu,
            resume=True,
            max_usd=options.max_usd,
            also_time=tuple(b for b in options.baselines if b != "eager"),
            lease=lease,
            attempt_runner=attempt_runner,
        )
    except Exception as exc:  # noqa: BLE001 - one pair's failure must not stop the bench
        return failed_pair(pair, bench_dir, exc, time.monotonic() - start, lease_seconds())
    attempts = [attempt_row(problem, mode, record) for record in result.attempts]
    run = run_row(
        problem,
        mode,
        attempts,
        result.best.number if result.best else None,
        status="unsupported" if result.unsupported else "done",
        run_dir=str(folder),
        stopped=result.stopped,
        recognition=result.recognition,
        faster_found=result.faster_found if result.best else None,
        device_s=round(lease_seconds(), 2),
        wall_s=round(time.monotonic() - start, 2),
    )
    return PairResult(run, attempts)


def failed_pair(
    pair: Pair, bench_dir: Path, exc: BaseException, wall_s: float, device_s: float = 0.0
) -> PairResult:
    """The row of a pair whose loop failed (or whose worker died): status "error", which a
    resumed bench runs again."""
    return PairResult(
        RunRow(
            problem=pair.problem.problem,
            mode=pair.mode,
            status="error",
            run_dir=str(run_dir_for(bench_dir, pair)),
            error=f"{type(exc).__name__}: {exc}"[:2000],
            wall_s=round(wall_s, 2),
            device_s=round(device_s, 2),
        )
    )
