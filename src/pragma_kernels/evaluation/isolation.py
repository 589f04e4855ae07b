"""Run a worker job in a separate process with a wall-clock timeout and a memory limit.

The caller never shares a process with untrusted code: a segfault, a hang or
a runaway allocation in the candidate ends the worker, and is turned here into
a Verdict (crash, timeout, out_of_memory) placed at the stage the worker last
reported. The worker is forked from a warm server (forkserver.py) when it can be,
else started fresh; both are watched and classified the same way.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from pragma_kernels import backends, config
from pragma_kernels.evaluation import forkserver
from pragma_kernels.evaluation.process import die_with_parent, kill_group, resident_bytes, wrapped
from pragma_kernels.evaluation.schema import Job, JobResult
from pragma_kernels.limits import Limits
from pragma_kernels.verdict import VerdictKind, failure


class Running(Protocol):
    """A worker process as the watchdog sees it: a Popen, or a fork server's child."""

    pid: int
    returncode: int | None

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: the signal); raises subprocess.TimeoutExpired."""
        ...


@dataclass(frozen=True)
class Launch:
    """Where a worker's files are and how it runs: the same for both ways to start one."""

    tmp: Path
    env: dict[str, str]
    address_limit: int | None  # RLIMIT_AS, or None where resident memory is watched
    imports: tuple[str, ...]  # what a warm server imports before forking (the backend's)

    @property
    def job(self) -> Path:
        return self.tmp / "job.json"

    @property
    def result(self) -> Path:
        return self.tmp / "result.json"

    @property
    def progress(self) -> Path:
        return self.tmp / "progress"

    @property
    def output(self) -> Path:
        return self.tmp / "output"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _watch(worker: Running, limits: Limits) -> str:
    """Wait for the worker; kill its group on timeout or resident memory past the limit.
    Returns how it ended: "exited", "timeout" or "memory" (worker.returncode is set)."""
    deadline = time.monotonic() + limits.timeout_s
    limit = limits.memory_bytes()
    while True:
        try:
            worker.wait(0.05)
            return "exited"
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            reason = "timeout"
        elif resident_bytes(worker.pid) > limit:
            reason = "memory"
        else:
            continue
        kill_group(worker.pid)
        worker.wait()
        return reason


def run_isolated(
    job: Job, limits: Limits | None = None, wrapper: list[str] | None = None
) -> JobResult:
    """Run the job in its own worker process; `wrapper` prefixes a fresh worker's command
    line (a profiler that launches the worker, e.g. Nsight Compute), so a wrapped job never
    goes through the fork server."""
    limits = limits or Limits()
    start = time.monotonic()
    result = None
    if not wrapper and config.forkserver_enabled():
        try:
            result = _run(job, limits, _served)
        except forkserver.ServerUnavailable as exc:  # the job is run again, fresh
            forkserver.say_once(str(exc))
    if result is None:
        result = _run(job, limits, lambda launch, limits: _fresh(launch, limits, wrapper or []))
    result.verdict.seconds = round(time.monotonic() - start, 3)
    return result


def _served(launch: Launch, limits: Limits) -> tuple[str, int] | None:
    """The job in a child of the warm server; None when that server is busy."""
    request = {
        "job": str(launch.job),
        "result": str(launch.result),
        "output": str(launch.output),
        "cwd": os.getcwd(),
        "address_limit": launch.address_limit,
    }
    child = forkserver.start_job(launch.env, launch.imports, request)
    if child is None:
        return None
    try:
        return _watch(child, limits), child.returncode
    except BaseException:
        child.abandon()  # an interrupted parent must not leave the job running
        raise


def _fresh(launch: Launch, limits: Limits, wrapper: list[str]) -> tuple[str, int]:
    """The job in a fresh worker, under process.py's wrapper (which ends what it leaves)."""
    command = [
        *wrapper,
        sys.executable,
        "-m",
        "pragma_kernels.evaluation.worker",
        str(launch.job),
        str(launch.result),
    ]
    report, reported = os.pipe()
    try:
        with open(launch.output, "wb") as output:
            process = subprocess.Popen(
                wrapped(command, reported, launch.address_limit),
                stdout=output,
                stderr=subprocess.STDOUT,
                env=launch.env,
                pass_fds=(reported,),
                preexec_fn=die_with_parent,
                start_new_session=True,  # the terminal's Ctrl-C goes to the parent only
            )
    finally:
        os.close(reported)
    worker = _Wrapped(process)
    try:
        worker.pid = _reported_pid(report, process.pid)
        return _watch(worker, limits), worker.returncode
    except BaseException:
        kill_group(worker.pid)
        process.wait()
        raise
    finally:
        os.close(report)


class _Wrapped:
    """A fresh worker as the watchdog sees it: the worker's pid (memory, group kill), the
    wrapper's exit (it re-raises the worker's signal once the leftovers are gone)."""

    def __init__(self, process: subprocess.Popen):
        self.process, self.pid = process, process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)


def _reported_pid(report: int, wrapper: int) -> int:
    """The worker's pid as the wrapper reports it; the wrapper's own if it ended first."""
    data = b""
    while chunk := os.read(report, 64):
        data += chunk
        if data.endswith(b"\n"):
            return int(data)
    return wrapper


def _run(job: Job, limits: Limits, start) -> JobResult | None:
    """Write the job's files, run it with `start` and read or classify what it left;
    None when `start` declined (a busy server)."""
    with tempfile.TemporaryDirectory(prefix="pragma-job-") as tmp:
        backend = backends.get(job.backend)
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(job.threads),
            "PYTHONUNBUFFERED": "1",
            **backend.worker_env(),
            **job.env,
        }
        # CPU workers get an address-space limit (allocations fail cleanly inside); CUDA
        # reserves far more address space than memory, so GPU workers are watched instead.
        address_limit = limits.memory_bytes() if backend.memory_limit == "address" else None
        launch = Launch(Path(tmp), env, address_limit, backend.worker_imports)
        job = job.model_copy(update={"progress_path": str(launch.progress)})
        launch.job.write_text(job.model_dump_json())
        ended = start(launch, limits)
        if ended is None:
            return None
        return _collect(job, launch, limits, *ended)


def _collect(job: Job, launch: Launch, limits: Limits, ending: str, code: int) -> JobResult:
    tail = ""
    if launch.output.exists():
        tail = launch.output.read_bytes().decode(errors="replace")[-4000:]
    stage = launch.progress.read_text() if launch.progress.exists() else "start"
    if ending == "exited" and code == 0 and launch.result.exists():
        try:
            return JobResult.model_validate_json(launch.result.read_text())
        except ValidationError as exc:
            return JobResult(
                verdict=failure(
                    VerdictKind.WORKER_ERROR,
                    f"bad result: {exc}",
                    stage=stage,
                    stderr_tail=tail,
                )
            )
    verdict = _classify_exit(code, ending, limits, stage, tail)
    verdict.dtype, verdict.dtype_cast = job.dtype or "", job.dtype is not None
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
