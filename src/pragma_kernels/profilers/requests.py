"""Extra metrics asked for by name (by the Conductor or a user): validated, then reported.

A name must be one the backend's profilers know (profilers/registry.py): the
compendium's names for them, plus `perf list` where perf runs and `ncu
--query-metrics` where ncu is installed (an ncu base name with any of its suffixes,
e.g. `.sum`). An unknown name is refused with the closest valid names; a known one
that this machine cannot collect is stated as unavailable in the profile, with the
reason. The known names are listed once per process (and cached on disk), and each
name's verdict is cached, so validating per call costs nothing after the first.
"""

from __future__ import annotations

import difflib
import functools
import re

from pragma_kernels.errors import PragmaError
from pragma_kernels.profilers import registry
from pragma_kernels.profilers.schema import Profile, Unavailable, UnavailableKind

# What ncu accepts after a base name: a rollup with an optional submetric, or a ratio form
# (`.sum`, `.avg.pct_of_peak_sustained_elapsed`, `.sum.per_second`, `.pct`, `.ratio`).
_NCU_SUFFIX = re.compile(
    r"^\.(?:(?:sum|avg|min|max)(?:\.(?:per_second|per_cycle_(?:active|elapsed)|"
    r"pct_of_peak_sustained_(?:active|elapsed)|peak_sustained(?:_active|_elapsed)?))?|"
    r"pct|ratio|max_rate)$"
)


def is_known(name: str, known: set[str] | frozenset[str]) -> bool:
    """Known as given, or an ncu base name with a valid rollup (`dram__bytes` + `.sum`)."""
    if name in known:
        return True
    base, dot, suffix = name.partition(".")
    return "__" in base and base in known and bool(dot) and bool(_NCU_SUFFIX.match("." + suffix))


def _problem(name: str, known: set[str] | frozenset[str], ordered: list[str]) -> str | None:
    """Why `name` is refused (with the closest known names), or None (pure)."""
    if is_known(name, known):
        return None
    close = difflib.get_close_matches(name, ordered, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"unknown metric {name!r}{hint}"


@functools.cache
def _known_problem(name: str, backend: str) -> str | None:
    """`_problem` against the backend's known names, cached per name."""
    return _problem(name, registry.known_metric_names(backend), _ordered(backend))


@functools.cache
def _ordered(backend: str) -> list[str]:
    return sorted(registry.known_metric_names(backend))


def validate(requested: list[str], backend: str, known: set[str] | None = None) -> list[str]:
    """The requested names, or PragmaError naming each unknown one with suggestions.
    `backend` may be a target's older name ("cpu", "gpu"); `known` replaces the backend's
    names (tests)."""
    backend = registry.backend_name(backend)
    if known is None:
        problems = [p for name in requested if (p := _known_problem(name, backend))]
    else:
        ordered = sorted(known)
        problems = [p for name in requested if (p := _problem(name, known, ordered))]
    if problems:
        raise PragmaError(
            "; ".join(problems) + f". Fix: use metric names of the {backend} "
            "profilers (the knowledge compendium lists them)"
        )
    return requested


def unknown_metric(name: str, why: str) -> Unavailable:
    """A requested name no profiler knows, as the profile states it."""
    return Unavailable(
        what=f"{name} (requested)", why=why, kind=UnavailableKind.UNKNOWN_METRIC, profiler=None
    )


def account_for(profile: Profile, requested: list[str]) -> Profile:
    """State every requested metric the profile does not hold, with why: the reason its
    profiler did not deliver here, else "not collected"."""
    backend = registry.backend_name(profile.target)
    present = {m.name for m in profile.all_metrics()}
    for name in requested:
        if name in present:
            continue
        profiler = registry.owner(name, backend)
        reason = profile.stopped(profiler) if profiler else None
        profile.unavailable.append(
            Unavailable(
                what=f"{name} (requested)",
                why=reason.why if reason else "not collected by this profile",
                kind=reason.kind if reason else UnavailableKind.NOT_COLLECTED,
                profiler=profiler,
            )
        )
    return profile
