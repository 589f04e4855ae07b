"""Verify and time a candidate against its problem: the Verifier and Timer entry points.

Each call runs one isolated worker (isolation.py); nothing of the candidate
runs in the caller's process.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels.isolation import Limits, run_isolated
from pragma_kernels.targets import Target
from pragma_kernels.timing import Protocol, Timing
from pragma_kernels.verdict import Verdict
from pragma_kernels.worker import Job

BASELINES = ("eager", "compile")


@dataclass(frozen=True)
class VerifyOptions:
    trials: int = 3
    atol: float = 1e-2
    rtol: float = 1e-2
    seed: int | None = None  # None: fresh random seeds every run
    size: str | None = None  # None: the target's default size
    limits: Limits = Limits(timeout_s=300)


@dataclass
class TimeReport:
    """Timings of the baselines and (optionally) the candidate, measured in one worker."""

    problem: str
    target: Target
    size: str
    timings: dict[str, Timing]
    verdict: Verdict  # ok unless timing itself failed
    method: str = ""
    correctness: Verdict | None = None  # from a verify run before timing, when asked for

    def speedup(self, baseline: str) -> float | None:
        base, cand = self.timings.get(baseline), self.timings.get("candidate")
        if base is None or cand is None or cand.median_ms <= 0:
            return None
        return base.median_ms / cand.median_ms

    def to_dict(self) -> dict:
        return {
            "problem": self.problem,
            "target": self.target.kind,
            "size": self.size,
            "threads": self.target.threads,
            "method": self.method,
            "timings": {k: v.model_dump() for k, v in self.timings.items()},
            "speedup": {b: self.speedup(b) for b in BASELINES if b in self.timings},
            "verdict": self.verdict.model_dump(mode="json"),
            "correctness": self.correctness.model_dump(mode="json") if self.correctness else None,
        }


def fresh_seeds(count: int, seed: int | None) -> list[int]:
    generator = random.Random(seed)
    return [generator.randrange(2**31) for _ in range(count)]


def verify(
    problem: str | Path,
    solution: str | Path | None,
    target: Target,
    options: VerifyOptions = VerifyOptions(),
) -> Verdict:
    """Compare the candidate with the reference on `options.trials` fresh input sets."""
    job = Job(
        action="verify",
        problem=str(problem),
        solution=str(solution) if solution else None,
        size=options.size or target.default_size,
        device=target.device,
        threads=target.threads,
        seeds=fresh_seeds(options.trials, options.seed),
        atol=options.atol,
        rtol=options.rtol,
    )
    return run_isolated(job, options.limits).verdict


@dataclass(frozen=True)
class TimeOptions:
    baselines: tuple[str, ...] = BASELINES
    protocol: Protocol = field(default_factory=Protocol)
    size: str | None = None
    seed: int | None = None
    limits: Limits = Limits(timeout_s=900)


def time_problem(
    problem: str | Path,
    solution: str | Path | None,
    target: Target,
    options: TimeOptions = TimeOptions(),
) -> TimeReport:
    """Time the baselines and the candidate in one worker, interleaved, same threads."""
    unknown = set(options.baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baseline(s) {sorted(unknown)}; choose from {BASELINES}")
    size = options.size or target.default_size
    job = Job(
        action="time",
        problem=str(problem),
        solution=str(solution) if solution else None,
        size=size,
        device=target.device,
        threads=target.threads,
        seeds=fresh_seeds(1, options.seed),
        baselines=list(options.baselines),
        protocol=options.protocol.__dict__,
        env=options.protocol.environment(),
    )
    result = run_isolated(job, options.limits)
    return TimeReport(
        problem=Path(problem).stem,
        target=target,
        size=size,
        timings=result.timings,
        verdict=result.verdict,
        method=options.protocol.describe(),
    )
