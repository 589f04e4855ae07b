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
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pragma_kernels import backends, config
from pragma_kernels.evaluation import channel, forkserver, judge
from pragma_kernels.evaluation.process import die_with_parent, kill_group, resident_bytes, wrapped
from pragma_kernels.evaluation.schema import Job, JobResult
from pragma_kernels.limits import SLOW_FACTOR, Limits, parse_progress, stage_limit_s
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
    job_text: str  # the Job as JSON, with the channel's key: never written to a file
    env: dict[str, str]
    address_limit: int | None  # RLIMIT_AS, or None where resident memory is watched
    imports: tuple[str, ...]  # what a warm server imports before forking (the backend's)

    @property
    def progress(self) -> Path:
        return self.tmp / "progress"

    @property
    def output(self) -> Path:
        return self.tmp / "output"


@dataclass(frozen=True)
class Ended:
    """How a worker ended, and what it sent on its result channel."""

    how: str  # exited | timeout | memory
    code: int
    sent: bytes
    why: str = ""  # a timeout's reason


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _Stages:
    """The worker's stage as its progress file tells it, and when the parent first saw it."""

    def __init__(self, progress: Path):
        self.progress, self.stage, self.since = progress, "", time.monotonic()
        self.reference_s: float | None = None

    def over_limit(self) -> str | None:
        """Why the current stage has run too long, or None."""
        try:
            stage, reference_s = parse_progress(self.progress.read_text())
        except OSError:
            return None
        if stage != self.stage:
            self.stage, self.since = stage, time.monotonic()
        self.reference_s = reference_s if reference_s is not None else self.reference_s
        limit = stage_limit_s(stage, self.reference_s)
        spent = time.monotonic() - self.since
        if limit is None or spent <= limit:
            return None
        reference = (
            f"{SLOW_FACTOR}x the reference's {self.reference_s * 1e3:.3g} ms per call"
            if self.reference_s is not None
            else "no reference time known yet"
        )
        return f"{stage} ran past its limit of {limit:.3g} s ({reference}, see limits.py)"


def _watch(worker: Running, limits: Limits, progress: Path) -> tuple[str, str]:
    """Wait for the worker; kill its group on timeout (the job's, or its stage's, see
    limits.stage_limit_s) or resident memory past the limit. Returns how it ended
    ("exited", "timeout" or "memory"; worker.returncode is set) and why."""
    deadline = time.monotonic() + limits.timeout_s
    limit = limits.memory_bytes()
    stages = _Stages(progress)
    polls = 0
    while True:
        try:
            worker.wait(0.05)
            return "exited", ""
        except subprocess.TimeoutExpired:
            pass
        polls += 1
        slow = stages.over_limit() if polls % 4 == 0 else None
        if time.monotonic() > deadline:
            reason, why = "timeout", f"no result after {limits.timeout_s:g} s"
        elif slow:
            reason, why = "timeout", slow
        elif resident_bytes(worker.pid) > limit:
            reason, why = "memory", ""
        else:
            continue
        kill_group(worker.pid)
        worker.wait()
        return reason, why


def run_isolated(
    job: Job, limits: Limits | None = None, wrapper: list[str] | None = None
) -> JobResult:
    """Run the job in its own worker process; `wrapper` prefixes a fresh worker's command
    line (a profiler that launches the worker, e.g. Nsight Compute), so a wrapped job never
    goes through the fork server. A candidate found correct in its worker is judged again
    in a clean one (judge.py)."""
    limits = limits or Limits()
    start = time.monotonic()
    root = _spool_root()
    sweep_stale_spools(root or tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=root) as spool:
        if judge.applies(job):
            job = job.model_copy(update={"outputs_dir": spool})
        result = _run_one(job, limits, wrapper)
        if judge.applies(job) and result.verdict.ok:
            judge_job = judge.job_for(job, result)
            result = judge.merge(result, _run_one(judge_job, limits, None))
    result.verdict.seconds = round(time.monotonic() - start, 3)
    return result


SPOOL_PREFIX = "pragma-job-"  # then the owner's pid: a spool whose owner died is swept


