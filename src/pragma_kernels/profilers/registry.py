"""Every profiler once: its name, the backends it serves, whether it needs hardware
counters, and how to list the metric names its tool offers on this machine.

The names are the knowledge compendium's. A Metric's and an Unavailable's `profiler`
is one of them, so decisions read the registry, never a metric's human-readable
`source`. The CPU's timing and roofline metrics belong to `static_cpu`, where the
compendium files them: a separate timing entry would only split their documentation.

Listing a tool's metrics runs it (`perf list`: seconds; `ncu --query-metrics`: tens of
seconds), so each listing is cached in the process and on disk per machine
(`config.cache_dir()`); delete the cache folder after upgrading the tool.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from pragma_kernels import config

CPP_CPU = "cpp-cpu"  # C++ candidates on the CPU
TRITON_CUDA = "triton-cuda"  # Triton candidates on an NVIDIA GPU
TRITON_INTERPRETER = "triton-interpreter"  # Triton's CPU interpreter: nothing to profile
BACKENDS = (CPP_CPU, TRITON_CUDA, TRITON_INTERPRETER)
_TARGETS = {"cpu": CPP_CPU, "gpu": TRITON_CUDA}  # the targets' older names


def backend_name(target_or_backend: str) -> str:
    """The backend name, accepting the older target names ("cpu", "gpu")."""
    name = _TARGETS.get(target_or_backend, target_or_backend)
    if name not in BACKENDS:
        raise ValueError(
            f"unknown backend {target_or_backend!r}. Fix: use one of {', '.join(BACKENDS)}"
        )
    return name


def _cached_listing(folder: str, key: str, produce: Callable[[], set[str]]) -> frozenset[str]:
    """A tool's metric names, read from the disk cache, else produced and stored (when any)."""
    path = config.cache_dir() / folder / re.sub(r"\W+", "_", key)
    if path.exists():
        return frozenset(path.read_text().split())
    names = produce()
    if names:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(sorted(names)))
    return frozenset(names)


@functools.cache
def perf_event_names() -> frozenset[str]:
    """Event names `perf list` offers here (empty without perf), cached per perf binary,
    kernel and CPU model (the three decide the list)."""
    from pragma_kernels.hardware import detect_cpu
    from pragma_kernels.profilers.perf import parse_perf_list

    executable = shutil.which("perf")
    if executable is None:
        return frozenset()

    counters = hardware_counters()

    def listing() -> set[str]:
        # Without a PMU only software events can be counted: offer only those.
        kinds = [] if counters else ["sw"]
        try:
            done = subprocess.run(
                [executable, "list", "--no-desc", *kinds],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            return set()
        return parse_perf_list(done.stdout)

    built = os.stat(executable).st_mtime_ns
    pmu = "pmu" if counters else "software_only"
    key = f"{executable}_{built}_{platform.release()}_{detect_cpu().model}_{pmu}"
    return _cached_listing("perf", key, listing)


@functools.cache
def hardware_counters() -> bool:
    """Whether perf reads hardware counters on this machine (a VM may have no PMU)."""
    from pragma_kernels.profilers.perf import counters_readable

    return shutil.which("perf") is not None and counters_readable()[0]


@functools.cache
def ncu_metric_names() -> frozenset[str]:
    """Base metric names `ncu --query-metrics` lists for this machine's GPU (empty without
    ncu), cached per ncu and GPU."""
    from pragma_kernels.profilers.ncu import find_ncu, parse_query_metrics

    executable = find_ncu()
    if executable is None:
        return frozenset()

    def listing() -> set[str]:
        try:
            done = subprocess.run(
                [executable, "--query-metrics"], capture_output=True, text=True, timeout=120
            )
        except (OSError, subprocess.TimeoutExpired):
            return set()
        return set(parse_query_metrics(done.stdout))

    return _cached_listing("ncu", f"{executable}_{_gpu_name()}_metrics", listing)


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "no_gpu"


@dataclass(frozen=True)
class ProfilerEntry:
    name: str  # the compendium's profiler name
    backends: tuple[str, ...]
    needs_counters: bool  # hardware performance counters (a PMU, GPU counter access)
    # The names the tool offers on this machine beyond the compendium's; None: only those.
    list_metrics: Callable[[], frozenset[str]] | None = None


# In the order a requested name's owner is looked up (the compendium's names are disjoint
# within a backend, so the order only matters for reading).
PROFILERS: dict[str, ProfilerEntry] = {
    entry.name: entry
    for entry in (
        ProfilerEntry("cachegrind", (CPP_CPU,), needs_counters=False),
        ProfilerEntry("static_cpu", (CPP_CPU,), needs_counters=False),
        ProfilerEntry("perf", (CPP_CPU,), needs_counters=True, list_metrics=perf_event_names),
        ProfilerEntry("ncu", (TRITON_CUDA,), needs_counters=True, list_metrics=ncu_metric_names),
        ProfilerEntry("gpu_fallback", (TRITON_CUDA,), needs_counters=False),
    )
}


def profilers_for(backend: str) -> tuple[ProfilerEntry, ...]:
    """The profilers that run for `backend` (none for the Triton interpreter)."""
    backend = backend_name(backend)
    return tuple(entry for entry in PROFILERS.values() if backend in entry.backends)


def known_metric_names(backend: str) -> frozenset[str]:
    """Every metric name the backend's profilers know: the compendium's, plus what the
    tools list on this machine (`perf list`, `ncu --query-metrics` base names). Cached
    per process: a frozenset, shared by every caller."""
    return _known_metric_names(backend_name(backend))


@functools.cache
def _known_metric_names(backend: str) -> frozenset[str]:
    from pragma_kernels.knowledge import load_compendium

    compendium = load_compendium()
    names: set[str] = set()
    for entry in profilers_for(backend):
        names.update(compendium.names(entry.name))
        if entry.list_metrics is not None:
            names.update(entry.list_metrics())
    return frozenset(names)


def owner(name: str, backend: str) -> str | None:
    """The profiler that makes metric `name` on `backend`: the one the compendium files it
    under, else the one whose tool lists names outside it (each backend has at most one:
    a test pins that), where validated names not in the compendium came from."""
    from pragma_kernels.knowledge import load_compendium

    compendium = load_compendium()
    entries = profilers_for(backend)
    documented = next((e.name for e in entries if compendium.get(e.name, name)), None)
    listed = next((e.name for e in entries if e.list_metrics is not None), None)
    return documented or listed
