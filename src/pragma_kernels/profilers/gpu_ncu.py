"""Nsight Compute around the GPU profile worker: counters for the candidate's kernels.

The worker runs under ncu, which profiles only the launches inside the NVTX
range (one call of the candidate, after warm-up and autotuning) into a report;
ncu's own messages go to a log file, so a refusal to read counters is named
from it. The report is read back (raw CSV, rule findings) and merged with the
counter-free profile the worker returned. Where ncu is missing or refused, the
counter-free profile is the whole profile and says why.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pragma_kernels.isolation import Limits, run_isolated
from pragma_kernels.knowledge import load_compendium
from pragma_kernels.profilers import ncu
from pragma_kernels.profilers.ncu import refusal
from pragma_kernels.profilers.schema import (
    Finding,
    KernelProfile,
    Profile,
    Unavailable,
    UnavailableKind,
)
from pragma_kernels.verdict import Verdict
from pragma_kernels.worker import Job

READ_TIMEOUT_S = 120


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
        # --export takes the name without the extension; ncu adds .ncu-rep.
        command = ncu.profile_command(self.executable, self.report.with_suffix(""), self.metrics)
        return [*command, "--log-file", str(self.log)]

    def report_path(self) -> Path:
        return self.report if self.report.exists() else self.report.with_suffix("")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def read(self) -> tuple[list[KernelProfile], list[Finding]]:
        """The report's per-launch metrics and rule findings (ncu --import, no replay)."""
        raw, details = ncu.import_commands(self.executable, self.report_path())
        outputs = [
            subprocess.run(
                command, capture_output=True, text=True, timeout=READ_TIMEOUT_S, check=True
            ).stdout
            for command in (raw, details)
        ]
        kernels = ncu.parse_raw_csv(outputs[0], keep=set(self.metrics))
        return kernels, ncu.parse_rule_findings(outputs[1])


def metrics_for_ncu(requested: list[str], fallback_names: set[str]) -> list[str]:
    """The default set plus every requested name the counter-free profile does not make."""
    extra = [name for name in requested if name not in fallback_names]
    return list(dict.fromkeys([*ncu.DEFAULT_METRICS, *extra]))


def merge(profile: Profile, kernels: list[KernelProfile], findings: list[Finding]) -> Profile:
    """ncu's per-launch kernels first, each with the counter-free metrics of the kernel of the
    same name (Triton's metadata, occupancy, waves); time shares from ncu (pure)."""
    counter_free = {k.name: k for k in profile.kernels}
    launches: Counter[str] = Counter()
    merged = []
    for kernel in kernels:
        launches[kernel.name] += 1
        first = launches[kernel.name] == 1
        extra = counter_free.pop(kernel.name, None) if first else None
        merged.append(
            KernelProfile(
                name=kernel.name if first else f"{kernel.name} (launch {launches[kernel.name]})",
                time_share=kernel.time_share,
                metrics=[*kernel.metrics, *(extra.metrics if extra else [])],
            )
        )
    unseen = [k.model_copy(update={"time_share": 0.0}) for k in counter_free.values()]
    if len(kernels) >= ncu.LAUNCH_COUNT:
        profile.unavailable.append(
            Unavailable(
                what=f"ncu metrics past the first {ncu.LAUNCH_COUNT} launches",
                why="the candidate launches more kernels per call than are profiled",
                kind=UnavailableKind.PARTIAL,
                profiler=ncu.PROFILER,
            )
        )
    return profile.model_copy(
        update={
            "tools": ["ncu", *profile.tools],
            "kernels": merged + unseen,
            "findings": [*profile.findings, *findings],
        }
    )


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
    job: Job, limits: Limits, use_ncu: bool = True
) -> tuple[Verdict, Profile | None]:
    """Run the GPU profile job under ncu when it can read counters, else without it."""
    if not use_ncu:
        why = "not run: the counter-free fallback was asked for"
        return _without_ncu(job, limits, UnavailableKind.DISABLED, why)
    executable = ncu.find_ncu()
    if executable is None:
        why = "ncu not found (PATH, /opt/nvidia/nsight-compute, /usr/local/cuda/bin)"
        return _without_ncu(job, limits, UnavailableKind.TOOL_MISSING, why)
    with tempfile.TemporaryDirectory(prefix="pragma-ncu-") as folder:
        run = NcuRun(
            executable,
            Path(folder),
            metrics_for_ncu(job.metrics, load_compendium().names("gpu_fallback")),
        )
        result = run_isolated(job, limits, run.wrapper())
        log = run.log_text()
        if not result.verdict.ok or result.profile is None:
            # The candidate passed verification before: retry once without ncu, so a
            # profiler-side failure still leaves the counter-free profile.
            why = f"the worker failed under ncu: {result.verdict.summary()[:300]}"
            return _without_ncu(job, limits, *_refused_or(log, UnavailableKind.FAILED, why))
        profile = result.profile
        profile.overhead_s = {
            f"ncu and {k}" if k.startswith("worker start") else k: v
            for k, v in result.breakdown().items()
        }
        if not run.report_path().exists():
            why = f"ncu wrote no report; its log ends: {log[-300:]!r}"
            return result.verdict, not_run(profile, *_refused_or(log, UnavailableKind.FAILED, why))
        start = time.perf_counter()
        try:
            kernels, findings = run.read()
        except (OSError, subprocess.SubprocessError) as exc:
            why = f"reading ncu's report failed: {exc}"
            return result.verdict, not_run(profile, UnavailableKind.FAILED, why)
        profile.overhead_s["ncu report read-back"] = round(time.perf_counter() - start, 2)
        if not kernels:
            why = "ncu's report holds no kernel from the candidate's NVTX range"
            kind = UnavailableKind.NOTHING_TO_PROFILE
            return result.verdict, not_run(profile, *_refused_or(log, kind, why))
        return result.verdict, merge(profile, kernels, findings)


def _without_ncu(
    job: Job, limits: Limits, kind: UnavailableKind, why: str
) -> tuple[Verdict, Profile | None]:
    result = run_isolated(job, limits)
    if result.profile is None:
        return result.verdict, None
    result.profile.overhead_s = result.breakdown()
    return result.verdict, not_run(result.profile, kind, why)