def sweep_stale_spools(root: str) -> None:
    """Remove spools (often GBs of shipped outputs in memory-backed /dev/shm) left by a
    process that was killed before it could clean up, e.g. a bench stopped with kill -9."""
    for entry in Path(root).glob(f"{SPOOL_PREFIX}*-*"):
        owner = entry.name.removeprefix(SPOOL_PREFIX).split("-", 1)[0]
        if owner.isdigit() and entry.is_dir() and not _alive(int(owner)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _spool_root(free_bytes: int = 1 << 30) -> str | None:
    """Where shipped outputs go (shipping.py): memory-backed /dev/shm when it has room (GPU
    outputs are often GBs; a disk takes seconds each), else the default temp directory."""
    try:
        stat = os.statvfs("/dev/shm")
    except OSError:
        return None
    return "/dev/shm" if stat.f_bavail * stat.f_frsize >= free_bytes else None


def _run_one(job: Job, limits: Limits, wrapper: list[str] | None) -> JobResult:
    result = None
    if not wrapper and config.forkserver_enabled():
        try:
            result = _run(job, limits, _served)
        except forkserver.ServerUnavailable as exc:  # the job is run again, fresh
            forkserver.say_once(str(exc))
    if result is None:
        result = _run(job, limits, lambda launch, limits: _fresh(launch, limits, wrapper or []))
    return result


def _served(launch: Launch, limits: Limits) -> Ended | None:
    """The job in a child of the warm server; None when that server is busy."""
    request = {
        "job": launch.job_text,
        "output": str(launch.output),
        "cwd": os.getcwd(),
        "address_limit": launch.address_limit,
    }
    child = forkserver.start_job(launch.env, launch.imports, request)
    if child is None:
        return None
    try:
        how, why = _watch(child, limits, launch.progress)
        return Ended(how, child.returncode, child.sent, why)
    except BaseException:
        child.abandon()  # an interrupted parent must not leave the job running
        raise


def _fresh(launch: Launch, limits: Limits, wrapper: list[str]) -> Ended:
    """The job in a fresh worker, under process.py's wrapper (which ends what it leaves).
    The job and the result travel through inherited memfds, never paths in argv."""
    job_fd = os.memfd_create("pragma-job", 0)
    result_fd = os.memfd_create("pragma-result", 0)
    channel.send(job_fd, launch.job_text.encode())
    command = [
        *wrapper,
        sys.executable,
        "-m",
        "pragma_kernels.evaluation.worker",
        str(job_fd),
        str(result_fd),
    ]
    report, reported = os.pipe()
    try:
        with open(launch.output, "wb") as output:
            process = subprocess.Popen(
                wrapped(command, reported, launch.address_limit),
                stdout=output,
                stderr=subprocess.STDOUT,
                env=launch.env,
                pass_fds=(reported, job_fd, result_fd),
                preexec_fn=die_with_parent,
                start_new_session=True,  # the terminal's Ctrl-C goes to the parent only
            )
    finally:
        os.close(reported)
        os.close(job_fd)
    worker = _Wrapped(process)
    try:
        worker.pid = _reported_pid(report, process.pid)
        how, why = _watch(worker, limits, launch.progress)
        return Ended(how, worker.returncode, channel.read_all(result_fd), why)
    except BaseException:
        kill_group(worker.pid)
        process.wait()
        raise
    finally:
        os.close(report)
        os.close(result_fd)


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
    """Run the job with `start` and read or classify what it left; None when `start`
    declined (a busy server)."""
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
        key = channel.new_key()
        job = job.model_copy(update={"progress_path": str(Path(tmp) / "progress")})
        job_text = job.model_copy(update={"key": key}).model_dump_json()
        launch = Launch(Path(tmp), job_text, env, address_limit, backend.worker_imports)
        ended = start(launch, limits)
        if ended is None:
            return None
        return _collect(job, launch, limits, ended, key)


def _collect(job: Job, launch: Launch, limits: Limits, ended: Ended, key: str) -> JobResult:
    tail = ""
    if launch.output.exists():
        tail = launch.output.read_bytes().decode(errors="replace")[-4000:]
    progress = launch.progress.read_text() if launch.progress.exists() else "start"
    stage = parse_progress(progress)[0]
    sent = channel.parse(ended.sent, key)
    if ended.how == "exited" and ended.code == 0 and isinstance(sent, JobResult):
        return sent
    if isinstance(sent, str) or (
        sent is None and ended.how == "exited" and ended.code >= 0 and _runs_candidate(stage)
    ):
        why = sent or (
            f"the worker ended with status {ended.code} during {stage} without sending a result"
        )
        verdict = failure(VerdictKind.RESULT_CHANNEL, why, stage=stage, stderr_tail=tail)
    else:
        verdict = _classify_exit(ended, limits, stage, tail)
    verdict.dtype, verdict.dtype_cast = job.dtype or "", job.dtype is not None
    verdict.location = crash_location(tail, job.solution)
    return JobResult(verdict=verdict)


# Stages (worker.py's progress names) in which the candidate's code runs.
_CANDIDATE_STAGES = ("candidate", "timing", "profiling", "first call")


def _runs_candidate(stage: str) -> bool:
    return any(word in stage for word in _CANDIDATE_STAGES)


def crash_location(tail: str, solution: str | None) -> str | None:
    """The candidate's innermost line in a faulthandler/traceback dump, if any."""
    if not solution:
        return None
    name = re.escape(str(Path(solution).resolve()))
    lines = re.findall(rf'File "(?:{name}|{re.escape(solution)})", line (\d+)', tail)
    # faulthandler lists the innermost frame first.
    return f"{solution}:{lines[0]}" if lines else None


def _classify_exit(ended: Ended, limits: Limits, stage: str, tail: str):
    returncode, ending = ended.code, ended.how
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
            f"{ended.why} (during {stage})",
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
