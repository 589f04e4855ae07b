"""Run a worker job in a separate process with a wall-clock timeout and a memory limit.

The caller never shares a process with untrusted code: a segfault, a hang or
a runaway allocation in the candidate ends the worker, and is turned here into
a Verdict (crash, timeout, out_of_memory) placed at the stage the worker last
reported.
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import ValidationError

from pragma_kernels import backends
from pragma_kernels.evaluation.schema import Job, JobResult
from pragma_kernels.limits import Limits
from pragma_kernels.verdict import VerdictKind, failure

PR_SET_PDEATHSIG = 1


def _limit_memory(limit: int | None):
    def apply() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        _die_with_parent()

    return apply


def _die_with_parent() -> None:
    """The worker runs in its own session (so a timeout kills its whole group); if the
    parent is killed before it can do that, the kernel kills the worker (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog's timeout still applies
        pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _resident_bytes(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) * 1024 if match else 0


def _watch(process: subprocess.Popen, limits: Limits) -> str:
    """Wait for the worker; kill its group on timeout or resident memory past the limit."""
    deadline = time.monotonic() + limits.timeout_s
    limit = limits.memory_bytes()
    while process.poll() is None:
        reason = (
            "timeout"
            if time.monotonic() > deadline
            else "memory"
            if _resident_bytes(process.pid) > limit
            else None
        )
        if reason:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return reason
        time.sleep(0.05)
    return "exited"


def run_isolated(
    job: Job, limits: Limits | None = None, wrapper: list[str] | None = None
) -> JobResult:
    """Run the job in a fresh worker; `wrapper` prefixes its command line (a profiler that
    launches the worker, e.g. Nsight Compute)."""
    limits = limits or Limits()
    start = time.monotonic()
    result = _run(job, limits, wrapper or [])
    result.verdict.seconds = round(time.monotonic() - start, 3)
    return result


def _run(job: Job, limits: Limits, wrapper: list[str]) -> JobResult:
    with tempfile.TemporaryDirectory(prefix="pragma-job-") as tmp:
        job_path, result_path = Path(tmp, "job.json"), Path(tmp, "result.json")
        progress = Path(tmp, "progress")
        job = job.model_copy(update={"progress_path": str(progress)})
        job_path.write_text(job.model_dump_json())
        backend = backends.get(job.backend)
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(job.threads),
            "PYTHONUNBUFFERED": "1",
            **backend.worker_env(),
            **job.env,
        }
        command = [
            *wrapper,
            sys.executable,
            "-m",
            "pragma_kernels.evaluation.worker",
            str(job_path),
            str(result_path),
        ]
        # CPU workers get an address-space limit (allocations fail cleanly inside); CUDA
        # reserves far more address space than memory, so GPU workers are watched instead.
        address_limit = limits.memory_bytes() if backend.memory_limit == "address" else None
        with open(Path(tmp, "output"), "w+b") as output:
            process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_limit_memory(address_limit),
                start_new_session=True,  # a timeout kills its whole group
            )
            ending = _watch(process, limits)
            output.seek(0)
            tail = output.read().decode(errors="replace")[-4000:]
        stage = progress.read_text() if progress.exists() else "start"
        if ending == "exited" and process.returncode == 0 and result_path.exists():
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
        verdict = _classify_exit(process.returncode, ending, limits, stage, tail)
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


def _classify_exit(returncode: int, ending: str, limits: Limits, stage: str, tail: str):
    if ending == "memory":
        return failure(
            VerdictKind.OUT_OF_MEMORY,
            f"resident memory passed the limit of "
            f"{limits.memory_bytes() / 2**30:.1f} GiB during {stage}; the worker was "
            "killed",
            stage=stage,
            stderr_tail=tail,
        )
    if ending == "timeout":
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
