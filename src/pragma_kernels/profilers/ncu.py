"""Nsight Compute: the commands that profile only the candidate's kernels, and their output.

Pure functions (command building, CSV and rule parsing); running ncu happens in
gpu_ncu.py. Facts from the H200 probe (shared/gpu-notes.md): the CSV table
begins at the `"ID"` header, row 2 holds units, numbers carry thousands
separators; a 15-metric default set took 10 replay passes (~7.5 s); rule
results print as `OPT ... Est. Speedup: 25%`. The run writes a report that is
read back twice (raw CSV, details page), so the candidate's own output never
mixes with the table. Only launches inside the NVTX range NVTX_RANGE are
profiled: the reference, the warm-up and the autotuner are skipped.

Sampling: every profiled launch costs ncu a replay of ~10-20 passes, so a candidate
launching thousands of small kernels per call would take minutes. The worker keeps at
most PER_KERNEL launches of each Triton kernel inside the range (LaunchSampler; the
others run with the range popped), and `--launch-count LAUNCH_COUNT` caps the rest
(PyTorch's own kernels, which no Triton hook sees). `group_launches` turns the report's
per-launch rows into one entry per kernel that says how many launches it stands for.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels.profilers.schema import Finding, KernelProfile, Metric, UnavailableKind

PROFILER = SOURCE = "ncu"  # the registry's name; the source shown with each number
NVTX_RANGE = "pragma_candidate"
UNDER_NCU = "PRAGMA_UNDER_NCU"  # set in the worker that runs under ncu (gpu_ncu's wrapper)
TIME_METRIC = "gpu__time_duration.sum"
# PRAGMA's default set (time, occupancy and its limiter, registers, shared memory, tensor
# pipes, DRAM and SM throughput) plus cache hit rates and the main stall reasons.
DEFAULT_METRICS: tuple[str, ...] = (  # every one ran on the H200 (benchmarks/results)
    TIME_METRIC,
    "sm__warps_active.avg.pct_of_peak_sustained_active",
    "sm__maximum_warps_per_active_cycle_pct",
    "launch__occupancy_limit_registers",
    "launch__occupancy_limit_shared_mem",
    "launch__occupancy_limit_warps",
    "launch__occupancy_limit_blocks",
    "launch__registers_per_thread",
    "launch__shared_mem_per_block_static",
    "launch__shared_mem_per_block_dynamic",
    "launch__grid_size",
    "launch__block_size",
    "launch__waves_per_multiprocessor",
    "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed",
    "dram__bytes_read.sum",
    "dram__bytes_write.sum",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed",
    "l1tex__t_sector_hit_rate.pct",
    "lts__t_sector_hit_rate.pct",
    "smsp__average_warp_latency_issue_stalled_long_scoreboard",
    "smsp__average_warp_latency_issue_stalled_barrier",
)
# What the diagnosis rules read, cheap hardware counters all (no SASS instrumentation):
# coalescing of global loads and stores, lanes active per instruction (divergence), local
# memory traffic (register spills), L2 bytes, issue activity, atomics and the pipes of slow
# math. Collected by default so a diagnosis does not wait for a second profile to name them.
# Names from Nsight Compute's sections; where `ncu --query-metrics` lists this machine's
# names, one it does not list is left out and said so (gpu_ncu.usable_metrics), since one
# unknown name makes ncu profile nothing.
EVIDENCE_METRICS: tuple[str, ...] = (
    "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_ld.ratio",
    "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_st.ratio",
    "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum",
    "smsp__thread_inst_executed_per_inst_executed.ratio",
    "l1tex__t_bytes_pipe_lsu_mem_local_op_ld.sum",
    "l1tex__t_bytes_pipe_lsu_mem_local_op_st.sum",
    "lts__t_bytes.sum",
    "smsp__issue_active.avg.pct_of_peak_sustained_active",
    "l1tex__t_requests_pipe_lsu_mem_global_op_atom.sum",
    "l1tex__t_requests_pipe_lsu_mem_global_op_red.sum",
    "sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active",
    "sm__pipe_fp64_cycles_active.avg.pct_of_peak_sustained_active",
)
DEFAULT_METRICS = DEFAULT_METRICS + EVIDENCE_METRICS
# Asked for as extra metrics on the H200 already (benchmarks/results/diagnosis_gpu_h200.md):
# never left out. The others are checked against this ncu's listing first.
PROVEN_EVIDENCE = (
    "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_ld.ratio",
    "smsp__thread_inst_executed_per_inst_executed.ratio",
    "smsp__issue_active.avg.pct_of_peak_sustained_active",
)
# Sections whose rule results (OPT/WRN with an estimated speedup) become findings; they add
# few replay passes on top of the metrics, most of which they share.
SECTIONS = ("SpeedOfLight", "Occupancy", "LaunchStats")
LAUNCH_COUNT = 64  # launches ncu profiles per candidate call at most (--launch-count)
PER_KERNEL = 2  # launches of one Triton kernel kept in the NVTX range (LaunchSampler)
_UNIT_SCALE = {
    "ns": ("ns", 1.0),
    "us": ("ns", 1e3),
    "usecond": ("ns", 1e3),
    "ms": ("ns", 1e6),
    "msecond": ("ns", 1e6),
    "nsecond": ("ns", 1.0),
    "byte": ("bytes", 1.0),
    "Kbyte": ("bytes", 1e3),
    "Mbyte": ("bytes", 1e6),
    "Gbyte": ("bytes", 1e9),
}


def find_ncu() -> str | None:
    """The ncu executable: on PATH, else in the usual CUDA / Nsight install folders."""
    found = shutil.which("ncu")
    if found:
        return found
    candidates = sorted(Path("/opt/nvidia/nsight-compute").glob("*/ncu")) + [
        Path("/usr/local/cuda/bin/ncu")
    ]
    return next((str(c) for c in reversed(candidates) if c.exists()), None)


def profile_command(
    ncu: str,
    report: Path,
    metrics: tuple[str, ...] | list[str] = DEFAULT_METRICS,
    sections: tuple[str, ...] = SECTIONS,
    launch_count: int = LAUNCH_COUNT,
) -> list[str]:
    """ncu writing a report of the kernels launched inside the NVTX range (a prefix for the
    program's own command line). One run collects the metrics and the sections' rules."""
    section_args = [arg for name in sections for arg in ("--section", name)]
    return [
        ncu,
        "--target-processes",
        "all",
        "--nvtx",
        "--nvtx-include",
        f"{NVTX_RANGE}/",
        "--launch-count",
        str(launch_count),
        "--metrics",
        ",".join(metrics),
        *section_args,
        "--export",
        str(report),
        "--force-overwrite",
    ]


def import_commands(ncu: str, report: Path) -> tuple[list[str], list[str]]:
    """Reading a report back: its raw metrics as CSV, and its details page with rule results."""
    raw = [ncu, "--import", str(report), "--csv", "--page", "raw"]
    details = [ncu, "--import", str(report), "--page", "details", "--print-details", "all"]
    return raw, details


# How ncu says it cannot read counters here (seen: gVisor's LibraryNotLoaded, the
# ERR_NVGPUCTRPERM of containers without the profiling capability).
_REFUSALS = (
    (
        "LibraryNotLoaded",
        UnavailableKind.NO_COUNTERS,
        "Nsight Compute could not load its profiling library on this runtime",
    ),
    (
        "ERR_NVGPUCTRPERM",
        UnavailableKind.NO_COUNTERS,
        "the driver refuses access to GPU performance counters here",
    ),
    (
        "No kernels were profiled",
        UnavailableKind.NOTHING_TO_PROFILE,
        "no kernel was launched inside the candidate's NVTX range",
    ),
)


def refusal(output: str) -> tuple[UnavailableKind, str] | None:
    """Why ncu gave no metrics, from its output (pure): the kind and the explanation."""
    return next(((kind, why) for marker, kind, why in _REFUSALS if marker in output), None)


_PROFILING = re.compile(r'^==PROF== Profiling "', re.M)


def profiled_in_log(log: str) -> int:
    """How many launches ncu had begun to profile, from its log (e.g. when it was stopped)."""
    return len(_PROFILING.findall(log))


@dataclass
class LaunchSampler:
    """Which launches of the profiled call stay inside the NVTX range: the first `per_kernel`
    of each kernel, `limit` in all (pure; gpu.py calls it from Triton's launch hook)."""

    per_kernel: int = PER_KERNEL
    limit: int = LAUNCH_COUNT
    seen: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)

    def keep(self, name: str) -> bool:
        self.seen[name] += 1
        if self.kept[name] >= self.per_kernel or self.kept.total() >= self.limit:
            return False
        self.kept[name] += 1
        return True


@dataclass(frozen=True)
class KernelTally:
    """How many launches of one kernel the call made and how many ncu profiled."""

    name: str
    profiled: int
    launches: int | None  # per call; None: unknown (no Triton hook saw it and the cap was hit)

    @property
    def sampled(self) -> bool:
        return self.launches is None or self.profiled < self.launches

    def of(self) -> str:
        """E.g. "2 of 32,768 launches", or "3 launches (more not profiled)"."""
        if self.launches is None:
            return f"{self.profiled:,} launches (more not profiled)"
        return f"{self.profiled:,} of {self.launches:,} launches"


def tally_launches(
    rows: list[KernelProfile], launches: dict[str, int], capped: bool
) -> dict[str, KernelTally]:
    """Per kernel name, in report order: launches profiled (report rows) and launches per call
    (`launches`: the counter-free profile's count from Triton's hooks). A kernel no hook
    counted (a PyTorch operator's) is never sampled by the worker, so all its launches were
    profiled unless ncu's --launch-count cap was reached (`capped`)."""
    profiled = Counter(row.name for row in rows)
    tallies = {}
    for name, count in profiled.items():
        total = launches.get(name, None if capped else count)
        tallies[name] = KernelTally(name, count, None if total is None else max(total, count))
    return tallies


def group_launches(
    rows: list[KernelProfile], tallies: dict[str, KernelTally]
) -> list[KernelProfile]:
    """One profile per kernel from its profiled launches: `.sum` metrics (time, bytes) as
    totals per call, scaled from the profiled launches when only some were; the others as
    means over the profiled launches. Each metric's source says which it is (pure)."""
    kernels = []
    for name, tally in tallies.items():
        runs = [row for row in rows if row.name == name]
        columns: dict[str, list[Metric]] = {}
        for metric in (m for row in runs for m in row.metrics):
            columns.setdefault(metric.name, []).append(metric)
        metrics = [_combine(column, tally) for column in columns.values()]
        metrics.append(
            Metric(
                name="ncu_profiled_launches",
                value=tally.profiled,
                unit="count",
                profiler=PROFILER,
                source=f"{SOURCE}: profiled {tally.of()} of this kernel in the call",
            )
        )
        kernels.append(KernelProfile(name=name, metrics=metrics))
    _set_time_shares(kernels)
    return kernels


def _combine(column: list[Metric], tally: KernelTally) -> Metric:
    first = column[0]
    values = [m.value for m in column if m.is_numeric()]
    if len(values) < len(column):  # text: the first launch's, said so when they differ
        same = all(m.value == first.value for m in column)
        source = SOURCE if same else f"{SOURCE}: first of {len(column)} profiled launches"
        return first.model_copy(update={"source": source})
    if tally.profiled == tally.launches == 1:
        return first
    if first.name.endswith(".sum"):  # additive across launches
        if tally.launches is None:
            value = sum(values)
            source = f"{SOURCE}: sum over the profiled {tally.of()}, not a total"
        elif tally.sampled:
            value = sum(values) / len(values) * tally.launches
            source = f"{SOURCE}: total per call scaled from the profiled {tally.of()}"
        else:
            value, source = sum(values), f"{SOURCE}: sum of {tally.of()}"
    else:
        value = sum(values) / len(values)
        source = f"{SOURCE}: mean over the profiled {tally.of()}"
    return first.model_copy(update={"value": value, "source": source})


def _number(text: str) -> float | str:
    cleaned = text.replace(",", "").strip()
    try:
        return float(cleaned)
    except ValueError:
        return text.strip()


def parse_raw_csv(text: str, keep: set[str] | None = None) -> list[KernelProfile]:
    """Per-launch metrics from `--csv --page raw` output (program output before it ignored).

    `keep`: only these metrics. The sections asked for (for their rules) add hundreds of
    columns, device attributes among them, that would bury the requested set in a prompt."""
    start = text.find('"ID"')
    if start < 0:
        return []
    rows = list(csv.reader(io.StringIO(text[start:])))
    header, units, records = rows[0], rows[1], [r for r in rows[2:] if len(r) == len(rows[0])]
    metric_columns = [
        i for i, name in enumerate(header) if "__" in name and (keep is None or name in keep)
    ]
    name_column = header.index("Kernel Name") if "Kernel Name" in header else None
    kernels = []
    for record in records:
        metrics = []
        for column in metric_columns:
            value, unit = _number(record[column]), units[column]
            if isinstance(value, float) and unit in _UNIT_SCALE:
                unit, scale = _UNIT_SCALE[unit]
                value *= scale
            metrics.append(
                Metric(
                    name=header[column], value=value, unit=unit, profiler=PROFILER, source=SOURCE
                )
            )
        name = record[name_column] if name_column is not None else f"kernel {record[0]}"
        kernels.append(KernelProfile(name=name, metrics=metrics))
    _set_time_shares(kernels)
    return kernels


def _set_time_shares(kernels: list[KernelProfile]) -> None:
    times = [
        next((m.value for m in k.metrics if m.name == TIME_METRIC and m.is_numeric()), 0.0)
        for k in kernels
    ]
    total = sum(times)
    for kernel, spent in zip(kernels, times, strict=True):
        kernel.time_share = spent / total if total else 1.0 / len(kernels)


_RULE = re.compile(r"^\s*(OPT|WRN|INF)\s+(.*)$")
# A details page's kernel header: "  name (grid)x(block), Context 1, Stream 7, Device 0, ..."
_KERNEL_HEADER = re.compile(r"^\s{0,4}(\S.*?)\s+\([\d, ]+\)x\([\d, ]+\), Context \d+")
_SPEEDUP = re.compile(r"Est\.\s*(?:Local\s+)?Speedup:\s*([\d.]+)%")


def parse_rule_findings(text: str) -> list[Finding]:
    """Nsight's rule results: an OPT/WRN/INF line, its continuation lines, the est. speedup,
    and the kernel whose header precedes them."""
    findings: list[Finding] = []
    current: list[str] = []
    severity = kernel = ""

    def close() -> None:
        if current:
            message = " ".join(current)
            speedup = _SPEEDUP.search(message)
            findings.append(
                Finding(
                    severity=severity,
                    source=SOURCE,
                    message=_SPEEDUP.sub("", message).strip(" ,;"),
                    estimated_speedup_pct=float(speedup.group(1)) if speedup else None,
                    kernel=kernel,
                )
            )

    for line in text.splitlines():
        match = _RULE.match(line)
        header = _KERNEL_HEADER.match(line)
        if header:
            close()
            current, kernel = [], header.group(1)
        elif match:
            close()
            severity, current = match.group(1), [match.group(2).strip()]
        elif current and line.startswith(" " * 10) and line.strip():
            current.append(line.strip())
        else:
            close()
            current = []
    close()
    return findings


def parse_query_metrics(text: str) -> set[str]:
    """Metric base names from `ncu --query-metrics` (first column of the table)."""
    return {m.group(1) for m in re.finditer(r"^([a-z][a-z0-9_]*__[a-z0-9_.]+)\s", text, re.M)}
