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
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pragma_kernels.profilers import cachegrind, perf, registry
from pragma_kernels.profilers.roofline import cache_fit, roofline_metrics, traffic_metrics
from pragma_kernels.profilers.schema import (
    Finding,
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


def _samples(fn: Callable[[], object], budget_s: float, min_calls: int) -> list[float]:
    fn()
    samples, deadline = [], time.perf_counter() + budget_s
    while len(samples) < min_calls or time.perf_counter() < deadline:
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return sorted(samples)


def _median_seconds(fn: Callable[[], object], budget_s: float = 0.5, min_calls: int = 5) -> float:
    samples = _samples(fn, budget_s, min_calls)
    return samples[len(samples) // 2]


def _best_seconds(fn: Callable[[], object], budget_s: float = 0.2, min_calls: int = 5) -> float:
    """The fastest call: other processes only ever add time, so on a shared machine the
    minimum is the least disturbed estimate of what the threads can do."""
    return _samples(fn, budget_s, min_calls)[0]


SCALING_ROUNDS = 3  # 1-thread / N-thread pairs, interleaved: one pair swung 0.68-1.31


def amdahl_serial_fraction(scaling: float, threads: int) -> float:
    """The serial share f of the work that explains `scaling` on `threads` threads by
    Amdahl's law, 1 / (f + (1 - f) / N); 1 when more threads made it slower (pure)."""
    if threads < 2 or scaling <= 0:
        return 1.0
    return min(max((threads / scaling - 1) / (threads - 1), 0.0), 1.0)


def scaling_metrics(ratios: list[float], threads: int) -> list[Metric]:
    """Median 1-thread/N-thread time ratio over the rounds, its spread, and the Amdahl
    serial fraction it implies (pure)."""
    ordered = sorted(ratios)
    scaling = ordered[len(ordered) // 2]
    source = (
        f"timing: fastest call at 1 vs {threads} threads, median of {len(ratios)} "
        "interleaved rounds"
    )

    def make(name: str, value: float, unit: str) -> Metric:
        return Metric(name=name, value=value, unit=unit, profiler=STATIC, source=source)

    return [
        make("thread_scaling", scaling, "x"),
        make("thread_scaling_spread", (ordered[-1] - ordered[0]) / scaling, "ratio"),
        make("parallel_efficiency", scaling / threads, "ratio"),
        make("serial_fraction", amdahl_serial_fraction(scaling, threads), "ratio"),
    ]


def machine_load(threads: int) -> list[Metric]:
    """The 1-minute load average per core while profiling: above ~1 other processes
    compete for the cores, and timing-based signals (thread scaling) are unreliable."""
    cores = max(os.cpu_count() or 1, 1)
    load = os.getloadavg()[0]
    return [
        Metric(
            name="machine_load_per_core",
            value=load / cores,
            unit="ratio",
            profiler=STATIC,
            source=f"os.getloadavg: {load:.2f} over {cores} cores",
        )
    ]


def load_warning(load_per_core: float, limit: float = 0.75) -> list[Finding]:
    """A flag on a profile taken under load, so no one reads its timings as the kernel's."""
    if load_per_core <= limit:
        return []
    return [
        Finding(
            severity="WRN",
            message=f"taken while the machine was loaded ({load_per_core:.1f} runnable "
            "processes per core): time_ms, thread scaling and the roofline position are "
            "unreliable; the static and cachegrind metrics are not affected",
            source="os.getloadavg",
        )
    ]


def thread_scaling(
    fn: Callable[[], object], threads: int, rounds: int = SCALING_ROUNDS
) -> list[Metric]:
    """Time at 1 thread over the time at N threads, in interleaved rounds so a burst of
    load elsewhere hits both sides (torch and the kernels share one OpenMP pool, so
    torch.set_num_threads sets both)."""
    import torch

    if threads < 2:
        return []
    ratios = []
    try:
        for _ in range(rounds):
            torch.set_num_threads(threads)
            at_n = _best_seconds(fn)
            torch.set_num_threads(1)
            ratios.append(_best_seconds(fn) / at_n)
    finally:
        torch.set_num_threads(threads)
    return scaling_metrics(ratios, threads)


PEAK_LOADED_PER_CORE = 0.5  # a peak measured above this load is re-measured next time


def cached_peak(path: Path, measure: Callable[[], float]) -> float:
    """A machine peak (bandwidth, FLOP rate), cached on disk: the best measurement so far.
    Noise only ever lowers a peak, so a new measurement replaces the stored one only when
    higher, and one taken on a loaded machine is marked and measured again next time (a
    peak measured under load once read 19.8 GFLOP/s where the CPU does 330)."""
    stored, loaded = None, True
    if path.exists():
        words = path.read_text().split()
        stored, loaded = float(words[0]), words[1:] == ["loaded"]
    if stored is not None and not loaded:
        return stored
    value = measure()
    busy = os.getloadavg()[0] / (os.cpu_count() or 1) > PEAK_LOADED_PER_CORE
    if stored is not None and stored >= value:
        value = stored
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{value}{' loaded' if busy else ''}")
    return value


@functools.cache
def copy_bandwidth_gbps(threads: int, megabytes: int = 256) -> float:
    """This machine's achievable memory bandwidth: a large tensor copy (read + write), the
    best of its timed copies, measured once per process and cached per CPU model and
    thread count (cached_peak)."""
    import torch

    from pragma_kernels import config
    from pragma_kernels.hardware import detect_cpu

    key = re.sub(r"\W+", "_", f"{detect_cpu().model}_{threads}t_{megabytes}mb")

    def measure() -> float:
        source = torch.empty(megabytes * 2**20 // 4)
        target = torch.empty_like(source)
        seconds = _best_seconds(lambda: target.copy_(source))
        return 2 * source.numel() * 4 / seconds / 1e9

    return cached_peak(config.cache_dir() / "bandwidth" / key, measure)


@functools.cache
def compute_peak_gflops(threads: int, n: int = 1024) -> float:
    """This machine's achievable fp32 FLOP rate: torch's matmul (a tuned BLAS at fused
    multiply-add speed) of two n x n matrices, the best of its timed calls, cached like the
    copy bandwidth."""
    import torch

    from pragma_kernels import config
    from pragma_kernels.hardware import detect_cpu

    key = re.sub(r"\W+", "_", f"{detect_cpu().model}_{threads}t_mm{n}")

    def measure() -> float:
        a, b = torch.randn(n, n), torch.randn(n, n)
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            seconds = _best_seconds(lambda: torch.mm(a, b))
        finally:
            torch.set_num_threads(previous)
        return 2 * n**3 / seconds / 1e9

    return cached_peak(config.cache_dir() / "flops" / key, measure)


def roofline(
    bytes_moved: int, flops: float, seconds: float, peak_gbps: float, peak_gflops: float | None
) -> list[Metric]:
    """Against both measured roofs: the copy bandwidth and the matmul FLOP rate (FLOPs
    come from the reference; torch counts matmul/conv FLOPs only, so pointwise work is
    placed against the memory roof)."""
    return roofline_metrics(
        bytes_moved,
        flops,
        seconds,
        peak_gbps,
        peak_gflops,
        STATIC,
        "roofline: tensor bytes and reference FLOPs / time vs measured copy bandwidth "
        "and matmul FLOP rate",
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
        try:  # every function of the candidate's library: the hot loop may be a static helper
            mix = instruction_mix(Path(library), None)
        except Exception as exc:  # as above
            missing.append(failed("instruction mix", exc))
            continue
        source = "static: objdump instruction mix"
        metrics += [
            static(k, v, "bits" if "bits" in k else "", source) for k, v in mix.metrics().items()
        ]
        metrics.append(static("instruction_mix_notes", mix.summary(), "", source))
        if len(mix.per_loop) > 1:  # which loop is which: a cold tail's hazards are not the hot's
            loops = "; ".join(mix.loop_lines())
            metrics.append(static("instruction_mix_loops", loops, "", source))
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


def reduction_factor(native_s: float, budget_s: float = CACHEGRIND_BUDGET_S) -> float:
    """How much smaller the problem must be for a typical simulation (SLOWDOWN) of calls
    taking `native_s` to use half the budget (pure); valgrind's own timeout bounds a
    kernel that simulates slower than that."""
    return max(2.0, cachegrind.SLOWDOWN * native_s / (budget_s / 2))


def cachegrind_kernels(
    profile: Profile,
    calls: list[RecordedCall],
    small_calls: Callable[[float], tuple[list[RecordedCall], str]] | None,
) -> tuple[list[KernelProfile], list[Unavailable], list[RecordedCall]]:
    """cachegrind on the recorded calls; where that runs past its budget, on
    `small_calls(factor)` (the problem's tiny size, or its inputs scaled down about
    `factor` times), stated as such. Also returns the calls that were simulated."""
    with _timed(profile, "cachegrind"):
        kernels, missing = cachegrind.profile_calls(calls, CACHEGRIND_BUDGET_S)
    too_slow = any(m.kind is UnavailableKind.TOO_SLOW for m in missing)
    if kernels or not too_slow or small_calls is None:
        return kernels, missing, calls
    factor = reduction_factor(sum(c.seconds for c in calls))
    with _timed(profile, "cachegrind at a reduced size"):
        try:
            smaller, how = small_calls(factor)
        except Exception as exc:  # a candidate that only runs at its full size: data, not fatal
            failed = Unavailable(
                what="cachegrind at a reduced size",
                why=f"the candidate failed at the reduced size: {type(exc).__name__}: "
                f"{str(exc)[:200]}",
                kind=UnavailableKind.FAILED,
                profiler=cachegrind.PROFILER,
            )
            return [], [*missing, failed], calls
        # Bounded by valgrind's own timeout: a reduced problem that is still too slow says so.
        kernels, again = cachegrind.profile_calls(smaller, budget_s=cachegrind.TIMEOUT_S)
    reduced = Unavailable(
        what="cachegrind at the profiled size",
        why=f"{missing[0].why}; its counts come from {how}",
        kind=UnavailableKind.REDUCED_SIZE,
        profiler=cachegrind.PROFILER,
    )
    return kernels, [*again, reduced] if kernels else [*missing, *again], smaller


def profile_cpu(
    candidate,
    inputs: list,
    reference,
    threads: int,
    candidate_file: str,
    small_calls: Callable[[float], tuple[list[RecordedCall], str]] | None = None,
    requested: list[str] | None = None,
) -> Profile:
    """Profile one verified CPU candidate on one input set.

    `small_calls(factor)` records the candidate's C++ calls on a smaller problem (and says
    which): used for cachegrind when the simulated run at this size is too slow.
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
            profile.metrics += thread_scaling(lambda: candidate(*inputs), threads)
            profile.metrics += machine_load(threads)
            profile.findings += load_warning(profile.metrics[-1].value)
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
    flops = counter.get_total_flops()
    with _timed(profile, "compute peak"):
        peak = compute_peak_gflops(threads) if flops > 0 else None
    profile.metrics += roofline(bytes_moved, flops, seconds, bandwidth, peak)
    from pragma_kernels.hardware import detect_cpu

    if fit := cache_fit(bytes_moved, detect_cpu().caches):
        profile.findings.append(fit)
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
    kernels, missing, simulated = cachegrind_kernels(profile, calls, small_calls)
    profile.kernels += kernels
    profile.unavailable += missing
    footprint = cachegrind.footprint_metrics(kernels, simulated)
    profile.metrics += footprint
    per_line = next((m.value for m in footprint if m.name == "D1_misses_per_footprint_line"), None)
    if per_line is not None:
        profile.metrics += traffic_metrics(
            bytes_moved,
            seconds,
            bandwidth,
            per_line,
            STATIC,
            "roofline: tensor bytes x cachegrind's L1-missed lines per tensor line / time vs "
            "measured copy bandwidth",
        )
    with _timed(profile, "vectorisation report and disassembly"):
        static, missing = static_metrics(calls, candidate_file)
    profile.metrics += static
    profile.unavailable += missing
    return profile
