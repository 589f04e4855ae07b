"""The loop's Verifier and Profiler: isolated workers through evaluate.py, on one problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pragma_kernels.diagnosis.model import Diagnosis
from pragma_kernels.diagnosis.rules import diagnose
from pragma_kernels.errors import PragmaError
from pragma_kernels.evaluate import (
    TimeOptions,
    VerifyOptions,
    profile_candidate,
    time_problem,
    verify,
)
from pragma_kernels.loop import Timed
from pragma_kernels.profilers.requests import unknown_metric, validate
from pragma_kernels.profilers.schema import Profile
from pragma_kernels.targets import Target
from pragma_kernels.verdict import Verdict


@dataclass
class LocalEvaluator:
    problem: Path
    target: Target
    dtype: str = "float32"
    size: str | None = None
    baseline: str = "eager"
    timing_budget_s: float | None = None
    sm_count: int | None = None
    use_ncu: bool = True  # False: the counter-free GPU profile only (faster, no ncu needed)

    def verify(self, candidate: Path) -> Verdict:
        return verify(
            self.problem, candidate, self.target, VerifyOptions(dtype=self.dtype, size=self.size)
        )

    def time(self, candidate: Path) -> Timed:
        report = time_problem(
            self.problem,
            candidate,
            self.target,
            TimeOptions(
                baselines=(self.baseline,),
                dtype=self.dtype,
                size=self.size,
                budget_s=self.timing_budget_s,
            ),
        )
        if not report.verdict.ok:
            return Timed(None, None, None, report.verdict.summary())
        candidate_timing = report.timings.get("candidate")
        base = report.timings.get(self.baseline)
        return Timed(
            report.speedup(self.baseline),
            candidate_timing.median_ms if candidate_timing else None,
            base.median_ms if base else None,
            report.method,
        )

    def profile(self, candidate: Path, metrics: list[str]) -> tuple[Profile | None, str]:
        """Profile with the metrics the Conductor asked for; names no profiler knows are
        dropped and stated in the profile, never fatal. Returns the profile, or None and
        why the profiling failed."""
        valid, refused = [], []
        for name in metrics:
            try:
                valid += validate([name], self.target.kind)
            except PragmaError as exc:
                refused.append(unknown_metric(name, str(exc)[:300]))
        verdict, profile = profile_candidate(
            self.problem,
            candidate,
            self.target,
            self.size,
            valid,
            use_ncu=self.use_ncu,
            dtype=self.dtype,
        )
        if profile is None:
            return None, f"{verdict.summary()} {verdict.stderr_tail[-500:]}".strip()
        profile.unavailable += refused
        return profile, ""

    def diagnose(self, profile: Profile, code: str) -> Diagnosis:
        return diagnose(profile, self.sm_count, code)
