"""Extra metrics asked for by name (by the Conductor or a user): validated, then reported.

A name must be one the profilers of the target know: the compendium's names for
them, plus `perf list` where perf runs and `ncu --query-metrics` where ncu is
installed (an ncu base name with any of its suffixes, e.g. `.sum`). An unknown
name is refused with the closest valid names; a known one that this machine
cannot collect is stated as unavailable in the profile, with the reason.
"""

from __future__ import annotations

import difflib
import functools
import re
import shutil
import subprocess

from pragma_kernels.errors import PragmaError
from pragma_kernels.knowledge import load_compendium
from pragma_kernels.profilers.schema import Profile, Unavailable

PROFILERS = {"cpu": ("cachegrind", "static_cpu", "perf"), "gpu": ("ncu", "gpu_fallback")}


def perf_event_names() -> set[str]:
    """Event names `perf list` offers on this machine (empty if perf is missing)."""
    if shutil.which("perf") is None:
        return set()
    try:
        listing = subprocess.run(
            ["perf", "list", "--no-desc"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {m.group(1) for m in re.finditer(r"^\s+([\w.:/=,-]+)", listing, re.M)}


@functools.cache
def ncu_metric_names() -> frozenset[str]:
    """Base metric names `ncu --query-metrics` lists for this machine's GPU (empty without
    ncu). The listing takes seconds, so it is cached on disk per ncu and GPU."""
    from pragma_kernels import config
    from pragma_kernels.profilers.ncu import find_ncu, parse_query_metrics

    executable = find_ncu()
    if executable is None:
        return frozenset()
    gpu = _gpu_name()
    cached = config.cache_dir() / "ncu" / re.sub(r"\W+", "_", f"{executable}_{gpu}_metrics")
    if cached.exists():
        return frozenset(cached.read_text().split())
    try:
        listing = subprocess.run(
            [executable, "--query-metrics"], capture_output=True, text=True, timeout=120
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    names = parse_query_metrics(listing)
    if names:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text("\n".join(sorted(names)))
    return frozenset(names)


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "no_gpu"


# Backend names -> the profiler family above (the profiler registry replaces this).
_FAMILY = {"cpp-cpu": "cpu", "triton-cuda": "gpu", "triton-interpreter": "gpu"}


def known_names(target: str) -> set[str]:
    target = _FAMILY.get(target, target)
    compendium = load_compendium()
    names = {name for profiler in PROFILERS[target] for name in compendium.names(profiler)}
    return names | (perf_event_names() if target == "cpu" else set(ncu_metric_names()))


# What ncu accepts after a base name: a rollup with an optional submetric, or a ratio form
# (`.sum`, `.avg.pct_of_peak_sustained_elapsed`, `.sum.per_second`, `.pct`, `.ratio`).
_NCU_SUFFIX = re.compile(
    r"^\.(?:(?:sum|avg|min|max)(?:\.(?:per_second|per_cycle_(?:active|elapsed)|"
    r"pct_of_peak_sustained_(?:active|elapsed)|peak_sustained(?:_active|_elapsed)?))?|"
    r"pct|ratio|max_rate)$"
)


def is_known(name: str, known: set[str]) -> bool:
    """Known as given, or an ncu base name with a valid rollup (`dram__bytes` + `.sum`)."""
    if name in known:
        return True
    base, dot, suffix = name.partition(".")
    return "__" in base and base in known and bool(dot) and bool(_NCU_SUFFIX.match("." + suffix))


def validate(requested: list[str], target: str, known: set[str] | None = None) -> list[str]:
    """The requested names, or PragmaError naming each unknown one with suggestions."""
    known = known_names(target) if known is None else known
    problems = []
    for name in requested:
        if not is_known(name, known):
            close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            problems.append(f"unknown metric {name!r}{hint}")
    if problems:
        raise PragmaError(
            "; ".join(problems) + f". Fix: use metric names of the {target} "
            "profilers (the knowledge compendium lists them)"
        )
    return requested


def account_for(profile: Profile, requested: list[str]) -> Profile:
    """State every requested metric the profile does not hold, with why."""
    present = {m.name for m in profile.metrics} | {
        m.name for k in profile.kernels for m in k.metrics
    }
    compendium = load_compendium()
    for name in requested:
        if name in present:
            continue
        profiler = next((p for p in PROFILERS[profile.target] if compendium.get(p, name)), "perf")
        reason = next(
            (
                u.why
                for u in profile.unavailable
                if profiler in u.what or profiler == (u.source or "")
            ),
            "not collected by this profile",
        )
        profile.unavailable.append(
            Unavailable(what=f"{name} (requested)", why=reason, source=profiler)
        )
    return profile
