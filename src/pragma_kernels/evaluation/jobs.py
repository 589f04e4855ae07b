"""Verify, time and profile a candidate against its problem: the Verifier, Timer and
Profiler entry points.

Each call runs isolated workers (isolation.py); nothing of the candidate runs in
the caller's process. What differs per target is asked of `target.backend`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels import config
from pragma_kernels.compare import DEFAULT_TOLERANCE
from pragma_kernels.evaluation.baselines import (
    BaselineCache,
    cache_key,
    cacheable,
    drift_tolerance,
    probe_words,
)
from pragma_kernels.evaluation.isolation import Limits, run_isolated
from pragma_kernels.evaluation.schema import BASELINES, DTYPES, Job
from pragma_kernels.profilers.requests import validate
from pragma_kernels.profilers.schema import Profile
from pragma_kernels.targets import Target
from pragma_kernels.timing import Timing
from pragma_kernels.timing_protocols import TimingProtocol
from pragma_kernels.verdict import Verdict

__all__ = ["BASELINES", "DEFAULT_TOLERANCE", "DTYPES"]  # re-exported for callers

DEFAULT_BASELINES = ("eager", "compile")


@dataclass(frozen=True)
class VerifyOptions:
    trials: int = 3
    atol: float | None = None  # None: DEFAULT_TOLERANCE of the dtype compared
    rtol: float | None = None
    dtype: str | None = None  # None or "auto": the problem's own; a DTYPES name casts to it
    seed: int | None = None  # None: fresh random seeds every run
    size: str | None = None  # None: the target's default size
    limits: Limits = Limits(timeout_s=300)
    allow: tuple[str, ...] | None = None  # static-policy overrides; None: PRAGMA_ALLOW's


@dataclass
class TimeReport:
    """Timings of the baselines and (optionally) the candidate, measured in one worker."""

    problem: str
    target: Target
    size: str
    dtype: str  # the dtype compared; verdict.dtype_text() says whether it was cast
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
            "backend": self.target.backend.name,
            "size": self.size,
            "dtype": self.dtype,
            "dtype_cast": self.verdict.dtype_cast,
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


def _allow(allow: tuple[str, ...] | None) -> list[str]:
    """The job's overrides of the backend's static policy: the caller's, else the user's
    (PRAGMA_ALLOW)."""
    return list(config.static_allow() if allow is None else allow)


def device_env(device: str | None) -> dict[str, str]:
    """A worker's environment for its device: pinned to one GPU, the candidate's `cuda` is
    that GPU and the warm server is that GPU's (CUDA_VISIBLE_DEVICES is a start-up variable,
    forkserver.py); None: unpinned, the worker sees what this process sees."""
    return {} if device is None else {"CUDA_VISIBLE_DEVICES": device}


def resolve_dtype(dtype: str | None) -> str | None:
    """The cast a dtype option asks for: None (None or "auto") keeps the dtypes the
    problem's get_inputs() and Model make; a DTYPES name casts floating inputs and
    weights to it, as KernelBench's precision option does."""
    if dtype is None or dtype == "auto":
        return None
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose from auto, {', '.join(DTYPES)}")
    return dtype


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
        backend=target.backend.name,
        solution=str(solution) if solution else None,
        size=options.size or target.size,
        dtype=resolve_dtype(options.dtype),
        threads=target.threads,
        seeds=fresh_seeds(options.trials, options.seed),
        atol=options.atol,
        rtol=options.rtol,
        allow=_allow(options.allow),
    )
    return run_isolated(job, options.limits).verdict


@dataclass(frozen=True)
class TimeOptions:
    baselines: tuple[str, ...] = DEFAULT_BASELINES
    budget_s: float | None = None  # per timed callable; None: the protocol's default
    dtype: str | None = None  # as VerifyOptions.dtype
    size: str | None = None
    seed: int | None = None
    repeats: int = 1  # measure this many times in one worker (repeatability checks)
    limits: Limits = Limits(timeout_s=900)
    allow: tuple[str, ...] | None = None  # static-policy overrides; None: PRAGMA_ALLOW's

    def protocol(self, target: Target) -> TimingProtocol:
        return target.backend.timing_protocol(self.budget_s)


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
    size = options.size or target.size
    job = Job(
        action="time",
        problem=str(problem),
        backend=target.backend.name,
        solution=str(solution) if solution else None,
        size=size,
        dtype=resolve_dtype(options.dtype),
        threads=target.threads,
        seeds=fresh_seeds(1, options.seed),
        baselines=list(options.baselines),
        repeats=options.repeats,
        protocol=options.protocol(target),
        allow=_allow(options.allow),
    )
    result = run_isolated(job, options.limits)
    method = target.backend.timing_label(next((t.method for t in result.timings.values()), ""))
    return TimeReport(
        problem=Path(problem).stem,
        target=target,
        size=size,
        dtype=result.verdict.dtype,
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
    dtype: str | None = None,
    requested: list[str] | None = None,
    allow: tuple[str, ...] | None = None,
    device: str | None = None,
) -> tuple[Verdict, Profile | None]:
    """Profile a candidate in an isolated worker (verify it first: profiles of wrong code
    mislead). On a GPU, Nsight Compute adds counters where it can (`use_ncu`); every
    metric carries its meaning and every requested one is either present or explained.
    `requested`: `metrics` already validated by the caller (validation lists the
    profilers' metrics, which takes seconds). `dtype`: as VerifyOptions.dtype. `device`:
    the GPU the workers are pinned to (device_env)."""
    if not target.backend.can_profile:
        raise ValueError(target.backend.why_no_profile)
    if requested is None:
        requested = validate(metrics or [], target.backend.name)
    job = Job(
        action="profile",
        problem=str(problem),
        backend=target.backend.name,
        solution=str(solution),
        size=size or target.size,
        dtype=resolve_dtype(dtype),
        threads=target.threads,
        seeds=fresh_seeds(1, None),
        metrics=requested,
        allow=_allow(allow),
        env=device_env(device),
    )
    verdict, profile = target.backend.profile_job(job, limits, run_isolated, use_ncu)
    return verdict, finish_profile(profile, requested)


