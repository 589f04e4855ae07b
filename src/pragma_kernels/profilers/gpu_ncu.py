"""Nsight Compute around the GPU profile worker: counters for the candidate's kernels.

The worker runs under ncu, which profiles only the launches inside the NVTX
range (one call of the candidate, after warm-up and autotuning; repeated launches
of a kernel sampled, at most ncu.LAUNCH_COUNT in all) into a report; ncu's own
messages go to a log file, so a refusal to read counters is named from it. The
report is read back (raw CSV, rule findings) and merged with the counter-free
profile the worker returned, whose launch counts say how many launches each
kernel's figures stand for. Where ncu is missing, refused or slower than
NCU_TIMEOUT_S, the counter-free profile is the whole profile and says why.
"""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pragma_kernels.knowledge import load_compendium
from pragma_kernels.limits import Limits
from pragma_kernels.profilers import ncu
from pragma_kernels.profilers.ncu import UNDER_NCU, refusal
from pragma_kernels.profilers.requests import is_known
from pragma_kernels.profilers.schema import (
    Finding,
    KernelProfile,
    Metric,
    Profile,
    Unavailable,
    UnavailableKind,
)
from pragma_kernels.verdict import Verdict, VerdictKind

if TYPE_CHECKING:  # the evaluation layer runs the job and passes `run` in
    from pragma_kernels.evaluation.schema import Job, JobResult

    RunJob = Callable[[Job, Limits, list[str] | None], JobResult]

# The worker under ncu is stopped after this long (or half the job's limit, if less), so a
# candidate whose replays take minutes still gets its counter-free profile in the job's time.
NCU_TIMEOUT_S = 120.0
READ_TIMEOUT_S = 60.0  # each of the two read-backs of the report
MIN_FINDING_SHARE = 0.05  # ncu advice about kernels taking less of the time is left out


@dataclass
class NcuRun:
    """A worker command prefix that profiles it with ncu, and where ncu leaves its output."""

    executable: str
    folder: Path
    metrics: list[str]
    report: Path = field(init=False)
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.report = self.folder / "candidate.ncu-rep"
        self.log = self.folder / "ncu.log"

    def wrapper(self) -> list[str]:
        # --export takes the name without the extension; ncu adds .ncu-rep. `env` marks the
        # worker as profiled, so it times with few reps (gpu.timing_protocol).
        command = ncu.profile_command(self.executable, self.report.with_suffix(""), self.metrics)
        return [*command, "--log-file", str(self.log), "env", f"{UNDER_NCU}=1"]

    def report_path(self) -> Path:
        return self.report if self.report.exists() else self.report.with_suffix("")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def read(self, timeout_s: float = READ_TIMEOUT_S) -> tuple[list[KernelProfile], list[Finding]]:
        """The report's per-launch metrics and rule findings (ncu --import, no replay)."""
        raw, details = ncu.import_commands(self.executable, self.report_path())
        outputs = [
            subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, check=True
            ).stdout
            for command in (raw, details)
        ]
        kernels = ncu.parse_raw_csv(outputs[0], keep=set(self.metrics))
        return kernels, ncu.parse_rule_findings(outputs[1])


def metrics_for_ncu(requested: list[str], fallback_names: set[str]) -> list[str]:
    """The default set plus every requested name the counter-free profile does not make."""
    extra = [name for name in requested if name not in fallback_names]
    return list(dict.fromkeys([*ncu.DEFAULT_METRICS, *extra]))


def usable_metrics(names: list[str], listed: frozenset[str]) -> tuple[list[str], list[str]]:
    """The names to give ncu and those left out: an evidence metric (ncu.EVIDENCE_METRICS,
    not yet run on every GPU) that this ncu's listing lacks is left out, since one unknown
    name makes ncu profile nothing; with no listing, all are kept (pure)."""
    if not listed:
        return list(names), []
    unproven = set(ncu.EVIDENCE_METRICS) - set(ncu.PROVEN_EVIDENCE)
    dropped = [n for n in names if n in unproven and not is_known(n, listed)]
    return [n for n in names if n not in dropped], dropped


def _left_out(dropped: list[str]) -> Unavailable:
    return Unavailable(
        what=", ".join(dropped),
        why="this ncu does not list them (ncu --query-metrics) for this GPU",
        kind=UnavailableKind.UNSUPPORTED,
        profiler=ncu.PROFILER,
    )


def ncu_limits(limits: Limits) -> Limits:
    """The job's limits with the shorter timeout of the run under ncu."""
    return dataclasses.replace(limits, timeout_s=min(NCU_TIMEOUT_S, limits.timeout_s / 2))


def launches_per_call(profile: Profile) -> dict[str, int]:
    """Launches of each Triton kernel in one call, from the counter-free profile."""
    return {
        kernel.name: int(metric.value)
        for kernel in profile.kernels
        for metric in kernel.metrics
        if metric.name == "kernel_launches" and metric.is_numeric()
    }


