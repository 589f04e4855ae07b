"""One schema for every profiler's output: metrics with units, sources and meanings.

A Profile holds per-kernel metrics (a candidate may launch several kernels or
call several C++ functions), an aggregate weighted by each kernel's share of
the time, the profiler's own findings (e.g. Nsight's OPT rules), and what could
not be collected and why: a missing number is stated, never invented.

Code decides on `profiler` (a registry name, profilers/registry.py) and on an
Unavailable's `kind`; `source` and `why` are the human-readable detail for
people and prompts, free to change wording.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

from pydantic import BaseModel, Field

# Metrics that add up across kernels (bytes, counts, time); the rest are averaged by time,
# except a launch's configuration and the occupancy it allows, which are the dominant
# kernel's: a time-weighted mean of a 132-program grid and a 4-program fill kernel (131.95)
# describes neither launch.
_ADDITIVE_UNITS = {"byte", "bytes", "ms", "us", "ns", "s", "count", "instructions", "cycles"}
_LAUNCH_CONFIG = {
    *("grid_size", "waves", "num_warps", "num_stages", "n_regs", "shared_mem_bytes"),
    *("theoretical_occupancy", "sm__maximum_warps_per_active_cycle_pct"),
}


def is_launch_config(name: str) -> bool:
    """ncu's `launch__*` figures and the counter-free fallback's launch metadata."""
    return name.startswith("launch__") or name in _LAUNCH_CONFIG


# The profilers' names (profilers/registry.py has one entry for each; a test pins that).
ProfilerName = Literal["cachegrind", "static_cpu", "perf", "ncu", "gpu_fallback"]
PROFILER_NAMES: tuple[str, ...] = get_args(ProfilerName)


class Metric(BaseModel):
    name: str
    value: float | str | None
    unit: str = ""
    profiler: ProfilerName  # the registry entry that made it
    source: str  # how, for people: "cachegrind", "static: objdump instruction mix", ...
    meaning: str = ""  # from the knowledge compendium, filled for prompts

    def is_numeric(self) -> bool:
        return isinstance(self.value, (int, float)) and not isinstance(self.value, bool)

    def render(self) -> str:
        value = f"{self.value:.4g}" if self.is_numeric() else str(self.value)
        unit = f" {self.unit}" if self.unit else ""
        meaning = f" -- {self.meaning}" if self.meaning else ""
        return f"{self.name} = {value}{unit} [{self.source}]{meaning}"


def metric_maker(profiler: ProfilerName, source: str):
    """Metrics of one profiler and source, made by (name, value, unit)."""

    def make(name: str, value: float | str | None, unit: str = "") -> Metric:
        return Metric(name=name, value=value, unit=unit, profiler=profiler, source=source)

    return make


class Finding(BaseModel):
    """A profiler's own advice, e.g. an Nsight Compute rule result."""

    severity: str  # "OPT" | "WRN" | "INF"
    message: str
    estimated_speedup_pct: float | None = None
    source: str = ""
    kernel: str = ""  # the kernel the finding is about, where the profiler says

    def render(self) -> str:
        gain = (
            f" (est. speedup {self.estimated_speedup_pct:g}%)"
            if self.estimated_speedup_pct is not None
            else ""
        )
        about = f" [{self.kernel}]" if self.kernel else ""
        return f"{self.severity}{about}: {self.message}{gain}"


class UnavailableKind(StrEnum):
    """Why something is missing, in the form decisions read."""

    TOOL_MISSING = "tool_missing"  # not installed / not found
    NO_COUNTERS = "no_counters"  # hardware counters unreadable: no PMU, refused by the driver
    UNSUPPORTED = "unsupported"  # not offered here: no top-down group, no peaks for this GPU
    DISABLED = "disabled"  # switched off on request (--no-ncu)
    TOO_SLOW = "too_slow"  # over its time budget at this size
    NOTHING_TO_PROFILE = "nothing_to_profile"  # no C++ call, no Triton kernel launched
    FAILED = "failed"  # ran and failed: a build error, a crash, an unreadable report
    UNKNOWN_METRIC = "unknown_metric"  # a requested name no profiler of the backend knows
    NOT_COLLECTED = "not_collected"  # a requested, known name this profile did not make
    # Caveats: the numbers are there, collected differently from what was asked.
    REDUCED_SIZE = "reduced_size"  # on a smaller size of the problem
    PARTIAL = "partial"  # for part of the work (the first launches only)
    ALTERED_BUILD = "altered_build"  # on a modified build (AVX-512 off under valgrind)

    @property
    def is_caveat(self) -> bool:
        return self in (self.REDUCED_SIZE, self.PARTIAL, self.ALTERED_BUILD)

    @property
    def stops_profiler(self) -> bool:
        """The profiler (or the part of it the entry names) did not deliver here: not a
        caveat, and not about one requested name."""
        return not self.is_caveat and self not in (self.UNKNOWN_METRIC, self.NOT_COLLECTED)


