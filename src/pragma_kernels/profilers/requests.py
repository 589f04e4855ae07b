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
    ncu)."""
    from pragma_kernels.profilers.ncu import find_ncu, parse_query_metrics

    executable = find_ncu()
    if executable is None:
        return frozenset()
    try:
        listing = subprocess.run(
            [executable, "--query-metrics"], capture_output=True, text=True, timeout=120
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(parse_query_metrics(listing))


def known_names(target: str) -> set[str]:
    compendium = load_compendium()
    names = {name for profiler in PROFILERS[target] for name in compendium.names(profiler)}
    return names | (perf_event_names() if target == "cpu" else set(ncu_metric_names()))


def is_known(name: str, known: set[str]) -> bool:
    """Known as given, or an ncu base name with a rollup/suffix (`dram__bytes` + `.sum`)."""
    return name in known or ("__" in name and name.split(".")[0] in known)


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