def merge(profile: Profile, rows: list[KernelProfile], findings: list[Finding]) -> Profile:
    """One kernel per name from ncu's per-launch rows (sampled launches accounted for), each
    with the counter-free metrics of the kernel of the same name (Triton's metadata,
    occupancy, waves); time shares from ncu; how many launches were profiled, as a metric
    and, where not all, as a stated gap (pure)."""
    counter_free = {k.name: k for k in profile.kernels}
    launches = launches_per_call(profile)
    capped = len(rows) >= ncu.LAUNCH_COUNT
    tallies = ncu.tally_launches(rows, launches, capped)
    merged = [
        kernel.model_copy(
            update={"metrics": [*kernel.metrics, *_pop_metrics(counter_free, kernel.name)]}
        )
        for kernel in ncu.group_launches(rows, tallies)
    ]
    unseen = [k.model_copy(update={"time_share": 0.0}) for k in counter_free.values()]
    profiled = sum(t.profiled for t in tallies.values())
    known = all(t.launches is not None for t in tallies.values())
    total = sum(t.launches or 0 for t in tallies.values()) + sum(
        launches.get(name, 0) for name in counter_free
    )
    of = f"{profiled:,} of {total:,}" if known else f"{profiled:,} (more not counted)"
    profile.metrics.append(
        Metric(
            name="ncu_profiled_launches",
            value=profiled,
            unit="launches/call",
            profiler=ncu.PROFILER,
            source=f"ncu: profiled {of} kernel launches of the call",
        )
    )
    gap = _sampling_gap(tallies, unseen, capped, known, profiled, total)
    if known and profiled == total:  # every launch's bytes counted
        profile.metrics += _traffic_over_minimum(profile.metric("operator_bytes"), merged)
    return profile.model_copy(
        update={
            "tools": ["ncu", *profile.tools],
            "kernels": merged + unseen,
            "findings": [*profile.findings, *_worth_reading(findings, merged)],
            "unavailable": [*profile.unavailable, *([gap] if gap else [])],
        }
    )


def _traffic_over_minimum(minimum: Metric | None, kernels: list[KernelProfile]) -> list[Metric]:
    """DRAM bytes ncu counted (read + written, all kernels) over the bytes the operator must
    move: 1 is each byte once; 1.45 was a two-pass softmax at 85 % of DRAM throughput whose
    roofline fraction (0.56, on the minimal bytes) read as latency-bound instead."""
    moved = [
        m.value
        for kernel in kernels
        for m in kernel.metrics
        if m.name in ("dram__bytes_read.sum", "dram__bytes_write.sum") and m.is_numeric()
    ]
    if minimum is None or not minimum.is_numeric() or not minimum.value or not moved:
        return []
    return [
        Metric(
            name="dram_traffic_over_minimum",
            value=sum(moved) / minimum.value,
            unit="ratio",
            profiler=ncu.PROFILER,
            source="ncu: dram__bytes_read.sum + dram__bytes_write.sum over operator_bytes",
        )
    ]


def _worth_reading(findings: list[Finding], kernels: list[KernelProfile]) -> list[Finding]:
    """ncu's advice, less what it says about kernels taking under MIN_FINDING_SHARE of the
    time: its estimated speedups are the kernel's own (a tiny reduction's "87 %" grid
    advice would otherwise read as the call's)."""
    shares: dict[str, float] = {}
    for kernel in kernels:
        shares[kernel.name] = shares.get(kernel.name, 0.0) + kernel.time_share
    return [f for f in findings if shares.get(f.kernel, 1.0) >= MIN_FINDING_SHARE]


def _pop_metrics(counter_free: dict[str, KernelProfile], name: str) -> list:
    kernel = counter_free.pop(name, None)
    return kernel.metrics if kernel else []


def _sampling_gap(tallies, unseen, capped, known, profiled, total) -> Unavailable | None:
    if not unseen and not any(t.sampled for t in tallies.values()):
        return None
    why = (
        f"sampled to bound ncu's replay time: at most {ncu.PER_KERNEL} launches of each Triton "
        f"kernel and {ncu.LAUNCH_COUNT} in all are profiled; per-kernel .sum metrics (time, "
        "bytes) are scaled from the profiled launches to the call, the others are means over "
        "the profiled launches (each metric's source says which)"
    )
    if unseen:
        why += f"; not profiled at all: {', '.join(k.name for k in unseen)} (cap reached)"
    if capped and not known:
        why += "; kernels no Triton hook counts (PyTorch's) past the cap are not counted"
    what = (
        f"ncu counters of {total - profiled:,} of {total:,} kernel launches"
        if known
        else f"ncu counters past the first {ncu.LAUNCH_COUNT} launches"
    )
    return Unavailable(what=what, why=why, kind=UnavailableKind.PARTIAL, profiler=ncu.PROFILER)


def not_run(profile: Profile, kind: UnavailableKind, why: str) -> Profile:
    profile.unavailable.insert(
        0,
        Unavailable(
            what="Nsight Compute (ncu) counters", why=why, kind=kind, profiler=ncu.PROFILER
        ),
    )
    return profile


