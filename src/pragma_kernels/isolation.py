"""Run a worker job in a separate process with a wall-clock timeout and a memory limit.

The caller never shares a process with untrusted code: a segfault, a hang or
a runaway allocation in the candidate ends the worker, and is turned here into
a Verdict (crash, timeout, out_of_memory) placed at the stage the worker last
reported.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from pragma_kernels.verdict import VerdictKind, failure
from pragma_kernels.worker import Job, JobResult


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 300.0
    memory_mb: int | None = None  # None: 75% of physical memory

    def memory_bytes(self) -> int:
        if self.memory_mb is not None:
            return self.memory_mb * 2**20
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(physical * 0.75)


def _limit_memory(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_isolated(job: Job, limits: Limits = Limits()) -> JobResult:
    with tempfile.TemporaryDirectory(prefix="pragma-job-") as tmp:
        job_path, result_path = Path(tmp, "job.json"), Path(tmp, "result.json")
        progress = Path(tmp, "progress")
        job = job.model_copy(update={"progress_path": str(progress)})
        job_path.write_text(job.model_dump_json())
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(job.threads),
            "PYTHONUNBUFFERED": "1",
            **job.env,
        }
        command = [sys.executable, "-m", "pragma_kernels.worker", str(job_path), str(result_path)]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_limit_memory(limits.memory_bytes()),
            start_new_session=True,
        )  # a timeout kills its whole group
        timed_out = False
        try:
            output, _ = process.communicate(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        tail = output.decode(errors="replace")[-4000:]
        stage = progress.read_text() if progress.exists() else "start"
        if not timed_out and process.returncode == 0 and result_path.exists():
            try:
                return JobResult.model_validate_json(result_path.read_text())
            except ValidationError as exc:
                return JobResult(
                    verdict=failure(
                        VerdictKind.WORKER_ERROR,
                        f"bad result: {exc}",
                        stage=stage,
                        stderr_tail=tail,
                    )
                )
        verdict = _classify_exit(process.returncode, timed_out, limits, stage, tail)
        verdict.location = crash_location(tail, job.solution)
        return JobResult(verdict=verdict)


def crash_location(tail: str, solution: str | None) -> str | None:
    """The candidate's innermost line in a faulthandler/traceback dump, if any."""
    if not solution:
        return None
    name = re.escape(str(Path(solution).resolve()))
    lines = re.findall(rf'File "(?:{name}|{re.escape(solution)})", line (\d+)', tail)
    # faulthandler lists the innermost frame first.
    return f"{solution}:{lines[0]}" if lines else None


def _classify_exit(returncode: int, timed_out: bool, limits: Limits, stage: str, tail: str):
    if timed_out:
        return failure(
            VerdictKind.TIMEOUT,
            f"no result after {limits.timeout_s:g} s (during {stage})",
            stage=stage,
            stderr_tail=tail,
        )
    if "bad_alloc" in tail or "MemoryError" in tail or "Cannot allocate memory" in tail:
        return failure(
            VerdictKind.OUT_OF_MEMORY,
            f"ran out of memory during {stage} (limit {limits.memory_bytes() / 2**30:.1f} GiB)",
            stage=stage,
            stderr_tail=tail,
        )
    if returncode < 0:
        name = _signal_name(-returncode)
        if name == "SIGKILL":  # not ours: the kernel's OOM killer is the usual sender
            return failure(
                VerdictKind.OUT_OF_MEMORY,
                f"killed by SIGKILL during {stage} (likely the system's out-of-memory killer)",
                stage=stage,
                stderr_tail=tail,
            )
        return failure(
            VerdictKind.CRASH,
            f"worker died on {name} during {stage}",
            stage=stage,
            stderr_tail=tail,
        )
    return failure(
        VerdictKind.WORKER_ERROR,
        f"worker exited with status {returncode} during {stage}",
        stage=stage,
        stderr_tail=tail,
    )
