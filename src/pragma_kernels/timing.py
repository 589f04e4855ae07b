"""One measurement protocol for reference, baselines and candidates.

`measure_interleaved` times several callables the same way: warm-up, then an
adaptive number of samples within a time budget, taken in rotating order so
that drift (frequency, a neighbour's load) hits all of them alike. Calls much
shorter than the clock's useful resolution are grouped into samples of at
least `min_sample_s`. Statistics are computed separately (`summarise`).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

# Bound at import, before any candidate runs: a candidate that rebinds time.perf_counter
# cannot stretch or shrink the clock the samples are taken with (the worker still reports
# the rebinding as tampering).
_clock = time.perf_counter

Sync = Callable[[], None]


class Timing(BaseModel):
    """Per-call times of one callable, in milliseconds."""

    label: str
    median_ms: float
    iqr_ms: float
    cv: float  # std / mean of the samples
    mean_ms: float
    min_ms: float
    samples: int
    calls_per_sample: int
    threads: int | None = None
    method: str = ""
    setup_s: float | None = None  # first call: torch.compile / Triton compile + autotune
    event_median_ms: float | None = None  # GPU: CUDA-event median
    host_median_ms: float | None = None  # GPU: device-synchronised host-timed median

    def describe(self) -> str:
        return (
            f"{self.median_ms:.4g} ms median (IQR {self.iqr_ms:.3g}, CV {self.cv:.1%}, "
            f"n={self.samples}x{self.calls_per_sample})"
        )


class Protocol(BaseModel):
    """The CPU protocol: wall-clock samples interleaved across callables."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["cpu-wall-clock"] = "cpu-wall-clock"
    warmup_s: float = 0.2
    min_warmup_calls: int = 3
    budget_s: float = 2.0  # per callable
    min_samples: int = 10
    max_samples: int = 2000
    min_sample_s: float = 1e-3  # group calls shorter than this into one sample
    # Keep freed memory in the process (glibc tunables) so that a large output is not
    # freshly mmapped and page-faulted on every call: measured on the 2-core VM, a 64 MB
    # ReLU took 17.5 ms with the defaults and 6 ms without the faults, noise that hit
    # reference and candidate at random. Applies to both alike.
    reuse_freed_memory: bool = True

    def describe(self) -> str:
        return (
            f"wall clock (perf_counter), warm-up {self.warmup_s:g} s, samples of >= "
            f"{self.min_sample_s * 1e3:g} ms within {self.budget_s:g} s per callable, "
            "interleaved rotation, median"
            + ("; freed memory kept (no per-call page faults)" if self.reuse_freed_memory else "")
        )

    def environment(self) -> dict[str, str]:
        """Environment the timing process needs for this protocol."""
        if not self.reuse_freed_memory:
            return {}
        return {
            "GLIBC_TUNABLES": "glibc.malloc.mmap_max=0:glibc.malloc.top_pad=1073741824:"
            "glibc.malloc.trim_threshold=4294967295"
        }


def _quantile(sorted_values: list[float], q: float) -> float:
    position = (len(sorted_values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summarise(label: str, per_call_s: list[float], calls_per_sample: int, **extra) -> Timing:
    values = sorted(v * 1e3 for v in per_call_s)
    mean = statistics.fmean(values)
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return Timing(
        label=label,
        median_ms=statistics.median(values),
        iqr_ms=_quantile(values, 0.75) - _quantile(values, 0.25),
        cv=std / mean if mean else 0.0,
        mean_ms=mean,
        min_ms=values[0],
        samples=len(values),
        calls_per_sample=calls_per_sample,
        **extra,
    )


def rotation(labels: list[str], index: int) -> list[str]:
    """Round `index`'s order: each callable takes each position in turn."""
    shift = index % len(labels)
    return labels[shift:] + labels[:shift]


def _time_calls(fn: Callable[[], object], calls: int, sync: Sync) -> float:
    sync()
    start = _clock()
    for _ in range(calls):
        fn()
    sync()
    return _clock() - start


def _warm_up(fn: Callable[[], object], protocol: Protocol, sync: Sync) -> float:
    """Run until warm; return the estimated seconds per call."""
    calls, spent = 0, 0.0
    while calls < protocol.min_warmup_calls or spent < protocol.warmup_s:
        spent += _time_calls(fn, 1, sync)
        calls += 1
        if spent > 10 * protocol.budget_s:  # a very slow callable: enough information
            break
    return spent / calls


def measure_interleaved(
    callables: dict[str, Callable[[], object]],
    protocol: Protocol | None = None,
    sync: Sync = lambda: None,
) -> dict[str, Timing]:
    """Time every callable under the same protocol; returns per-call Timing by label."""
    protocol = protocol or Protocol()
    per_call = {label: _warm_up(fn, protocol, sync) for label, fn in callables.items()}
    group = {
        label: max(1, math.ceil(protocol.min_sample_s / max(t, 1e-9)))
        for label, t in per_call.items()
    }
    rounds = min(
        max(
            int(protocol.budget_s / max(per_call[label] * group[label], 1e-9))
            for label in callables
        ),
        protocol.max_samples,
    )
    rounds = max(rounds, protocol.min_samples)
    samples: dict[str, list[float]] = {label: [] for label in callables}
    labels = list(callables)
    deadline = _clock() + protocol.budget_s * len(labels) * 1.5
    for index in range(rounds):
        for label in rotation(labels, index):
            if (
                len(samples[label]) * per_call[label] * group[label] >= protocol.budget_s
                and len(samples[label]) >= protocol.min_samples
            ):
                continue
            calls = group[label]
            samples[label].append(_time_calls(callables[label], calls, sync) / calls)
        if index + 1 >= protocol.min_samples and _clock() > deadline:
            break
    return {
        label: summarise(label, values, group[label], method=protocol.describe())
        for label, values in samples.items()
    }
