"""The loop's view of the Verifier, Timer and Profiler: one `evaluate` call per attempt.

`Evaluator` is the seam the loop depends on (tests pass a fake); `LocalEvaluator`
runs isolated workers on this machine through jobs.py, one worker per attempt
(two where Nsight Compute must wrap the profile's own process). Its `attempt_runner`
is where that attempt runs: `run_attempt` here, or a callable that sends it elsewhere
(a bench's Ray evaluation actor, bench/ray_executor.py); the evaluator keeps the rest
(metric validation, speedup, diagnosis) on the caller's side.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pragma_kernels.diagnosis.model import Diagnosis
from pragma_kernels.errors import PragmaError
from pragma_kernels.evaluation.jobs import (
    AttemptOptions,
    AttemptResult,
    profile_candidate,
    run_attempt,
)
from pragma_kernels.noise import Spread, load_flag
from pragma_kernels.profilers.requests import unknown_metric, validate
from pragma_kernels.profilers.schema import Profile, Unavailable
from pragma_kernels.targets import Target
from pragma_kernels.verdict import Verdict


@dataclass(frozen=True)
class Timed:
    speedup: float | None
    candidate_ms: float | None
    baseline_ms: float | None
    method: str = ""
    baselines_ms: dict[str, float] = field(default_factory=dict)  # every baseline timed
    # Every timing with its spread: "candidate" and each baseline (noise.Spread)
    spreads: dict[str, Spread] = field(default_factory=dict)
    baseline_source: str = ""  # measured | cached | re-timed (evaluation/baselines.py)
    protocol: str = ""  # the candidate's timing protocol: times compare only under one


@dataclass
class Evaluation:
    """What one attempt's evaluation found: verdict, then time, profile and diagnosis as far
    as the candidate got (a failure is data, never an exception)."""

    verdict: Verdict
    timed: Timed | None = None
    profile: Profile | None = None
    profile_error: str = ""
    diagnosis: Diagnosis | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    profile_note: str = ""  # why the profile may be distorted (a loaded machine), if it may


def _load_1min() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:  # not offered on this platform
        return None


def profile_time_ms(profile: Profile) -> float | None:
    """The profile's own time of the candidate (CPU time_ms, GPU kernel_time_ms)."""
    for name in ("time_ms", "kernel_time_ms"):
        metric = profile.metric(name)
        if metric is not None and metric.is_numeric():
            return float(metric.value)
    return None


# run_attempt's signature: (problem file, candidate file, target, options) -> result.
AttemptRunner = Callable[[Path, Path, Target, AttemptOptions], AttemptResult]


class Evaluator(Protocol):
    """What the loop needs from the Verifier, Timer and Profiler."""

    key_metrics: tuple[str, ...]  # compared between the current attempt and the best

    def evaluate(self, candidate: Path, metrics: list[str], profile: bool) -> Evaluation: ...


