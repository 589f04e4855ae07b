"""Current attempt vs the historical best: did it improve, which metrics explain it, what to
keep. Rendered like PRAGMA's Listing 1 (best vs current, analysis, action)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, Field

from pragma_kernels.diagnosis.model import Diagnosis
from pragma_kernels.profilers.schema import Profile

NEUTRAL_BAND = 0.03  # speedup changes within +-3 % are noise, not a new best
# The metrics worth comparing, in the order they are shown when they moved alike; one
# tuple per backend family (backends/ picks one).
GPU_KEY_METRICS = (
    "kernel_time_ms",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed",
    "sm__warps_active.avg.pct_of_peak_sustained_active",
    "theoretical_occupancy",
    "sm__maximum_warps_per_active_cycle_pct",
    "launch__registers_per_thread",
    "n_regs",
    "n_spills",
    "dram__bytes_read.sum",
    "dram__bytes_write.sum",
    "kernel_launches",
    "grid_size",
    "launch__grid_size",
    "dram_roofline_fraction",
    "compute_roofline_fraction",
    "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
    "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_ld.ratio",
    "smsp__thread_inst_executed_per_inst_executed.ratio",
)
CPU_KEY_METRICS = (
    "time_ms",
    "ipc",
    "topdown-retiring",
    "topdown-fe-bound",
    "topdown-be-bound",
    "topdown-bad-spec",
    "D1_miss_rate",
    "LL_miss_rate",
    "branch_mispredict_rate",
    "packed_simd_fraction",
    "thread_scaling",
    "roofline_fraction",
    "I1mr",
    "Ir",
)


@dataclass(frozen=True)
class Attempt:
    """One measured candidate: its speedup over the baseline and its profile."""

    speedup: float
    profile: Profile
    diagnosis: Diagnosis | None = None
    label: str = ""


class MetricDelta(BaseModel):
    metric: str
    best: float
    current: float
    meaning: str = ""

    @property
    def change(self) -> float:
        """Relative change, current over best minus one."""
        return self.current / self.best - 1 if self.best else math.inf

    def render(self) -> str:
        change = "new" if math.isinf(self.change) else f"{self.change:+.0%}"
        return f"{self.metric} {self.best:.4g} -> {self.current:.4g} ({change})"


class Comparison(BaseModel):
    best_speedup: float
    current_speedup: float
    verdict: str  # "improved" | "regressed" | "neutral"
    action: str  # "mark current as new best" | "keep best"
    deltas: list[MetricDelta] = Field(default_factory=list)  # most explanatory first

    def render_text(self, limit: int = 5) -> str:
        def row(name: str, speedup: float, side: str) -> str:
            shown = ", ".join(f"{d.metric} {getattr(d, side):.4g}" for d in self.deltas[:limit])
            return f"{name}: speedup {speedup:.2f}x" + (f" | {shown}" if shown else "")

        change = self.current_speedup / self.best_speedup - 1 if self.best_speedup else 0.0
        moved = "; ".join(d.render() for d in self.deltas[:limit]) or "no key metric moved"
        return "\n".join(
            [
                row("Historical best", self.best_speedup, "best"),
                row("Current", self.current_speedup, "current"),
                f"Analysis: {self.verdict} ({change:+.0%} speedup). Metrics that moved: {moved}.",
                f"Action: {self.action}.",
            ]
        )


def _numbers(profile: Profile) -> dict[str, tuple[float, str]]:
    numbers = {}
    for metric in [*profile.aggregate(), *profile.metrics]:
        if metric.is_numeric():
            numbers[metric.name] = (float(metric.value), metric.meaning)
    return numbers


def compare(
    current: Attempt, best: Attempt, key_metrics: tuple[str, ...] = (), band: float = NEUTRAL_BAND
) -> Comparison:
    """Verdict on the speedup, and the key metrics that moved, those the diagnoses cited
    first, then by size of the change."""
    ratio = current.speedup / best.speedup if best.speedup else math.inf
    verdict = "improved" if ratio > 1 + band else "regressed" if ratio < 1 - band else "neutral"
    action = "mark current as new best" if verdict == "improved" else "keep best"
    ours, theirs = _numbers(current.profile), _numbers(best.profile)
    cited = {
        e.metric
        for attempt in (current, best)
        if attempt.diagnosis
        for e in attempt.diagnosis.evidence
    }
    deltas = []
    for name in key_metrics + tuple(sorted(cited)):
        if name in ours and name in theirs and name not in {d.metric for d in deltas}:
            (now, meaning), (before, _) = ours[name], theirs[name]
            if before != now:
                deltas.append(MetricDelta(metric=name, best=before, current=now, meaning=meaning))

    def weight(delta: MetricDelta) -> tuple[bool, float]:
        size = abs(math.log(delta.current / delta.best)) if delta.best > 0 < delta.current else 9
        return (delta.metric not in cited, -size)

    return Comparison(
        best_speedup=best.speedup,
        current_speedup=current.speedup,
        verdict=verdict,
        action=action,
        deltas=sorted(deltas, key=weight),
    )
