"""The CPU profile of a C++ candidate: every source that works here, each number labelled.

Runs inside the isolated worker, after the candidate was verified. Sources:
perf top-down where the PMU exists (else stated as unavailable, with why),
cachegrind on a native replay of the recorded C++ calls, the compiler's
vectorisation remarks, the built object's instruction mix, thread scaling
(1 vs N threads) and the roofline position against this machine's measured
copy bandwidth.
"""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pragma_kernels.profilers import cachegrind, perf, registry
from pragma_kernels.profilers.roofline import roofline_metrics
from pragma_kernels.profilers.schema import (
    KernelProfile,
    Metric,
    Profile,
    Unavailable,
    UnavailableKind,
)
from pragma_kernels.runtime.cpp import RecordedCall
from pragma_kernels.runtime.cpp_build import find_origin

# Simulated seconds allowed for cachegrind before falling back to a smaller size.
CACHEGRIND_BUDGET_S = 8.0
# The registry's entry for the counter-free CPU sources: compiler remarks, disassembly,
# timing and roofline (the compendium files them together).
STATIC = "static_cpu"


def _median_seconds(fn: Callable[[], object], budget_s: float = 0.5, min_calls: int = 5) -> float:
    fn()
    samples, deadline = [], time.perf_counter() + budget_s
    while len(samples) < min_calls or time.perf_counter() < deadline:
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return samples[len(samples) // 2]


def thread_scaling(fn: Callable[[], object], threads: int, at_n: float) -> list[Metric]:
    """Time at 1 thread over `at_n`, the time at N threads (torch and the kernels share one
    OpenMP pool, so torch.set_num_threads sets both)."""
    import torch

    if threads < 2:
        return []
    torch.set_num_threads(1)
    try:
        at_one = _median_seconds(fn)
    finally:
        torch.set_num_threads(threads)
    scaling = at_one / at_n
    source = f"timing: 1 vs {threads} threads"
    return [
        Metric(name="thread_scaling", value=scaling, unit="x", profiler=STATIC, source=source),
        Metric(
            name="parallel_efficiency",
            value=scaling / threads,
            unit="ratio",
            profiler=STATIC,
            source=source,
        ),
    ]


@functools.cache
def copy_bandwidth_gbps(threads: int, megabytes: int = 256) -> float:
    """This machine's achievable memory bandwidth: a large tensor copy (read + write), measured
    once per process and cached on disk per CPU model and thread count."""
    import torch

    from pragma_kernels import config
    from pragma_kernels.hardware import detect_cpu

    key = re.sub(r"\W+", "_", f"{detect_cpu().model}_{threads}t_{megabytes}mb")
    cached = config.cache_dir() / "bandwidth" / key
    if cached.exists():
        return float(cached.read_text())

    source = torch.empty(megabytes * 2**20 // 4)
    target = torch.empty_like(source)
    seconds = _median_seconds(lambda: target.copy_(source), budget_s=0.3)
    gbps = 2 * source.numel() * 4 / seconds / 1e9
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(f"{gbps}")
    return gbps


def roofline(bytes_moved: int, flops: float, seconds: float, peak_gbps: float) -> list[Metric]:
    """Memory roof only: no FLOP/s peak is known for the CPU (FLOPs come from the reference)."""
    return roofline_metrics(
        bytes_moved,
        flops,
        seconds,
        peak_gbps,
        None,
        STATIC,
        "roofline: tensor bytes / time vs measured copy bandwidth",
    )


def static_metrics(
    calls: list[RecordedCall], candidate_file: str
) -> tuple[list[Metric], list[Unavailable]]:
    """Vectorisation remarks and instruction mix for each distinct built source."""
    from pragma_kernels.profilers.instruction_mix import instruction_mix
    from pragma_kernels.profilers.vectorisation import vectorisation_report

    def static(name: str, value, unit: str, source: str) -> Metric:
        return Metric(name=name, value=value, unit=unit, profiler=STATIC, source=source)

    def failed(what: str, exc: Exception) -> Unavailable:
        kind = UnavailableKind.FAILED
        return Unavailable(what=what, why=str(exc)[:300], kind=kind, profiler=STATIC)

    metrics, missing = [], []
    for source, flags, library in sorted({(c.source, c.flags, c.library) for c in calls}):
        try:
            report = vectorisation_report(source, flags, find_origin(source, candidate_file))
            remarks = "static: g++ -fopt-info-vec"
            metrics += [static(k, v, "count", remarks) for k, v in report.metrics().items()]
            if report.summary_lines():
                notes = "; ".join(report.summary_lines())
                metrics.append(static("vectorisation_notes", notes, "", remarks))
        except Exception as exc:  # a profiler failing is data, not the end of the profile
            missing.append(failed("vectorisation report", exc))
        names = sorted({c.function.name for c in calls if c.library == library})
        try:
            mix = instruction_mix(Path(library), names)
        except Exception as exc:  # as above
            missing.append(failed("instruction mix", exc))
            continue
        source = "static: objdump instruction mix"
        metrics += [
            static(k, v, "bits" if "bits" in k else "", source) for k, v in mix.metrics().items()
        ]
        metrics.append(static("instruction_mix_notes", mix.summary(), "", source))
    return metrics, missing


def _repeat(candidate, inputs: list, calls: int) -> None:
    """Call the candidate `calls` times keeping no output alive (a fast kernel makes
    thousands of calls in the counted window)."""
    for _ in range(calls):
        candidate(*inputs)


def extra_perf_events(requested: list[str]) -> list[str]:
    """Requested names the other CPU profilers do not make: perf events to count."""
    from pragma_kernels.knowledge import load_compendium

    compendium = load_compendium()
    others = {
        name
        for entry in registry.profilers_for(registry.CPP_CPU)
        if entry.name != perf.PROFILER
        for name in compendium.names(entry.name)
    }
    derived = {"ipc", *perf.TOPDOWN_L1.values()}
    return [n for n in requested if n not in others | derived and n not in perf.EVENTS]


@contextlib.contextmanager
def _timed(profile: Profile, part: str):
    """Record how long a part of the profiling took (profile.overhead_s, "profiling/part")."""
    start = time.perf_counter()
    try:
        yield
    finally:
        profile.overhead_s[f"profiling/{part}"] = round(time.perf_counter() - start, 3)


def topdown_availability() -> str | Unavailable:
    """perf's top-down level-1 metric group here, or why there is none."""

    def missing(kind: UnavailableKind, why: str) -> Unavailable:
        return Unavailable(
            what="top-down level 1 (perf)", why=why, kind=kind, profiler=perf.PROFILER
        )

    if shutil.which("perf") is None:
        return missing(UnavailableKind.TOOL_MISSING, "perf is not installed")
    readable, detail = perf.counters_readable()
    if not readable:
        return missing(UnavailableKind.NO_COUNTERS, detail)
    try:
        listing = subprocess.run(
            ["perf", "list", "metricgroups"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return missing(UnavailableKind.FAILED, f"perf list metricgroups failed: {exc}")
    group = perf.topdown_group(listing)
    if group is None:
        why = f"this CPU's perf offers none of the metric groups {perf.TOPDOWN_GROUPS}"
        return missing(UnavailableKind.UNSUPPORTED, why)
    return group


def cachegrind_kernels(
    profile: Profile,
    calls: list[RecordedCall],
    small_calls: Callable[[], list[RecordedCall]] | None,
) -> tuple[list[KernelProfile], list[Unavailable]]:
    """cachegrind on the recorded calls; where that would be too slow, on `small_calls`
    (the problem's tiny size), stated as such."""
    with _timed(profile, "cachegrind"):
        kernels, missing = cachegrind.profile_calls(calls, CACHEGRIND_BUDGET_S)
    too_slow = any(m.kind is UnavailableKind.TOO_SLOW for m in missing)
    if kernels or not too_slow or small_calls is None:
        return kernels, missing
    # Tiny by construction; valgrind's own timeout still bounds a pathological kernel.
    with _timed(profile, "cachegrind at the tiny size"):
        kernels, missing = cachegrind.profile_calls(small_calls(), budget_s=float("inf"))
    reduced = Unavailable(
        what="cachegrind at the profiled size",
        why="too slow to simulate; its counts come from the problem's 'tiny' size",
        kind=UnavailableKind.REDUCED_SIZE,
        profiler=cachegrind.PROFILER,
    )
    return kernels, [*missing, reduced]


def profile_cpu(
    candidate,
    inputs: list,
    reference,
    threads: int,
    candidate_file: str,
    small_calls: Callable[[], list[RecordedCall]] | None = None,
    requested: list[str] | None = None,
) -> Profile:
    """Profile one verified CPU candidate on one input set.

    `small_calls` records the candidate's C++ calls on a smaller size of the problem:
    used for cachegrind when the simulated run at this size would take too long.
    `requested`: extra metrics by name (validated before); perf events among them are
    counted in the same perf session.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from pragma_kernels.runtime import cpp

    profile = Profile(
        tools=["perf", "cachegrind", "g++ -fopt-info-vec", "objdump", "timing"], target="cpu"
    )
    with _timed(profile, "perf checks"):
        group = topdown_availability()
    if isinstance(group, Unavailable):
        profile.unavailable.append(group)
        group = None
    with torch.no_grad():
        candidate(*inputs)  # warm: first-call costs out of the recording
        with cpp.recording() as calls:
            outputs = candidate(*inputs)
        seconds = _median_seconds(lambda: candidate(*inputs))
        repeats = max(1, int(0.3 / max(seconds, 1e-6)))
        with _timed(profile, "perf"):
            counted, missing = perf.count_around(
                lambda: _repeat(candidate, inputs, repeats),
                repeats,
                events=(*perf.EVENTS, *extra_perf_events(requested or [])),
                metric_group=group,
            )
        profile.metrics += counted
        profile.unavailable += missing
        with FlopCounterMode(display=False) as counter:
            reference(*inputs)
        with _timed(profile, "thread scaling"):
            profile.metrics += thread_scaling(lambda: candidate(*inputs), threads, seconds)
    tensors = [
        t
        for t in [*inputs, *(outputs if isinstance(outputs, (list, tuple)) else [outputs])]
        if isinstance(t, torch.Tensor)
    ]
    bytes_moved = sum(t.numel() * t.element_size() for t in tensors)
    profile.metrics.insert(
        0,
        Metric(
            name="time_ms",
            value=seconds * 1e3,
            unit="ms",
            profiler=STATIC,
            source="timing: median wall clock",
        ),
    )
    with _timed(profile, "copy bandwidth"):
        bandwidth = copy_bandwidth_gbps(threads)
    profile.metrics += roofline(bytes_moved, counter.get_total_flops(), seconds, bandwidth)
    if not calls:
        profile.unavailable += [
            Unavailable(
                what=what,
                why="the candidate made no C++ call through the loader",
                kind=UnavailableKind.NOTHING_TO_PROFILE,
                profiler=profiler,
            )
            for what, profiler in (
                ("cachegrind", cachegrind.PROFILER),
                ("vectorisation report and instruction mix", STATIC),
            )
        ]
        return profile
    kernels, missing = cachegrind_kernels(profile, calls, small_calls)
    profile.kernels += kernels
    profile.unavailable += missing
    with _timed(profile, "vectorisation report and disassembly"):
        static, missing = static_metrics(calls, candidate_file)
    profile.metrics += static
    profile.unavailable += missing
    return profile