class Unavailable(BaseModel):
    what: str  # a metric or a whole profiler, e.g. "top-down (perf)"
    why: str  # for people: "hardware events not supported: a VM without a virtual PMU"
    kind: UnavailableKind
    profiler: ProfilerName | None  # the registry entry; None for an unknown requested name


class KernelProfile(BaseModel):
    name: str
    time_share: float = 1.0  # fraction of the candidate's kernel time, 0..1
    metrics: list[Metric] = Field(default_factory=list)


class Profile(BaseModel):
    tools: list[str]
    target: str  # "cpu" | "gpu"
    kernels: list[KernelProfile] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)  # whole-candidate metrics
    findings: list[Finding] = Field(default_factory=list)
    unavailable: list[Unavailable] = Field(default_factory=list)
    # Where the profiling time went, by stage; "stage/part" keys break a stage down.
    overhead_s: dict[str, float] = Field(default_factory=dict)

    def all_metrics(self) -> list[Metric]:
        """Whole-candidate metrics, then every kernel's."""
        return [*self.metrics, *(m for k in self.kernels for m in k.metrics)]

    def profilers(self) -> set[str]:
        """The registry names of the profilers whose metrics this profile holds."""
        return {m.profiler for m in self.all_metrics()}

    def stopped(self, profiler: str) -> Unavailable | None:
        """The first entry saying `profiler` (or part of it) did not deliver here."""
        return next(
            (u for u in self.unavailable if u.profiler == profiler and u.kind.stops_profiler),
            None,
        )

    def meanings(self) -> dict[str, str]:
        """Each documented metric's meaning, once per name."""
        return {m.name: m.meaning for m in self.all_metrics() if m.meaning}

    def metric(self, name: str) -> Metric | None:
        """A whole-candidate metric, else the time-weighted aggregate over kernels."""
        for metric in self.metrics:
            if metric.name == name:
                return metric
        return next((m for m in self.aggregate() if m.name == name), None)

    def aggregate(self) -> list[Metric]:
        """Numeric kernel metrics combined: additive units summed, launch configuration
        the dominant kernel's, the rest time-weighted."""
        if len(self.kernels) == 1:
            return list(self.kernels[0].metrics)
        combined: dict[str, list[tuple[float, Metric]]] = {}
        for kernel in self.kernels:
            for metric in kernel.metrics:
                if metric.is_numeric():
                    combined.setdefault(metric.name, []).append((kernel.time_share, metric))
        result = []
        for name, pairs in combined.items():
            first = pairs[0][1]
            if is_launch_config(name):
                value = max(pairs, key=lambda pair: pair[0])[1].value
            elif first.unit.lower() in _ADDITIVE_UNITS:
                value = sum(m.value for _, m in pairs)
            else:
                weight = sum(share for share, _ in pairs) or 1.0
                value = sum(share * m.value for share, m in pairs) / weight
            result.append(first.model_copy(update={"name": name, "value": value}))
        return result

    def render_text(self, max_metrics_per_kernel: int = 40, meanings: bool = True) -> str:
        """Compact text for an LLM prompt: every number with its unit, source and (unless
        the prompt lists them apart, see `meanings()`) its meaning."""

        def show(metric: Metric) -> str:
            return (
                metric.render() if meanings else metric.model_copy(update={"meaning": ""}).render()
            )

        lines = [f"Profile ({self.target}; tools: {', '.join(self.tools)})"]
        lines += [f"  {show(m)}" for m in self.metrics]
        for kernel in self.kernels:
            lines.append(f"Kernel {kernel.name} ({kernel.time_share:.0%} of kernel time):")
            lines += [f"  {show(m)}" for m in kernel.metrics[:max_metrics_per_kernel]]
        if self.findings:
            lines.append("Profiler findings:")
            lines += [f"  {finding.render()}" for finding in self.findings]
        if self.unavailable:
            lines.append("Not collected:")
            lines += [f"  {u.what}: {u.why}" for u in self.unavailable]
        return "\n".join(lines)