def finish_profile(profile: Profile | None, requested: list[str]) -> Profile | None:
    """Every requested metric accounted for, every metric with its meaning."""
    from pragma_kernels.profilers.meanings import attach_meanings
    from pragma_kernels.profilers.requests import account_for

    return attach_meanings(account_for(profile, requested)) if profile is not None else None


@dataclass(frozen=True)
class AttemptOptions:
    """One loop attempt: verify, time against `baselines`, profile with `metrics`."""

    trials: int = 3
    dtype: str | None = None  # as VerifyOptions.dtype
    baselines: tuple[str, ...] = ("eager",)
    budget_s: float | None = None
    profile: bool = True
    metrics: tuple[str, ...] = ()  # validated names
    use_ncu: bool = True
    limits: Limits = Limits(timeout_s=900)
    # Baselines timed once per problem and machine, then checked by a drift probe
    # (baselines.py); None: re-timed at every attempt.
    baseline_cache: BaselineCache | None = field(default_factory=BaselineCache)
    allow: tuple[str, ...] | None = None  # static-policy overrides; None: PRAGMA_ALLOW's
    device: str | None = None  # the GPU its workers are pinned to (device_env); None: unpinned


@dataclass
class AttemptResult:
    verdict: Verdict
    timings: dict[str, Timing]
    timing_error: Verdict | None
    method: str
    profile: Profile | None
    profile_error: Verdict | None
    seconds: dict[str, float]  # where the harness's time went, by stage
    baseline_source: str = ""  # measured | cached | re-timed


def baseline_key(problem: str | Path, target: Target, dtype: str | None, protocol) -> str:
    """The baseline cache's key (evaluation/baselines.py) for this problem, target, dtype
    and timing protocol on this machine."""
    return cache_key(
        Path(problem),
        target.size,
        dtype or "auto",  # never shared with a cast: the problem's own may differ
        target.threads,
        target.backend.fingerprint(),
        protocol.model_dump_json(),
    )


def cached_baselines(
    problem: str | Path,
    target: Target,
    dtype: str | None,
    budget_s: float | None = None,
    cache: BaselineCache | None = None,
) -> dict[str, Timing]:
    """The baselines already timed for this problem on this machine (none: {}), so a first
    prompt can state them before any attempt ran."""
    protocol = target.backend.timing_protocol(budget_s)
    key = baseline_key(problem, target, resolve_dtype(dtype), protocol)
    return (cache or BaselineCache()).get(key)


def run_attempt(
    problem: str | Path, solution: str | Path, target: Target, options: AttemptOptions
) -> AttemptResult:
    """Verify, time and profile one candidate in as few workers as isolation allows: one,
    or two where the profiler must wrap its own process (Nsight Compute)."""
    dtype = resolve_dtype(options.dtype)
    backend = target.backend
    profile = options.profile and backend.can_profile
    separate = profile and backend.profile_needs_own_process(options.use_ncu)
    protocol = backend.timing_protocol(options.budget_s)
    needed = {"eager", *options.baselines}  # eager: the drift probe's reference
    cache, key, cached = options.baseline_cache, "", {}
    if cache is not None:
        key = baseline_key(problem, target, dtype, protocol)
        cached = {k: v for k, v in cache.get(key).items() if k in needed}
        if set(cached) != needed:
            cached = {}
    job = Job(
        action="attempt",
        problem=str(problem),
        backend=backend.name,
        solution=str(solution),
        size=target.size,
        dtype=dtype,
        threads=target.threads,
        seeds=fresh_seeds(options.trials, None),
        baselines=sorted(needed) if cache is not None else list(options.baselines),
        protocol=protocol,
        cached_baselines=cached,
        drift_tolerance=drift_tolerance(cached["eager"]) if cached else 0.0,
        metrics=list(options.metrics),
        profile=profile and not separate,
        allow=_allow(options.allow),
        env=device_env(options.device),
    )
    result = run_isolated(job, options.limits)
    fresh = {k: v for k, v in result.timings.items() if k in needed}
    if cache is not None and result.baseline_source in ("measured", "re-timed"):
        if cacheable(fresh):
            cache.put(key, fresh)
    seconds = {f"attempt worker: {k}": v for k, v in result.breakdown().items()}
    profiled, profile_error = result.profile, result.profile_error
    if profiled is not None:
        profiled.overhead_s = {**result.breakdown(), **profiled.overhead_s}
    if separate and result.verdict.ok and result.timing_error is None:
        profile_job = job.model_copy(update={"action": "profile", "seeds": job.seeds[:1]})
        start = time.monotonic()
        verdict, profiled = backend.profile_job(
            profile_job, options.limits, run_isolated, options.use_ncu
        )
        seconds["profile worker"] = round(time.monotonic() - start, 2)
        profile_error = None if profiled is not None else verdict
    method = backend.timing_label(next((t.method for t in result.timings.values()), ""))
    cached_eager = cached["eager"].median_ms if "eager" in cached else None
    if probe := probe_words(result.baseline_source, result.drift, cached_eager):
        method += f"; {probe}"
    return AttemptResult(
        verdict=result.verdict,
        timings=result.timings,
        timing_error=result.timing_error,
        method=method,
        profile=finish_profile(profiled, list(options.metrics)),
        profile_error=profile_error,
        seconds=seconds,
        baseline_source=result.baseline_source,
    )
