"""Attach each metric's meaning from the knowledge compendium, by the profiler that made it."""

from __future__ import annotations

from pragma_kernels.knowledge import load_compendium
from pragma_kernels.profilers.schema import Metric, Profile

# A metric's `source` prefix -> the compendium's profiler name.
_PROFILER_BY_SOURCE = (
    ("cachegrind", "cachegrind"),
    ("perf", "perf"),
    ("ncu", "ncu"),
    ("gpu fallback", "gpu_fallback"),
    ("static", "static_cpu"),
    ("timing", "static_cpu"),
    ("roofline", "static_cpu"),
    ("torch.utils.flop_counter", "static_cpu"),
)


def profiler_of(metric: Metric) -> str | None:
    return next(
        (name for prefix, name in _PROFILER_BY_SOURCE if metric.source.startswith(prefix)), None
    )


def attach_meanings(profile: Profile) -> Profile:
    """Fill `meaning` for every metric the compendium documents; others stay empty."""
    compendium = load_compendium()
    for metric in [*profile.metrics, *(m for k in profile.kernels for m in k.metrics)]:
        profiler = profiler_of(metric)
        if profiler and not metric.meaning:
            metric.meaning = compendium.meaning(profiler, metric.name)
    return profile
