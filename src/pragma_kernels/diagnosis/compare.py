"""Current attempt vs the historical best: did it improve, which metrics explain it, what to
keep. Rendered like PRAGMA's Listing 1 (best vs current, analysis, action)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from pragma_kernels.diagnosis.model import Diagnosis
from pragma_kernels.noise import Spread, speedup_note, within_noise
from pragma_kernels.profilers.schema import Profile

NEUTRAL_BAND = 0.03  # speedup changes within +-3 % are noise, not a new best
# The profile's own time of the candidate: left out of the deltas when the verifier's
# medians are compared (those count; a profile under load read +8701 % beside them).
PROFILE_TIMES = frozenset({"time_ms", "kernel_time_ms"})
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
    """One measured candidate: its speedup over the baseline and its profile; `ms` (the
    verifier's median with its spread) and `speedups` (against every baseline timed beside
    it) where known: then the verdict is on the time, with its noise."""

    speedup: float
    profile: Profile
    diagnosis: Diagnosis | None = None
    label: str = ""
    ms: Spread | None = None
    speedups: dict[str, float] = field(default_factory=dict)
    baselines: dict[str, Spread] = field(default_factory=dict)


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


class Side(BaseModel):
    """One side of the comparison as shown: time with spread, speedups by baseline."""

    label: str = ""
    ms: Spread | None = None
    speedups: dict[str, float] = Field(default_factory=dict)
    baselines: dict[str, Spread] = Field(default_factory=dict)

    def render(self, fallback_speedup: float) -> str:
        if self.ms is None:
            return f"speedup {fallback_speedup:.2f}x"
        against = ", ".join(self._against(name, x) for name, x in self.speedups.items())
        return f"{self.ms.render()}" + (f"; {against}" if against else "")

    def _against(self, name: str, speedup: float) -> str:
        """'0.98x vs eager (eager 0.339 ms, within noise)'."""
        base = self.baselines.get(name)
        if base is None:
            return f"{speedup:.2f}x vs {name}"
        eager = self.baselines.get("eager") if name != "eager" else None
        note = speedup_note(self.ms, base, eager)
        return f"{speedup:.2f}x vs {name} ({name} {base.median_ms:.4g} ms" + (
            f", {note})" if note else ")"
        )


class Comparison(BaseModel):
    best_speedup: float
    current_speedup: float
    verdict: str  # "improved" | "regressed" | "within noise"
    action: str  # "mark current as new best" | "keep best"
    deltas: list[MetricDelta] = Field(default_factory=list)  # most explanatory first
    best: Side = Field(default_factory=Side)
    current: Side = Field(default_factory=Side)
    notes: list[str] = Field(default_factory=list)  # re-timed baselines, distorted profiles

    def render_text(self, limit: int = 5) -> str:
        def row(name: str, side: Side, speedup: float, which: str) -> str:
            shown = ", ".join(f"{d.metric} {getattr(d, which):.4g}" for d in self.deltas[:limit])
            title = f"{name} ({side.label})" if side.label else name
            return f"{title}: {side.render(speedup)}" + (f" | {shown}" if shown else "")

        moved = "; ".join(d.render() for d in self.deltas[:limit]) or "no key metric moved"
        lines = [
            row("Historical best", self.best, self.best_speedup, "best"),
            row("Current", self.current, self.current_speedup, "current"),
            f"Analysis: {self.verdict} ({self._change()}). Metrics that moved: {moved}.",
        ]
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join([*lines, f"Action: {self.action}."])

    def _change(self) -> str:
        if self.current.ms is not None and self.best.ms is not None and self.best.ms.median_ms:
            change = self.current.ms.median_ms / self.best.ms.median_ms - 1
            return f"{change:+.0%} time, current over best"
        change = self.current_speedup / self.best_speedup - 1 if self.best_speedup else 0.0
        return f"{change:+.0%} speedup"


def _numbers(profile: Profile) -> dict[str, tuple[float, str]]:
    numbers = {}
    for metric in [*profile.aggregate(), *profile.metrics]:
        if metric.is_numeric():
            numbers[metric.name] = (float(metric.value), metric.meaning)
    return numbers


def compare(
    current: Attempt, best: Attempt, key_metrics: tuple[str, ...] = (), band: float = NEUTRAL_BAND
) -> Comparison:
    """Verdict on the time (with its noise) where both have the verifier's median, else on
    the speedup; and the key metrics that moved, those the diagnoses cited first, then by
    size of the change."""
    verdict = _verdict(current, best, band)
    action = "mark current as new best" if verdict == "improved" else "keep best"
    ours, theirs = _numbers(current.profile), _numbers(best.profile)
    cited = {
        e.metric
        for attempt in (current, best)
        if attempt.diagnosis
        for e in attempt.diagnosis.evidence
    }
    deltas = []
    timed = current.ms is not None and best.ms is not None
    for name in key_metrics + tuple(sorted(cited)):
        if timed and name in PROFILE_TIMES:
            continue
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
        best=Side(label=best.label, ms=best.ms, speedups=best.speedups, baselines=best.baselines),
        current=Side(
            label=current.label,
            ms=current.ms,
            speedups=current.speedups,
            baselines=current.baselines,
        ),
    )


def _verdict(current: Attempt, best: Attempt, band: float) -> str:
    if current.ms is not None and best.ms is not None:
        if within_noise(current.ms, best.ms, band):
            return "within noise"
        return "improved" if current.ms.median_ms < best.ms.median_ms else "regressed"
    ratio = current.speedup / best.speedup if best.speedup else math.inf
    return "improved" if ratio > 1 + band else "regressed" if ratio < 1 - band else "within noise"
