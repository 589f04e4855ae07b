"""Verify and time a candidate against its problem: the Verifier and Timer entry points.

Each call runs one isolated worker (isolation.py); nothing of the candidate
runs in the caller's process.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels.isolation import Limits, run_isolated
from pragma_kernels.profilers.requests import validate
from pragma_kernels.profilers.schema import Profile
from pragma_kernels.targets import Target
from pragma_kernels.timing import Protocol, Timing
from pragma_kernels.timing_gpu import GpuProtocol
from pragma_kernels.verdict import Verdict
from pragma_kernels.worker import Job

BASELINES = ("eager", "compile", "compile-max-autotune")
DEFAULT_BASELINES = ("eager", "compile")
DTYPES = ("float32", "float16", "bfloat16")
# atol = rtol per dtype: KernelBench v0.1's 1e-2 for fp32 (the PRAGMA paper's setting) and
# 1e-2 for the half types.
DEFAULT_TOLERANCE = {"float32": 1e-2, "float16": 1e-2, "bfloat16": 1e-2}


@dataclass(frozen=True)
class VerifyOptions:
    trials: int = 3
    atol: float | None = None  # None: DEFAULT_TOLERANCE[dtype]
    rtol: float | None = None
    dtype: str = "float32"
    seed: int | None = None  # None: fresh random seeds every run
    size: str | None = None  # None: the target's default size
    limits: Limits = Limits(timeout_s=300)


@dataclass
class TimeReport:
    """Timings of the baselines and (optionally) the candidate, measured in one worker."""

    problem: str
    target: Target
    size: str
    dtype: str
    timings: dict[str, Timing]
    verdict: Verdict  # ok unless timing itself failed
    method: str = ""
    correctness: Verdict | None = None  # from a verify run before timing, when asked for
    repeats: list[dict[str, Timing]] = field(default_factory=list)

    def speedup(self, baseline: str) -> float | None:
        base, cand = self.timings.get(baseline), self.timings.get("candidate")
        if base is None or cand is None or cand.median_ms <= 0:
            return None
        return base.median_ms / cand.median_ms

    def to_dict(self) -> dict:
        return {
            "problem": self.problem,
            "target": self.target.describe(),
            "size": self.size,
            "dtype": self.dtype,
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


def _check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")


def verify(
    problem: str | Path,
    solution: str | Path | None,
    target: Target,
    options: VerifyOptions = VerifyOptions(),
) -> Verdict:
    """Compare the candidate with the reference on `options.trials` fresh input sets."""
    _check_dtype(options.dtype)
    tolerance = DEFAULT_TOLERANCE[options.dtype]
    job = Job(
        action="verify",
        problem=str(problem),
        solution=str(solution) if solution else None,
        size=options.size or target.default_size,
        device=target.device,
        dtype=options.dtype,
        threads=target.threads,
        seeds=fresh_seeds(options.trials, options.seed),
        atol=tolerance if options.atol is None else options.atol,
        rtol=tolerance if options.rtol is None else options.rtol,
    )
    return run_isolated(job, options.limits).verdict


@dataclass(frozen=True)
class TimeOptions:
    baselines: tuple[str, ...] = DEFAULT_BASELINES
    budget_s: float | None = None  # per timed callable; None: the protocol's default
    dtype: str = "float32"
    size: str | None = None
    seed: int | None = None
    repeats: int = 1  # measure this many times in one worker (repeatability checks)
    limits: Limits = Limits(timeout_s=900)

    def protocol(self, target: Target) -> Protocol | GpuProtocol:
        budget = {} if self.budget_s is None else {"budget_s": self.budget_s}
        return GpuProtocol(**budget) if target.device.startswith("cuda") else Protocol(**budget)


def time_problem(
    problem: str | Path,
    solution: str | Path | None,
    target: Target,
    options: TimeOptions = TimeOptions(),
) -> TimeReport:
    """Time the baselines and the candidate in one worker, interleaved, same threads."""
    _check_dtype(options.dtype)
    unknown = set(options.baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baseline(s) {sorted(unknown)}; choose from {BASELINES}")
    size = options.size or target.default_size
    protocol = options.protocol(target)
    job = Job(
        action="time",
        problem=str(problem),
        solution=str(solution) if solution else None,
        size=size,
        device=target.device,
        dtype=options.dtype,
        threads=target.threads,
        seeds=fresh_seeds(1, options.seed),
        baselines=list(options.baselines),
        repeats=options.repeats,
        protocol=protocol.__dict__,
        env=protocol.environment() if isinstance(protocol, Protocol) else {},
    )
    result = run_isolated(job, options.limits)
    method = next((t.method for t in result.timings.values()), "")
    if target.interpreted:
        method = "Triton interpreter on the CPU (not a GPU timing): " + method
    return TimeReport(
        problem=Path(problem).stem,
        target=target,
        size=size,
        dtype=options.dtype,
        timings=result.timings,
        verdict=result.verdict,
        method=method,
        repeats=result.repeats,
    )


PROFILE_LIMITS = Limits(timeout_s=600)


def profile_candidate(
    problem: str | Path,
    solution: str | Path,
    target: Target,
    size: str | None = None,
    metrics: list[str] | None = None,
    limits: Limits = PROFILE_LIMITS,
    use_ncu: bool = True,
    dtype: str = "float32",
) -> tuple[Verdict, Profile | None]:
    """Profile a candidate in an isolated worker (verify it first: profiles of wrong code
    mislead). On a GPU, Nsight Compute adds counters where it can (`use_ncu`); every
    metric carries its meaning and every requested one is either present or explained."""
    from pragma_kernels.profilers.gpu_ncu import profile_gpu_job
    from pragma_kernels.profilers.meanings import attach_meanings
    from pragma_kernels.profilers.requests import account_for

    _check_dtype(dtype)
    requested = validate(metrics or [], target.kind)
    job = Job(
        action="profile",
        problem=str(problem),
        solution=str(solution),
        size=size or target.default_size,
        device=target.device,
        dtype=dtype,
        threads=target.threads,
        seeds=fresh_seeds(1, None),
        metrics=requested,
        # as timed: freed memory kept, so per-call page faults do not swamp the counters
        env=Protocol().environment() if target.kind == "cpu" else {},
    )
    if target.device.startswith("cuda"):
        verdict, profile = profile_gpu_job(job, limits, use_ncu)
    else:
        result = run_isolated(job, limits)
        verdict, profile = result.verdict, result.profile
        if profile is not None:
            profile.overhead_s = {**result.breakdown(), **profile.overhead_s}
    if profile is not None:
        profile = attach_meanings(account_for(profile, requested))
    return verdict, profile
