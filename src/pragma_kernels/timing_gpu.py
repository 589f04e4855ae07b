"""The GPU timer: CUDA events with an L2 flush, cross-checked by device-wide host timing.

Protocol (Triton do_bench / KernelBench style): warm-up, then for each
repetition write a buffer twice the L2's size (so no input is served from L2),
record a start event, call, record an end event; median of >= 100 repetitions,
callables interleaved round by round. Events only see the current stream, so a
candidate that does its work on a side stream would look fast: every rep is
also host-timed between device-wide synchronisations, which sees all streams;
when the paired figures disagree the host figure is reported instead, with a
warning. The synchronisation also keeps work left on another stream from
overlapping (and slowing) the next callable's rep.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pragma_kernels.timing import Timing, rotation, summarise


class GpuProtocol(BaseModel):
    """The GPU protocol: CUDA events with an L2 flush, cross-checked by host timing."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["cuda-events"] = "cuda-events"
    warmup_s: float = 0.1
    budget_s: float = 1.0  # per callable, for the event-timed repetitions
    min_reps: int = 100
    max_reps: int = 1000
    # Host and events agree when host <= events * (1 + tolerance) + launch/sync overhead.
    cross_check_tolerance: float = 0.10
    flush_l2: bool = True

    def describe(self, l2_bytes: int) -> str:
        flush = (
            f"L2 flushed ({2 * l2_bytes / 2**20:.0f} MB write) before each rep; "
            if self.flush_l2
            else ""
        )
        return (
            f"CUDA events, {flush}median of >= {self.min_reps} reps within "
            f"{self.budget_s:g} s per callable, interleaved; every rep also host-timed "
            "between device-wide synchronisations (cross-check)"
        )


def _host_overhead_ms(torch, reps: int = 50) -> float:
    """What a device-synchronised host timing adds to an empty call."""
    samples = []
    for _ in range(reps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def reconcile(
    label: str,
    event_ms: list[float],
    host_ms: list[float],
    overhead_ms: float,
    protocol: GpuProtocol,
    method: str,
) -> Timing:
    """One callable's Timing from its paired event and host figures (pure).

    Events are the figure unless the host-timed reps (which see every stream) are
    clearly slower: then work ran outside the current stream and the host figure,
    less the measured synchronisation overhead, is reported with a warning.
    """
    event_median, host_median = statistics.median(event_ms), statistics.median(host_ms)
    limit = event_median * (1 + protocol.cross_check_tolerance) + overhead_ms + 0.02
    if host_median <= limit:
        samples, note = event_ms, ""
    else:
        samples = [max(h - overhead_ms, 0.0) for h in host_ms]
        note = (
            f"; WARNING: host-timed {host_median:.4g} ms vs events {event_median:.4g} ms: "
            "work outside the current stream? reporting the host-timed figure"
        )
    timing = summarise(label, [v / 1e3 for v in samples], calls_per_sample=1, method=method + note)
    timing.event_median_ms, timing.host_median_ms = event_median, host_median
    return timing


def _estimate_seconds(fn: Callable[[], object], protocol: GpuProtocol, torch) -> float:
    """Warm up (compile caches, clocks) and return the seconds per synchronised call."""
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < protocol.warmup_s:
        fn()
        torch.cuda.synchronize()
        calls += 1
    return (time.perf_counter() - start) / calls


def measure_cuda(
    callables: dict[str, Callable[[], object]], protocol: GpuProtocol | None = None
) -> dict[str, Timing]:
    import torch

    protocol = protocol or GpuProtocol()
    l2_bytes = torch.cuda.get_device_properties(torch.cuda.current_device()).L2_cache_size
    flush_buffer = torch.empty(max(2 * l2_bytes, 2**20), dtype=torch.int8, device="cuda")
    slowest = max(_estimate_seconds(fn, protocol, torch) for fn in callables.values())
    reps = max(
        protocol.min_reps, min(protocol.max_reps, int(protocol.budget_s / max(slowest, 1e-6)))
    )
    events: dict[str, list] = {label: [] for label in callables}
    host_ms: dict[str, list[float]] = {label: [] for label in callables}
    for index in range(reps):
        for label in rotation(list(callables), index):
            if protocol.flush_l2:
                flush_buffer.zero_()
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            # Device-wide sync around each rep: the host time then covers work on every
            # stream, and nothing a callable left running can overlap the next one's rep.
            torch.cuda.synchronize()
            start = time.perf_counter()
            begin.record()
            callables[label]()
            end.record()
            torch.cuda.synchronize()
            host_ms[label].append((time.perf_counter() - start) * 1e3)
            events[label].append((begin, end))
    overhead = _host_overhead_ms(torch)
    method = protocol.describe(l2_bytes)
    return {
        label: reconcile(
            label,
            [b.elapsed_time(e) for b, e in events[label]],
            host_ms[label],
            overhead,
            protocol,
            method,
        )
        for label in callables
    }
