"""Attach each metric's meaning from the knowledge compendium, by the profiler that made it."""

from __future__ import annotations

from pragma_kernels.knowledge import load_compendium
from pragma_kernels.profilers.schema import Profile


def attach_meanings(profile: Profile) -> Profile:
    """Fill `meaning` for every metric the compendium documents; others stay empty."""
    compendium = load_compendium()
    for metric in profile.all_metrics():
        if not metric.meaning:
            metric.meaning = compendium.meaning(metric.profiler, metric.name)
    return profile
