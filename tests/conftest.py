"""Seams for tests that run the agent loop through `optimize()` or `pragma optimize`.

The loop's evaluator times every correct attempt for 2 s per callable and, in the pragma and
offline modes, profiles it under cachegrind: most of a test's minute, and nothing such a test
asserts. These fixtures swap the evaluator `optimize()` builds (`api.LocalEvaluator`) for one
that keeps the real Verifier and either times briefly or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pragma_kernels import api
from pragma_kernels.evaluation import Evaluation, LocalEvaluator, Timed, VerifyOptions, verify


@dataclass
class BriefTiming(LocalEvaluator):
    """The real evaluator with a 0.05 s timing budget per callable: the tests need a time,
    not a precise one."""

    timing_budget_s: float | None = 0.05


@dataclass
class VerifyOnly(LocalEvaluator):
    """The real Verifier; a fixed time (1 ms against a 2 ms baseline) and no profile, so the
    offline agent takes its variants in order and no worker but the Verifier's runs."""

    def evaluate(self, candidate: Path, metrics: list[str], profile: bool) -> Evaluation:
        verdict = verify(self.problem, candidate, self.target, VerifyOptions(dtype=self.dtype))
        if not verdict.ok:
            return Evaluation(verdict)
        fixed = Timed(2.0, 1.0, 2.0, "fixed (test)")
        return Evaluation(verdict, fixed, profile_error="not profiled (test)")


@pytest.fixture
def brief_timing(monkeypatch):
    monkeypatch.setattr(api, "LocalEvaluator", BriefTiming)


@pytest.fixture
def verify_only(monkeypatch):
    monkeypatch.setattr(api, "LocalEvaluator", VerifyOnly)