def _refused_or(log: str, kind: UnavailableKind, why: str) -> tuple[UnavailableKind, str]:
    """ncu's own refusal where its log names one, else the given reason."""
    return refusal(log) or (kind, why)


def profile_gpu_job(
    job: Job, limits: Limits, run: RunJob, use_ncu: bool = True
) -> tuple[Verdict, Profile | None]:
    """Run the GPU profile job under ncu when it can read counters, else without it. The
    run under ncu gets `ncu_limits(limits)`; whatever fails there (a refusal, a crash, the
    timeout) is retried once without ncu in the time the job has left. `run(job, limits,
    wrapper)` runs the job in an isolated worker, its command prefixed by `wrapper`."""
    if not use_ncu:
        why = "not run: the counter-free fallback was asked for"
        return _without_ncu(job, limits, run, UnavailableKind.DISABLED, why)
    executable = ncu.find_ncu()
    if executable is None:
        why = "ncu not found (PATH, /opt/nvidia/nsight-compute, /usr/local/cuda/bin)"
        return _without_ncu(job, limits, run, UnavailableKind.TOOL_MISSING, why)
    from pragma_kernels.profilers.registry import ncu_metric_names

    started = time.monotonic()
    names, dropped = usable_metrics(
        metrics_for_ncu(job.metrics, load_compendium().names("gpu_fallback")), ncu_metric_names()
    )
    verdict, profile = _under_ncu(job, limits, run, executable, names, started)
    if profile is not None and dropped:
        profile.unavailable.append(_left_out(dropped))
    return verdict, profile


def _under_ncu(
    job: Job, limits: Limits, run: RunJob, executable: str, names: list[str], started: float
) -> tuple[Verdict, Profile | None]:
    with tempfile.TemporaryDirectory(prefix="pragma-ncu-") as folder:
        ncu_run = NcuRun(executable, Path(folder), names)
        under = ncu_limits(limits)
        result = run(job, under, ncu_run.wrapper())
        log = ncu_run.log_text()
        if not result.verdict.ok or result.profile is None:
            spent = {"failed run under ncu": round(time.monotonic() - started, 2)}
            return _without_ncu(
                job, _time_left(limits, started), run, *_failed(result, under, log), spent
            )
        profile = result.profile
        profile.overhead_s = {
            f"ncu and {k}" if k.startswith("worker start") else k: v
            for k, v in result.breakdown().items()
        }
        if not ncu_run.report_path().exists():
            why = f"ncu wrote no report; its log ends: {log[-300:]!r}"
            return result.verdict, not_run(profile, *_refused_or(log, UnavailableKind.FAILED, why))
        start = time.perf_counter()
        try:
            kernels, findings = ncu_run.read(
                min(READ_TIMEOUT_S, _time_left(limits, started).timeout_s / 2)
            )
        except (OSError, subprocess.SubprocessError) as exc:
            why = f"reading ncu's report failed: {exc}"
            return result.verdict, not_run(profile, UnavailableKind.FAILED, why)
        profile.overhead_s["ncu report read-back"] = round(time.perf_counter() - start, 2)
        if not kernels:
            why = "ncu's report holds no kernel from the candidate's NVTX range"
            kind = UnavailableKind.NOTHING_TO_PROFILE
            return result.verdict, not_run(profile, *_refused_or(log, kind, why))
        return result.verdict, merge(profile, kernels, findings)


def timed_out(seconds: float, log: str) -> str:
    """Why a run under ncu that was stopped gave no counters (pure)."""
    return (
        f"ncu was stopped after {seconds:g} s, its time limit ({ncu.profiled_in_log(log)} "
        "kernel launches profiled by then; each costs ncu a replay of 10-20 passes, so a call "
        "of many or long kernels is slow under ncu): the profile holds the counter-free "
        "metrics only"
    )


def _failed(result, under: Limits, log: str) -> tuple[UnavailableKind, str]:
    if result.verdict.kind == VerdictKind.TIMEOUT:
        return UnavailableKind.TOO_SLOW, timed_out(under.timeout_s, log)
    why = f"the worker failed under ncu: {result.verdict.summary()[:300]}"
    return _refused_or(log, UnavailableKind.FAILED, why)


def _time_left(limits: Limits, started: float) -> Limits:
    left = limits.timeout_s - (time.monotonic() - started)
    return dataclasses.replace(limits, timeout_s=max(left, 1.0))


def _without_ncu(
    job: Job,
    limits: Limits,
    run: RunJob,
    kind: UnavailableKind,
    why: str,
    spent: dict[str, float] | None = None,
) -> tuple[Verdict, Profile | None]:
    """The counter-free profile; `spent`: time lost before it (a failed run under ncu)."""
    result = run(job, limits, None)
    if result.profile is None:
        return result.verdict, None
    result.profile.overhead_s = {**(spent or {}), **result.breakdown()}
    return result.verdict, not_run(result.profile, kind, why)
