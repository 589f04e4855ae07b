"""The warm worker server: jobs run in its forked children, with the verdicts and the
isolation a fresh worker gets; it never outlives its parent; PRAGMA_FORKSERVER=0 and a
dead server fall back to fresh workers.

Each candidate first writes its pid, its parent's pid and a variable of its environment
to a file, so a test sees where it ran rather than guessing from timings.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from pragma_kernels import config
from pragma_kernels.evaluation import forkserver
from pragma_kernels.evaluation.isolation import Limits, run_isolated
from pragma_kernels.evaluation.schema import Job
from pragma_kernels.verdict import VerdictKind

from .test_verify_failures import FIXTURES, HEADER, PROBLEM, STAND_IN, verify_in_a_child

PROBE = """
import os as _os
with open(f"/proc/{{_os.getppid()}}/stat") as _stat:
    _grandparent = _stat.read().rpartition(")")[2].split()[1]
with open({path!r}, "w") as _probe:
    _probe.write(
        f"{{_os.getpid()}} {{_os.getppid()}} {{_grandparent}} {{_os.environ.get('PROBE', '')}}"
    )
"""
RELU = """
class ModelNew(nn.Module):
    def forward(self, x):
        return x.relu()
"""


@pytest.fixture(autouse=True)
def fresh_servers():
    forkserver.shutdown()
    yield
    forkserver.shutdown()


def candidate(tmp_path: Path, body: str) -> tuple[Path, Path]:
    probe = tmp_path / "probe"
    path = tmp_path / "candidate.py"
    path.write_text(HEADER + PROBE.format(path=str(probe)) + body)
    return path, probe


def run(solution: Path, limits: Limits | None = None, **fields):
    fields.setdefault("allow", list(STAND_IN))  # the candidates compute with torch
    job = Job(
        action="verify",
        problem=str(PROBLEM),
        solution=str(solution),
        backend="cpp-cpu",
        seeds=[0],
        **fields,
    )
    return run_isolated(job, limits or Limits(timeout_s=60, memory_mb=4096))


def where(probe: Path) -> tuple[int, int, str]:
    pid, parent, _, *value = probe.read_text().split(" ")
    return int(pid), int(parent), " ".join(value)


def fresh(probe: Path) -> bool:
    """The job ran in a fresh worker: a child of the wrapper (process.py) this process ran."""
    parent, grandparent = (int(field) for field in probe.read_text().split(" ")[1:3])
    return grandparent == os.getpid() and parent not in forkserver.server_pids()


def test_jobs_run_in_children_of_one_warm_server_with_their_own_environment(tmp_path):
    path, probe = candidate(tmp_path, RELU)
    first = run(path, env={"PROBE": "one"})
    assert first.verdict.ok, first.verdict.summary()
    child, server, value = where(probe)
    assert server in forkserver.server_pids() and server != os.getpid()
    assert value == "one"
    second = run(path, env={"PROBE": "two"})
    assert second.verdict.ok
    assert where(probe)[1:] == (server, "two")  # same server; the job's environment
    assert where(probe)[0] != child
    # A variable read at start-up (OpenMP's thread count) needs a server of its own.
    run(path, threads=2)
    assert where(probe)[1] != server
    assert len(forkserver.server_pids()) == 2


@pytest.mark.parametrize(
    "kind", [VerdictKind.CRASH, VerdictKind.TIMEOUT, VerdictKind.OUT_OF_MEMORY], ids=str
)
def test_failures_in_a_served_worker_get_the_fresh_workers_verdicts(tmp_path, kind):
    path, probe = candidate(tmp_path, FIXTURES[kind][0])
    result = run(path, Limits(timeout_s=10 if kind == VerdictKind.TIMEOUT else 60, memory_mb=4096))
    assert result.verdict.kind == kind, result.verdict.model_dump_json(indent=1)
    assert "forward" in (result.verdict.stage or "")
    child, server, _ = where(probe)
    assert forkserver.server_pids() == [server]  # the server outlived its child
    if kind == VerdictKind.CRASH:
        assert "SIGSEGV" in result.verdict.message
        assert (result.verdict.location or "").startswith(f"{path}:")


def test_forkserver_off_runs_a_fresh_worker(tmp_path, monkeypatch):
    monkeypatch.setenv(config.ENV_FORKSERVER, "0")
    path, probe = candidate(tmp_path, RELU)
    assert run(path).verdict.ok
    assert fresh(probe)
    assert forkserver.server_pids() == []


def test_a_server_that_dies_mid_job_is_replaced_by_a_fresh_worker(tmp_path):
    marker = tmp_path / "killed-once"
    killer = (
        f"""
import signal
if not _os.path.exists({str(marker)!r}):
    open({str(marker)!r}, "w").close()
    _os.kill(_os.getppid(), signal.SIGKILL)
    import time
    time.sleep(30)
"""
        + RELU
    )
    path, probe = candidate(tmp_path, killer)
    with pytest.warns(forkserver.ForkServerWarning, match="died while a job ran"):
        result = run(path, allow=["all"])  # it signals its server on purpose
    assert result.verdict.ok, result.verdict.summary()
    assert fresh(probe)  # the rerun was a fresh worker


def test_killing_the_parent_leaves_no_server_and_no_worker(tmp_path):
    hang = "\nwhile True:\n    pass\n"
    path, probe = candidate(tmp_path, hang)
    parent = verify_in_a_child(path)
    deadline = time.monotonic() + 60
    while not probe.exists() or not probe.read_text():
        assert time.monotonic() < deadline, "the worker never started"
        time.sleep(0.1)
    child, server, _ = where(probe)
    assert server != parent.pid  # it ran in the parent's fork server
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for pid in (child, server):
        if not _ends(pid, 10):
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"process {pid} outlived its killed parent")


def _ends(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True  # exited, waiting to be reaped by init
        except OSError:
            return True
        time.sleep(0.1)
    return False


def test_forkserver_setting_reads_the_usual_spellings_of_off(monkeypatch):
    for value, expected in (("0", False), ("off", False), ("1", True), ("", True)):
        monkeypatch.setenv(config.ENV_FORKSERVER, value)
        assert config.forkserver_enabled() is expected