@dataclass
class LocalEvaluator:
    problem: Path
    target: Target
    dtype: str | None = None  # None: the problem's own; a name casts (jobs.resolve_dtype)
    baseline: str = "eager"
    timing_budget_s: float | None = None
    use_ncu: bool = True  # False: the counter-free GPU profile only (faster, no ncu needed)
    also_time: tuple[str, ...] = ()  # baselines timed beside `baseline` (a bench's compile)
    # Held around each evaluation: a bench's exclusive lease on a device (bench/lease.py);
    # it yields the device the workers are pinned to (None: unpinned)
    lease: Callable[[], AbstractContextManager[str | None]] = nullcontext
    attempt_runner: AttemptRunner = run_attempt  # where the attempt's workers run
    load: Callable[[], float | None] = _load_1min  # the 1-minute load average, when known
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)  # the load's scope
    _validated: dict[str, list[Unavailable]] = field(default_factory=dict, repr=False)

    @property
    def key_metrics(self) -> tuple[str, ...]:
        return self.target.backend.key_metrics

    def _valid(self, metrics: list[str]) -> tuple[list[str], list[Unavailable]]:
        """Names no profiler knows are dropped and stated in the profile, never fatal; each
        name is validated once per run."""
        valid, refused = [], []
        for name in metrics:
            if name not in self._validated:
                try:
                    validate([name], self.target.backend.name)
                    self._validated[name] = []
                except PragmaError as exc:
                    self._validated[name] = [unknown_metric(name, str(exc)[:300])]
            refusal = self._validated[name]
            (refused.extend(refusal) if refusal else valid.append(name))
        return valid, refused

    def evaluate(self, candidate: Path, metrics: list[str], profile: bool) -> Evaluation:
        backend = self.target.backend
        valid, refused = self._valid(metrics) if profile else ([], [])
        baselines = (self.baseline, *(b for b in self.also_time if b != self.baseline))
        with self.lease() as device:
            result = self.attempt_runner(
                self.problem,
                candidate,
                self.target,
                AttemptOptions(
                    dtype=self.dtype,
                    baselines=baselines,
                    budget_s=self.timing_budget_s,
                    profile=profile,
                    metrics=tuple(valid),
                    use_ncu=self.use_ncu,
                    device=device,
                ),
            )
        evaluation = Evaluation(result.verdict, seconds=result.seconds)
        if not result.verdict.ok:
            return evaluation
        if result.timing_error is not None:
            evaluation.timed = Timed(None, None, None, result.timing_error.summary())
            return evaluation
        evaluation.timed = self._timed(result)
        if not profile:
            return evaluation
        if not backend.can_profile:
            evaluation.profile_error = f"not profiled: {backend.why_no_profile}"
        elif result.profile is None:
            error = result.profile_error
            evaluation.profile_error = (
                f"{error.summary()} {error.stderr_tail[-500:]}".strip() if error else "no profile"
            )
        else:
            profiled, note = self._steady_profile(candidate, result.profile, valid, evaluation)
            profiled.unavailable += refused
            evaluation.profile, evaluation.profile_note = profiled, note
            evaluation.diagnosis = backend.diagnose(profiled, candidate.read_text())
        return evaluation

    def _timed(self, result: AttemptResult) -> Timed:
        candidate_timing = result.timings.get("candidate")
        base = result.timings.get(self.baseline)
        speedup = (
            base.median_ms / candidate_timing.median_ms
            if base and candidate_timing and candidate_timing.median_ms > 0
            else None
        )
        source = result.baseline_source or "measured"
        return Timed(
            speedup,
            candidate_timing.median_ms if candidate_timing else None,
            base.median_ms if base else None,
            result.method,
            {k: v.median_ms for k, v in result.timings.items() if k != "candidate"},
            {
                k: Spread.of(v, "measured" if k == "candidate" else source)
                for k, v in result.timings.items()
            },
            source,
            candidate_timing.method if candidate_timing else "",
        )

    def _steady_profile(
        self, candidate: Path, profiled: Profile, metrics: list[str], evaluation: Evaluation
    ) -> tuple[Profile, str]:
        """The profile, re-taken once when it was taken on a loaded machine (noise.load_flag);
        the note says what was wrong and whether the retake was clean."""
        verifier_ms = evaluation.timed.candidate_ms if evaluation.timed else None
        own = self.target.threads or 0
        flag = load_flag(self.load(), self.cores, profile_time_ms(profiled), verifier_ms, own)
        if not flag:
            return profiled, ""
        try:
            verdict, retaken = self.reprofile(candidate, metrics)
        except Exception as exc:  # the retake is a second chance, never a new failure
            return profiled, f"taken while {flag}; the retake failed ({exc})"[:400]
        if not verdict.ok or retaken is None:
            return profiled, f"taken while {flag}; the retake failed ({verdict.summary()})"[:400]
        again = load_flag(self.load(), self.cores, profile_time_ms(retaken), verifier_ms, own)
        if not again:
            return retaken, f"re-taken once (the first was taken while {flag})"
        # Both disturbed: waits only add time, so the faster take is the less disturbed one
        # (the hand-answered run kept an 11.2 ms retake over a right 0.0303 ms first take).
        first_ms, again_ms = profile_time_ms(profiled), profile_time_ms(retaken)
        kept, which = retaken, "the retake"
        if first_ms is not None and again_ms is not None and first_ms < again_ms:
            kept, which = profiled, "the first take"
        times = (
            f"; profile times {first_ms:.4g} and {again_ms:.4g} ms, {which} kept"
            if first_ms is not None and again_ms is not None
            else ""
        )
        return kept, f"re-taken once, still distorted: {again} (first: {flag}){times}"

    def reprofile(self, candidate: Path, metrics: list[str]) -> tuple[Verdict, Profile | None]:
        """A profile of the candidate alone (the retake of a distorted one), under the lease
        like every evaluation, so no other candidate runs on its device meanwhile."""
        with self.lease() as device:
            return profile_candidate(
                self.problem,
                candidate,
                self.target,
                metrics=metrics,
                use_ncu=self.use_ncu,
                dtype=self.dtype,
                requested=metrics,
                device=device,
            )
