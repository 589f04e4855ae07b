"""The numbers the rules read, taken from a Profile whichever profiler produced them.

A signal prefers the counter (ncu, perf) and falls back to the counter-free
equivalent (Triton metadata, roofline, cachegrind); each comes back as Evidence
naming the metric and source it was read from, so a diagnosis shows its work.
"""

from __future__ import annotations

from dataclasses import dataclass

from pragma_kernels.profilers import registry
from pragma_kernels.profilers.roofline import CACHE_FIT_SOURCE
from pragma_kernels.profilers.schema import Finding, Metric, Profile


@dataclass(frozen=True)
class Reading:
    metric: Metric

    @property
    def value(self) -> float:
        return float(self.metric.value)  # type: ignore[arg-type]


class Signals:
    def __init__(self, profile: Profile):
        self.profile = profile
        self.dominant = max(profile.kernels, key=lambda k: k.time_share, default=None)

    def read(self, *names: str) -> Reading | None:
        """The first of `names` the profile holds as a number (whole, else kernel aggregate)."""
        for name in names:
            metric = self.profile.metric(name)
            if metric is not None and metric.is_numeric():
                return Reading(metric)
        return None

    def text(self, name: str) -> str | None:
        """A non-numeric metric of the dominant kernel (e.g. occupancy_limiter)."""
        for metric in [*self.profile.metrics, *(self.dominant.metrics if self.dominant else [])]:
            if metric.name == name and isinstance(metric.value, str):
                return metric.value
        return None

    def cache_fit(self) -> Finding | None:
        """The profiler's finding that the tensors' footprint (the roofline's bytes) fits a
        cache level up to the LLC, against the machine's cache sizes; None when it does not
        fit or the sizes were unknown."""
        return next((f for f in self.profile.findings if f.source == CACHE_FIT_SOURCE), None)

    def has_counters(self) -> bool:
        """A profiler that reads hardware counters delivered: its metrics are here and
        nothing says it (or part of it) was stopped. perf's software events alone do not
        count: without a PMU its top-down part is stated as stopped."""
        return any(
            registry.PROFILERS[name].needs_counters and self.profile.stopped(name) is None
            for name in self.profile.profilers()
        )

    # -- GPU ---------------------------------------------------------------------------
    def kernel_launches(self) -> Reading | None:
        return self.read("kernel_launches")

    def time_ms(self) -> Reading | None:
        return self.read("kernel_time_ms")

    def dram_pct(self) -> tuple[float, Reading] | None:
        """DRAM throughput in % of peak: ncu's measured figure, else the roofline position
        (minimal bytes, so a lower bound of the real traffic)."""
        ncu = self.read("dram__throughput.avg.pct_of_peak_sustained_elapsed")
        if ncu:
            return ncu.value, ncu
        roof = self.read("dram_roofline_fraction")
        return (100 * roof.value, roof) if roof else None

    def traffic_ratio(self) -> float | None:
        """DRAM bytes ncu measured over the minimal bytes the operator must move."""
        measured = self.read("dram_traffic_over_minimum")  # profile-made, from operator_bytes
        if measured:
            return measured.value
        read, write = self.read("dram__bytes_read.sum"), self.read("dram__bytes_write.sum")
        achieved, time = self.read("achieved_dram_gbps"), self.time_ms()
        if not (read and write and achieved and time):
            return None
        minimal = achieved.value * 1e9 * time.value / 1e3  # the roofline's tensor bytes
        return (read.value + write.value) / minimal if minimal else None

    def ptx_vector_width(self) -> float | None:
        """32-bit registers per global load/store instruction in the Triton kernels' PTX
        (4: all 128-bit vector accesses, one warp request then spans 16 whole sectors)."""
        accesses = self.read("ptx_global_accesses")
        instructions = self.read("ptx_global_access_instructions")
        if accesses and instructions and instructions.value:
            return accesses.value / instructions.value
        return None

    def occupancy_limiter(self) -> str | None:
        limiter = self.text("occupancy_limiter")
        if limiter:
            return limiter
        limits = {
            "registers": self.read("launch__occupancy_limit_registers"),
            "shared memory": self.read("launch__occupancy_limit_shared_mem"),
            "warps": self.read("launch__occupancy_limit_warps"),
            "blocks": self.read("launch__occupancy_limit_blocks"),
        }
        known = {name: r.value for name, r in limits.items() if r}
        return min(known, key=known.get) if known else None
