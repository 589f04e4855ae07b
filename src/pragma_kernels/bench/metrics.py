"""KernelBench's metrics over a bench's rows (pure functions).

- correctness: share of runs (problem x mode) with a correct kernel; unsupported and
  errored runs count as failures;
- compile rate: share of runs with at least one attempt that built and imported;
- speedup vs eager / vs torch.compile of each run's best kernel: mean, geometric mean and
  median over the correct runs that have it;
- fast_p: share of *all* runs that are correct and faster than p times the baseline
  (KernelBench's definition: an incorrect run is not fast); fast_0 = correctness, also for
  a correct run whose baseline could not be timed (torch.compile failing on a problem);
  for p > 0 such a run is not counted fast (its speedup is unknown);
- faster kernel found: runs whose best kernel is faster than eager beyond the timing noise
  (the loop's honest result); the speedups above stay each best kernel's own, as measured;
- attempts to the first correct kernel (mean over runs that got one), tokens and dollars
  per run (a problem in one mode: per problem within a mode), harness seconds per
  evaluated attempt (attempts with no candidate cost the harness nothing and are left out).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable

from pydantic import BaseModel

from pragma_kernels.bench.store import AttemptRow, RunRow

FAST_P = (0.0, 0.5, 1.0, 1.5, 2.0)


class Speedups(BaseModel):
    n: int = 0
    mean: float | None = None
    geomean: float | None = None
    median: float | None = None


class Metrics(BaseModel):
    runs: int
    correct: int
    correctness: float
    compile_rate: float
    vs_eager: Speedups
    vs_compile: Speedups
    fast_eager: dict[str, float]  # "fast_0", "fast_0.5", "fast_1", ... -> share
    fast_compile: dict[str, float]
    faster_kernel_found: int = 0  # runs whose best beats eager beyond the noise
    attempts_to_first_correct: float | None
    tokens_per_problem: float
    usd_per_problem: float
    harness_s_per_attempt: float | None


def speedups(values: Iterable[float | None]) -> Speedups:
    kept = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not kept:
        return Speedups()
    return Speedups(
        n=len(kept),
        mean=statistics.fmean(kept),
        geomean=math.exp(statistics.fmean(math.log(v) for v in kept)),
        median=statistics.median(kept),
    )


def fast_p(runs: list[RunRow], attribute: str) -> dict[str, float]:
    """{"fast_P": share} for each P in FAST_P; `attribute`: the run's speedup field."""
    total = len(runs)

    def fast(run: RunRow, p: float) -> bool:
        if not run.correct:
            return False
        if p == 0:  # every correct kernel has a positive speedup, timed or not
            return True
        speedup = getattr(run, attribute)
        return speedup is not None and speedup > p

    return {
        f"fast_{p:g}": sum(1 for r in runs if fast(r, p)) / total if total else 0.0 for p in FAST_P
    }


def metrics(runs: list[RunRow], attempts: list[AttemptRow]) -> Metrics:
    keys = {(r.problem, r.mode) for r in runs}
    mine = [a for a in attempts if (a.problem, a.mode) in keys]
    compiled = {(a.problem, a.mode) for a in mine if a.compiled}
    correct = [r for r in runs if r.correct]
    firsts = [r.first_correct for r in runs if r.first_correct is not None]
    harness = [a.harness_s for a in mine if a.harness_s]
    total = len(runs)
    return Metrics(
        runs=total,
        correct=len(correct),
        correctness=len(correct) / total if total else 0.0,
        compile_rate=len(compiled) / total if total else 0.0,
        vs_eager=speedups(r.speedup_eager for r in correct),
        vs_compile=speedups(r.speedup_compile for r in correct),
        fast_eager=fast_p(runs, "speedup_eager"),
        fast_compile=fast_p(runs, "speedup_compile"),
        faster_kernel_found=sum(1 for r in correct if r.faster_found),
        attempts_to_first_correct=statistics.fmean(firsts) if firsts else None,
        tokens_per_problem=(
            sum(r.input_tokens + r.output_tokens for r in runs) / total if total else 0.0
        ),
        usd_per_problem=sum(r.cost_usd for r in runs) / total if total else 0.0,
        harness_s_per_attempt=statistics.fmean(harness) if harness else None,
    )


def grouped(
    runs: list[RunRow], attempts: list[AttemptRow], categories: dict[str, str]
) -> dict[str, dict[str, Metrics]]:
    """{"mode": {mode: Metrics}, "category": {"mode / category": Metrics}, "all": {...}}."""
    modes = sorted({r.mode for r in runs})
    out: dict[str, dict[str, Metrics]] = {"all": {"all": metrics(runs, attempts)}}
    out["mode"] = {m: metrics([r for r in runs if r.mode == m], attempts) for m in modes}
    out["category"] = {}
    for mode in modes:
        for category in sorted({categories.get(r.problem, "others") for r in runs}):
            chosen = [
                r
                for r in runs
                if r.mode == mode and categories.get(r.problem, "others") == category
            ]
            if chosen:
                out["category"][f"{mode} / {category}"] = metrics(chosen, attempts)
    return out
