"""A diagnosis that collects its own evidence: when the rules ask for counters the first
profile lacks, profile once more with them and diagnose again (what `pragma profile
--diagnose` does; the loop does the same across attempts)."""

from __future__ import annotations

from collections.abc import Callable

from pragma_kernels.diagnosis.model import Diagnosis
from pragma_kernels.profilers.schema import Profile


def diagnose_with_second_pass(
    profile: Profile,
    profile_again: Callable[[list[str]], Profile | None],
    diagnose: Callable[[Profile], Diagnosis],
) -> tuple[Profile, Diagnosis, list[str]]:
    """The profile and diagnosis to show, and the metrics the second pass asked for (empty:
    none was needed or possible). Only a profile with ncu's counters gets a second pass:
    the metrics the rules ask for are ncu's."""
    first = diagnose(profile)
    if not first.extra_metrics or "ncu" not in profile.profilers():
        return profile, first, []
    asked = list(first.extra_metrics)
    second = profile_again(asked)
    if second is None:
        return profile, first, asked
    return second, diagnose(second), asked
